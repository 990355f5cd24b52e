import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../src/log/crc32.ts";
import { pack } from "../../src/log/format.ts";
import { VarintReader, writeVarint } from "../../src/log/varint.ts";
import { LOG_FORMAT_VERSION, type LogEvent, LogFormatError, readLog } from "../../src/log/index.ts";
import { HEADER, eventsArb, writeLog } from "./log-fixtures.ts";

const EVENTS: LogEvent[] = [
  { kind: "sync", icount: 0, ns: 0 },
  { kind: "input", icount: 10, device: "com1", data: Uint8Array.of(0x68, 0x69) },
  { kind: "check", icount: 1_000_000, eip: 0x7c00, regs: 1, mem: 2 },
  { kind: "sync", icount: 1_200_000, ns: 4_000_000 },
  { kind: "value", icount: 1_200_001, site: "rdtsc", value: 99 },
  { kind: "halt", icount: 1_300_000, ns: 9_000_000 },
  { kind: "check", icount: 2_000_000, eip: 0x7c10, regs: 3, mem: 4 },
];

/** A small log: three chunks and a trailer. */
const LOG = writeLog(EVENTS, { writer: { chunkEvents: 3, indexBytes: 0 } });
const GOOD = readLog(LOG);
const HEADER_END = GOOD.chunks[0].offset;

/** readLog's outcome, with any LogFormatError caught and anything else rethrown. */
function attempt(bytes: Uint8Array): ReturnType<typeof readLog> | LogFormatError {
  try {
    return readLog(bytes);
  } catch (e) {
    if (e instanceof LogFormatError) return e;
    throw e;
  }
}

/** Positions in a chunk frame: each frame varint's start, and the payload's start and length. */
function frameAt(bytes: Uint8Array, offset: number): { fields: number[]; payloadStart: number; payloadLength: number } {
  const r = new VarintReader(bytes, offset + 1, bytes.length);
  const fields: number[] = [];
  let value = 0;
  for (let i = 0; i < 6; i++) {
    fields.push(r.pos);
    value = r.read();
  }
  return { fields, payloadStart: r.pos, payloadLength: value };
}

function reseal(b: Uint8Array, offset: number, end: number): void {
  const crc = crc32(b, offset, end);
  b[end] = crc & 0xff;
  b[end + 1] = (crc >>> 8) & 0xff;
  b[end + 2] = (crc >>> 16) & 0xff;
  b[end + 3] = crc >>> 24;
}

function flip(bytes: Uint8Array, at: number, mask: number): Uint8Array {
  const b = bytes.slice();
  b[at] ^= mask;
  return b;
}

function expectError(bytes: Uint8Array, code: string, message?: RegExp): LogFormatError {
  const r = attempt(bytes);
  expect(r).toBeInstanceOf(LogFormatError);
  const e = r as LogFormatError;
  expect(e.code).toBe(code);
  if (message) expect(e.message).toMatch(message);
  expect(e.message).not.toContain("\n");
  return e;
}

type Frame = Partial<Record<"seq" | "count" | "first" | "span" | "nsBase", number>>;

/** A chunk record with payload `values` and a valid CRC. */
function chunkRecord(values: unknown, frame: Frame = {}): Uint8Array {
  const payload = pack(values);
  const fields = [
    frame.seq ?? 0,
    frame.count ?? 1,
    frame.first ?? 0,
    frame.span ?? 0,
    frame.nsBase ?? 0,
    payload.length,
  ];
  const out = new Uint8Array(1 + 6 * 8 + payload.length + 4);
  out[0] = 0x43;
  let pos = 1;
  for (const f of fields) pos = writeVarint(out, pos, f);
  out.set(payload, pos);
  pos += payload.length;
  reseal(out, 0, pos);
  return out.subarray(0, pos + 4);
}

/** The fixture's header followed by one crafted chunk, no trailer. */
function craftedChunk(values: unknown, frame: Frame = {}): Uint8Array {
  return new Uint8Array([...LOG.subarray(0, HEADER_END), ...chunkRecord(values, frame)]);
}

