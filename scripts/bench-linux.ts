/**
 * `npm run bench -- --guest linux`: retrace, v86 and QEMU booting the same Debian guest
 * (../shared/guests/linux.img), side by side, in one sitting. Reports; never fails.
 *
 * Each round runs every system once, in the same order (round-robin), so slow drifts of a
 * shared machine touch them all alike; the figures are medians over the rounds.
 *
 *   retrace run      `bin/retrace run <img> --clock virtual --timeout T`, a child process
 *   retrace capture  the same with `-o <tmp>/linux.log`; then once more with `--clock host` (the default
 *                    clock), for the log's size per 1000 instructions with sync points
 *   retrace replay   `bin/retrace replay <log> --json`
 *   retrace expand   `bin/retrace expand <log> -o <tmp>/t.bin` (native format)
 *   v86              the npm package, in a child Node process, with Debian's SeaBIOS and VGA BIOS,
 *                    128 MiB, the disk as hda from an in-memory copy of the image, COM1 captured
 *   qemu             `qemu-system-i386 -accel tcg` with the image as a snapshot drive, if installed
 *
 * Every time is measured here, in the parent, from spawning the child to the moment a serial line
 * (the child's stdout) carrying `RETRACE-GUEST: userspace up` or `RETRACE-GUEST: done` arrives,
 * so process start-up is included for every system alike. retrace counts its instructions and
 * reports them in its end-of-run summary; for the peers, instructions/s uses QEMU's count for the
 * whole boot from the guests README (about 2.96e9) as a nominal workload.
 *
 * Options: --rounds N (default 3), --quick (1 round, retrace `run` only), --timeout S (retrace's
 * --timeout, default 1200), --peer-timeout S (v86 and QEMU, default 300), --json, --image FILE,
 * --seabios DIR (default /usr/share/seabios), --no-retrace, --no-v86, --no-qemu.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { V86Options } from "v86";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const selfPath = resolve(root, "scripts/bench-linux.ts");
const USERSPACE = "RETRACE-GUEST: userspace up";
const DONE = "RETRACE-GUEST: done";
/** QEMU 7.2 TCG's instruction count for the whole boot to power-off (../shared/guests/README.md). */
const NOMINAL_INSTRUCTIONS = 2.96e9;
const DEFAULT_SEABIOS = "/usr/share/seabios";
/** Environment variable that turns this module into the v86 child (its value: the JSON config). */
const V86_CHILD_ENV = "RETRACE_BENCH_V86_CHILD";
/** Conservative native-trace size per instruction, for the free-space check before `expand`. */
const EXPAND_BYTES_PER_INSTRUCTION_ESTIMATE = 4;

// ---------------------------------------------------------------------------------------------
// Watching a child process

interface Watched {
  /** Seconds from spawn to exit (or to the kill). */
  wall: number;
  /** Seconds from spawn to the arrival of each marker line, null if it never came. */
  userspace: number | null;
  done: number | null;
  exitCode: number | null;
  signal: string | null;
  /** Why this script ended the child, if it did. */
  killed: "timeout" | "after done" | null;
  /** The last non-empty serial line, for the report when a marker is missing. */
  lastLine: string;
  stdout: string;
  stderr: string;
  spawnError: string | null;
}

interface WatchOptions {
  timeoutSeconds: number;
  env?: NodeJS.ProcessEnv;
  /** End the child this many seconds after the done marker (peers keep running after it). */
  killAfterDoneSeconds?: number;
  /** Keep the whole stdout (small outputs such as `replay --json`). */
  keepStdout?: boolean;
}

const TAIL_CHARS = 64 * 1024;
const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

function watch(cmd: string, argv: string[], o: WatchOptions): Promise<Watched> {
  return new Promise((done) => {
    const t0 = process.hrtime.bigint();
    const w: Watched = {
      wall: 0,
      userspace: null,
      done: null,
      exitCode: null,
      signal: null,
      killed: null,
      lastLine: "",
      stdout: "",
      stderr: "",
      spawnError: null,
    };
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], env: o.env ?? process.env, cwd: root });
    let partial = "";
    let killTimer: NodeJS.Timeout | null = null;
    const kill = (why: "timeout" | "after done"): void => {
      if (w.killed !== null || child.exitCode !== null) return;
      w.killed = why;
      child.kill("SIGTERM");
      killTimer = setTimeout(() => child.kill("SIGKILL"), 5000);
    };
    const timeout = setTimeout(() => kill("timeout"), o.timeoutSeconds * 1000);
    const onLine = (line: string, at: number): void => {
      const text = line.replace(/\r$/, "");
      if (text.trim() !== "") w.lastLine = text.length > 160 ? `${text.slice(0, 157)}...` : text;
      if (w.userspace === null && text.includes(USERSPACE)) w.userspace = at;
      if (w.done === null && text.includes(DONE)) {
        w.done = at;
        if (o.killAfterDoneSeconds !== undefined) setTimeout(() => kill("after done"), o.killAfterDoneSeconds * 1000);
      }
    };
    child.stdout.on("data", (chunk: Buffer) => {
      const at = seconds(t0);
      const text = chunk.toString("latin1");
      if (o.keepStdout) w.stdout += text;
      partial += text;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) onLine(line, at);
      // A line without its newline yet still counts as arrived (the guest may stop right after it).
      if (partial.includes(USERSPACE) || partial.includes(DONE)) onLine(partial, at);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      w.stderr += chunk.toString("latin1");
      if (w.stderr.length > 2 * TAIL_CHARS) w.stderr = w.stderr.slice(-TAIL_CHARS);
    });
    child.on("error", (e) => {
      w.spawnError = e.message;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timeout);
      if (killTimer !== null) clearTimeout(killTimer);
      if (partial !== "") onLine(partial, seconds(t0));
      w.wall = seconds(t0);
      w.exitCode = code;
      w.signal = signal;
      done(w);
    });
  });
}

