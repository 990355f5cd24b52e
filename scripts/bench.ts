/**
 * `npm run bench`: retrace's performance figures. Reports; never fails CI.
 *
 *   cpu-loop     the CPU core on a CPU-bound guest (protected mode, paging on), with the block
 *                compiler at threshold 200 and with the interpreter alone,
 *                instructions per second, median of several runs; the result is
 *                checked against a model computed here in TypeScript
 *   conformance  SingleStepTests 80286 vectors executed per second (if ../shared is present)
 *   expand       expansion speed per trace format (instructions/s, MB/s of output), native bytes/instruction
 *
 * Options: --runs N (default 5), --iterations N (cpu-loop iterations, default 60), --json,
 *          --no-conformance, --no-expand, --expand-instructions N (default 10M).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PortBus } from "../src/bus/ports.ts";
import { Cpu, Reg } from "../src/cpu/cpu.ts";
import { PhysicalMemory } from "../src/memory/physical.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const argVal = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
// `--guest linux`: the side-by-side Linux boot benchmark (scripts/bench-linux.ts) instead of the figures below.
const guestAt = args.indexOf("--guest");
if (guestAt >= 0 && args[guestAt + 1] === "linux") {
  const { benchLinux } = await import("./bench-linux.ts");
  await benchLinux(args);
  process.exit(0);
}
const runs = argVal("--runs", 5);
const iterations = argVal("--iterations", 60);
const json = args.includes("--json");

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** The checksum cpuloop.asm leaves in EAX, computed independently. */
function cpuLoopModel(iters: number): number {
  const buf = new Uint32Array(4096);
  let x = 12345;
  for (let i = 0; i < 4096; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    buf[i] = x;
  }
  const bytes = new Uint8Array(buf.buffer);
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    table[n] = c >>> 0;
  }
  let crc = 0xffffffff;
  for (let i = 0; i < 16384; i++) crc = (table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8)) >>> 0;
  crc = ~crc >>> 0;
  const sorted = Array.from(buf.subarray(0, 256)).sort((a, b) => a - b);
  const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));
  let sum = 0;
  for (let i = 0; i < iters; i++) sum = (sum + crc + sorted[128] + fib(18)) >>> 0;
  return sum;
}

/** The cpu-loop guest with the block compiler at `threshold` (-1: the interpreter alone). */
function benchCpuLoop(threshold: number): { mips: number; instructions: number; seconds: number; ok: boolean } {
  const image = readFileSync(resolve(root, "fixtures/bench/cpuloop.bin"));
  const expected = cpuLoopModel(iterations);
  const samples: number[] = [];
  let instructions = 0;
  let ok = true;
  for (let r = 0; r < runs; r++) {
    const mem = new PhysicalMemory({ ramBytes: 16 << 20 });
    const cpu = new Cpu(mem, new PortBus());
    cpu.jitThreshold = threshold;
    cpu.enterFlat32(0);
    mem.ram.set(image, 0x10000);
    cpu.eip = 0x10000;
    cpu.regs[Reg.ECX] = iterations;
    const t0 = process.hrtime.bigint();
    while (!cpu.halted && cpu.stopVector < 0) cpu.run(1 << 24);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    instructions = cpu.icount;
    if (cpu.regs[Reg.EAX] >>> 0 !== expected) ok = false;
    samples.push(s);
  }
  const seconds = median(samples);
  return { mips: instructions / seconds / 1e6, instructions, seconds, ok };
}

async function benchConformance(): Promise<{ testsPerSecond: number; tests: number; seconds: number } | null> {
  const dir = resolve(root, "../shared/cpu-tests/80286");
  if (!existsSync(dir)) return null;
  const { runConformance } = await import("../test/conformance/moo-runner.ts");
  const t0 = process.hrtime.bigint();
  const r = runConformance({ dir });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const tests = r.passed + r.failed + r.skipped;
  return { testsPerSecond: tests / seconds, tests, seconds };
}

/**
 * expand: a virtual-clock capture of the demo (--expand-instructions N, default 10M) expanded
 * into every format; instructions/s and MB/s of output, and native bytes per instruction.
 */
