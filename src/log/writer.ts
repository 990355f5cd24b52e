/**
 * LogWriter: turns a stream of events into log bytes handed to a sink.
 *
 * The sink gets whole records only (the header at construction, one chunk per
 * flush, the trailer and footer at finish), each in one call, so a host that
 * appends and fsyncs per call never leaves a half record except when killed
 * mid-write, which the reader treats as an incomplete log.
 */
import { crc32 } from "./crc32.ts";
import { ChunkEncoder, carriesNs } from "./events.ts";
import {
  CRC_BYTES,
  FOOTER_BYTES,
  MAGIC,
  PREAMBLE_BYTES,
  END_MAGIC,
  TAG_CHUNK,
  TAG_TRAILER,
  pack,
  writeU16,
  writeU32,
} from "./format.ts";
import {
  EVENT_KINDS,
  type EventKind,
  type IndexEntry,
  LOG_FORMAT_VERSION,
  LogEvent,
  LogHeader,
  LogHeaderInput,
  LogTrailer,
  LogTrailerInput,
  describeZodError,
} from "./schema.ts";
import { varintSize, writeVarint } from "./varint.ts";

export type LogSink = (bytes: Uint8Array) => void;

export interface LogWriterOptions {
  /** Emit a chunk as soon as this many events are buffered. Default 4096. */
  chunkEvents?: number;
  /** Emit a chunk as soon as the buffered payload reaches about this many bytes. Default 32 KiB. */
  chunkBytes?: number;
  /** Least distance in bytes between two entries of the trailer's index; 0 indexes every chunk. Default 64 KiB. */
  indexBytes?: number;
}

export class LogWriter {
  readonly header: LogHeader;
  private readonly sink: LogSink;
  private readonly chunkEvents: number;
  private readonly chunkBytes: number;
  private readonly indexBytes: number;
  private readonly enc: ChunkEncoder;
  private readonly counts: Record<EventKind, number>;
  private readonly index: IndexEntry[] = [];
  private offset = 0;
  private seq = 0;
  private events = 0;
  private lastIcount = 0;
  private lastNs = 0;
  private lastIndexedOffset = 0;
  private done = false;

  /** Validates `header` and writes it to `sink` at once. Throws TypeError on an invalid header. */
  constructor(header: LogHeaderInput, sink: LogSink, options: LogWriterOptions = {}) {
    const input = LogHeaderInput.safeParse(header);
    if (!input.success) throw new TypeError(`log header: ${describeZodError(input.error)}`);
    this.header = LogHeader.parse({ formatVersion: LOG_FORMAT_VERSION, ...input.data });
    this.sink = sink;
    this.chunkEvents = positive(options.chunkEvents ?? 4096, "chunkEvents");
    this.chunkBytes = positive(options.chunkBytes ?? 32 * 1024, "chunkBytes");
    this.indexBytes = options.indexBytes ?? 64 * 1024;
    this.enc = new ChunkEncoder(this.header.checkpointInterval);
    this.counts = Object.fromEntries(EVENT_KINDS.map((k) => [k, 0])) as Record<EventKind, number>;

    const body = pack(this.header);
    const out = new Uint8Array(PREAMBLE_BYTES + body.length + CRC_BYTES);
    out.set(MAGIC, 0);
    writeU16(out, 8, LOG_FORMAT_VERSION);
    writeU16(out, 10, 0);
    writeU32(out, 12, body.length);
    out.set(body, PREAMBLE_BYTES);
    writeU32(out, PREAMBLE_BYTES + body.length, crc32(out, MAGIC.length, PREAMBLE_BYTES + body.length));
    this.emit(out);
  }

  /** Bytes handed to the sink so far. */
  get bytesWritten(): number {
    return this.offset;
  }
  get chunksWritten(): number {
    return this.seq;
  }
  /** Events pushed so far, flushed or not. */
  get eventCount(): number {
    return this.events;
  }
  get bufferedEvents(): number {
    return this.enc.count;
  }