/** How a child ended, in words, for "not reached" notes. */
function endedHow(w: Watched): string {
  if (w.spawnError !== null) return `could not start: ${w.spawnError}`;
  if (w.killed === "timeout") return `killed by the bench's timeout after ${w.wall.toFixed(0)} s`;
  if (w.signal !== null) return `killed by ${w.signal}`;
  return `exit code ${w.exitCode}`;
}

// ---------------------------------------------------------------------------------------------
// retrace

const retraceBin = resolve(root, "bin/retrace");

interface RetraceSummary {
  instructions: number;
  seconds: number;
  stopped: string;
}

/** `retrace: N instructions in S s (M M/s), stopped: REASON` from `run`/`capture` stderr. */
function parseSummary(stderr: string): RetraceSummary | null {
  const all = [...stderr.matchAll(/retrace: ([\d,]+) instructions in ([\d.]+) s \([\d.]+ M\/s\), stopped: ([^\n]+)/g)];
  const m = all[all.length - 1];
  if (m === undefined) return null;
  return { instructions: Number(m[1].replaceAll(",", "")), seconds: Number(m[2]), stopped: m[3].trim() };
}

interface GuestSample {
  userspace: number | null;
  done: number | null;
  wall: number;
  /** Instructions and the child's own seconds (retrace's summary), when known. */
  instructions: number | null;
  ownSeconds: number | null;
  /** Why the run ended: retrace's `stopped:` reason, or how the peer process ended. */
  stopped: string;
  lastLine: string;
  /** capture only: the share of its run spent on logging and checkpoints (its own measurement). */
  ownWorkPercent?: number | null;
}

async function retraceGuest(
  kind: "run" | "capture",
  image: string,
  timeout: number,
  log: string | null,
  clock: "virtual" | "host" = "virtual",
): Promise<GuestSample> {
  const argv = [retraceBin, kind, image, "--clock", clock, "--timeout", String(timeout)];
  if (log !== null) argv.push("-o", log);
  const w = await watch(process.execPath, argv, { timeoutSeconds: timeout + 120 });
  const s = parseSummary(w.stderr);
  const own = w.stderr.match(/logging and checkpoints took ([\d.]+) s \(([\d.]+) % of the run\)/);
  const sample: GuestSample = {
    ownWorkPercent: own === null ? null : Number(own[2]),
    userspace: w.userspace,
    done: w.done,
    wall: w.wall,
    instructions: s?.instructions ?? null,
    ownSeconds: s?.seconds ?? null,
    stopped: s?.stopped ?? withStderr(`no summary (${endedHow(w)})`, w.stderr),
    lastLine: w.lastLine,
  };
  return sample;
}

/** `what`, followed by the child's last stderr line if it wrote one. */
function withStderr(what: string, stderr: string): string {
  const last = lastStderrLine(stderr);
  return last === "" ? what : `${what}: ${last}`;
}

/** The last line of a child's stderr, skipping stack frames so that a crash names its error. */
function lastStderrLine(stderr: string): string {
  const lines = stderr
    .split(/[\r\n]/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("at ") && !/^Node\.js v\d/.test(l));
  return lines[lines.length - 1] ?? "";
}

interface ToolSample {
  wall: number;
  instructions: number | null;
  ownSeconds: number | null;
  ok: boolean;
  note: string;
  bytes?: number;
}

