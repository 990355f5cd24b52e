import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EVENT_KINDS,
  LOG_FORMAT_VERSION,
  type LogEvent,
  LogFormatError,
  LogStreamReader,
  LogWriter,
  readLog,
} from "../../src/log/index.ts";
import { HEADER, TRAILER, concat, eventsArb, writeLog } from "./log-fixtures.ts";

const ONE_OF_EACH: LogEvent[] = [
  { kind: "sync", icount: 0, ns: 0 },
  { kind: "sync", icount: 250_000, ns: 5_000_000 },
  { kind: "input", icount: 250_000, device: "com1", data: Uint8Array.of(0x41, 0x0d) },
  { kind: "input", icount: 300_017, device: "kbd", data: Uint8Array.of(0x1c) },
  { kind: "check", icount: 1_000_000, eip: 0xc0100000, regs: 0xffffffff, mem: 0 },
  { kind: "value", icount: 1_000_003, site: "rdtsc", value: 2 ** 40 + 7 },
  { kind: "value", icount: 1_000_004, site: "rdtsc", value: -1 },
  { kind: "halt", icount: 1_000_010, ns: 9_000_000 },
  { kind: "sync", icount: 1_200_000, ns: 9_000_000 },
];

describe("log round trip", () => {
  it("readLog_oneEventOfEachKind_returnsThemExactly", () => {
    const log = readLog(writeLog(ONE_OF_EACH));
    expect(log.complete).toBe(true);
    expect(log.incomplete).toBeNull();
    expect(log.events).toEqual(ONE_OF_EACH);
    for (const e of log.events)
      if (e.kind === "input") expect(Object.getPrototypeOf(e.data)).toBe(Uint8Array.prototype);
    expect(log.header).toEqual({ ...HEADER, formatVersion: LOG_FORMAT_VERSION, extra: {} });
    expect(log.trailer).toMatchObject({
      ...TRAILER,
      chunks: 1,
      counts: { sync: 3, input: 2, check: 1, value: 2, halt: 1 },
    });
    expect(log.counts).toEqual(log.trailer?.counts);
  });

  it("readLog_eachEventKindAlone_roundTrips", () => {
    for (const kind of EVENT_KINDS) {
      const events = ONE_OF_EACH.filter((e) => e.kind === kind);
      expect(events.length).toBeGreaterThan(0);
      expect(readLog(writeLog(events)).events).toEqual(events);
    }
  });

  it("readLog_nodeBufferInput_readsLikeUint8Array", () => {
    const bytes = writeLog(ONE_OF_EACH);
    const padded = Buffer.concat([Buffer.alloc(7), Buffer.from(bytes)]).subarray(7);
    expect(readLog(padded).events).toEqual(ONE_OF_EACH);
  });

  it("readLog_noEvents_isCompleteAndEmpty", () => {
    const log = readLog(writeLog([], { trailer: { ...TRAILER, instructions: 0 } }));
    expect(log).toMatchObject({ complete: true, events: [], chunks: [] });
    expect(log.trailer?.index).toEqual([]);
  });

  it("readLog_headerAndTrailerExtra_survive", () => {
    const bytes = writeLog(ONE_OF_EACH, {
      header: { ...HEADER, disk: null, clock: "virtual", extra: { note: "x", n: [1, 2] } },
      trailer: { ...TRAILER, extra: { wallMs: 1234 } },
    });
    const log = readLog(bytes);
    expect(log.header.extra).toEqual({ note: "x", n: [1, 2] });
    expect(log.header.disk).toBeNull();
    expect(log.trailer?.extra).toEqual({ wallMs: 1234 });
  });

  it("readLog_anyEventSequenceAnyChunking_roundTripsExactly", () => {
    const arb = fc.constantFrom(0, 1, 7, 1_000_000).chain((interval) =>
      fc.record({
        interval: fc.constant(interval),
        events: eventsArb(interval),
        chunkEvents: fc.integer({ min: 1, max: 12 }),
        flushAfter: fc.array(fc.boolean(), { maxLength: 60 }),
        indexBytes: fc.integer({ min: 0, max: 200 }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ interval, events, chunkEvents, flushAfter, indexBytes }) => {
        const header = { ...HEADER, checkpointInterval: interval };
        const bytes = writeLog(events, { header, flushAfter, writer: { chunkEvents, indexBytes } });
        const log = readLog(bytes);
        expect(log.complete).toBe(true);
        expect(log.events).toEqual(events);
        expect(log.chunks.reduce((n, c) => n + c.events, 0)).toBe(events.length);
        expect(log.validBytes).toBe(bytes.length);
      }),
      { numRuns: 400 },
    );
  });

  it("chunks_describeTheirEvents_andTileTheFile", () => {
    const events = ONE_OF_EACH;
    const bytes = writeLog(events, { writer: { chunkEvents: 2, indexBytes: 0 } });
    const log = readLog(bytes);
    expect(log.chunks.map((c) => c.events)).toEqual([2, 2, 2, 2, 1]);
    let i = 0;
    for (const [n, c] of log.chunks.entries()) {
      expect(c.seq).toBe(n);
      expect(c.firstIcount).toBe(events[i].icount);
      expect(c.lastIcount).toBe(events[i + c.events - 1].icount);
      if (n > 0) expect(c.offset).toBe(log.chunks[n - 1].offset + log.chunks[n - 1].bytes);
      i += c.events;
    }
    expect(log.trailer?.index).toEqual(log.chunks.map((c) => [c.seq, c.offset, c.firstIcount]));
  });

  it("trailerIndex_withIndexBytes_isSparseButStartsAtChunk0", () => {
    const events: LogEvent[] = Array.from({ length: 400 }, (_, i) => ({
      kind: "sync",
      icount: i * 1000,
      ns: i * 7919,
    }));
    const log = readLog(writeLog(events, { writer: { chunkEvents: 4, indexBytes: 200 } }));
    const index = log.trailer!.index;
    expect(log.chunks.length).toBe(100);
    expect(index[0]).toEqual([0, log.chunks[0].offset, 0]);
    expect(index.length).toBeGreaterThan(5);
    expect(index.length).toBeLessThan(50);
    for (let k = 1; k < index.length; k++) expect(index[k][1] - index[k - 1][1]).toBeGreaterThanOrEqual(200);
  });

  it("streamReader_fedInRandomPieces_yieldsSameEventsAsReadLog", () => {
    fc.assert(
      fc.property(eventsArb(1000, 30), fc.array(fc.nat(), { maxLength: 12 }), (events, cuts) => {
        const bytes = writeLog(events, { header: { ...HEADER, checkpointInterval: 1000 }, writer: { chunkEvents: 3 } });
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const r = new LogStreamReader();
        const got: LogEvent[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          got.push(...r.feed(bytes.subarray(from, p)));
          from = p;
        }
        const s = r.end();
        expect(s.complete).toBe(true);
        expect(got).toEqual(events);
        expect(r.header?.checkpointInterval).toBe(1000);
      }),
      { numRuns: 200 },
    );
  });

  it("streamReader_afterAnError_keepsThrowingIt", () => {
    const r = new LogStreamReader();
    expect(() => r.feed(Uint8Array.of(1, 2, 3))).toThrow(LogFormatError);
    expect(() => r.feed(new Uint8Array(0))).toThrow(/not a retrace log/);
    expect(() => r.end()).toThrow(/not a retrace log/);
  });
});

