/**
 * Reading a log: `readLog(bytes)` for a whole file in memory, and
 * `LogStreamReader` for bytes arriving piece by piece (the same parser; readLog
 * is one feed and an end).
 *
 * Outcomes, in the terms of docs/LOG_FORMAT.md §6:
 * - complete: header, every chunk and the trailer are intact and agree.
 * - incomplete (not an error): the file stops before the end of the footer, at
 *   a record boundary or inside a record (a capture killed mid-write). Every
 *   chunk before the cut is returned, `complete` is false, `trailer` is null.
 * - LogFormatError: anything else, including damage that looks like a cut in a
 *   file that does end with a valid trailer and footer.
 */
import { crc32 } from "./crc32.ts";
import { LogFormatError, chunkWhere } from "./errors.ts";
import { PayloadError, carriesNs, decodePayload } from "./events.ts";
import {
  CRC_BYTES,
  END_MAGIC,
  FOOTER_BYTES,
  MAGIC,
  MAX_HEADER_BYTES,
  PREAMBLE_BYTES,
  TAG_CHUNK,
  TAG_TRAILER,
  readU16,
  readU32,
  unpack,
} from "./format.ts";
import {
  EVENT_KINDS,
  type EventKind,
  LOG_FORMAT_VERSION,
  type LogEvent,
  LogHeader,
  LogTrailer,
  describeZodError,
} from "./schema.ts";
import { VARINT_BAD, VARINT_TRUNCATED, VarintReader } from "./varint.ts";

/** Where a chunk is and what it holds. */
export interface ChunkInfo {
  readonly seq: number;
  /** Byte offset of the chunk's record in the file. */
  readonly offset: number;
  /** Record length in bytes, frame and CRC included. */
  readonly bytes: number;
  readonly events: number;
  readonly firstIcount: number;
  readonly lastIcount: number;
}

/** Everything but the events. */
export interface LogSummary {
  readonly header: LogHeader;
  /** Null unless complete. */
  readonly trailer: LogTrailer | null;
  readonly complete: boolean;
  readonly chunks: readonly ChunkInfo[];
  /** Events per kind over the chunks read. */
  readonly counts: Readonly<Record<EventKind, number>>;
  /** Bytes of the file that were read and found good: all of it when complete. */
  readonly validBytes: number;
  /** Why an incomplete log stops, e.g. "the file ends inside chunk 12 at byte 4567"; null when complete. */
  readonly incomplete: string | null;
}

export interface LogContents extends LogSummary {
  readonly events: LogEvent[];
}

/** Parse a whole log file. Throws LogFormatError and nothing else for any input. */
export function readLog(bytes: Uint8Array): LogContents {
  const reader = new LogStreamReader();
  const events = reader.feed(bytes);
  return { ...reader.end(), events };
}

type Stage = "header" | "records" | "footer" | "done";

/**
 * Incremental reader: `feed` bytes in file order as they arrive; each call
 * returns the events of the chunks it completed. `end()` says how the log ends.
 * After a LogFormatError every call throws it again.
 */
export class LogStreamReader {
  private buf: Uint8Array = new Uint8Array(0);
  /** File offset of buf[0]. */
  private base = 0;
  /** Next unread index in buf. */
  private pos = 0;
  private stage: Stage = "header";
  private failed: LogFormatError | null = null;
  private header_: LogHeader | null = null;
  private trailer: LogTrailer | null = null;
  /** File offset and length of the trailer record. */
  private trailerAt = 0;
  private trailerLength = 0;
  private readonly chunks: ChunkInfo[] = [];
  private readonly counts: Record<EventKind, number> = Object.fromEntries(EVENT_KINDS.map((k) => [k, 0])) as Record<
    EventKind,
    number
  >;
  private lastIcount = 0;
  private lastNs = 0;

  /** The header, once it has been read. */
  get header(): LogHeader | null {
    return this.header_;
  }

  feed(bytes: Uint8Array): LogEvent[] {
    if (this.failed !== null) throw this.failed;
    try {
      this.append(bytes);
      return this.parse();
    } catch (e) {
      if (e instanceof LogFormatError) this.failed = e;
      throw e;
    }
  }