async function retraceReplay(log: string, timeout: number): Promise<ToolSample> {
  const w = await watch(process.execPath, [retraceBin, "replay", log, "--json"], {
    timeoutSeconds: timeout + 120,
    keepStdout: true,
  });
  const line = w.stdout
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("{"));
  if (line === undefined) return { wall: w.wall, instructions: null, ownSeconds: null, ok: false, note: endedHow(w) };
  const r = JSON.parse(line) as {
    ok: boolean;
    complete: boolean;
    instructions: number;
    seconds: number;
    divergence: { icount: number; what: string } | null;
  };
  const note = r.ok
    ? r.complete
      ? "matches"
      : "matches (incomplete log)"
    : `diverged at ${r.divergence?.icount}: ${r.divergence?.what}`;
  return { wall: w.wall, instructions: r.instructions, ownSeconds: r.seconds, ok: r.ok, note };
}

async function retraceExpand(log: string, out: string, instructions: number | null): Promise<ToolSample> {
  // Expansion is slower than a run; allow at least 1 M instructions/s before giving up.
  const timeoutSeconds = Math.max(600, (instructions ?? 0) / 1e6);
  const w = await watch(process.execPath, [retraceBin, "expand", log, "-o", out], { timeoutSeconds });
  const m = w.stderr.match(/: \w+, ([\d,]+) instructions, ([\d,]+) bytes \([\d.]+ bytes\/instruction\) in ([\d.]+) s/);
  rmSync(out, { force: true });
  if (m === null)
    return {
      wall: w.wall,
      instructions: null,
      ownSeconds: null,
      ok: false,
      note: withStderr(endedHow(w), w.stderr),
    };
  return {
    wall: w.wall,
    instructions: Number(m[1].replaceAll(",", "")),
    bytes: Number(m[2].replaceAll(",", "")),
    ownSeconds: Number(m[3]),
    ok: w.exitCode === 0,
    note: w.exitCode === 0 ? "complete" : `exit code ${w.exitCode}`,
  };
}

/** Whether bin/retrace will load the esbuild bundle (dist/ newer than every file in src/). */
function retraceBuild(): string {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = resolve(dir, e.name);
      const m = e.isDirectory() ? newest(p) : statSync(p).mtimeMs;
      if (m > t) t = m;
    }
    return t;
  };
  const dist = resolve(root, "dist/retrace.mjs");
  try {
    return statSync(dist).mtimeMs > newest(resolve(root, "src")) ? "dist bundle" : "sources through tsx";
  } catch {
    return "sources through tsx";
  }
}

// ---------------------------------------------------------------------------------------------
// v86

type WasmFn = NonNullable<V86Options["wasm_fn"]>;

interface V86ChildConfig {
  image: string;
  bios: string;
  vgaBios: string;
  wasm: string;
  memoryBytes: number;
}

interface V86Setup {
  config: V86ChildConfig;
  version: string;
}

/** Exactly the bytes of a file, in an ArrayBuffer of their own (a fresh copy, never the file). */
function fileBuffer(path: string): ArrayBuffer {
  const b = readFileSync(path);
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return copy.buffer;
}

/**
 * The v86 child: boots the image and copies COM1 to stdout line by line; exits after the done
 * marker. v86's own instruction counter (32 bits, so wraps are counted by polling) goes to stderr
 * as `v86-instructions <marker> <n>`.
 */
async function v86Child(config: V86ChildConfig): Promise<void> {
  const { V86 } = await import("v86");
  const wasm = readFileSync(config.wasm);
  // The project's lib setting (ES2022, no DOM) declares WebAssembly's types but not the global itself.
  const wasmApi = (
    globalThis as unknown as {
      WebAssembly: {
        instantiate(
          b: Uint8Array,
          i: Parameters<WasmFn>[0],
        ): Promise<{ instance: { exports: Awaited<ReturnType<WasmFn>> } }>;
      };
    }
  ).WebAssembly;
  const emulator = new V86({
    wasm_fn: async (imports) => (await wasmApi.instantiate(wasm, imports)).instance.exports,
    memory_size: config.memoryBytes,
    bios: { buffer: fileBuffer(config.bios) },
    vga_bios: { buffer: fileBuffer(config.vgaBios) },
    hda: { buffer: fileBuffer(config.image) },
    autostart: true,
  });
  let wraps = 0;
  let lastLow = 0;
  const count = (): number => {
    const low = emulator.get_instruction_counter();
    if (low < lastLow) wraps++;
    lastLow = low;
    return wraps * 2 ** 32 + low;
  };
  setInterval(count, 20).unref();
  let line: number[] = [];
  emulator.add_listener("serial0-output-byte", (byte: number) => {
    line.push(byte);
    if (byte !== 0x0a) return;
    const text = Buffer.from(line);
    line = [];
    process.stdout.write(text);
    const s = text.toString("latin1");
    if (s.includes(USERSPACE)) process.stderr.write(`v86-instructions userspace ${count()}\n`);
    if (s.includes(DONE)) {
      process.stderr.write(`v86-instructions done ${count()}\n`);
      process.exit(0);
    }
  });
}

