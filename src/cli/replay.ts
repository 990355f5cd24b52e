/** `retrace replay`: re-execute a captured run from its log and verify it, bit for bit. */
import { existsSync } from "node:fs";
import { readInput, UserError } from "../host/files.ts";
import { runMachine } from "../host/runner.ts";
import { type LogContents, LogFormatError, readLog } from "../log/index.ts";
import type { DirectBoot } from "../machine/linux-boot.ts";
import { Machine } from "../machine/machine.ts";
import { ReplaySession, type Session } from "../nondet/session.ts";
import { sha256 } from "./capture.ts";

export interface ReplayCliOptions {
  disk?: string;
  bios?: string;
  kernel?: string;
  initrd?: string;
  json?: boolean;
  quiet?: boolean;
}

/** Exit codes of replay (README "Exit codes"). */
export const REPLAY_EXIT = { ok: 0, divergence: 6, badLog: 7, incomplete: 8 } as const;

/** Read and parse a log file; every problem becomes a one-line UserError naming the file. */
export function loadLog(path: string): LogContents {
  const bytes = readInput(path, "log");
  try {
    return readLog(bytes);
  } catch (e) {
    if (e instanceof LogFormatError) throw new UserError(`${path}: ${e.message}`, REPLAY_EXIT.badLog);
    throw e;
  }
}

/** A machine built as the log's header describes, with the disk and firmware verified by hash. */
export function machineForLog(
  logPath: string,
  log: LogContents,
  opts: { disk?: string; bios?: string; kernel?: string; initrd?: string },
): Machine {
  const h = log.header;
  const extra = h.extra as { diskPath?: string; biosPath?: string; psPerInsn?: number };
  const biosPath = opts.bios ?? extra.biosPath;
  if (biosPath === undefined || !existsSync(biosPath)) {
    throw new UserError(`${logPath}: firmware ${biosPath ?? "(unnamed)"} not found; give it with --bios FILE`);
  }
  const bios = readInput(biosPath, "firmware image");
  const biosHash = sha256(bios);
  if (biosHash !== h.machine.firmwareSha256) {
    throw new UserError(
      `${biosPath}: firmware SHA-256 ${biosHash} differs from the one captured (${h.machine.firmwareSha256})`,
    );
  }
  let disk: Uint8Array | null = null;
  if (h.disk !== null) {
    const diskPath = opts.disk ?? extra.diskPath;
    if (diskPath === undefined || !existsSync(diskPath)) {
      throw new UserError(`${logPath}: disk image ${diskPath ?? "(unnamed)"} not found; give it with --disk IMG`);
    }
    disk = readInput(diskPath, "disk image");
    const hash = sha256(disk);
    if (hash !== h.disk.sha256 || disk.length !== h.disk.bytes) {
      throw new UserError(`${diskPath}: disk image SHA-256 ${hash} differs from the captured image's ${h.disk.sha256}`);
    }
  }
  const directBoot = directBootForLog(logPath, extra as Record<string, unknown>, opts);
  return new Machine({
    ramBytes: h.machine.ramBytes,
    bios,
    disk,
    directBoot,
    epochMs: h.startEpochMs,
    psPerInsn: typeof extra.psPerInsn === "number" ? extra.psPerInsn : undefined,
  });
}

interface FileRef {
  path: string;
  sha256: string;
  bytes: number;
}

/** The kernel and initrd a direct-boot capture loaded, read again and verified by SHA-256. */
function directBootForLog(
  logPath: string,
  extra: Record<string, unknown>,
  opts: { kernel?: string; initrd?: string },
): DirectBoot | null {
  const kernel = extra.kernel as FileRef | undefined;
  if (kernel === undefined) return null;
  const load = (ref: FileRef, override: string | undefined, what: string, flag: string): Uint8Array => {
    const path = override ?? ref.path;
    if (!existsSync(path)) throw new UserError(`${logPath}: ${what} ${path} not found; give it with ${flag}`);
    const data = readInput(path, what);
    const hash = sha256(data);
    if (hash !== ref.sha256)
      throw new UserError(`${path}: ${what} SHA-256 ${hash} differs from the captured one (${ref.sha256})`);
    return data;
  };
  const initrdRef = extra.initrd as FileRef | null | undefined;
  return {
    kernel: load(kernel, opts.kernel, "kernel image", "--kernel FILE"),
    initrd: initrdRef ? load(initrdRef, opts.initrd, "initrd", "--initrd FILE") : null,
    cmdline: typeof extra.append === "string" ? extra.append : "",
  };
}

