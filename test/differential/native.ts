/**
 * The native side of the differential suite: the memory layout both sides
 * share, the binary record format of fixtures/hostcpu/runner.asm, and running
 * a batch of cases through the runner (one process per batch).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Linear addresses; they must match the equates in runner.asm.
/** RWX page: POPFD at CODE, the instruction under test at CODE + 1, then UD2s. */
export const CODE = 0x00400000;
export const INSN_ADDR = CODE + 1;
/** 256-byte data window; it straddles the page boundary at 0x00501000. */
export const DATA_WIN = 0x00500f80;
export const DATA_PAGES = 0x00500000; // two pages
/** Low data window for 16-bit addressing (mapped only where vm.mmap_min_addr allows); straddles 0x9000. */
export const DATA16_WIN = 0x00008f80;
export const LOW_PAGES = 0x00008000; // two pages
/** The stack window is [STACK_PTR - 128, STACK_PTR + 128); ESP starts near STACK_PTR. */
export const STACK_PTR = 0x00600ff4;
export const STACK_WIN = STACK_PTR - 128;
export const STACK_PAGES = 0x00600000; // two pages
export const WIN = 256;

const IN_SIZE = 568;
const OUT_SIZE = 564;
const HEADER_SIZE = 32;

export const SIGTRAP = 5;

/** What both sides start from. */
export interface CaseInput {
  readonly bytes: Uint8Array;
  /** EAX ECX EDX EBX ESP EBP ESI EDI; ESP points into the stack window, near STACK_PTR. */
  readonly regs: Int32Array;
  /** Initial EFLAGS (IF set, TF clear). */
  readonly eflags: number;
  /** Data window contents. */
  readonly data: Uint8Array;
  /** Stack window contents; the dword at ESP - 4 is the runner's POPFD image (eflags | TF). */
  readonly stack: Uint8Array;
  /** A REP string form: keep stepping while EIP stays at the instruction. */
  readonly rep: boolean;
  /** The data window is DATA16_WIN (16-bit addressing) instead of DATA_WIN. */
  readonly low: boolean;
}

/** The state after the instruction (or at its fault). */
export interface CaseResult {
  /** Exception vector, or -1 when the instruction completed. */
  exc: number;
  eip: number;
  eflags: number;
  regs: Int32Array;
  data: Uint8Array;
  stack: Uint8Array;
  /** The error code the exception pushed (-1: none; natively the kernel reports 0 for none). */
  errCode: number;
  /** Native only: the signal, for reports. */
  signal?: number;
}

export interface Selectors {
  cs: number;
  ds: number;
  es: number;
  ss: number;
  fs: number;
  gs: number;
}

export function runnerPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, "..", "..", "fixtures", "hostcpu", "runner.elf");
}

/** The POPFD image the runner pops: the case's flags with TF (single step), IF and bit 1. */
export function popfdImage(eflags: number): number {
  return (eflags | 0x302) >>> 0;
}

function encode(cases: readonly CaseInput[]): Buffer {
  const buf = Buffer.alloc(cases.length * IN_SIZE);
  for (let k = 0; k < cases.length; k++) {
    const c = cases[k];
    const o = k * IN_SIZE;
    if (c.bytes.length < 1 || c.bytes.length > 16) throw new Error(`instruction length ${c.bytes.length}`);
    buf[o] = c.bytes.length;
    buf[o + 1] = (c.rep ? 1 : 0) | (c.low ? 2 : 0);
    buf.set(c.bytes, o + 4);
    for (let r = 0; r < 8; r++) buf.writeInt32LE(c.regs[r] | 0, o + 20 + r * 4);
    buf.writeUInt32LE(c.eflags >>> 0, o + 52);
    buf.set(c.data, o + 56);
    buf.set(c.stack, o + 56 + WIN);
  }
  return buf;
}

function decode(out: Buffer, o: number): CaseResult {
  const signal = out.readUInt32LE(o);
  const trapno = out.readUInt32LE(o + 4);
  const regs = new Int32Array(8);
  for (let r = 0; r < 8; r++) regs[r] = out.readInt32LE(o + 20 + r * 4);
  const completed = signal === SIGTRAP && trapno === 1;
  return {
    exc: completed ? -1 : trapno,
    eip: out.readInt32LE(o + 12),
    eflags: out.readInt32LE(o + 16),
    regs,
    data: new Uint8Array(out.subarray(o + 52, o + 52 + WIN)),
    stack: new Uint8Array(out.subarray(o + 52 + WIN, o + 52 + 2 * WIN)),
    signal,
    errCode: out.readInt32LE(o + 8),
  };
}

/** What the runner reports about the process it runs in. */
export interface HostInfo {
  selectors: Selectors;
  /** The low data window could be mapped: cases with 16-bit addressing can run. */
  low: boolean;
}

export interface NativeBatch extends HostInfo {
  results: CaseResult[];
}

function header(out: Buffer): HostInfo {
  return {
    selectors: {
      cs: out.readUInt32LE(4),
      ds: out.readUInt32LE(8),
      es: out.readUInt32LE(12),
      ss: out.readUInt32LE(16),
      fs: out.readUInt32LE(20),
      gs: out.readUInt32LE(24),
    },
    low: out.readUInt32LE(28) === 1,
  };
}

/** Run a batch of cases in one runner process. Throws with the runner's status on failure. */
export function runNative(cases: readonly CaseInput[], path = runnerPath()): NativeBatch {
  const input = encode(cases);
  const r = spawnSync(path, [], { input, maxBuffer: HEADER_SIZE + cases.length * OUT_SIZE + 4096 });
  if (r.error) throw new Error(`hostcpu runner: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`hostcpu runner exited with status ${r.status} (signal ${r.signal})`);
  const out = r.stdout;
  if (out.length !== HEADER_SIZE + cases.length * OUT_SIZE || out.readUInt32LE(0) !== 0x31524348) {
    throw new Error(`hostcpu runner: ${out.length} bytes of output for ${cases.length} cases`);
  }
  const results: CaseResult[] = [];
  for (let k = 0; k < cases.length; k++) results.push(decode(out, HEADER_SIZE + k * OUT_SIZE));
  return { ...header(out), results };
}

/** Run the runner on no cases: what it reports about the host, or why the host cannot be the oracle. */
export function probeHost(path = runnerPath()): HostInfo | string {
  if (process.platform !== "linux") return `host is ${process.platform}, not Linux`;
  if (process.arch !== "x64" && process.arch !== "ia32") return `host CPU is ${process.arch}, not x86`;
  if (!existsSync(path)) return `${path} is missing (npm run fixtures)`;
  const r = spawnSync(path, [], { input: Buffer.alloc(0) });
  if (r.error) return `cannot run ${path}: ${r.error.message} (no i386 binary support?)`;
  if (r.status !== 0) return `${path} exited with status ${r.status} (signal ${r.signal})`;
  if (r.stdout.length !== HEADER_SIZE) return `${path} printed ${r.stdout.length} bytes instead of its header`;
  return header(r.stdout);
}

/** Why the host cannot serve as the oracle, or null when it can. */
export function hostUnavailable(path = runnerPath()): string | null {
  const h = probeHost(path);
  return typeof h === "string" ? h : null;
}
