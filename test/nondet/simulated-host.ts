/**
 * Capture and replay in one process with the host simulated: host time, the moments input
 * arrives and how long the host waits while the guest idles all come from a seeded generator,
 * so a host-clock capture that does not replay can be run again at will (the real host gives
 * each capture different timing). The drive loop mirrors src/host/runner.ts.
 */
import { readFileSync } from "node:fs";
import { DEFAULT_BIOS, DEMO_DISK } from "../../src/host/files.ts";
import { type LogContents, LogWriter, readLog } from "../../src/log/index.ts";
import { Machine } from "../../src/machine/machine.ts";
import {
  CaptureSession,
  type Divergence,
  type HostClock,
  ReplaySession,
  type Session,
} from "../../src/nondet/session.ts";

/** xorshift32 in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Host time that moves with the guest at a wandering speed, with jitter on every reading. */
class SimulatedHost implements HostClock {
  ns = 1_000_000;
  private lastIcount = 0;
  private nsPerInsn = 20;
  constructor(
    private readonly m: Machine,
    private readonly r: () => number,
  ) {}
  nowNs(): number {
    const di = this.m.icount - this.lastIcount;
    this.lastIcount = this.m.icount;
    if (this.r() < 0.01) this.nsPerInsn = 5 + this.r() * 200; // the host gets busier or idler
    this.ns += di * this.nsPerInsn + Math.floor(this.r() * 20_000);
    if (this.r() < 0.01) this.ns += Math.floor(this.r() * 300_000_000); // a stall: compiling, the OS, GC
    return this.ns;
  }
  wait(ns: number): void {
    this.ns += Math.max(0, ns);
  }
}

const EPOCH_MS = 946_684_800_000;

function demoMachine(epochMs: number): Machine {
  return new Machine({
    ramBytes: 128 * 1024 * 1024,
    bios: readFileSync(DEFAULT_BIOS),
    disk: readFileSync(DEMO_DISK),
    epochMs,
  });
}

/** runner.ts's loop without the event loop: `between` runs where the host would take its turn. */
function drive(
  m: Machine,
  session: Session,
  limit: number,
  slice: () => number,
  between: () => void,
  wait: () => void,
) {
  m.onHalt = (mm, due) => session.onHalt(mm, due);
  const boundary = (mm: Machine): number => session.boundary(mm);
  while (m.endReason === null) {
    if (m.icount >= limit) {
      m.end("limit");
      break;
    }
    m.run(Math.min(limit, m.icount + slice()), boundary);
    if (m.waitingForHost) {
      wait();
      session.resumeAfterWait(m);
    }
    between();
  }
}

export interface SimOptions {
  seed: number;
  /** Instructions to run (the demo finishes on its own well before 60M). */
  limit?: number;
  checkEvery?: number;
  /** Compiler thresholds for the capture and the replay (Cpu.jitThreshold). */
  captureJit: number;
  replayJit: number;
  input?: string;
  /** Chance that input arrives at each host turn (default 0.3). */
  inputRate?: number;
  /** Input arrives only while the host waits for the idle guest. */
  inputOnlyWhileWaiting?: boolean;
}

/** A capture of the demo under simulated host timing. */
export function simulatedCapture(o: SimOptions): LogContents {
  const r = rng(o.seed);
  const epochMs = EPOCH_MS + Math.floor(r() * 1e12);
  const m = demoMachine(epochMs);
  m.cpu.jitThreshold = o.captureJit;
  const host = new SimulatedHost(m, r);
  const chunks: Uint8Array[] = [];
  const checkEvery = o.checkEvery ?? 100_000;
  const writer = new LogWriter(
    {
      retraceVersion: "test",
      machine: { cpu: "test", ramBytes: m.config.ramBytes, devices: [], firmwareSha256: "0".repeat(64) },
      disk: null,
      clock: "host",
      startEpochMs: epochMs,
      checkpointInterval: checkEvery,
      extra: {},
    },
    (b) => chunks.push(b.slice()),
  );
  const session = new CaptureSession("host", writer, checkEvery, m, host);
  const input = [...(o.input ?? "retrace!")].map((ch) => ch.charCodeAt(0));
  const type = (): void => {
    if (input.length > 0 && r() < (o.inputRate ?? 0.3)) m.injectSerial(input.splice(0, 1 + Math.floor(r() * 3)));
  };
  drive(
    m,
    session,
    o.limit ?? 60_000_000,
    () => 1 + Math.floor(r() * 4_000_000),
    () => {
      if (!o.inputOnlyWhileWaiting) type();
    },
    () => {
      // Input may arrive while the host waits (runner.ts then stops waiting).
      type();
      host.wait(Math.min(session.aheadNs(m), 20_000_000) + Math.floor(r() * 1_000_000));
    },
  );
  session.finish(m, m.endReason ?? "error", 0);
  let len = 0;
  for (const c of chunks) len += c.length;
  const bytes = new Uint8Array(len);
  len = 0;
  for (const c of chunks) {
    bytes.set(c, len);
    len += c.length;
  }
  return readLog(bytes);
}

/** Replay a simulated capture; returns the first divergence or null. */
export function simulatedReplay(log: LogContents, jit: number, seed = 1): Divergence | null {
  const m = demoMachine(log.header.startEpochMs);
  m.cpu.jitThreshold = jit;
  const t = log.trailer!;
  const session = new ReplaySession(log.header, log.events, t.instructions, m);
  const r = rng(seed);
  drive(
    m,
    session,
    t.instructions,
    () => 1 + Math.floor(r() * 4_000_000),
    () => {},
    () => {},
  );
  session.verifyEnd(m, t);
  return session.divergence;
}