/** A header record around `body` (any value), CRC valid. */
function sealHeader(body: unknown, version = LOG_FORMAT_VERSION, reserved = 0): Uint8Array {
  const b = pack(body);
  const out = new Uint8Array(16 + b.length + 4);
  out.set(LOG.subarray(0, 8));
  out[8] = version;
  out[10] = reserved;
  new DataView(out.buffer).setUint32(12, b.length, true);
  out.set(b, 16);
  reseal(out, 8, 16 + b.length);
  return out;
}

/** A trailer record and footer around `body` (any value), CRC valid. */
function sealTrailer(body: unknown): Uint8Array {
  const b = pack(body);
  const out = new Uint8Array(1 + 8 + b.length + 4 + 12);
  out[0] = 0x54;
  let pos = writeVarint(out, 1, b.length);
  out.set(b, pos);
  pos += b.length;
  reseal(out, 0, pos);
  pos += 4;
  new DataView(out.buffer).setUint32(pos, pos, true);
  out.set(new TextEncoder().encode("RTLOGEND"), pos + 4);
  return out.subarray(0, pos + 12);
}

const CHUNKS_END = GOOD.chunks[2].offset + GOOD.chunks[2].bytes;

/** The fixture with its trailer replaced by `trailer` (fields overriding the good one's). */
function withTrailer(fields: Record<string, unknown>): Uint8Array {
  return new Uint8Array([...LOG.subarray(0, CHUNKS_END), ...sealTrailer({ ...GOOD.trailer, ...fields })]);
}