  /** No more bytes: the summary, or LogFormatError for a file cut inside its header or damaged near its end. */
  end(): LogSummary {
    if (this.failed !== null) throw this.failed;
    try {
      return this.finish();
    } catch (e) {
      if (e instanceof LogFormatError) this.failed = e;
      throw e;
    }
  }

  // ---------------------------------------------------------------- internals

  private append(bytes: Uint8Array): void {
    const rest = this.buf.length - this.pos;
    if (rest === 0) {
      this.base += this.buf.length;
      this.buf = bytes;
    } else {
      const merged = new Uint8Array(rest + bytes.length);
      merged.set(this.buf.subarray(this.pos), 0);
      merged.set(bytes, rest);
      this.base += this.pos;
      this.buf = merged;
    }
    this.pos = 0;
  }

  private parse(): LogEvent[] {
    const out: LogEvent[] = [];
    const buf = this.buf;
    for (;;) {
      const at = this.base + this.pos;
      if (this.stage === "header") {
        if (!this.parseHeader()) break;
      } else if (this.stage === "records") {
        if (this.pos >= buf.length) break;
        const tag = buf[this.pos];
        if (tag === TAG_CHUNK) {
          if (!this.parseChunk(out)) break;
        } else if (tag === TAG_TRAILER) {
          if (!this.parseTrailer()) break;
        } else {
          throw new LogFormatError(
            "bad-chunk",
            `${chunkWhere(this.chunks.length, at)}unknown record type 0x${hex2(tag)}`,
            at,
            this.chunks.length,
          );
        }
      } else if (this.stage === "footer") {
        const expected = this.expectedFooter();
        const have = Math.min(FOOTER_BYTES, buf.length - this.pos);
        for (let i = 0; i < have; i++) {
          if (buf[this.pos + i] !== expected[i]) {
            throw new LogFormatError("bad-trailer", `footer at byte ${at}: damaged`, at);
          }
        }
        if (have < FOOTER_BYTES) break;
        this.pos += FOOTER_BYTES;
        this.stage = "done";
      } else {
        if (this.pos < buf.length) {
          throw new LogFormatError(
            "bad-trailer",
            `${buf.length - this.pos} bytes after the end of the log at byte ${at}`,
            at,
          );
        }
        break;
      }
    }
    return out;
  }

  /** False if more bytes are needed. */
  private parseHeader(): boolean {
    const b = this.buf;
    const n = b.length;
    for (let i = 0; i < Math.min(n, MAGIC.length); i++) {
      if (b[i] !== MAGIC[i]) throw new LogFormatError("not-a-log", "not a retrace log (wrong magic bytes)", 0);
    }
    if (n < 10) return false;
    const version = readU16(b, 8);
    if (version < 1 || version > LOG_FORMAT_VERSION) {
      throw new LogFormatError(
        "unsupported-version",
        `log format version ${version} is not supported (this retrace reads version${LOG_FORMAT_VERSION > 1 ? `s 1 to ${LOG_FORMAT_VERSION}` : " 1"})`,
        8,
      );
    }
    if (n < PREAMBLE_BYTES) return false;
    const length = readU32(b, 12);
    if (length > MAX_HEADER_BYTES)
      throw new LogFormatError("bad-header", `header at byte 8: length ${length} is too large`, 8);
    const end = PREAMBLE_BYTES + length + CRC_BYTES;
    if (n < end) return false;
    if (crc32(b, MAGIC.length, end - CRC_BYTES) !== readU32(b, end - CRC_BYTES)) {
      throw new LogFormatError("bad-crc", "header at byte 8: CRC mismatch", 8);
    }
    if (readU16(b, 10) !== 0) throw new LogFormatError("bad-header", "header at byte 10: reserved field is not 0", 10);
    let raw: unknown;
    try {
      raw = unpack(b.subarray(PREAMBLE_BYTES, end - CRC_BYTES));
    } catch (e) {
      throw new LogFormatError("bad-header", `header at byte ${PREAMBLE_BYTES}: does not decode (${errorText(e)})`, 16);
    }
    const parsed = LogHeader.safeParse(raw);
    if (!parsed.success) {
      throw new LogFormatError("bad-header", `header: ${describeZodError(parsed.error)}`, PREAMBLE_BYTES);
    }
    if (parsed.data.formatVersion !== version) {
      throw new LogFormatError(
        "bad-header",
        `header: formatVersion ${parsed.data.formatVersion} disagrees with version ${version} at byte 8`,
        PREAMBLE_BYTES,
      );
    }
    this.header_ = parsed.data;
    this.pos = end;
    this.stage = "records";
    return true;
  }

