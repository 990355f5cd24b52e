/**
 * The native trace writer: compresses each chunk the recorder hands over,
 * writes it with its header, keeps the index, and closes the file with the
 * index, the JSON trailer and the footer (layout: format.ts, docs/TRACE_FORMAT.md).
 * Chunks are compressed on a second thread (compress-pool.ts) unless `parallel` is false.
 */
import { crc32 } from "../log/crc32.ts";
import {
  CHUNK_HEADER_BYTES,
  FOOTER_BYTES,
  INDEX_ENTRY_BYTES,
  PREAMBLE_BYTES,
  TRACE_END_MAGIC,
  TRACE_MAGIC,
  TRACE_VERSION,
  type TraceHeader,
  type TraceTrailer,
} from "./format.ts";
import { compressPayload } from "./codec.ts";
import { CompressPool } from "./compress-pool.ts";
import type { ChunkSink, RawChunk } from "./recorder.ts";

/** Where finished bytes go (the caller owns the file). Writes are synchronous. */
export interface ByteSink {
  write(bytes: Uint8Array): void;
}

interface ChunkMeta {
  firstIcount: number;
  instructions: number;
  records: number;
  rawLength: number;
}

export class NativeTraceWriter implements ChunkSink {
  private offset = 0;
  private readonly index: number[] = [];
  private chunks = 0;
  private instructions = 0;
  private records = 0;
  private rawBytes = 0;
  private firstIcount: number | null = null;

  private readonly pool: CompressPool<ChunkMeta> | null;

  constructor(
    private readonly out: ByteSink,
    readonly header: TraceHeader,
    opts: { parallel?: boolean; chunkBytes?: number } = {},
  ) {
    const parallel = opts.parallel ?? header.codec !== "none";
    this.pool = parallel
      ? new CompressPool<ChunkMeta>(header.codec, (opts.chunkBytes ?? 4 << 20) + (256 << 10), (m, p) =>
          this.write(m, p),
        )
      : null;
    const body = new TextEncoder().encode(JSON.stringify(header));
    const pre = new Uint8Array(PREAMBLE_BYTES + body.length + 4);
    const dv = new DataView(pre.buffer);
    pre.set(TRACE_MAGIC, 0);
    dv.setUint16(8, TRACE_VERSION, true);
    dv.setUint16(10, 0, true);
    dv.setUint32(12, body.length, true);
    pre.set(body, PREAMBLE_BYTES);
    dv.setUint32(PREAMBLE_BYTES + body.length, crc32(pre, 8, PREAMBLE_BYTES + body.length), true);
    this.emit(pre);
  }

  private emit(b: Uint8Array): void {
    this.out.write(b);
    this.offset += b.length;
  }

  /** Where the recorder may build its next chunk in place (a compression slot), or null. */
  rawBuffer(): Uint8Array | null {
    return this.pool === null ? null : this.pool.nextSlot();
  }

  chunk(c: RawChunk): void {
    const meta: ChunkMeta = {
      firstIcount: c.firstIcount,
      instructions: c.instructions,
      records: c.records,
      rawLength: c.bytes.length,
    };
    if (this.pool !== null) this.pool.submit(c.bytes, meta);
    else this.write(meta, compressPayload(this.header.codec, c.bytes));
  }

  /** Chunk header and payload, in chunk order. */
  private write(c: ChunkMeta, payload: Uint8Array): void {
    const h = new Uint8Array(CHUNK_HEADER_BYTES);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, payload.length, true);
    dv.setUint32(4, c.rawLength, true);
    dv.setFloat64(8, c.firstIcount, true);
    dv.setUint32(16, c.instructions, true);
    dv.setUint32(20, c.records, true);
    dv.setUint32(24, crc32(payload), true);
    dv.setUint32(28, crc32(h, 0, 28), true);
    this.index.push(c.firstIcount, this.offset, c.instructions, c.records, c.rawLength, payload.length);
    if (this.firstIcount === null) this.firstIcount = c.firstIcount;
    this.emit(h);
    this.emit(payload);
    this.chunks++;
    this.instructions += c.instructions;
    this.records += c.records;
    this.rawBytes += c.rawLength;
  }

  /** Stop the compression thread without writing anything more (after a failure). */
  abort(): void {
    this.pool?.close();
  }

  /** Write index, trailer and footer. */
  finish(t: Omit<TraceTrailer, "instructions" | "records" | "rawBytes">): void {
    this.pool?.close();
    const n = this.chunks;
    const indexOffset = this.offset;
    const trailer: TraceTrailer = {
      instructions: this.instructions,
      records: this.records,
      rawBytes: this.rawBytes,
      ...t,
    };
    const tb = new TextEncoder().encode(JSON.stringify(trailer));
    const tail = new Uint8Array(n * INDEX_ENTRY_BYTES + tb.length + FOOTER_BYTES);
    const dv = new DataView(tail.buffer);
    for (let k = 0; k < n; k++) {
      const o = k * INDEX_ENTRY_BYTES;
      const e = k * 6;
      dv.setFloat64(o, this.index[e], true);
      dv.setFloat64(o + 8, this.index[e + 1], true);
      dv.setUint32(o + 16, this.index[e + 2], true);
      dv.setUint32(o + 20, this.index[e + 3], true);
      dv.setUint32(o + 24, this.index[e + 4], true);
      dv.setUint32(o + 28, this.index[e + 5], true);
    }
    tail.set(tb, n * INDEX_ENTRY_BYTES);
    const f = n * INDEX_ENTRY_BYTES + tb.length;
    dv.setFloat64(f, indexOffset, true);
    dv.setUint32(f + 8, n, true);
    dv.setUint32(f + 12, tb.length, true);
    dv.setUint32(f + 16, crc32(tail, 0, f), true);
    dv.setUint32(f + 20, 0, true);
    tail.set(TRACE_END_MAGIC, f + 24);
    this.emit(tail);
  }
}
