/**
 * Drives a Machine from the host: slices of synchronous emulation between
 * turns of the event loop (stdin, signals, timers), waiting in host time
 * while the guest idles, the timeout, and the instruction limit. What the
 * machine sees of time and input is decided by the Session (src/nondet).
 */
import type { EndReason, Machine } from "../machine/machine.ts";
import type { Session } from "../nondet/session.ts";

export interface RunOptions {
  /** Absolute instruction count at which to stop ("limit"), or null. */
  maxInstructions: number | null;
  timeoutSeconds: number | null;
  /** Called between slices with the instruction count (progress display). */
  onProgress?: ((icount: number) => void) | null;
}

export interface RunResult {
  reason: EndReason;
  instructions: number;
  seconds: number;
}

/** Instructions per synchronous slice between event-loop turns. */
const SLICE = 4_000_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Run the machine until it ends. `stop.requested` is checked between slices (SIGINT, Ctrl-A X). */
export async function runMachine(
  m: Machine,
  session: Session,
  opts: RunOptions,
  stop: { requested: EndReason | null },
): Promise<RunResult> {
  const start = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - start);
  const limit = opts.maxInstructions ?? Number.POSITIVE_INFINITY;
  m.onHalt = (mm, due) => session.onHalt(mm, due);
  const boundary = (mm: Machine): number => session.boundary(mm);
  while (m.endReason === null) {
    if (stop.requested !== null) {
      m.end(stop.requested);
      break;
    }
    if (opts.timeoutSeconds !== null && elapsed() >= opts.timeoutSeconds * 1e9) {
      m.end("timeout");
      break;
    }
    if (m.icount >= limit) {
      m.end("limit");
      break;
    }
    m.run(Math.min(limit, m.icount + SLICE), boundary);
    if (opts.onProgress) opts.onProgress(m.icount);
    if (m.waitingForHost) {
      // Guest idle: give the host a moment (its deadline in host time, or new input), then resume.
      // Let real time catch up with the guest clock (or, with no deadline, wait a little for input);
      // input or a stop request ends the wait early.
      for (;;) {
        const ms = Math.min(20, session.aheadNs(m) / 1e6);
        if (ms <= 0 || m.canDeliverSerial() || stop.requested !== null) break;
        await sleep(ms);
      }
      session.resumeAfterWait(m);
    }
    if (!session.replaying) await turn();
  }
  return { reason: m.endReason ?? "error", instructions: m.icount, seconds: elapsed() / 1e9 };
}