/** v86's pieces, or why it cannot run. Installs Debian's seabios if the default directory is missing. */
function v86Setup(image: string, seabiosDir: string, log: (s: string) => void): V86Setup | string {
  const pkgDir = resolve(root, "node_modules/v86");
  const wasm = resolve(pkgDir, "build/v86.wasm");
  if (!existsSync(wasm)) return "node_modules/v86 is not installed (npm install)";
  const version = (JSON.parse(readFileSync(resolve(pkgDir, "package.json"), "utf8")) as { version: string }).version;
  if (!existsSync(seabiosDir)) {
    if (seabiosDir !== DEFAULT_SEABIOS) return `${seabiosDir} does not exist`;
    const why = installSeabios(log);
    if (why !== null) return why;
  }
  const pick = (names: string[]): string | null => {
    for (const n of names) if (existsSync(resolve(seabiosDir, n))) return resolve(seabiosDir, n);
    return null;
  };
  const bios = pick(["bios.bin", "bios-256k.bin"]);
  // v86 emulates the Bochs VBE adapter, which is what QEMU's "stdvga" VGA BIOS drives.
  const anyVga = existsSync(seabiosDir) ? readdirSync(seabiosDir).filter((n) => /^vgabios.*\.bin$/.test(n)) : [];
  const vgaBios = pick(["vgabios-stdvga.bin", "vgabios.bin", ...anyVga]);
  if (bios === null) return `no bios.bin or bios-256k.bin in ${seabiosDir}`;
  if (vgaBios === null) return `no vgabios-*.bin in ${seabiosDir}`;
  return { config: { image, bios, vgaBios, wasm, memoryBytes: 128 << 20 }, version };
}

/** `apt-get install -y seabios` (through `sudo -n` when not root); null on success, else why not. */
function installSeabios(log: (s: string) => void): string | null {
  const has = (cmd: string): boolean => spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;
  if (!has("apt-get")) return `${DEFAULT_SEABIOS} is missing and apt-get is not available`;
  const root0 = process.getuid?.() === 0;
  if (!root0 && !has("sudo")) return `${DEFAULT_SEABIOS} is missing; installing seabios needs root (or sudo)`;
  const apt = (...a: string[]) => {
    const cmd = root0 ? "apt-get" : "sudo";
    const argv = root0 ? a : ["-n", "apt-get", ...a];
    log(`bench-linux: ${cmd} ${argv.join(" ")}`);
    return spawnSync(cmd, argv, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      encoding: "utf8",
    });
  };
  let r = apt("install", "-y", "seabios");
  // Stale package lists (a fresh CI image) make the first attempt fail; refresh them once.
  if (r.status !== 0 && apt("update").status === 0) r = apt("install", "-y", "seabios");
  if (r.status !== 0 || !existsSync(DEFAULT_SEABIOS))
    return withStderr(`${DEFAULT_SEABIOS} is missing and \`apt-get install -y seabios\` failed`, r.stderr ?? "");
  return null;
}

/** A v86 run, with v86's own instruction counter at each marker. */
interface V86Sample extends GuestSample {
  v86Userspace: number | null;
  v86Done: number | null;
}

async function v86Guest(setup: V86Setup, timeout: number): Promise<V86Sample> {
  const env = { ...process.env, [V86_CHILD_ENV]: JSON.stringify(setup.config) };
  const w = await watch(process.execPath, ["--import", "tsx", selfPath], {
    timeoutSeconds: timeout,
    env,
    killAfterDoneSeconds: 5,
  });
  const counted = (marker: string): number | null => {
    const m = w.stderr.match(new RegExp(`v86-instructions ${marker} (\\d+)`));
    return m === null ? null : Number(m[1]);
  };
  const sample: V86Sample = {
    userspace: w.userspace,
    done: w.done,
    wall: w.wall,
    instructions: null,
    ownSeconds: null,
    stopped: w.done !== null ? "done marker" : withStderr(endedHow(w), w.stderr.replace(/^v86-instructions .*$/gm, "")),
    lastLine: w.lastLine,
    v86Userspace: counted("userspace"),
    v86Done: counted("done"),
  };
  return sample;
}

// ---------------------------------------------------------------------------------------------
// QEMU

const QEMU = "qemu-system-i386";

function qemuVersion(): string | null {
  const r = spawnSync(QEMU, ["--version"], { encoding: "utf8" });
  if (r.status !== 0) return null;
  const m = r.stdout.match(/version (\S+)/);
  return m === null ? "?" : m[1];
}