describe("damaged logs", () => {
  it("fixture_hasThreeChunksAndATrailer", () => {
    expect(GOOD.complete).toBe(true);
    expect(GOOD.chunks.length).toBe(3);
  });

  it("readLog_anySingleByteFlipInACompleteLog_throwsLogFormatError", () => {
    for (let at = 0; at < LOG.length; at++) {
      for (const mask of [0x01, 0x80, 0xff, 0x10]) {
        const r = attempt(flip(LOG, at, mask));
        if (!(r instanceof LogFormatError)) throw new Error(`flip 0x${mask.toString(16)} at byte ${at} was accepted`);
      }
    }
  });

  it("readLog_randomLogsWithOneByteFlipped_neverAcceptsIt", () => {
    fc.assert(
      fc.property(
        eventsArb(1000, 25),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (events, chunkEvents, where, mask) => {
          const bytes = writeLog(events, { header: { ...HEADER, checkpointInterval: 1000 }, writer: { chunkEvents } });
          expect(attempt(flip(bytes, where % bytes.length, mask))).toBeInstanceOf(LogFormatError);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("readLog_oneByteFlippedInAnIncompleteLog_errorsOrReturnsOnlyAPrefix", () => {
    fc.assert(
      fc.property(
        eventsArb(0, 25),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (events, chunkEvents, where, mask) => {
          const bytes = writeLog(events, { writer: { chunkEvents }, trailer: null });
          const r = attempt(flip(bytes, where % bytes.length, mask));
          if (r instanceof LogFormatError) return;
          expect(r.complete).toBe(false);
          expect(r.events.length).toBeLessThan(events.length);
          expect(r.events).toEqual(events.slice(0, r.events.length));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("readLog_cutAtEveryOffset_isIncompletePrefixOrTruncatedError", () => {
    const ends = GOOD.chunks.map((c) => c.offset + c.bytes);
    for (let cut = 0; cut <= LOG.length; cut++) {
      const r = attempt(LOG.subarray(0, cut));
      if (cut < HEADER_END) {
        // Inside the magic of an empty file it is still a cut, not a foreign file.
        expect(r, `cut ${cut}`).toBeInstanceOf(LogFormatError);
        expect((r as LogFormatError).code).toBe("truncated");
        continue;
      }
      if (r instanceof LogFormatError) throw new Error(`cut at ${cut}: ${r.code}: ${r.message}`);
      if (cut === LOG.length) {
        expect(r.complete).toBe(true);
        continue;
      }
      const whole = ends.filter((e) => e <= cut).length;
      const n = GOOD.chunks.slice(0, whole).reduce((k, c) => k + c.events, 0);
      expect(r.complete).toBe(false);
      expect(r.trailer).toBeNull();
      expect(r.chunks.length).toBe(whole);
      expect(r.events).toEqual(EVENTS.slice(0, n));
      expect(r.validBytes).toBe(whole === 0 ? HEADER_END : ends[whole - 1]);
      expect(r.incomplete).toMatch(/^the file ends /);
    }
  });

  it("readLog_randomLogsCutAnywhere_neverThrowAnythingElse", () => {
    fc.assert(
      fc.property(eventsArb(7, 20), fc.integer({ min: 1, max: 4 }), fc.nat(), (events, chunkEvents, c) => {
        const bytes = writeLog(events, { header: { ...HEADER, checkpointInterval: 7 }, writer: { chunkEvents } });
        const r = attempt(bytes.subarray(0, c % (bytes.length + 1)));
        if (r instanceof LogFormatError) expect(r.code).toBe("truncated");
        else expect(r.events).toEqual(events.slice(0, r.events.length));
      }),
      { numRuns: 500 },
    );
  });

  it("readLog_arbitraryBytes_onlyEverThrowsLogFormatError", () => {
    const prefix = LOG.subarray(0, HEADER_END);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (junk, keepHeader) => {
        const bytes = keepHeader ? new Uint8Array([...prefix, ...junk]) : junk;
        attempt(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it("readLog_wrongMagic_isNotALog", () => {
    expectError(new TextEncoder().encode("#!/bin/sh\necho hello\n"), "not-a-log", /not a retrace log/);
    expectError(flip(LOG, 0, 0x80), "not-a-log");
  });

  it("readLog_emptyFile_isTruncated", () => {
    expectError(new Uint8Array(0), "truncated", /inside the header/);
  });

  it("readLog_versionFromTheFuture_isUnsupportedVersion", () => {
    const b = LOG.slice();
    b[8] = LOG_FORMAT_VERSION + 1;
    expectError(b, "unsupported-version", new RegExp(`version ${LOG_FORMAT_VERSION + 1} is not supported`));
    // Only the first 10 bytes are needed to say so.
    expectError(b.subarray(0, 10), "unsupported-version");
  });

  it("readLog_headerByteFlipped_isBadCrcAtByte8", () => {
    const e = expectError(flip(LOG, 20, 1), "bad-crc", /^header at byte 8: CRC mismatch$/);
    expect(e.offset).toBe(8);
  });

  it("readLog_chunkPayloadByteFlipped_namesChunkAndOffset", () => {
    const c = GOOD.chunks[1];
    const e = expectError(flip(LOG, c.offset + c.bytes - 6, 4), "bad-crc");
    expect(e.message).toBe(`chunk 1 at byte ${c.offset}: CRC mismatch`);
    expect(e.chunk).toBe(1);
    expect(e.offset).toBe(c.offset);
  });

  it("readLog_chunkLengthDamagedInCompleteLog_isAnErrorNotACut", () => {
    // The frame's last varint is the payload length: make it point past the end of the file.
    const c = GOOD.chunks[2];
    const f = frameAt(LOG, c.offset);
    const at = f.fields[5];
    expect(LOG[at]).toBe(f.payloadLength);
    expect(f.payloadLength).toBeLessThan(128);
    const b = new Uint8Array([...LOG.subarray(0, at), 0xff, 0x7f, ...LOG.subarray(at + 1)]);
    expectError(b, "bad-chunk", /^chunk 2 at byte \d+: frame runs past the trailer at byte \d+$/);
  });

  it("readLog_unknownRecordType_isBadChunk", () => {
    const c = GOOD.chunks[1];
    expectError(flip(LOG, c.offset, 0x20), "bad-chunk", /unknown record type 0x63/);
  });

  it("readLog_bytesAfterTheFooter_isBadTrailer", () => {
    expectError(new Uint8Array([...LOG, 0]), "bad-trailer", /1 bytes after the end of the log/);
    expectError(new Uint8Array([...LOG, ...LOG]), "bad-trailer");
  });

  it("readLog_trailerCountsDisagreeWithChunks_isBadTrailer", () => {
    // A trailer from a different run, re-sealed with a valid CRC: only the cross-check can catch it.
    const other = writeLog(EVENTS.slice(0, 6), { writer: { chunkEvents: 3, indexBytes: 0 } });
    const otherLog = readLog(other);
    const trailerAt = otherLog.chunks[1].offset + otherLog.chunks[1].bytes;
    const spliced = new Uint8Array([
      ...LOG.subarray(0, GOOD.chunks[2].offset + GOOD.chunks[2].bytes),
      ...other.subarray(trailerAt),
    ]);
    expectError(spliced, "bad-trailer", /says 2 chunks, the log has 3/);
  });

  it("readLog_trailerWithWrongEventCounts_isBadTrailer", () => {
    // Same chunk boundaries and offsets, but one value event became a sync: only the per-kind counts differ.
    const swapped = EVENTS.map(
      (e): LogEvent => (e.kind === "value" ? { kind: "sync", icount: e.icount, ns: 4_000_000 } : e),
    );
    const opts = { writer: { chunkEvents: 3, indexBytes: 1 << 20 } };
    const a = writeLog(EVENTS, opts);
    const b = writeLog(swapped, opts);
    const ca = readLog(a).chunks.at(-1)!;
    const cb = readLog(b).chunks.at(-1)!;
    const spliced = new Uint8Array([...a.subarray(0, ca.offset + ca.bytes), ...b.subarray(cb.offset + cb.bytes)]);
    expectError(spliced, "bad-trailer", /says 3 sync events, the chunks hold 2/);
  });

  it("readLog_validCrcButNonsensePayload_isBadEvent", () => {
    // Re-seal chunk 0 with a payload whose kind code is unknown.
    const c = GOOD.chunks[0];
    const b = LOG.slice();
    b[frameAt(LOG, c.offset).payloadStart + 1] = 0x7f; // first element of the flat array: kind code 127
    reseal(b, c.offset, c.offset + c.bytes - 4);
    expectError(b, "bad-event", /^chunk 0 at byte \d+: event 0: unknown kind code 127$/);
  });

  it.each<[string, unknown, Frame, RegExp]>([
    ["payload is not an array", { a: 1 }, {}, /payload is not an array/],
    ["unknown kind code", [9, 0, 0], {}, /event 0: unknown kind code 9/],
    ["kind code is a string", ["sync", 0, 0], {}, /unknown kind code "sync"/],
    ["fields missing", [0, 0], {}, /event 0 \(sync\): payload ends early/],
    ["icount is a float", [1, 0.5, 0, Uint8Array.of(1)], {}, /icount: expected an integer, got 0.5/],
    [
      "icount goes backwards",
      [0, 0, 0, 1, -1, 0, Uint8Array.of(1)],
      { count: 2 },
      /event 1 \(input\): icount .* backwards/,
    ],
    ["ns goes backwards", [4, 0, 5, 4, 0, -1], { count: 2, nsBase: 10 }, /event 1 \(halt\): ns .*backwards/],
    ["eip step beyond int32", [2, 0, 2 ** 32, 1, 1], {}, /eip step 4294967296 is not an int32/],
    ["regs beyond 32 bits", [2, 0, 0, 2 ** 32, 1], {}, /event 0 \(check\): regs:/],
    ["unknown input device", [1, 0, 9, Uint8Array.of(1)], {}, /unknown input device 9/],
    ["input data not binary", [1, 0, 0, "hi"], {}, /input data: expected binary, got "hi"/],
    ["empty input data", [1, 0, 0, new Uint8Array(0)], {}, /event 0 \(input\): data: expected 1 to 65536 bytes/],
    ["site index never defined", [3, 0, 0, 7], {}, /site index 0 not defined yet/],
    ["site spelled twice", [3, 0, "a", 1, 3, 0, "a", 2], { count: 2 }, /site "a" spelled out twice/],
    ["value not an integer", [3, 0, "rdtsc", 1.5], {}, /value: expected an integer/],
    ["count disagrees", [0, 0, 0], { count: 2 }, /holds 1 events, frame says 2/],
    ["zero events", [], { count: 0 }, /holds no events/],
    ["first icount disagrees", [1, 5, 0, Uint8Array.of(1)], {}, /event 0 has icount 5, frame says 0/],
    ["last icount disagrees", [0, 0, 0], { span: 3 }, /last icount is 0, frame says 3/],
    ["sequence number wrong", [0, 0, 0], { seq: 1 }, /sequence number is 1/],
  ])("readLog_validCrcButPayload_%s_isRejected", (_name, values, frame, message) => {
    const e = expectError(
      craftedChunk(values, frame),
      frame.seq || frame.count === 0 ? "bad-chunk" : "bad-event",
      message,
    );
    expect(e.message).toMatch(/^chunk 0 at byte \d+: /);
    expect(e.chunk).toBe(0);
  });

  it("readLog_chunkStartingBeforeThePreviousChunkEnds_isBadEvent", () => {
    const b = new Uint8Array([
      ...LOG.subarray(0, HEADER_END),
      ...chunkRecord([0, 0, 0], { first: 100 }),
      ...chunkRecord([0, 0, 0], { seq: 1, first: 99 }),
    ]);
    expectError(b, "bad-event", /^chunk 1 at byte \d+: first icount 99 is before the previous chunk's last \(100\)$/);
  });

  it("readLog_chunkWhoseNsIsBeforeThePreviousChunks_isBadEvent", () => {
    const b = new Uint8Array([
      ...LOG.subarray(0, HEADER_END),
      ...chunkRecord([0, 0, 0], { nsBase: 500 }),
      ...chunkRecord([4, 0, 0], { seq: 1, nsBase: 499 }),
    ]);
    expectError(b, "bad-event", /^chunk 1 at byte \d+: event 0 \(halt\): ns 499 is before 500$/);
  });

  it("readLog_validCrcAndAnyMsgpackPayload_throwsOnlyLogFormatError", () => {
    const value = fc.oneof(
      fc.integer({ min: -40, max: 300 }),
      fc.constantFrom(0, 1, 2, 3, 4, 2 ** 32, -(2 ** 31) - 1, 2 ** 53, 0.5, -0),
      fc.string({ maxLength: 4 }),
      fc.uint8Array({ maxLength: 3 }),
      fc.constant(null),
      fc.boolean(),
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.array(value, { maxLength: 24 }), fc.anything()),
        fc.record({ count: fc.nat(8), first: fc.nat(300), span: fc.nat(300), nsBase: fc.nat(300) }),
        (values, frame) => {
          const r = attempt(craftedChunk(values, frame));
          if (!(r instanceof LogFormatError)) expect(r.events.length).toBe(frame.count);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("sealTrailer_ofTheGoodTrailer_reproducesTheFixture", () => {
    expect(withTrailer({})).toEqual(LOG);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      "index offset wrong",
      {
        index: [
          [0, GOOD.chunks[0].offset, 0],
          [1, 1, GOOD.chunks[1].firstIcount],
        ],
      },
      /index entry \[1, 1, /,
    ],
    ["index icount wrong", { index: [[0, GOOD.chunks[0].offset, 5]] }, /index entry \[0, \d+, 5\]/],
    [
      "index chunk beyond the log",
      {
        index: [
          [0, GOOD.chunks[0].offset, 0],
          [3, 1, 1],
        ],
      },
      /index entry \[3, /,
    ],
    [
      "index not starting at chunk 0",
      { index: [[1, GOOD.chunks[1].offset, GOOD.chunks[1].firstIcount]] },
      /index does not start at chunk 0/,
    ],
    [
      "index out of order",
      {
        index: [
          [0, GOOD.chunks[0].offset, 0],
          [0, GOOD.chunks[0].offset, 0],
        ],
      },
      /index entry \[0, /,
    ],
    [
      "instructions before the last event",
      { instructions: 1_999_999 },
      /instructions 1999999 < last event icount 2000000/,
    ],
    ["unknown kind counted", { counts: { ...GOOD.trailer!.counts, irq: 0 } }, /unknown event kind "irq"/],
    ["missing field", { endReason: undefined }, /endReason/],
    ["unknown end reason", { endReason: "crash" }, /endReason/],
  ])("readLog_resealedTrailerWith_%s_isBadTrailer", (_name, fields, message) => {
    expectError(withTrailer(fields), "bad-trailer", message);
  });

  it("readLog_trailerNotAMap_isBadTrailer", () => {
    expectError(new Uint8Array([...LOG.subarray(0, CHUNKS_END), ...sealTrailer([1, 2])]), "bad-trailer");
  });

  it("readLog_headerReservedFieldSet_isBadHeader", () => {
    const h = sealHeader(GOOD.header, LOG_FORMAT_VERSION, 1);
    expectError(new Uint8Array([...h, ...LOG.subarray(HEADER_END)]), "bad-header", /reserved field is not 0/);
  });

  it("readLog_headerBodyVersionDisagrees_isBadHeader", () => {
    const h = sealHeader({ ...GOOD.header, formatVersion: 2 });
    expectError(new Uint8Array([...h, ...LOG.subarray(HEADER_END)]), "bad-header", /formatVersion 2 disagrees/);
  });

  it.each<[string, unknown, RegExp]>([
    ["not a map", [1, 2, 3], /^header: /],
    ["bad clock", { ...GOOD.header, clock: "wall" }, /^header: clock: /],
    ["unknown field", { ...GOOD.header, colour: "red" }, /^header: /],
    ["missing disk", { ...GOOD.header, disk: undefined }, /^header: disk/],
  ])("readLog_headerThat_%s_isBadHeader", (_name, body, message) => {
    expectError(new Uint8Array([...sealHeader(body), ...LOG.subarray(HEADER_END)]), "bad-header", message);
  });

  it("sealHeader_ofTheGoodHeader_reproducesTheFixture", () => {
    expect(sealHeader(GOOD.header)).toEqual(LOG.subarray(0, HEADER_END));
  });

  it("readLog_headerLengthHuge_isBadHeader", () => {
    const b = LOG.slice();
    b[15] = 0x7f;
    expectError(b, "bad-header", /length \d+ is too large/);
  });

  it("readLog_footerCutShort_isIncompleteWithAllEvents", () => {
    const r = attempt(LOG.subarray(0, LOG.length - 3));
    expect(r).not.toBeInstanceOf(LogFormatError);
    const log = r as ReturnType<typeof readLog>;
    expect(log.complete).toBe(false);
    expect(log.events).toEqual(EVENTS);
    expect(log.incomplete).toMatch(/inside the footer/);
  });

  it("readLog_errorMessages_followTheDocumentedShape", () => {
    for (let at = 0; at < LOG.length; at += 3) {
      const r = attempt(flip(LOG, at, 0x55));
      expect(r).toBeInstanceOf(LogFormatError);
      const e = r as LogFormatError;
      expect(e.message).toMatch(
        /^(not a retrace log|truncated|log format version|header|chunk \d+ at byte \d+: |trailer at byte|footer at byte|\d+ bytes after)/,
      );
      expect(e.message).not.toContain("\n");
    }
  });
});
