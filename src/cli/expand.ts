/**
 * `retrace expand`: replay a capture with the trace recorder attached and
 * write the trace (docs/TRACE_FORMAT.md). Output goes to a temporary file
 * next to the target and is renamed into place only when the replay verified
 * and every byte is written; on any failure the temporary file is removed.
 * (A kill -9 or Ctrl-C while the replay runs can leave `<out>.tmp-<pid>`.)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { setFlagsFromString } from "node:v8";
import { gzipSync } from "node:zlib";
import { InvalidArgumentError } from "commander";
import { UserError } from "../host/files.ts";
import { BbvWriter, DEFAULT_BBV_INTERVAL } from "../trace/bbv.ts";
import { ChampSimWriter } from "../trace/champsim.ts";
import { type Codec, TRACE_VERSION, type TraceHeader } from "../trace/format.ts";
import { type ByteSink, NativeTraceWriter } from "../trace/native.ts";
import { type ChunkSink, type OnlyFilter, TraceRecorder } from "../trace/recorder.ts";
import { TextTraceWriter } from "../trace/text.ts";
import type { Machine } from "../machine/machine.ts";
import { RETRACE_VERSION, sha256 } from "./capture.ts";
import { endIcountOf, loadLog, machineForLog, REPLAY_EXIT, type ReplayOutcome, replayLog } from "./replay.ts";

export const FORMATS = ["native", "champsim", "text", "bbv"] as const;
export type TraceFormatName = (typeof FORMATS)[number];

/** commander argument parsers (one-line errors). */
export function parseFormat(v: string): TraceFormatName {
  if (!(FORMATS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`must be one of ${FORMATS.join(", ")}`);
  return v as TraceFormatName;
}
export function parseOnly(v: string): "user" | "kernel" {
  if (v !== "user" && v !== "kernel") throw new InvalidArgumentError("must be 'user' or 'kernel'");
  return v;
}

export interface ExpandCliOptions {
  out: string;
  format?: TraceFormatName;
  from?: number;
  to?: number;
  only?: "user" | "kernel";
  interval?: number;
  disk?: string;
  bios?: string;
  quiet?: boolean;
  /** Native chunk codec (tests, benchmarks); default brotli. */
  codec?: Codec;
  /** Called with the machine after it is built and before the replay starts (tests, scripts). */
  onMachine?: (m: Machine) => void;
}

export interface ExpandResult {
  format: TraceFormatName;
  out: string;
  /** Retired instructions written. */
  instructions: number;
  /** Native records (all kinds) produced by the recorder. */
  records: number;
  /** Bytes of the output file. */
  bytes: number;
  /** Bytes of raw native records produced (before any compression). */
  rawBytes: number;
  seconds: number;
  replay: ReplayOutcome;
  /** The machine after the replay (its final state). */
  machine: Machine;
}

/** Output compression chosen by the file name (ChampSim, text and BBV outputs). */
type Compression = "none" | "gz" | "xz";

const WRITE_CHUNK = 8 << 20;

/**
 * The output file: a temporary file renamed into place by `commit`, written
 * in WRITE_CHUNK pieces, optionally through gzip (in-process, one gzip member
 * per piece, which gzip -d and ChampSim read as one stream) or the system xz.
 */
class OutputFile implements ByteSink {
  readonly tmp: string;
  private fd: number;
  private readonly buf = new Uint8Array(WRITE_CHUNK);
  private used = 0;
  private xz: ChildProcess | null = null;
  private xzExit: Promise<number | null> | null = null;
  private xzErr = "";
  private fifo: string | null = null;
  private fifoFd = -1;
  written = 0;

  constructor(
    readonly path: string,
    private readonly compression: Compression,
  ) {
    this.tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
    try {
      this.fd = openSync(this.tmp, "w");
    } catch (e) {
      throw new UserError(`${path}: cannot write: ${(e as NodeJS.ErrnoException).code ?? "I/O error"}`);
    }
    if (compression === "xz") this.startXz();
  }

  /** xz reads a named pipe we write synchronously (the replay never yields to the event loop). */
  private startXz(): void {
    this.fifo = `${this.tmp}.fifo`;
    const mk = spawnSync("mkfifo", [this.fifo]);
    if (mk.status !== 0) throw new UserError(`${this.path}: cannot create a pipe for xz (mkfifo failed)`);
    // xz -1: ~180 MB/s on ChampSim records at nearly the ratio of -6 (which runs at ~4 MB/s); XZ_OPT overrides.
    const preset = process.env.XZ_OPT ? "" : "-1 -T1";
    this.xz = spawn("sh", ["-c", `exec xz -z -c ${preset} < "$0"`, this.fifo], {
      stdio: ["ignore", this.fd, "pipe"],
    });
    this.xz.stderr?.on("data", (d: Buffer) => {
      this.xzErr += d.toString();
    });
    this.xzExit = new Promise((res) => this.xz?.on("close", (code) => res(code)));
    this.fifoFd = openSync(this.fifo, "w"); // returns once the shell has opened the reading end
  }

  write(b: Uint8Array): void {
    if (this.used + b.length > this.buf.length) this.flush();
    if (b.length >= this.buf.length >> 1) {
      // Big enough to go out as it is (4-8 MiB and up): no copy.
      this.flush();
      this.emit(b);
      return;
    }
    this.buf.set(b, this.used);
    this.used += b.length;
  }

  private flush(): void {
    if (this.used === 0) return;
    this.emit(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private emit(b: Uint8Array): void {
    let data = b;
    if (this.compression === "gz") data = gzipSync(b, { level: 1 });
    const fd = this.compression === "xz" ? this.fifoFd : this.fd;
    let off = 0;
    try {
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EPIPE")
        throw new UserError(`${this.path}: xz stopped reading: ${this.xzErr.trim() || "unknown error"}`);
      throw new UserError(`${this.path}: cannot write: ${code ?? "I/O error"}`);
    }
    this.written += b.length;
  }

  /** Flush, close and rename into place. */
  async commit(): Promise<void> {
    this.flush();
    if (this.xz !== null) {
      closeSync(this.fifoFd);
      this.fifoFd = -1;
      const code = await this.xzExit;
      this.removeFifo();
      if (code !== 0) throw new UserError(`${this.path}: xz failed (exit ${code}): ${this.xzErr.trim()}`);
    }
    closeSync(this.fd);
    this.fd = -1;
    try {
      renameSync(this.tmp, this.path);
    } catch (e) {
      throw new UserError(`${this.path}: cannot write: ${(e as NodeJS.ErrnoException).code ?? "I/O error"}`);
    }
  }

  /** Remove everything written (after a failure). */
  async abort(): Promise<void> {
    if (this.fifoFd >= 0) closeSync(this.fifoFd);
    this.fifoFd = -1;
    if (this.xz !== null) {
      this.xz.kill();
      await this.xzExit;
    }
    this.removeFifo();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    try {
      unlinkSync(this.tmp);
    } catch {
      // already gone
    }
  }

  private removeFifo(): void {
    if (this.fifo === null) return;
    try {
      unlinkSync(this.fifo);
    } catch {
      // already gone
    }
    this.fifo = null;
  }
}

function compressionFor(out: string): Compression {
  if (out.endsWith(".xz")) return "xz";
  if (out.endsWith(".gz")) return "gz";
  return "none";
}

function haveXz(): boolean {
  const r = spawnSync("xz", ["--version"], { stdio: "ignore" });
  return r.status === 0;
}

/** `<bar> 45% 22.5M/50.0M instructions 7.1 M/s ETA 0:04`, redrawn in place on a TTY. */
function progressBar(total: number): { update: (ic: number) => void; done: () => void } {
  const t0 = process.hrtime.bigint();
  let last = 0;
  const update = (ic: number): void => {
    const now = process.hrtime.bigint();
    const s = Number(now - t0) / 1e9;
    if (s - last < 0.2) return;
    last = s;
    const frac = total > 0 ? Math.min(1, ic / total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const rate = ic / Math.max(s, 1e-9);
    const eta = rate > 0 ? Math.max(0, (total - ic) / rate) : 0;
    const m = Math.floor(eta / 60);
    const sec = Math.floor(eta % 60);
    process.stderr.write(
      `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ` +
        `${(ic / 1e6).toFixed(1)}M/${(total / 1e6).toFixed(1)}M instructions ${(rate / 1e6).toFixed(1)} M/s ` +
        `ETA ${m}:${String(sec).padStart(2, "0")}\x1b[K`,
    );
  };
  return { update, done: () => process.stderr.write("\r\x1b[K") };
}

/**
 * Let V8 inline bigger functions from here on. The traced path calls the recorder around every
 * instruction and memory access, and V8's default budget (460 bytes of bytecode per callee, 920 in
 * all) leaves those calls out of line. Measured on the Linux boot's first 150M instructions
 * (native format, alternating runs): 12.96-13.24 M instructions/s against 12.16-12.34 M/s (set
 * on node's command line instead: 13.9-14.1 against 12.5-12.9). Only for the traced part: the
 * same budget makes an untraced `run` slower (14.9-26 s against 13.7-18 s).
 */
function widenInlining(): void {
  setFlagsFromString("--max-inlined-bytecode-size=2000");
  setFlagsFromString("--max-inlined-bytecode-size-cumulative=8000");
}

/** Expand `logPath` into `opts.out`. Throws UserError (one line) for every problem the user can cause. */
export async function expandLog(logPath: string, opts: ExpandCliOptions): Promise<ExpandResult> {
  const format = opts.format ?? "native";
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UserError(`unknown trace format '${format}' (choose ${FORMATS.join(", ")})`);
  }
  const from = opts.from ?? 0;
  const to = opts.to;
  if (!Number.isSafeInteger(from) || from < 0) throw new UserError("--from must be a whole number");
  if (to !== undefined && (!Number.isSafeInteger(to) || to <= from)) {
    throw new UserError(`--to (${to}) must be greater than --from (${from})`);
  }
  if (opts.interval !== undefined && format !== "bbv") throw new UserError("--interval applies to --format bbv only");
  const compression = compressionFor(opts.out);
  if (format === "native" && compression !== "none") {
    throw new UserError(
      `${opts.out}: native traces are compressed chunk by chunk already; name the file without .gz/.xz`,
    );
  }
  if (resolve(opts.out) === resolve(logPath)) throw new UserError(`${opts.out}: the output would overwrite the log`);
  if (existsSync(opts.out) && statSync(opts.out).isDirectory()) throw new UserError(`${opts.out}: is a directory`);
  if (compression === "xz" && !haveXz()) {
    throw new UserError(`${opts.out}: writing .xz needs the xz program, which is not installed (or name the file .gz)`);
  }

  const log = loadLog(logPath);
  const total = endIcountOf(log);
  if (from >= total) {
    throw new UserError(`--from ${from} is beyond the end of the run (${total} instructions)`);
  }
  const m = machineForLog(logPath, log, opts);
  opts.onMachine?.(m);

  const out = new OutputFile(opts.out, compression);
  const only: OnlyFilter = opts.only ?? "all";
  let native: NativeTraceWriter | null = null;
  let bbv: BbvWriter | null = null;
  let sink: ChunkSink;
  if (format === "native") {
    const header: TraceHeader = {
      format: "retrace-trace",
      version: TRACE_VERSION,
      retraceVersion: RETRACE_VERSION,
      codec: opts.codec ?? "brotli",
      source: { log: basename(logPath), logInstructions: total, logSha256: logSha(logPath) },
      window: { from, to: to ?? null },
      only,
    };
    native = new NativeTraceWriter(out, header);
    sink = native;
  } else if (format === "champsim") sink = new ChampSimWriter(out);
  else if (format === "text") sink = new TextTraceWriter(out);
  else {
    bbv = new BbvWriter(out, opts.interval ?? DEFAULT_BBV_INTERVAL);
    sink = bbv;
  }

  const bar = process.stderr.isTTY && !opts.quiet ? progressBar(Math.min(total, to ?? total)) : null;
  const rec = new TraceRecorder(sink, { from, to, only, onProgress: bar === null ? null : bar.update });
  const t0 = process.hrtime.bigint();
  let replay: ReplayOutcome;
  try {
    // The recorder is attached where the window starts: up to there the replay runs untraced,
    // with the block compiler, and only the progress bar follows it.
    const attach = (mm: Machine): void => {
      widenInlining();
      rec.attach(mm);
    };
    if (from === 0) attach(m);
    replay = await replayLog(logPath, log, m, {
      at: from === 0 ? null : { icount: from, run: attach },
      onProgress: bar === null ? null : bar.update,
    });
    rec.finish();
    bar?.done();
    if (!replay.ok) {
      const d = replay.divergence!;
      throw new UserError(
        `${logPath}: replay diverged at instruction ${d.icount} (EIP 0x${d.eip.toString(16)}): ${d.what}; no trace written`,
        REPLAY_EXIT.divergence,
      );
    }
    if (native !== null) {
      native.finish({ counts: rec.countsByName(), firstIcount: rec.firstIcount, endIcount: rec.endIcount });
    }
    bbv?.finish();
    await out.commit();
  } catch (e) {
    bar?.done();
    rec.detach();
    native?.abort();
    await out.abort();
    throw e;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    format,
    out: opts.out,
    instructions: rec.instructions,
    records: rec.records,
    bytes: statSync(opts.out).size,
    rawBytes: rec.rawBytes,
    seconds,
    replay,
    machine: m,
  };
}

/** The log is small (bytes per million instructions); hashing it names the exact run the trace came from. */
function logSha(path: string): string {
  return sha256(readFileSync(path));
}

export async function expandCommand(logPath: string, opts: ExpandCliOptions): Promise<number> {
  const r = await expandLog(logPath, opts);
  if (!opts.quiet) {
    const perInsn = r.instructions > 0 ? r.bytes / r.instructions : 0;
    const note = r.replay.complete ? "" : " (the log is incomplete: expanded what it holds)";
    process.stderr.write(
      `retrace: ${r.out}: ${r.format}, ${r.instructions.toLocaleString("en-US")} instructions, ` +
        `${r.bytes.toLocaleString("en-US")} bytes (${perInsn.toFixed(2)} bytes/instruction) in ${r.seconds.toFixed(2)} s ` +
        `(${(r.instructions / Math.max(r.seconds, 1e-9) / 1e6).toFixed(2)} M instructions/s)${note}\n`,
    );
  }
  return r.replay.complete ? 0 : REPLAY_EXIT.incomplete;
}