async function qemuGuest(image: string, timeout: number): Promise<GuestSample> {
  // QEMU option values escape a comma by doubling it. snapshot=on: writes go to a temporary overlay.
  const drive = `file=${image.replaceAll(",", ",,")},format=raw,if=ide,snapshot=on`;
  const argv = ["-accel", "tcg", "-m", "128", "-drive", drive, "-display", "none"];
  argv.push("-serial", "stdio", "-monitor", "none", "-no-reboot");
  // The guest powers off through ACPI under QEMU, so the process ends by itself.
  const w = await watch(QEMU, argv, { timeoutSeconds: timeout, killAfterDoneSeconds: 10 });
  return {
    userspace: w.userspace,
    done: w.done,
    wall: w.wall,
    instructions: null,
    ownSeconds: null,
    stopped: w.done !== null ? "done marker" : withStderr(endedHow(w), w.stderr),
    lastLine: w.lastLine,
  };
}

// ---------------------------------------------------------------------------------------------
// The benchmark

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

const nonNull = <T>(xs: (T | null)[]): T[] => xs.filter((x): x is T => x !== null);

interface GuestRow {
  name: string;
  available: boolean;
  skipped: string | null;
  samples: GuestSample[];
  userspace: number | null;
  done: number | null;
  reachedUserspace: number;
  reachedDone: number;
  /** retrace: its own count and timer; peers: the nominal count over the median time to done. */
  instructionsPerSecond: number | null;
  instructionsNominal: boolean;
}

function guestRow(name: string, samples: GuestSample[], nominal: boolean): GuestRow {
  const done = median(nonNull(samples.map((s) => s.done)));
  let ips: number | null = null;
  if (nominal) ips = done === null ? null : NOMINAL_INSTRUCTIONS / done;
  else {
    const rates = nonNull(
      samples.map((s) => (s.instructions !== null && s.ownSeconds ? s.instructions / s.ownSeconds : null)),
    );
    ips = median(rates);
  }
  return {
    name,
    available: true,
    skipped: null,
    samples,
    userspace: median(nonNull(samples.map((s) => s.userspace))),
    done,
    reachedUserspace: samples.filter((s) => s.userspace !== null).length,
    reachedDone: samples.filter((s) => s.done !== null).length,
    instructionsPerSecond: ips,
    instructionsNominal: nominal,
  };
}

const skippedRow = (name: string, why: string): GuestRow => ({
  name,
  available: false,
  skipped: why,
  samples: [],
  userspace: null,
  done: null,
  reachedUserspace: 0,
  reachedDone: 0,
  instructionsPerSecond: null,
  instructionsNominal: false,
});

interface ToolRow {
  name: string;
  skipped: string | null;
  samples: ToolSample[];
  wall: number | null;
  instructionsPerSecond: number | null;
  bytesPerInstruction: number | null;
}

function toolRow(name: string, samples: ToolSample[], skipped: string | null): ToolRow {
  const rates = nonNull(
    samples.map((s) => (s.instructions !== null && s.ownSeconds ? s.instructions / s.ownSeconds : null)),
  );
  const bpi = nonNull(samples.map((s) => (s.bytes !== undefined && s.instructions ? s.bytes / s.instructions : null)));
  return {
    name,
    skipped,
    samples,
    wall: median(samples.map((s) => s.wall)),
    instructionsPerSecond: median(rates),
    bytesPerInstruction: median(bpi),
  };
}

interface Options {
  quick: boolean;
  json: boolean;
  rounds: number;
  timeout: number;
  peerTimeout: number;
  image: string;
  seabiosDir: string;
  retrace: boolean;
  /** capture, replay and expand too (not with --quick). */
  fullRetrace: boolean;
  v86: boolean;
  qemu: boolean;
}

function parseOptions(args: string[]): Options {
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const positive = (name: string, dflt: number): number => {
    const v = Number(value(name) ?? dflt);
    return Number.isFinite(v) && v > 0 ? v : dflt;
  };
  const quick = args.includes("--quick");
  const timeout = positive("--timeout", 1200);
  const retrace = !args.includes("--no-retrace");
  return {
    quick,
    json: args.includes("--json"),
    rounds: quick ? 1 : Math.floor(positive("--rounds", 3)),
    timeout,
    peerTimeout: positive("--peer-timeout", 300),
    image: resolve(value("--image") ?? resolve(root, "../shared/guests/linux.img")),
    seabiosDir: value("--seabios") ?? DEFAULT_SEABIOS,
    retrace,
    fullRetrace: retrace && !quick,
    v86: !args.includes("--no-v86"),
    qemu: !args.includes("--no-qemu"),
  };
}

interface Samples {
  run: GuestSample[];
  capture: GuestSample[];
  replay: ToolSample[];
  expand: ToolSample[];
  /** Capture log bytes per 1000 instructions, per round: virtual clock, host clock. */
  logVirtual: number[];
  logHost: number[];
  /** Capture's own work (logging, checkpoints) as % of its run, per round: virtual and host clock. */
  ownVirtual: number[];
  ownHost: number[];
  v86: V86Sample[];
  qemu: GuestSample[];
  /** Why expansion was left out of some round, if it was. */
  expandSkipped: string | null;
}

