/**
 * Host-clock capture -> replay with the host simulated (simulated-host.ts): input typed while
 * the guest idles, at moments a seeded generator picks, with the block compiler on in one run
 * and off in the other. Before the idle-round rule (LiveSession.onHalt) every one of these
 * captures replayed differently: input delivered while the guest idled between two skips of
 * guest time was put back before the first skip.
 */
import { describe, expect, it } from "vitest";
import { simulatedCapture, simulatedReplay } from "./simulated-host.ts";

const TEXT = "retrace! and some more input, typed slowly";

/** Input events that share their instruction count with an earlier one (rounds of one idle count). */
function repeatedCounts(log: ReturnType<typeof simulatedCapture>): number {
  const seen = new Set<number>();
  let n = 0;
  for (const e of log.events) {
    if (e.kind !== "input") continue;
    if (seen.has(e.icount)) n++;
    seen.add(e.icount);
  }
  return n;
}

describe("host-clock capture with input while the guest idles", () => {
  it("replays exactly, compiled capture -> interpreted replay and the reverse", () => {
    let repeated = 0;
    for (const [seed, captureJit, replayJit] of [
      [1, 200, -1],
      [2, 200, -1],
      [3, -1, 0],
      [4, -1, 200],
      [7, 0, -1],
      [9, -1, -1],
    ]) {
      const log = simulatedCapture({
        seed,
        captureJit,
        replayJit,
        limit: 8_000_000,
        checkEvery: 50_000,
        input: TEXT,
        inputRate: 0.7,
        inputOnlyWhileWaiting: true,
      });
      expect(log.events.some((e) => e.kind === "input")).toBe(true);
      expect(log.events.some((e) => e.kind === "halt")).toBe(true);
      repeated += repeatedCounts(log);
      const d = simulatedReplay(log, replayJit, seed);
      expect(d, `seed ${seed}: ${JSON.stringify(d)}`).toBeNull();
    }
    // The case that used to diverge: several deliveries at one idle instruction count.
    expect(repeated).toBeGreaterThan(0);
  }, 300_000);

  it("replays exactly with input also arriving while the guest runs", () => {
    for (const seed of [11, 12]) {
      const log = simulatedCapture({ seed, captureJit: 200, replayJit: -1, limit: 8_000_000, input: TEXT });
      expect(simulatedReplay(log, -1, seed)).toBeNull();
    }
  }, 300_000);

  it("reports a divergence when a logged input byte is altered", () => {
    const log = simulatedCapture({ seed: 5, captureJit: -1, replayJit: -1, limit: 8_000_000, input: TEXT });
    const k = log.events.findIndex((e) => e.kind === "input");
    const e = log.events[k];
    if (e.kind !== "input") throw new Error("no input");
    const altered = {
      ...log,
      events: log.events.map((x, j) => (j === k ? { ...e, data: e.data.map((b) => b ^ 0x20) } : x)),
    };
    const d = simulatedReplay(altered, -1, 5);
    expect(d).not.toBeNull();
    expect(d?.icount).toBeGreaterThanOrEqual(e.icount);
  }, 300_000);
});