  /**
   * Buffer one event. Throws TypeError for an invalid event and RangeError for
   * one out of order (icount, or ns of sync/halt, smaller than before).
   */
  push(event: LogEvent): void {
    this.open();
    let e: LogEvent;
    if (isPlainTimeEvent(event)) e = event;
    else {
      const parsed = LogEvent.safeParse(event);
      if (!parsed.success) throw new TypeError(`log event: ${describeZodError(parsed.error)}`);
      e = parsed.data;
    }
    if (e.icount < this.lastIcount)
      throw new RangeError(`log event ${e.kind}: icount ${e.icount} < ${this.lastIcount}`);
    if (carriesNs(e)) {
      if (e.ns < this.lastNs) throw new RangeError(`log event ${e.kind}: ns ${e.ns} < ${this.lastNs}`);
      this.lastNs = e.ns;
    }
    this.lastIcount = e.icount;
    this.enc.push(e);
    this.counts[e.kind]++;
    this.events++;
    if (this.enc.count >= this.chunkEvents || this.enc.bytes >= this.chunkBytes) this.flush();
  }

  /** Write buffered events as one chunk; nothing if none. If the sink throws, the events stay buffered. */
  flush(): void {
    this.open();
    const enc = this.enc;
    if (enc.count === 0) return;
    const payload = pack(enc.values);
    const fields = [this.seq, enc.count, enc.firstIcount, enc.lastIcount - enc.firstIcount, enc.nsBase, payload.length];
    let size = 1 + payload.length + CRC_BYTES;
    for (const f of fields) size += varintSize(f);
    const out = new Uint8Array(size);
    out[0] = TAG_CHUNK;
    let pos = 1;
    for (const f of fields) pos = writeVarint(out, pos, f);
    out.set(payload, pos);
    pos += payload.length;
    writeU32(out, pos, crc32(out, 0, pos));

    const at = this.offset;
    this.emit(out);
    if (this.seq === 0 || at - this.lastIndexedOffset >= this.indexBytes) {
      this.index.push([this.seq, at, enc.firstIcount]);
      this.lastIndexedOffset = at;
    }
    this.seq++;
    enc.clear();
  }

  /**
   * Flush, then write the trailer and footer. The writer is closed afterwards.
   * Returns the trailer as stored. Throws TypeError/RangeError on a bad trailer
   * (then nothing is written and the writer stays open).
   */
  finish(end: LogTrailerInput): LogTrailer {
    this.open();
    const input = LogTrailerInput.safeParse(end);
    if (!input.success) throw new TypeError(`log trailer: ${describeZodError(input.error)}`);
    if (input.data.instructions < this.lastIcount) {
      throw new RangeError(
        `log trailer: instructions ${input.data.instructions} < last event icount ${this.lastIcount}`,
      );
    }
    this.flush();
    const trailer = LogTrailer.parse({
      ...input.data,
      counts: { ...this.counts },
      chunks: this.seq,
      index: this.index,
    });
    const body = pack(trailer);
    const recordLength = 1 + varintSize(body.length) + body.length + CRC_BYTES;
    const out = new Uint8Array(recordLength + FOOTER_BYTES);
    out[0] = TAG_TRAILER;
    let pos = writeVarint(out, 1, body.length);
    out.set(body, pos);
    pos += body.length;
    writeU32(out, pos, crc32(out, 0, pos));
    writeU32(out, recordLength, recordLength);
    out.set(END_MAGIC, recordLength + 4);
    this.emit(out);
    this.done = true;
    return trailer;
  }

  private emit(bytes: Uint8Array): void {
    this.sink(bytes);
    this.offset += bytes.length;
  }

  private open(): void {
    if (this.done) throw new Error("LogWriter: already finished");
  }
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`LogWriter: ${what} must be a positive integer`);
  return n;
}

/**
 * A `sync` or `halt` event that the schema accepts, checked by hand: a host-clock capture logs one
 * every 5 ms, and the schema's parse cost about 30 us each (0.4 s of a Linux boot). Anything else,
 * valid or not, goes through the schema, so what is accepted and the errors are unchanged.
 */
function isPlainTimeEvent(e: unknown): e is LogEvent {
  if (typeof e !== "object" || e === null) return false;
  const v = e as { kind?: unknown; icount?: unknown; ns?: unknown };
  return (
    (v.kind === "sync" || v.kind === "halt") &&
    Number.isSafeInteger(v.icount) &&
    (v.icount as number) >= 0 &&
    Number.isSafeInteger(v.ns) &&
    (v.ns as number) >= 0 &&
    Object.keys(e).length === 3 &&
    Object.getPrototypeOf(e) === Object.prototype
  );
}