const progress = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

const guestNote = (what: string, s: GuestSample): string =>
  `${what}: userspace ${fmtS(s.userspace)}, done ${fmtS(s.done)}, ${s.wall.toFixed(1)} s in all (${s.stopped})`;

/** The retrace capture of one round, then its replay and expansion. */
async function retraceCaptureRound(o: Options, tmp: string, tag: string, samples: Samples): Promise<void> {
  const log = resolve(tmp, "linux.log");
  rmSync(log, { force: true });
  const c = await retraceGuest("capture", o.image, o.timeout, log);
  samples.capture.push(c);
  progress(`${tag} ${guestNote("retrace capture", c)}`);
  if (!existsSync(log)) return;
  const perKilo = (file: string, s: GuestSample): number | null =>
    existsSync(file) && s.instructions !== null ? (statSync(file).size * 1000) / s.instructions : null;
  const v = perKilo(log, c);
  if (v !== null) samples.logVirtual.push(v);
  // The same boot captured with the host clock (the default): its log holds the sync points too.
  const hostLog = resolve(tmp, "linux-host.log");
  rmSync(hostLog, { force: true });
  const h = await retraceGuest("capture", o.image, o.timeout, hostLog, "host");
  const hv = perKilo(hostLog, h);
  if (hv !== null) samples.logHost.push(hv);
  if (c.ownWorkPercent != null) samples.ownVirtual.push(c.ownWorkPercent);
  if (h.ownWorkPercent != null) samples.ownHost.push(h.ownWorkPercent);
  progress(
    `${tag} retrace capture --clock host: ${h.wall.toFixed(1)} s (${h.stopped}), log ${hv === null ? "?" : hv.toFixed(4)} bytes per 1000 instructions, logging and checkpoints ${h.ownWorkPercent ?? "?"} % of the run (virtual clock: ${c.ownWorkPercent ?? "?"} %)`,
  );
  rmSync(hostLog, { force: true });
  const rp = await retraceReplay(log, o.timeout);
  samples.replay.push(rp);
  progress(`${tag} retrace replay: ${rp.wall.toFixed(1)} s, ${rp.note}`);
  const free = statfsSync(tmp);
  const freeBytes = Number(free.bavail) * Number(free.bsize);
  const need = (c.instructions ?? 0) * EXPAND_BYTES_PER_INSTRUCTION_ESTIMATE;
  if (need > freeBytes - 1e9) {
    samples.expandSkipped = `the trace of ${fmtCount(c.instructions)} instructions may need ~${(need / 1e9).toFixed(0)} GB; ${(freeBytes / 1e9).toFixed(0)} GB free in ${tmpdir()}`;
    progress(`${tag} retrace expand skipped: ${samples.expandSkipped}`);
  } else {
    const ex = await retraceExpand(log, resolve(tmp, "t.bin"), c.instructions);
    samples.expand.push(ex);
    progress(`${tag} retrace expand: ${ex.wall.toFixed(1)} s, ${ex.note}`);
  }
  rmSync(log, { force: true });
}