  /** False if more bytes are needed. */
  private parseChunk(out: LogEvent[]): boolean {
    const b = this.buf;
    const start = this.pos;
    const at = this.base + start;
    const seq = this.chunks.length;
    const where = chunkWhere(seq, at);
    const fail = (code: "bad-chunk" | "bad-crc" | "bad-event", what: string): never => {
      throw new LogFormatError(code, where + what, at, seq);
    };
    const r = new VarintReader(b, start + 1, b.length);
    const fields: number[] = [];
    for (const name of FRAME_FIELDS) {
      const v = r.read();
      if (v === VARINT_TRUNCATED) return false;
      if (v === VARINT_BAD) fail("bad-chunk", `frame field ${name} is malformed`);
      fields.push(v);
    }
    const [storedSeq, count, firstIcount, span, nsBase, payloadLength] = fields;
    const payloadStart = r.pos;
    const end = payloadStart + payloadLength + CRC_BYTES;
    if (end > b.length) return false;
    if (crc32(b, start, end - CRC_BYTES) !== readU32(b, end - CRC_BYTES)) fail("bad-crc", "CRC mismatch");
    if (storedSeq !== seq) fail("bad-chunk", `sequence number is ${storedSeq}`);
    if (count === 0) fail("bad-chunk", "holds no events");
    const lastIcount = firstIcount + span;
    if (!Number.isSafeInteger(lastIcount)) fail("bad-chunk", "last icount is out of range");

    let payload: unknown;
    try {
      payload = unpack(b.subarray(payloadStart, end - CRC_BYTES));
    } catch (e) {
      fail("bad-event", `payload does not decode (${errorText(e)})`);
    }
    let events: LogEvent[] = [];
    try {
      events = decodePayload(
        payload,
        { count, firstIcount, lastIcount, nsBase },
        this.header_!.checkpointInterval,
        this.lastIcount,
        this.lastNs,
      );
    } catch (e) {
      if (!(e instanceof PayloadError)) throw e;
      fail("bad-event", e.message);
    }
    for (const e of events) {
      this.counts[e.kind]++;
      if (carriesNs(e)) this.lastNs = e.ns;
      out.push(e);
    }
    this.lastIcount = lastIcount;
    this.chunks.push({ seq, offset: at, bytes: end - start, events: count, firstIcount, lastIcount });
    this.pos = end;
    return true;
  }

  /** False if more bytes are needed. */
  private parseTrailer(): boolean {
    const b = this.buf;
    const start = this.pos;
    const at = this.base + start;
    const r = new VarintReader(b, start + 1, b.length);
    const length = r.read();
    if (length === VARINT_TRUNCATED) return false;
    if (length === VARINT_BAD) throw new LogFormatError("bad-trailer", `trailer at byte ${at}: malformed length`, at);
    const end = r.pos + length + CRC_BYTES;
    if (end > b.length) return false;
    if (crc32(b, start, end - CRC_BYTES) !== readU32(b, end - CRC_BYTES)) {
      throw new LogFormatError("bad-crc", `trailer at byte ${at}: CRC mismatch`, at);
    }
    let raw: unknown;
    try {
      raw = unpack(b.subarray(r.pos, end - CRC_BYTES));
    } catch (e) {
      throw new LogFormatError("bad-trailer", `trailer at byte ${at}: does not decode (${errorText(e)})`, at);
    }
    const parsed = LogTrailer.safeParse(raw);
    if (!parsed.success) {
      throw new LogFormatError("bad-trailer", `trailer at byte ${at}: ${describeZodError(parsed.error)}`, at);
    }
    this.checkTrailer(parsed.data, at);
    this.trailer = parsed.data;
    this.trailerAt = at;
    this.trailerLength = end - start;
    this.pos = end;
    this.stage = "footer";
    return true;
  }

