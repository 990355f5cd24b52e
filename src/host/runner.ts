/**
 * Drives a Machine from the host: slices of synchronous emulation between
 * turns of the event loop (stdin, signals, timers), the host clock, the
 * timeout and the end-of-run summary. Host time is read here and in
 * src/nondet only.
 */
import type { EndReason, Machine } from "../machine/machine.ts";

export type ClockMode = "host" | "virtual";

export interface RunOptions {
  clock: ClockMode;
  maxInstructions: number | null;
  timeoutSeconds: number | null;
  /** Return the instruction count at which the session next needs control (capture/replay hook). */
  boundary?: ((m: Machine) => number) | null;
  /** Called when the guest halts with IF=1 in host mode before waiting (capture logs time here). */
  onResume?: ((m: Machine) => void) | null;
}

export interface RunResult {
  reason: EndReason;
  instructions: number;
  seconds: number;
}

/** Host nanoseconds since `start` (process.hrtime). */
export function hostNs(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

/** Slice length between event-loop turns, in instructions. */
const SLICE = 2_000_000;
/** Host-clock sync interval. */
const SYNC_NS = 5_000_000;

/**
 * Keeps guest time close to host time (DESIGN.md §2, "--clock host"): every few ms of
 * host time the guest clock is re-anchored and its rate (ps per instruction) adjusted so
 * that guest time meets host time at the next sync. Time never goes backwards.
 */
export class HostClock {
  private lastSyncHost = 0;
  private lastSyncIcount = 0;
  constructor(
    private readonly start: bigint,
    private readonly m: Machine,
  ) {}

  /** Re-anchor if a sync is due; returns true when the anchor changed. */
  maybeSync(force = false): boolean {
    const h = hostNs(this.start);
    if (!force && h - this.lastSyncHost < SYNC_NS) return false;
    const m = this.m;
    const di = m.icount - this.lastSyncIcount;
    const dh = h - this.lastSyncHost;
    this.lastSyncHost = h;
    this.lastSyncIcount = m.icount;
    const guest = m.nowNs();
    // Instructions expected before the next sync at the speed just measured.
    const expect = di > 0 && dh > 0 ? (di * SYNC_NS) / dh : SYNC_NS / 10;
    let ps = Math.round(((h + SYNC_NS - guest) * 1000) / Math.max(expect, 1));
    if (ps < 100) ps = 100;
    if (ps > 1_000_000) ps = 1_000_000;
    m.setTime(Math.max(guest, Math.min(h, guest + SYNC_NS * 20)), ps);
    return true;
  }

  /** The host waits (guest halted): move guest time to host time. */
  catchUp(): void {
    const h = hostNs(this.start);
    this.m.setTime(h, this.m.psPerInsn);
    this.lastSyncHost = h;
    this.lastSyncIcount = this.m.icount;
  }

  now(): number {
    return hostNs(this.start);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Run the machine until it ends. `stop` is checked between slices (SIGINT, Ctrl-A X). */
export async function runMachine(
  m: Machine,
  opts: RunOptions,
  stop: { requested: EndReason | null },
): Promise<RunResult> {
  const start = process.hrtime.bigint();
  const clock = new HostClock(start, m);
  const limit = opts.maxInstructions ?? Number.POSITIVE_INFINITY;
  const hostMode = opts.clock === "host";
  const extBoundary = opts.boundary ?? null;
  if (hostMode) {
    m.onHalt = (_m, due) => (due === Number.POSITIVE_INFINITY || due > m.nowNs() ? "wait" : "skip");
  } else {
    m.onHalt = (mm, due) => (due === Number.POSITIVE_INFINITY ? (mm.pendingSerial() > 0 ? "wait" : "end") : "skip");
  }
  const boundary = (mm: Machine): number => {
    if (hostMode) clock.maybeSync();
    mm.deliverSerial();
    const next = extBoundary !== null ? extBoundary(mm) : Number.POSITIVE_INFINITY;
    // In host mode come back regularly to follow the host clock.
    return hostMode ? Math.min(next, mm.icount + 200_000) : next;
  };
  while (m.endReason === null) {
    if (stop.requested !== null) {
      m.end(stop.requested);
      break;
    }
    if (opts.timeoutSeconds !== null && clock.now() >= opts.timeoutSeconds * 1e9) {
      m.end("timeout");
      break;
    }
    if (m.icount >= limit) {
      m.end("limit");
      break;
    }
    const target = Math.min(limit, m.icount + SLICE);
    m.run(target, boundary);
    if (m.waitingForHost) {
      // Guest idle: wait for its next deadline in host time, or for input.
      const due = m.scheduler.nextDue();
      const waitMs = due === Number.POSITIVE_INFINITY ? 10 : Math.max(0, Math.min(10, (due - clock.now()) / 1e6));
      if (waitMs > 0) await sleep(waitMs);
      if (hostMode) {
        clock.catchUp();
        if (opts.onResume) opts.onResume(m);
      }
      m.deliverSerial();
      if (m.pendingSerial() === 0 && due === Number.POSITIVE_INFINITY && !hostMode) m.end("halt");
    }
    await turn();
  }
  return { reason: m.endReason ?? "error", instructions: m.icount, seconds: hostNs(start) / 1e9 };
}
