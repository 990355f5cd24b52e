/**
 * A child process of boot.test.ts (an expansion blocks for tens of seconds, longer than the test
 * runner lets a worker go silent): expand LOG's window FROM..TO into OUT with the block compiler
 * threshold set to THRESHOLD where the recorder is attached, the replay before it untraced with the
 * default threshold.
 *   node --import tsx test/linux/expand-window.ts LOG FROM TO THRESHOLD OUT
 * Prints the number of traced regions compiled.
 */
import { expandLog } from "../../src/cli/expand.ts";
import { jitStats } from "../../src/cpu/jit/compile.ts";
import { TraceRecorder } from "../../src/trace/index.ts";

const [log, from, to, threshold, out] = process.argv.slice(2);
// Patched here rather than through an accessor on Cpu.tracer, which would slow every access.
const proto = TraceRecorder.prototype as { attach: TraceRecorder["attach"] };
const attach = proto.attach;
proto.attach = function (this: TraceRecorder, m) {
  m.cpu.jitThreshold = Number(threshold);
  attach.call(this, m);
};
const r = await expandLog(log, { out, from: Number(from), to: Number(to), quiet: true });
if (!r.replay.ok) throw new Error("replay diverged");
console.log(`traced regions ${jitStats.traced}`);
