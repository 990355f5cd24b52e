/**
 * Reading native traces: `openTrace(path)` reads the header and the index
 * (from the footer), then decodes only the chunks a caller asks for, so a
 * window in the middle of a long trace costs one chunk's decompression plus
 * the window itself.
 *
 * ```ts
 * const t = await openTrace("trace.bin");
 * for await (const r of t.records(1_000_000, 1_000_100)) console.log(r.icount, r.type);
 * await t.close();
 * ```
 */
import { type FileHandle, open } from "node:fs/promises";
import { crc32 } from "../log/crc32.ts";
import { decompressPayload } from "./codec.ts";
import {
  CHUNK_HEADER_BYTES,
  FOOTER_BYTES,
  INDEX_ENTRY_BYTES,
  PREAMBLE_BYTES,
  TRACE_END_MAGIC,
  TRACE_MAGIC,
  TRACE_MIN_VERSION,
  TRACE_VERSION,
  type TraceHeader,
  type TraceTrailer,
} from "./format.ts";
import { decodeChunk, type TraceRecord, TraceFormatError, visitChunk } from "./records.ts";

export interface ChunkIndexEntry {
  /** Every record in the chunk happened at this icount or later; the next chunk's are later than all of its. */
  firstIcount: number;
  /** File offset of the chunk header. */
  offset: number;
  instructions: number;
  records: number;
  rawLength: number;
  payloadLength: number;
}