describe("LogWriter", () => {
  const sink = () => {};

  it("push_decreasingIcount_throwsRangeError", () => {
    const w = new LogWriter(HEADER, sink);
    w.push({ kind: "sync", icount: 10, ns: 5 });
    expect(() => w.push({ kind: "value", icount: 9, site: "rdtsc", value: 0 })).toThrow(RangeError);
  });

  it("push_decreasingNsAcrossSyncAndHalt_throwsRangeError", () => {
    const w = new LogWriter(HEADER, sink);
    w.push({ kind: "halt", icount: 10, ns: 500 });
    expect(() => w.push({ kind: "sync", icount: 11, ns: 499 })).toThrow(RangeError);
  });

  it.each([
    { kind: "sync", icount: -1, ns: 0 },
    { kind: "sync", icount: 1.5, ns: 0 },
    { kind: "sync", icount: 2 ** 53, ns: 0 },
    { kind: "check", icount: 0, eip: 2 ** 32, regs: 0, mem: 0 },
    { kind: "input", icount: 0, device: "mouse", data: Uint8Array.of(1) },
    { kind: "input", icount: 0, device: "kbd", data: new Uint8Array(0) },
    { kind: "value", icount: 0, site: "", value: 1 },
    { kind: "nope", icount: 0 },
    { kind: "sync", icount: 0, ns: 0, extra: 1 },
    { kind: "halt", icount: 0, ns: -5 },
    { kind: "sync", icount: 0, ns: "7" },
    { kind: "halt", icount: Number.NaN, ns: 0 },
  ])("push_invalidEvent_$kind_throwsTypeError", (bad) => {
    const w = new LogWriter(HEADER, sink);
    expect(() => w.push(bad as unknown as LogEvent)).toThrow(TypeError);
    expect(w.eventCount).toBe(0);
  });

  it("constructor_invalidHeader_throwsTypeErrorAndWritesNothing", () => {
    const parts: Uint8Array[] = [];
    const bad = { ...HEADER, machine: { ...HEADER.machine, firmwareSha256: "xyz" } };
    expect(() => new LogWriter(bad, (b) => parts.push(b))).toThrow(/firmwareSha256/);
    expect(parts).toEqual([]);
  });

  it("flush_emitsOneRecordPerCall_andNothingWhenEmpty", () => {
    const parts: Uint8Array[] = [];
    const w = new LogWriter(HEADER, (b) => parts.push(b));
    expect(parts.length).toBe(1); // the header, at once
    w.flush();
    expect(parts.length).toBe(1);
    w.push({ kind: "sync", icount: 1, ns: 1 });
    expect(parts.length).toBe(1);
    w.flush();
    expect(parts.length).toBe(2);
    expect(w.bytesWritten).toBe(parts[0].length + parts[1].length);
  });

  it("push_pastChunkEventsOrChunkBytes_flushesByItself", () => {
    const parts: Uint8Array[] = [];
    const w = new LogWriter(HEADER, (b) => parts.push(b), { chunkEvents: 3 });
    for (let i = 0; i < 7; i++) w.push({ kind: "sync", icount: i, ns: i });
    expect(parts.length).toBe(3);
    expect(w.bufferedEvents).toBe(1);
    const big: Uint8Array[] = [];
    const w2 = new LogWriter(HEADER, (b) => big.push(b), { chunkBytes: 100 });
    w2.push({ kind: "input", icount: 0, device: "com1", data: new Uint8Array(150) });
    expect(big.length).toBe(2);
  });

  it("push_callerReusesDataBuffer_logKeepsOriginalBytes", () => {
    const parts: Uint8Array[] = [];
    const w = new LogWriter(HEADER, (b) => parts.push(b));
    const buf = Uint8Array.of(1, 2, 3);
    w.push({ kind: "input", icount: 0, device: "com1", data: buf });
    buf.fill(9);
    w.finish({ ...TRAILER, instructions: 1 });
    const bytes = concat(parts);
    const e = readLog(bytes).events[0];
    expect(e.kind === "input" && [...e.data]).toEqual([1, 2, 3]);
  });

  it("sinkThrows_eventsStayBuffered_andNextFlushWritesThem", () => {
    const parts: Uint8Array[] = [];
    let fail = false;
    const w = new LogWriter(HEADER, (b) => {
      if (fail) throw new Error("disk full");
      parts.push(b);
    });
    w.push({ kind: "sync", icount: 1, ns: 1 });
    fail = true;
    expect(() => w.flush()).toThrow("disk full");
    fail = false;
    w.finish({ ...TRAILER, instructions: 1 });
    const bytes = concat(parts);
    expect(readLog(bytes).events).toEqual([{ kind: "sync", icount: 1, ns: 1 }]);
  });

  it("finish_instructionsBelowLastEvent_throwsAndStaysOpen", () => {
    const w = new LogWriter(HEADER, sink);
    w.push({ kind: "sync", icount: 100, ns: 1 });
    expect(() => w.finish({ ...TRAILER, instructions: 99 })).toThrow(RangeError);
    w.finish({ ...TRAILER, instructions: 100 });
    expect(() => w.push({ kind: "sync", icount: 100, ns: 1 })).toThrow(/finished/);
    expect(() => w.finish(TRAILER)).toThrow(/finished/);
  });
});