  /** The trailer must agree with the chunks read. */
  private checkTrailer(t: LogTrailer, at: number): void {
    const bad = (what: string): never => {
      throw new LogFormatError("bad-trailer", `trailer at byte ${at}: ${what}`, at);
    };
    if (t.chunks !== this.chunks.length) bad(`says ${t.chunks} chunks, the log has ${this.chunks.length}`);
    for (const key of Object.keys(t.counts)) {
      if (!(EVENT_KINDS as readonly string[]).includes(key)) bad(`counts an unknown event kind "${key}"`);
    }
    for (const kind of EVENT_KINDS) {
      const said = t.counts[kind] ?? 0;
      if (said !== this.counts[kind]) bad(`says ${said} ${kind} events, the chunks hold ${this.counts[kind]}`);
    }
    if (t.instructions < this.lastIcount) bad(`instructions ${t.instructions} < last event icount ${this.lastIcount}`);
    let prev = -1;
    for (const [seq, offset, firstIcount] of t.index) {
      const c = this.chunks[seq];
      if (seq <= prev || c === undefined || c.offset !== offset || c.firstIcount !== firstIcount) {
        bad(`index entry [${seq}, ${offset}, ${firstIcount}] does not match the chunks`);
      }
      prev = seq;
    }
    if (this.chunks.length > 0 && t.index[0]?.[0] !== 0) bad("index does not start at chunk 0");
  }

  private expectedFooter(): Uint8Array {
    const f = new Uint8Array(FOOTER_BYTES);
    f[0] = this.trailerLength & 0xff;
    f[1] = (this.trailerLength >>> 8) & 0xff;
    f[2] = (this.trailerLength >>> 16) & 0xff;
    f[3] = (this.trailerLength >>> 24) & 0xff;
    f.set(END_MAGIC, 4);
    return f;
  }

  private finish(): LogSummary {
    const at = this.base + this.pos;
    const summary = (incomplete: string | null): LogSummary => ({
      header: this.header_!,
      trailer: incomplete === null ? this.trailer : null,
      complete: incomplete === null,
      chunks: this.chunks,
      counts: { ...this.counts },
      validBytes: incomplete === null ? at : this.stage === "records" ? at : this.trailerAt,
      incomplete,
    });
    switch (this.stage) {
      case "header":
        throw new LogFormatError("truncated", `truncated: the file ends at byte ${at}, inside the header`, at);
      case "records": {
        if (this.pos === this.buf.length) {
          const last = this.chunks.length === 0 ? "the header" : `chunk ${this.chunks.length - 1}`;
          return summary(`the file ends after ${last} with no trailer`);
        }
        this.refuseDamagedEnd(at);
        const what = this.buf[this.pos] === TAG_TRAILER ? "the trailer" : `chunk ${this.chunks.length}`;
        return summary(`the file ends inside ${what} at byte ${at}`);
      }
      case "footer":
        return summary(`the file ends inside the footer at byte ${at}`);
      case "done":
        return summary(null);
    }
  }

  /**
   * The unread tail (an unfinished record) is a cut, unless the file ends like
   * a finished log: a footer whose length points back at a trailer tag. Then
   * the record was damaged, not cut, and that is an error.
   */
  private refuseDamagedEnd(at: number): void {
    const tail = this.buf.subarray(this.pos);
    if (tail.length < FOOTER_BYTES + 1) return;
    const f = tail.length - FOOTER_BYTES;
    for (let i = 0; i < END_MAGIC.length; i++) if (tail[f + 4 + i] !== END_MAGIC[i]) return;
    const trailerStart = f - readU32(tail, f);
    if (trailerStart < 0 || tail[trailerStart] !== TAG_TRAILER) return;
    const seq = this.chunks.length;
    if (trailerStart === 0) throw new LogFormatError("bad-trailer", `trailer at byte ${at}: damaged length`, at);
    throw new LogFormatError(
      "bad-chunk",
      `${chunkWhere(seq, at)}frame runs past the trailer at byte ${this.base + this.pos + trailerStart}`,
      at,
      seq,
    );
  }
}

const FRAME_FIELDS = ["seq", "count", "firstIcount", "icountSpan", "nsBase", "payloadLength"] as const;

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function errorText(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  const line = s.split("\n")[0];
  return line.length > 80 ? `${line.slice(0, 80)}...` : line;
}
