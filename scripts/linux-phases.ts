/**
 * `npm run phases`: where the Linux boot spends its time. Boots ../shared/guests/linux.img in
 * this process (virtual clock, like the bench) and prints, every few seconds of host time, the
 * instruction count, the rate over that interval and the regions compiled so far, then the host
 * time and instruction count at which each `RETRACE-GUEST:` serial line arrived. The rate curve
 * shows the phases: the kernel's xz decompressor (compiled, 100+ M/s) and kernel start-up, where
 * compiling and region transitions dominate (see the README's Linux speed section).
 *
 * Options: --jit-threshold N (default: the CPU's), --every S (seconds between lines, default 2),
 * --image FILE, --timeout S (default 600). Reports; never fails on speed.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { relaunch } from "../bin/relaunch.mjs";
import { loadMachineInputs } from "../src/cli/run.ts";
import { Cpu } from "../src/cpu/cpu.ts";
import { jitStats } from "../src/cpu/jit/compile.ts";
import { wasmBytes } from "../src/cpu/jit/wasm.ts";
import { UserError } from "../src/host/files.ts";
import { runMachine } from "../src/host/runner.ts";
import { Machine } from "../src/machine/machine.ts";
import { LiveSession } from "../src/nondet/session.ts";

// The same V8 compiler pool as bin/retrace: the child does the work, this process waits for it.
if (relaunch(process.argv[1])) await new Promise(() => {});
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const image = resolve(opt("--image", resolve(root, "../shared/guests/linux.img")));
const threshold = Number(opt("--jit-threshold", String(Cpu.defaultJitThreshold)));
const every = Number(opt("--every", "2"));
const timeout = Number(opt("--timeout", "600"));
if (!Number.isInteger(threshold) || threshold < -1 || !(every > 0) || !(timeout > 0)) {
  console.error("phases: --jit-threshold must be -1 or a whole number, --every and --timeout positive seconds");
  process.exit(2);
}
if (!existsSync(image)) {
  console.error(`phases: ${image}: not found (the Debian guest lives in ../shared/guests)`);
  process.exit(2);
}

let inputs: ReturnType<typeof loadMachineInputs>;
try {
  inputs = loadMachineInputs(image, { memory: 128 });
} catch (e) {
  if (!(e instanceof UserError)) throw e;
  console.error(`phases: ${e.message}`);
  process.exit(e.exitCode);
}
const { bios, image: disk, directBoot } = inputs;
const m = new Machine({ ramBytes: 128 << 20, bios, disk, epochMs: 946_684_800_000, directBoot });
m.cpu.jitThreshold = threshold;

const t0 = process.hrtime.bigint();
const now = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
const markers: string[] = [];
let line = "";
m.serialListeners.push((b) => {
  if (b !== 10) {
    line += String.fromCharCode(b);
    return;
  }
  if (line.includes("RETRACE-GUEST:"))
    markers.push(`${now().toFixed(1).padStart(7)} s  ${fmt(m.icount)}  ${line.trim()}`);
  line = "";
});

function fmt(ic: number): string {
  return `${(ic / 1e9).toFixed(3)}e9`;
}

console.log(`phases: ${image}, --jit-threshold ${threshold}, virtual clock`);
console.log("   host      icount    M/s over the interval   regions (new)");
let lastT = 0;
let lastIc = 0;
let lastRegions = 0;
const report = (ic: number, force: boolean): void => {
  const t = now();
  if (!force && t - lastT < every) return;
  const rate = (ic - lastIc) / Math.max(t - lastT, 1e-9) / 1e6;
  console.log(
    `${t.toFixed(1).padStart(7)} s  ${fmt(ic)}  ${rate.toFixed(1).padStart(8)}                ${String(jitStats.regions).padStart(5)} (+${jitStats.regions - lastRegions})`,
  );
  lastT = t;
  lastIc = ic;
  lastRegions = jitStats.regions;
};
const r = await runMachine(
  m,
  new LiveSession("virtual"),
  { maxInstructions: null, timeoutSeconds: timeout, onProgress: (ic) => report(ic, false) },
  { requested: null },
);
report(m.icount, true);
console.log("markers (host time, icount, serial line):");
for (const s of markers) console.log(s);
console.log(
  `${fmt(r.instructions)} instructions in ${r.seconds.toFixed(1)} s (${(r.instructions / r.seconds / 1e6).toFixed(1)} M/s), stopped: ${r.reason}; ${jitStats.regions} regions compiled (${jitStats.wasm} to WebAssembly, ${jitStats.merged} merged; ${jitStats.compiled} distinct JavaScript sources, ${(wasmBytes.total / 1e6).toFixed(1)} MB of WebAssembly, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB)`,
);