/** All rounds; in each, every system once, in a fixed order. */
async function collect(o: Options, v86: V86Setup | null, qemu: boolean): Promise<Samples> {
  const samples: Samples = {
    run: [],
    capture: [],
    replay: [],
    expand: [],
    logVirtual: [],
    logHost: [],
    ownVirtual: [],
    ownHost: [],
    v86: [],
    qemu: [],
    expandSkipped: null,
  };
  const tmp = mkdtempSync(resolve(tmpdir(), "retrace-bench-linux-"));
  try {
    for (let r = 0; r < o.rounds; r++) {
      const tag = `round ${r + 1}/${o.rounds}`;
      if (o.retrace) {
        const s = await retraceGuest("run", o.image, o.timeout, null);
        samples.run.push(s);
        progress(`${tag} ${guestNote("retrace run", s)}`);
      }
      if (o.fullRetrace) await retraceCaptureRound(o, tmp, tag, samples);
      if (v86 !== null) {
        const s = await v86Guest(v86, o.peerTimeout);
        samples.v86.push(s);
        progress(`${tag} ${guestNote("v86", s)}`);
      }
      if (qemu) {
        const s = await qemuGuest(o.image, o.peerTimeout);
        samples.qemu.push(s);
        progress(`${tag} ${guestNote("qemu", s)}`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return samples;
}

interface Report {
  guest: "linux";
  image: string;
  rounds: number;
  quick: boolean;
  timeoutSeconds: number;
  peerTimeoutSeconds: number;
  retraceBuild: string | null;
  nominalInstructions: number;
  note: string;
  systems: GuestRow[];
  tools: ToolRow[];
  v86OwnInstructionCount: { userspace: number | null; done: number | null };
  /** retrace run's median time over the peer's, per marker (below 1: retrace is faster). */
  ratios: Record<string, { userspace: number | null; done: number | null }>;
  captureOverheadPercent: number | null;
  /** Capture's own work (logging and checkpoints, timed inside capture) as % of its run: medians. */
  captureOwnWorkPercent: { virtual: number | null; host: number | null };
  /** Capture log bytes per 1000 instructions (medians), virtual and host clock. */
  logBytesPerKiloInstruction: { virtual: number | null; host: number | null };
}

function makeReport(o: Options, samples: Samples, v86: V86Setup | string, qemu: string, qemuOk: boolean): Report {
  const run = o.retrace ? guestRow("retrace run", samples.run, false) : skippedRow("retrace run", "--no-retrace");
  const capture = o.fullRetrace ? guestRow("retrace capture", samples.capture, false) : null;
  const v86Row = typeof v86 === "string" ? skippedRow("v86", v86) : guestRow(`v86 ${v86.version}`, samples.v86, true);
  const qemuRow = qemuOk ? guestRow(`qemu ${qemu} (TCG)`, samples.qemu, true) : skippedRow("qemu", qemu);
  const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null ? a / b : null);
  const ratios: Report["ratios"] = {};
  for (const [key, peer] of [
    ["v86", v86Row],
    ["qemu", qemuRow],
  ] as const) {
    if (!peer.available || !run.available) continue;
    ratios[key] = { userspace: ratio(run.userspace, peer.userspace), done: ratio(run.done, peer.done) };
  }
  // From instructions/s rather than seconds: a run stopped by --timeout has no common end point.
  const runRate = run.instructionsPerSecond;
  const capRate = capture?.instructionsPerSecond ?? null;
  return {
    guest: "linux",
    image: o.image,
    rounds: o.rounds,
    quick: o.quick,
    timeoutSeconds: o.timeout,
    peerTimeoutSeconds: o.peerTimeout,
    retraceBuild: o.retrace ? retraceBuild() : null,
    nominalInstructions: NOMINAL_INSTRUCTIONS,
    note: "seconds from process start to the marker line, median over rounds; 2-core machine shared with other work: timings are noisy",
    systems: capture === null ? [run, v86Row, qemuRow] : [run, capture, v86Row, qemuRow],
    tools: o.fullRetrace
      ? [
          toolRow("retrace replay", samples.replay, null),
          toolRow("retrace expand", samples.expand, samples.expandSkipped),
        ]
      : [],
    v86OwnInstructionCount: {
      userspace: median(nonNull(samples.v86.map((s) => s.v86Userspace))),
      done: median(nonNull(samples.v86.map((s) => s.v86Done))),
    },
    ratios,
    captureOverheadPercent: runRate !== null && capRate !== null ? (runRate / capRate - 1) * 100 : null,
    captureOwnWorkPercent: { virtual: median(samples.ownVirtual), host: median(samples.ownHost) },
    logBytesPerKiloInstruction: { virtual: median(samples.logVirtual), host: median(samples.logHost) },
  };
}

function guestLines(row: GuestRow): string[] {
  if (!row.available) return [`${row.name.padEnd(24)}skipped: ${row.skipped}`];
  const cell = (v: number | null, reached: number): string =>
    (v === null
      ? "not reached"
      : `${fmtS(v)}${reached < row.samples.length ? ` (${reached}/${row.samples.length})` : ""}`
    ).padEnd(14);
  let ips = "?";
  if (row.instructionsPerSecond !== null) {
    ips = fmtRate(row.instructionsPerSecond);
    if (row.instructionsNominal) ips += " nominal";
    else ips += ` (${fmtCount(median(nonNull(row.samples.map((s) => s.instructions))))} instructions counted)`;
  } else if (row.instructionsNominal) ips = "? (done not reached)";
  const lines = [
    `${row.name.padEnd(24)}${cell(row.userspace, row.reachedUserspace)}${cell(row.done, row.reachedDone)}${ips}`,
  ];
  const missed = row.samples.find((s) => s.done === null);
  if (missed !== undefined) {
    const what = missed.userspace === null ? "markers" : "done";
    lines.push(
      `${"".padEnd(24)}${what} not reached: stopped: ${missed.stopped}; last serial line: ${JSON.stringify(missed.lastLine)}`,
    );
  }
  return lines;
}

function toolLine(t: ToolRow): string {
  if (t.samples.length === 0) return `${t.name.padEnd(24)}skipped: ${t.skipped ?? "no capture log"}`;
  let line = `${t.name.padEnd(24)}total ${fmtS(t.wall)}`.padEnd(52);
  line += t.instructionsPerSecond === null ? "?" : fmtRate(t.instructionsPerSecond);
  if (t.bytesPerInstruction !== null) line += `, native ${t.bytesPerInstruction.toFixed(2)} bytes/instruction`;
  const bad = t.samples.filter((s) => !s.ok);
  if (bad.length > 0) line += `; ${bad.length}/${t.samples.length} not ok: ${bad[0].note}`;
  if (t.skipped !== null) line += ` (some rounds skipped: ${t.skipped})`;
  return line;
}

function printReport(r: Report): void {
  const out: string[] = [];
  const rounds = `${r.rounds} interleaved round${r.rounds === 1 ? "" : "s"}`;
  out.push(`linux guest  ${r.image}: median of ${rounds}, seconds from process start to the marker line`);
  out.push("             (timings are noisy: this machine's 2 cores are shared with other work)");
  out.push(`${"".padEnd(24)}${"userspace".padEnd(14)}${"done".padEnd(14)}instructions/s`);
  for (const row of r.systems) out.push(...guestLines(row));
  for (const t of r.tools) out.push(toolLine(t));
  if (r.captureOverheadPercent !== null)
    out.push(
      `capture overhead        ${r.captureOverheadPercent.toFixed(1)} % (run's over capture's instructions/s, medians)`,
    );
  const ow = r.captureOwnWorkPercent;
  if (ow.virtual !== null || ow.host !== null)
    out.push(
      `capture's own work      ${ow.host === null ? "?" : ow.host.toFixed(2)} % of the run with the host clock, ${ow.virtual === null ? "?" : ow.virtual.toFixed(2)} % with the virtual clock (logging and checkpoints, timed inside capture: the overhead without the noise)`,
    );
  const lb = r.logBytesPerKiloInstruction;
  if (lb.virtual !== null || lb.host !== null)
    out.push(
      `capture log             ${lb.host === null ? "?" : lb.host.toFixed(4)} bytes per 1000 instructions with the host clock, ${lb.virtual === null ? "?" : lb.virtual.toFixed(4)} with the virtual clock`,
    );
  if (r.systems.some((s) => s.instructionsNominal))
    out.push(
      `nominal                 peers' instructions/s = ${r.nominalInstructions.toExponential(2)} (QEMU's count for the whole boot, ../shared/guests/README.md) / median seconds to done`,
    );
  const c = r.v86OwnInstructionCount;
  if (c.done !== null || c.userspace !== null)
    out.push(`v86's own counter       ${fmtCount(c.userspace)} instructions to userspace, ${fmtCount(c.done)} to done`);
  for (const [peer, x] of Object.entries(r.ratios)) {
    const f = (v: number | null) => (v === null ? "n/a" : `${v.toFixed(2)}x`);
    out.push(
      `retrace run / ${peer.padEnd(9)}time to userspace ${f(x.userspace)}, to done ${f(x.done)} (below 1: retrace is faster)`,
    );
  }
  if (r.retraceBuild !== null)
    out.push(`retrace build           ${r.retraceBuild}, --clock virtual, --timeout ${r.timeoutSeconds}`);
  console.log(out.join("\n"));
}

export async function benchLinux(args: string[]): Promise<void> {
  try {
    const o = parseOptions(args);
    if (!existsSync(o.image)) {
      const why = `${o.image} is absent (the guest images live in ../shared/guests)`;
      console.log(o.json ? JSON.stringify({ guest: "linux", skipped: why }) : `linux guest  skipped: ${why}`);
      return;
    }
    const v86 = o.v86 ? v86Setup(o.image, o.seabiosDir, progress) : "--no-v86";
    const qemuVer = o.qemu ? qemuVersion() : null;
    const qemu = o.qemu ? (qemuVer ?? `${QEMU} is not installed`) : "--no-qemu";
    if (typeof v86 === "string") progress(`v86 skipped: ${v86}`);
    if (qemuVer === null) progress(`qemu skipped: ${qemu}`);
    const samples = await collect(o, typeof v86 === "string" ? null : v86, qemuVer !== null);
    const report = makeReport(o, samples, v86, qemu, qemuVer !== null);
    if (o.json) console.log(JSON.stringify(report, null, 2));
    else printReport(report);
  } catch (e) {
    // Benchmarks report; they never fail the build.
    process.stderr.write(`bench-linux: error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
}

function fmtS(v: number | null): string {
  return v === null ? "-" : `${v.toFixed(v < 10 ? 2 : 1)} s`;
}

function fmtRate(v: number): string {
  return `${(v / 1e6).toFixed(v < 1e8 ? 1 : 0)} M/s`;
}

function fmtCount(n: number | null): string {
  return n === null ? "?" : n.toLocaleString("en-US");
}

// The v86 child: started by v86Guest as `node --import tsx scripts/bench-linux.ts` with the config
// in the environment.
const childConfig = process.env[V86_CHILD_ENV];
if (childConfig !== undefined && process.argv[1] !== undefined && resolve(process.argv[1]) === selfPath) {
  await v86Child(JSON.parse(childConfig) as V86ChildConfig);
}
