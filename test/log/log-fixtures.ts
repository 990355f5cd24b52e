/** Shared builders for the log tests (not a test file itself). */
import fc from "fast-check";
import {
  INPUT_DEVICES,
  type LogEvent,
  type LogHeaderInput,
  type LogTrailerInput,
  LogWriter,
  type LogWriterOptions,
} from "../../src/log/index.ts";

export const HEADER: LogHeaderInput = {
  retraceVersion: "0.1.0",
  machine: { cpu: "retrace P6", ramBytes: 32 << 20, devices: ["pic", "pit", "uart0"], firmwareSha256: "ab".repeat(32) },
  disk: { sha256: "cd".repeat(32), bytes: 1 << 20 },
  clock: "host",
  startEpochMs: 1_764_000_000_000,
  checkpointInterval: 1_000_000,
};

export const TRAILER: LogTrailerInput = {
  instructions: Number.MAX_SAFE_INTEGER,
  endReason: "halt",
  durationMs: 1500,
  final: { eip: 0xc0100000, regs: 0xdeadbeef, mem: 0x12345678 },
  serial: { digest: "ef".repeat(32), bytes: 1234 },
};

/** A log as one byte array. `flushAfter[i]` true flushes after event i. */
export function writeLog(
  events: readonly LogEvent[],
  options: {
    header?: LogHeaderInput;
    writer?: LogWriterOptions;
    flushAfter?: readonly boolean[];
    trailer?: LogTrailerInput | null;
  } = {},
): Uint8Array {
  const parts: Uint8Array[] = [];
  const w = new LogWriter(options.header ?? HEADER, (b) => parts.push(b), options.writer);
  events.forEach((e, i) => {
    w.push(e);
    if (options.flushAfter?.[i]) w.flush();
  });
  if (options.trailer === null) w.flush();
  else w.finish(options.trailer ?? TRAILER);
  return concat(parts);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const MAX = Number.MAX_SAFE_INTEGER;

/** Steps between events: mostly small, sometimes large, rarely huge. */
const step = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 300 }) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 5_000_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 45 }) },
);

const u32 = fc.integer({ min: 0, max: 0xffffffff });

type Draft =
  | { kind: "sync" | "halt"; di: number; dns: number }
  | { kind: "input"; di: number; device: (typeof INPUT_DEVICES)[number]; data: Uint8Array }
  | { kind: "check"; di: number; onGrid: boolean; eip: number; regs: number; mem: number }
  | { kind: "value"; di: number; site: string; value: number };

const draft: fc.Arbitrary<Draft> = fc.oneof(
  fc.record({ kind: fc.constantFrom("sync" as const, "halt" as const), di: step, dns: step }),
  fc.record({
    kind: fc.constant("input" as const),
    di: step,
    device: fc.constantFrom(...INPUT_DEVICES),
    data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant("check" as const), di: step, onGrid: fc.boolean(), eip: u32, regs: u32, mem: u32 }),
  fc.record({
    kind: fc.constant("value" as const),
    di: step,
    site: fc.constantFrom("rdtsc", "rtc.wallclock", "port.in", "x"),
    value: fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constant(-MAX)),
  }),
);

/** Valid event sequences: icounts and ns never decrease, starting anywhere below 2^53. */
export function eventsArb(checkpointInterval: number, maxLength = 60): fc.Arbitrary<LogEvent[]> {
  return fc
    .tuple(
      fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 40 }), fc.constant(MAX - 2 ** 46)),
      fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 50 })),
      fc.array(draft, { maxLength }),
    )
    .map(([ic0, ns0, drafts]) => {
      let ic = ic0;
      let ns = ns0;
      return drafts.map((d): LogEvent => {
        ic = Math.min(MAX, ic + d.di);
        switch (d.kind) {
          case "sync":
          case "halt":
            ns = Math.min(MAX, ns + d.dns);
            return { kind: d.kind, icount: ic, ns };
          case "input":
            return { kind: "input", icount: ic, device: d.device, data: d.data };
          case "check": {
            if (d.onGrid && checkpointInterval > 0) {
              const g = Math.ceil(ic / checkpointInterval) * checkpointInterval;
              if (g <= MAX) ic = g;
            }
            return { kind: "check", icount: ic, eip: d.eip, regs: d.regs, mem: d.mem };
          }
          default:
            return { kind: "value", icount: ic, site: d.site, value: d.value };
        }
      });
    });
}

/** Deterministic PRNG for the size tests (xorshift32). */
export function xorshift(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}