export interface TraceFile {
  readonly path: string;
  readonly header: TraceHeader;
  readonly trailer: TraceTrailer;
  readonly fileBytes: number;
  readonly chunks: readonly ChunkIndexEntry[];
  /** Records (instructions and interrupts) that happened at icount in [from, to), in order. */
  records(from?: number, to?: number): AsyncGenerator<TraceRecord>;
  /** The same records, one array per chunk (much less per-record overhead than `records`). */
  recordBatches(from?: number, to?: number): AsyncGenerator<TraceRecord[]>;
  /** The same records handed to `visit` one by one, chunk by chunk (the fastest way to stream a trace). */
  visit(visit: (r: TraceRecord) => void, from?: number, to?: number): Promise<void>;
  [Symbol.asyncIterator](): AsyncGenerator<TraceRecord>;
  /** The decompressed, checked payload of chunk `k`. */
  chunkPayload(k: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** True when `bytes` start with the native trace magic. */
export function isTraceMagic(bytes: Uint8Array): boolean {
  if (bytes.length < TRACE_MAGIC.length) return false;
  for (let k = 0; k < TRACE_MAGIC.length; k++) if (bytes[k] !== TRACE_MAGIC[k]) return false;
  return true;
}

async function readAt(fh: FileHandle, offset: number, length: number, path: string, what: string): Promise<Uint8Array> {
  const b = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(b, got, length - got, offset + got);
    if (bytesRead === 0) throw new TraceFormatError(`${path}: truncated (${what} at byte ${offset} runs past the end)`);
    got += bytesRead;
  }
  return b;
}

/** Open a native trace. Errors are TraceFormatError with a one-line message naming the file. */
export async function openTrace(path: string): Promise<TraceFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TraceFormatError(
      `${path}: cannot read trace: ${code === "ENOENT" ? "no such file" : (code ?? "I/O error")}`,
    );
  }
  try {
    return await parse(fh, path);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

async function parse(fh: FileHandle, path: string): Promise<TraceFile> {
  const st = await fh.stat();
  if (st.isDirectory()) throw new TraceFormatError(`${path}: cannot read trace: is a directory`);
  const size = st.size;
  if (size < PREAMBLE_BYTES + FOOTER_BYTES) {
    throw new TraceFormatError(`${path}: not a retrace trace (${size} bytes is too short)`);
  }
  const pre = await readAt(fh, 0, PREAMBLE_BYTES, path, "preamble");
  if (!isTraceMagic(pre)) throw new TraceFormatError(`${path}: not a retrace trace (wrong magic bytes)`);
  const pdv = new DataView(pre.buffer);
  const version = pdv.getUint16(8, true);
  if (version < TRACE_MIN_VERSION || version > TRACE_VERSION) {
    throw new TraceFormatError(
      `${path}: trace format version ${version} is not supported (this retrace reads ${TRACE_MIN_VERSION} to ${TRACE_VERSION})`,
    );
  }
  const hlen = pdv.getUint32(12, true);
  if (hlen > 1 << 20 || PREAMBLE_BYTES + hlen + 4 > size)
    throw new TraceFormatError(`${path}: bad header length ${hlen}`);
  const hbytes = await readAt(fh, 0, PREAMBLE_BYTES + hlen + 4, path, "header");
  const hcrc = new DataView(hbytes.buffer).getUint32(PREAMBLE_BYTES + hlen, true);
  if (crc32(hbytes, 8, PREAMBLE_BYTES + hlen) !== hcrc) throw new TraceFormatError(`${path}: header CRC mismatch`);
  const header = parseJson(hbytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + hlen), path, "header") as TraceHeader;
  if (header.codec !== "brotli" && header.codec !== "deflate-raw" && header.codec !== "none") {
    throw new TraceFormatError(`${path}: unknown chunk codec ${JSON.stringify(header.codec)}`);
  }

  const foot = await readAt(fh, size - FOOTER_BYTES, FOOTER_BYTES, path, "footer");
  for (let k = 0; k < 8; k++) {
    if (foot[24 + k] !== TRACE_END_MAGIC[k]) {
      throw new TraceFormatError(`${path}: incomplete trace (no end marker: the expansion did not finish)`);
    }
  }
  const fdv = new DataView(foot.buffer);
  const indexOffset = fdv.getFloat64(0, true);
  const n = fdv.getUint32(8, true);
  const tlen = fdv.getUint32(12, true);
  const tailLen = n * INDEX_ENTRY_BYTES + tlen;
  if (!Number.isSafeInteger(indexOffset) || indexOffset + tailLen + FOOTER_BYTES !== size) {
    throw new TraceFormatError(`${path}: bad footer (index offset ${indexOffset}, ${n} chunks)`);
  }
  const tail = await readAt(fh, indexOffset, tailLen, path, "index");
  if (crc32(tail) !== fdv.getUint32(16, true)) throw new TraceFormatError(`${path}: index CRC mismatch`);
  const idv = new DataView(tail.buffer);
  const chunks: ChunkIndexEntry[] = [];
  for (let k = 0; k < n; k++) {
    const o = k * INDEX_ENTRY_BYTES;
    const e: ChunkIndexEntry = {
      firstIcount: idv.getFloat64(o, true),
      offset: idv.getFloat64(o + 8, true),
      instructions: idv.getUint32(o + 16, true),
      records: idv.getUint32(o + 20, true),
      rawLength: idv.getUint32(o + 24, true),
      payloadLength: idv.getUint32(o + 28, true),
    };
    if (
      e.offset + CHUNK_HEADER_BYTES + e.payloadLength > indexOffset ||
      (k > 0 && e.firstIcount <= chunks[k - 1].firstIcount)
    ) {
      throw new TraceFormatError(`${path}: bad index entry ${k}`);
    }
    chunks.push(e);
  }
  const trailer = parseJson(tail.subarray(n * INDEX_ENTRY_BYTES), path, "trailer") as TraceTrailer;

  const chunkPayload = async (k: number): Promise<Uint8Array> => {
    const e = chunks[k];
    const b = await readAt(fh, e.offset, CHUNK_HEADER_BYTES + e.payloadLength, path, `chunk ${k}`);
    const dv = new DataView(b.buffer);
    if (crc32(b, 0, 28) !== dv.getUint32(28, true))
      throw new TraceFormatError(`${path}: chunk ${k}: header CRC mismatch`);
    if (dv.getUint32(0, true) !== e.payloadLength || dv.getFloat64(8, true) !== e.firstIcount) {
      throw new TraceFormatError(`${path}: chunk ${k}: header disagrees with the index`);
    }
    const payload = b.subarray(CHUNK_HEADER_BYTES);
    if (crc32(payload) !== dv.getUint32(24, true))
      throw new TraceFormatError(`${path}: chunk ${k}: payload CRC mismatch`);
    let raw: Uint8Array;
    try {
      raw = decompressPayload(header.codec, payload);
    } catch {
      throw new TraceFormatError(`${path}: chunk ${k}: payload does not decompress`);
    }
    if (raw.length !== e.rawLength)
      throw new TraceFormatError(`${path}: chunk ${k}: ${raw.length} raw bytes, index says ${e.rawLength}`);
    return raw;
  };

  /** The last chunk starting at or before `from`: it holds the first record at icount >= from (or none does). */
  const chunkAt = (from: number): number => {
    let lo = 0;
    let hi = chunks.length - 1;
    let start = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (chunks[mid].firstIcount <= from) {
        start = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return start;
  };

  async function* recordBatches(from = 0, to = Number.POSITIVE_INFINITY): AsyncGenerator<TraceRecord[]> {
    for (let k = chunkAt(from); k < chunks.length && chunks[k].firstIcount < to; k++) {
      const raw = await chunkPayload(k);
      yield decodeChunk(raw, chunks[k].firstIcount, from, to, `${path}: chunk ${k}`);
    }
  }

  async function visit(fn: (r: TraceRecord) => void, from = 0, to = Number.POSITIVE_INFINITY): Promise<void> {
    for (let k = chunkAt(from); k < chunks.length && chunks[k].firstIcount < to; k++) {
      visitChunk(await chunkPayload(k), chunks[k].firstIcount, fn, from, to, `${path}: chunk ${k}`);
    }
  }

  async function* records(from = 0, to = Number.POSITIVE_INFINITY): AsyncGenerator<TraceRecord> {
    for await (const batch of recordBatches(from, to)) yield* batch;
  }

  return {
    path,
    header,
    trailer,
    fileBytes: size,
    chunks,
    records,
    recordBatches,
    visit,
    [Symbol.asyncIterator]: () => records(),
    chunkPayload,
    close: () => fh.close(),
  };
}

function parseJson(b: Uint8Array, path: string, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(b));
  } catch {
    throw new TraceFormatError(`${path}: ${what} is not valid JSON`);
  }
}