async function benchExpand(): Promise<{
  instructions: number;
  formats: Record<string, { instructionsPerSecond: number; mbPerSecond: number; bytesPerInstruction: number }>;
} | null> {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { spawnSync } = await import("node:child_process");
  const { tmpdir } = await import("node:os");
  const { expandLog } = await import("../src/cli/expand.ts");
  const tmp = mkdtempSync(resolve(tmpdir(), "retrace-bench-"));
  try {
    let bios = resolve(root, "src/firmware/bios.bin");
    if (!existsSync(bios)) {
      bios = resolve(tmp, "bios.bin");
      const fw = resolve(root, "src/firmware");
      if (spawnSync("nasm", ["-f", "bin", "-I", `${fw}/`, "-o", bios, resolve(fw, "bios.asm")]).status !== 0)
        return null;
    }
    const n = argVal("--expand-instructions", 10_000_000);
    const log = resolve(tmp, "run.log");
    const bin = resolve(root, "bin/retrace");
    const cap = [
      bin,
      "capture",
      "-o",
      log,
      "--clock",
      "virtual",
      "--max-instructions",
      String(n),
      "--bios",
      bios,
      "-q",
    ];
    if (spawnSync(process.execPath, cap).status !== 4) return null;
    const formats: Record<string, { instructionsPerSecond: number; mbPerSecond: number; bytesPerInstruction: number }> =
      {};
    for (const [name, format, file] of [
      ["native", "native", "t.bin"],
      ["champsim", "champsim", "t.champsim"],
      ["champsim.gz", "champsim", "t.champsim.gz"],
      ["champsim.xz", "champsim", "t.champsim.xz"],
      ["text", "text", "t.txt"],
      ["bbv", "bbv", "t.bbv"],
    ] as const) {
      if (name === "champsim.xz" && spawnSync("xz", ["--version"]).status !== 0) continue;
      const out = resolve(tmp, file);
      const r = await expandLog(log, { out, format, bios, quiet: true });
      formats[name] = {
        instructionsPerSecond: r.instructions / r.seconds,
        mbPerSecond: r.bytes / r.seconds / 1e6,
        bytesPerInstruction: r.bytes / r.instructions,
      };
      rmSync(out);
    }
    return { instructions: n, formats };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * demo: the bundled demo guest through the whole machine. run and capture alternate (virtual clock,
 * so neither waits for the host while the guest idles) and the medians give the capture overhead;
 * a host-clock capture gives the log size and the replay speed.
 */
async function benchDemo(): Promise<{
  instructions: number;
  runMips: number;
  captureMips: number;
  captureOverheadPercent: number;
  captureOwnWorkPercent: number;
  hostLogBytesPerKiloInstruction: number;
  replayMips: number;
} | null> {
  const { Machine } = await import("../src/machine/machine.ts");
  const { CaptureSession, LiveSession, ReplaySession } = await import("../src/nondet/session.ts");
  const { runMachine } = await import("../src/host/runner.ts");
  const { LogWriter, readLog } = await import("../src/log/index.ts");
  const biosPath = resolve(root, "src/firmware/bios.bin");
  const diskPath = resolve(root, "fixtures/demo/demo.img");
  if (!existsSync(biosPath) || !existsSync(diskPath)) return null;
  const bios = new Uint8Array(readFileSync(biosPath));
  const disk = new Uint8Array(readFileSync(diskPath));
  const make = () => new Machine({ ramBytes: 128 << 20, bios, disk, epochMs: 946_684_800_000 });
  const header = (clock: "host" | "virtual") => ({
    retraceVersion: "bench",
    machine: { cpu: "bench", ramBytes: 128 << 20, devices: [], firmwareSha256: "0".repeat(64) },
    disk: null,
    clock,
    startEpochMs: 946_684_800_000,
    checkpointInterval: 10_000_000,
  });
  const noStop = { requested: null };
  const opts = { maxInstructions: null, timeoutSeconds: null };
  const once = async (capture: boolean, clock: "host" | "virtual") => {
    const m = make();
    const chunks: Uint8Array[] = [];
    const writer = capture ? new LogWriter(header(clock), (b) => chunks.push(b.slice())) : null;
    const session = writer !== null ? new CaptureSession(clock, writer, 10_000_000, m) : new LiveSession(clock);
    const r = await runMachine(m, session, opts, noStop);
    let own = 0;
    if (writer !== null) {
      const cs = session as InstanceType<typeof CaptureSession>;
      cs.finish(m, r.reason, r.seconds * 1000);
      own = cs.ownNs / 1e9;
    }
    const log = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      log.set(c, o);
      o += c.length;
    }
    return { seconds: r.seconds, instructions: r.instructions, log, own };
  };
  const runT: number[] = [];
  const capT: number[] = [];
  const ownShare: number[] = [];
  let instructions = 0;
  for (let k = 0; k < runs; k++) {
    const a = await once(false, "virtual");
    const b = await once(true, "virtual");
    runT.push(a.seconds);
    capT.push(b.seconds);
    ownShare.push((b.own / b.seconds) * 100);
    instructions = a.instructions;
  }
  const host = await once(true, "host");
  const parsed = readLog(host.log);
  const m = make();
  const session = new ReplaySession(parsed.header, parsed.events, parsed.trailer!.instructions, m);
  const r = await runMachine(
    m,
    session,
    { maxInstructions: parsed.trailer!.instructions, timeoutSeconds: null },
    noStop,
  );
  session.verifyEnd(m, parsed.trailer!);
  if (session.divergence !== null) throw new Error(`bench: demo replay diverged: ${session.divergence.what}`);
  const run = median(runT);
  const cap = median(capT);
  return {
    instructions,
    runMips: instructions / run / 1e6,
    captureMips: instructions / cap / 1e6,
    captureOverheadPercent: ((cap - run) / run) * 100,
    captureOwnWorkPercent: median(ownShare),
    hostLogBytesPerKiloInstruction: (host.log.length * 1000) / host.instructions,
    replayMips: r.instructions / r.seconds / 1e6,
  };
}

/** The block compiler's threshold for the compiled cpu-loop figure (the CLI's default is Cpu.defaultJitThreshold). */
const JIT_THRESHOLD = 200;
// What compiles no region runs first: the first compiled region turns V8's on-stack replacement off
// for the rest of the process (src/cpu/jit/compile.ts), which the interpreter's long loops feel.
const interp = benchCpuLoop(-1);
const expand = args.includes("--no-expand") ? null : await benchExpand();
const conf = args.includes("--no-conformance") ? null : await benchConformance();
const loop = benchCpuLoop(JIT_THRESHOLD);
const demo = args.includes("--no-demo") ? null : await benchDemo();
if (json) {
  console.log(JSON.stringify({ cpuLoop: loop, cpuLoopInterpreter: interp, demo, conformance: conf, expand }, null, 2));
} else {
  console.log(
    `cpu-loop     ${loop.mips.toFixed(1)} M instructions/s compiled (--jit-threshold ${JIT_THRESHOLD}; ${loop.instructions.toLocaleString("en-US")} instructions, median of ${runs}: ${loop.seconds.toFixed(3)} s)${loop.ok ? "" : "  RESULT MISMATCH"}`,
  );
  console.log(
    `cpu-loop     ${interp.mips.toFixed(1)} M instructions/s interpreted alone (--jit-threshold -1)${interp.ok ? "" : "  RESULT MISMATCH"}`,
  );
  if (demo === null) console.log("demo         skipped");
  else {
    console.log(
      `demo         run ${demo.runMips.toFixed(1)} M/s, capture ${demo.captureMips.toFixed(1)} M/s (overhead ${demo.captureOverheadPercent.toFixed(1)} %; logging and checkpoints ${demo.captureOwnWorkPercent.toFixed(2)} % of the capture), replay ${demo.replayMips.toFixed(1)} M/s; host-clock log ${demo.hostLogBytesPerKiloInstruction.toFixed(4)} bytes per 1000 instructions (${(demo.instructions / 1e6).toFixed(1)}M instructions, median of ${runs})`,
    );
  }
  if (conf === null)
    console.log(
      `conformance  skipped (${args.includes("--no-conformance") ? "--no-conformance" : "../shared/cpu-tests/80286 is absent"})`,
    );
  else
    console.log(
      `conformance  ${conf.testsPerSecond.toFixed(0)} vectors/s (${conf.tests} vectors in ${conf.seconds.toFixed(1)} s)`,
    );
  if (expand === null) console.log("expand       skipped (--no-expand, or no firmware/demo capture)");
  else {
    const perFormat = Object.entries(expand.formats).map(
      ([f, v]) => `${f} ${(v.instructionsPerSecond / 1e6).toFixed(2)} M/s ${v.mbPerSecond.toFixed(1)} MB/s`,
    );
    const bpi = expand.formats.native?.bytesPerInstruction.toFixed(2);
    console.log(
      `expand       ${perFormat.join(", ")}; native ${bpi} bytes/instruction (demo, ${expand.instructions / 1e6}M instructions)`,
    );
  }
}