/** Where replay must stop: the trailer's count, or (incomplete log) the last logged event. */
export function endIcountOf(log: LogContents): number {
  if (log.trailer !== null) return log.trailer.instructions;
  const last = log.events[log.events.length - 1];
  return last === undefined ? 0 : last.icount;
}

export interface ReplayOutcome {
  ok: boolean;
  complete: boolean;
  instructions: number;
  expectedInstructions: number;
  checkpoints: number;
  seconds: number;
  divergence: { icount: number; eip: number; what: string; lastGoodIcount: number } | null;
}

/** Something to do once, at an instruction boundary, when the replay reaches instruction `icount`. */
export interface ReplayHook {
  icount: number;
  run: (m: Machine) => void;
}

export interface ReplayOptions {
  /** expand attaches its recorder here, so the replay runs untraced (compiled) up to --from. */
  at?: ReplayHook | null;
  /** Called between slices with the instruction count. */
  onProgress?: ((icount: number) => void) | null;
}

export async function replayLog(
  logPath: string,
  log: LogContents,
  m: Machine,
  opts: ReplayOptions = {},
): Promise<ReplayOutcome> {
  const endIcount = endIcountOf(log);
  const session = new ReplaySession(log.header, log.events, endIcount, m);
  const driver = opts.at === undefined || opts.at === null ? session : withHook(session, opts.at);
  const r = await runMachine(
    m,
    driver,
    { maxInstructions: endIcount, timeoutSeconds: null, onProgress: opts.onProgress ?? null },
    { requested: null },
  );
  void logPath;
  if (log.trailer !== null) session.verifyEnd(m, log.trailer);
  else if (session.divergence === null && m.icount !== endIcount) {
    // The incomplete log's last event must still be reached.
    session.divergence = {
      icount: m.icount,
      eip: m.cpu.eip >>> 0,
      what: `replay stopped (${r.reason}) before the log's last event at instruction ${endIcount}`,
      lastGoodIcount: session.lastGoodIcount,
    };
  }
  return {
    ok: session.divergence === null,
    complete: log.complete,
    instructions: m.icount,
    expectedInstructions: endIcount,
    checkpoints: session.checksPassed,
    seconds: r.seconds,
    divergence: session.divergence,
  };
}

/** `s`, and `at` run at the first boundary at or past its count (the machine stops there for it). */
function withHook(s: ReplaySession, at: ReplayHook): Session {
  let done = false;
  return {
    clock: s.clock,
    replaying: s.replaying,
    boundary(m: Machine): number {
      const next = s.boundary(m);
      if (done) return next;
      if (m.icount < at.icount) return Math.min(next, at.icount);
      done = true;
      at.run(m);
      return next;
    },
    onHalt: (m, due) => s.onHalt(m, due),
    aheadNs: (m) => s.aheadNs(m),
    resumeAfterWait: (m) => s.resumeAfterWait(m),
  };
}

export async function replayCommand(logPath: string, opts: ReplayCliOptions): Promise<number> {
  const log = loadLog(logPath);
  const m = machineForLog(logPath, log, opts);
  const out = await replayLog(logPath, log, m);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ log: logPath, ...out })}\n`);
  } else if (out.ok) {
    const note = out.complete ? "" : " (the log is incomplete: the capture was killed; replayed what it holds)";
    process.stdout.write(
      `retrace: ${logPath}: replay matches: ${out.instructions.toLocaleString("en-US")} instructions, ${out.checkpoints} checkpoints${out.complete ? ", final state and serial output" : ""} verified in ${out.seconds.toFixed(2)} s${note}\n`,
    );
  } else {
    const d = out.divergence!;
    process.stdout.write(
      `retrace: ${logPath}: replay diverged at instruction ${d.icount.toLocaleString("en-US")} (EIP 0x${d.eip.toString(16)}): ${d.what}; last matching checkpoint at instruction ${d.lastGoodIcount.toLocaleString("en-US")}\n`,
    );
  }
  if (!out.ok) return REPLAY_EXIT.divergence;
  return out.complete ? REPLAY_EXIT.ok : REPLAY_EXIT.incomplete;
}
