/**
 * SingleStepTests conformance runner:
 *   npm run --silent conformance -- <dir> [--filter 0F,80] [--limit N] [--verbose N] [--all]
 *
 * Runs every test of every .MOO/.MOO.gz file in <dir> on the retrace CPU (real
 * mode), except revoked tests and the documented 286-vs-IA-32 differences of
 * exceptions.ts, and compares registers, FLAGS (undefined bits masked) and RAM
 * with the recorded final state. Prints a per-opcode table of failures and ends
 * with `N passed, M failed`. Exit 0 when M is 0, 1 when not, 2 on a usage or
 * file error.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PortBus } from "../../src/bus/ports.ts";
import { Cpu, Reg, Seg } from "../../src/cpu/cpu.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";
import { type Action, type Difference, differencesFor, REAL_MODE_FLAGS, type TestView } from "./exceptions.ts";
import {
  type CpuState,
  decode16,
  isMooName,
  type MooTest,
  metadataKey,
  mooStem,
  type OpcodeMetadata,
  parseMetadata,
  parseRevocations,
  R16,
  REG16_NAMES,
  REG32_NAMES,
  readMooFile,
} from "./moo.ts";

/** Instructions a test may retire before it counts as "did not halt" (REP counts are below 64). */
const STEP_CAP = 200;
const RAM_BYTES = 16 << 20;

export interface RunOptions {
  dir: string;
  /** Stem prefixes ("0F", "80.1"), case-insensitive; empty: every file. */
  filter?: readonly string[];
  /** At most this many tests per file. */
  limit?: number;
  /** Failing tests kept per opcode for the detailed listing. */
  keepFailures?: number;
}

export interface Failure {
  file: string;
  index: number;
  name: string;
  hash: string;
  bytes: string;
  diff: string;
}

export interface OpcodeResult {
  /** File stem, e.g. "80.0". */
  key: string;
  mnemonic: string;
  passed: number;
  failed: number;
  skipped: number;
  adjusted: number;
  revoked: number;
  failures: Failure[];
}

export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  adjusted: number;
  revoked: number;
  skippedBy: Map<string, number>;
  adjustedBy: Map<string, number>;
  opcodes: OpcodeResult[];
}

/** A usage or file problem: the CLI prints the message alone and exits 2. */
export class RunnerError extends Error {}

// REGS order -> retrace register file.
const GPR16: readonly [number, number][] = [
  [R16.AX, Reg.EAX],
  [R16.BX, Reg.EBX],
  [R16.CX, Reg.ECX],
  [R16.DX, Reg.EDX],
  [R16.SP, Reg.ESP],
  [R16.BP, Reg.EBP],
  [R16.SI, Reg.ESI],
  [R16.DI, Reg.EDI],
];
const SEG16: readonly [number, number][] = [
  [R16.CS, Seg.CS],
  [R16.SS, Seg.SS],
  [R16.DS, Seg.DS],
  [R16.ES, Seg.ES],
];
// RG32 order (cr0 cr3 eax ebx ecx edx esi edi ebp esp cs ds es fs gs ss eip eflags dr6 dr7) -> retrace.
const GPR32: readonly [number, number][] = [
  [2, Reg.EAX],
  [3, Reg.EBX],
  [4, Reg.ECX],
  [5, Reg.EDX],
  [6, Reg.ESI],
  [7, Reg.EDI],
  [8, Reg.EBP],
  [9, Reg.ESP],
];
const SEG32: readonly [number, number][] = [
  [10, Seg.CS],
  [11, Seg.DS],
  [12, Seg.ES],
  [13, Seg.FS],
  [14, Seg.GS],
  [15, Seg.SS],
];
const EIP32 = 16;
const EFLAGS32 = 17;

const FLAG_NAMES: readonly [number, string][] = [
  [0x0001, "CF"],
  [0x0004, "PF"],
  [0x0010, "AF"],
  [0x0040, "ZF"],
  [0x0080, "SF"],
  [0x0100, "TF"],
  [0x0200, "IF"],
  [0x0400, "DF"],
  [0x0800, "OF"],
];

function hex(v: number, digits: number): string {
  return `0x${(v >>> 0).toString(16).padStart(digits, "0")}`;
}

function flagDelta(exp: number, got: number): string {
  const parts: string[] = [];
  for (const [bit, name] of FLAG_NAMES) {
    if ((exp ^ got) & bit) parts.push(`${name}${got & bit ? "+" : "-"}`);
  }
  const other = (exp ^ got) & ~FLAG_NAMES.reduce((a, [b]) => a | b, 0);
  if (other !== 0) parts.push(`bits ${hex(other, 4)}`);
  return parts.join(" ");
}

/** The machine, built once and reused: tests reset it and clear only the bytes they touched. */
class Bench {
  readonly mem = new PhysicalMemory({ ramBytes: RAM_BYTES });
  readonly cpu = new Cpu(this.mem, new PortBus());
  readonly ram = this.mem.ram;
  private readonly zero = Buffer.alloc(RAM_BYTES);
  private readonly ramView = Buffer.from(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength);
  readonly raised: number[] = [];

  constructor() {
    this.cpu.onException = (vector) => {
      this.raised.push(vector);
      return false; // deliver through the IVT like the 286 did
    };
  }

  /** Lowest nonzero RAM address, or -1 when RAM is all zero. */
  firstNonZero(): number {
    if (this.ramView.equals(this.zero)) return -1;
    for (let i = 0; i < this.ram.length; i++) if (this.ram[i] !== 0) return i;
    return -1;
  }

  wipe(): void {
    this.ram.fill(0);
  }
}

interface Prepared {
  view: TestView;
  diffs: Difference[];
  skipBy: Difference | null;
  flagsMask: number;
  aliasVector: number; // IA-32 vector routed to the test's handler, or -1
  /** SI/DI/CX may lag the recorded value by the faulting iteration's step (see exceptions.ts). */
  stringFault: boolean;
}

/** INT3, INT n and INTO raise their vector as an instruction, not through cpu.onException. */
const SOFT_INTS = new Set([0xcc, 0xcd, 0xce]);

function reg16(s: CpuState): readonly number[] | null {
  return s.regs === null ? null : s.regs.values;
}

/** Compare one finished test; "" when it passed. */
function compare(b: Bench, t: MooTest, p: Prepared, wide: boolean): string {
  const cpu = b.cpu;
  const out: string[] = [];
  const exp = t.final;
  const init = t.init;
  if (wide) {
    const iv = init.regs32!.values;
    const fv = exp.regs32?.values;
    const fm = exp.regs32?.mask ?? 0;
    const um = exp.regMask32?.values;
    const want = (i: number): number => ((fm >>> i) & 1 ? fv![i] : iv[i]) >>> 0;
    const undef = (i: number): number => (um === undefined ? 0 : um[i]);
    const check = (i: number, got: number): void => {
      const m = ~undef(i);
      if (((want(i) ^ got) & m) !== 0) out.push(`${REG32_NAMES[i]} exp ${hex(want(i), 8)} got ${hex(got, 8)}`);
    };
    for (const [i, r] of GPR32) check(i, cpu.regs[r]);
    for (const [i, s] of SEG32) check(i, cpu.getSel(s));
    check(EIP32, cpu.eip);
    const m = p.flagsMask & ~undef(EFLAGS32);
    const gotF = cpu.getEflags();
    if (((want(EFLAGS32) ^ gotF) & m) !== 0) {
      out.push(
        `eflags exp ${hex(want(EFLAGS32) & m, 8)} got ${hex(gotF & m, 8)} (${flagDelta(want(EFLAGS32) & m, gotF & m)})`,
      );
    }
  } else {
    const iv = reg16(init)!;
    const fv = reg16(exp);
    const fm = exp.regs?.mask ?? 0;
    const um = exp.regMask?.values;
    const want = (i: number): number => ((fm >>> i) & 1 ? fv![i] : iv[i]);
    const undef = (i: number): number => (um === undefined ? 0 : um[i]);
    // Full 32-bit registers: the upper halves were loaded as 0 and real-mode 16-bit code must not touch them.
    // After a string overrun the 286 has stepped SI/DI/CX once more than IA-32 does (exceptions.ts).
    // SI/DI may be one element behind, and CX under REP one or two counts higher (exceptions.ts).
    const step = iv[R16.FLAGS] & 0x400 ? -2 : 2;
    const rep = p.view.d.rep !== 0;
    const lags = (i: number): readonly number[] =>
      i === R16.SI || i === R16.DI ? [-step] : i === R16.CX && rep ? [1, 2] : [];
    for (const [i, r] of GPR16) {
      const got = cpu.regs[r] >>> 0;
      const m = ~undef(i) >>> 0;
      if (((want(i) ^ got) & m) === 0) continue;
      if (p.stringFault && lags(i).some((l) => ((want(i) + l) & 0xffff) === got)) continue;
      out.push(`${REG16_NAMES[i]} exp ${hex(want(i), 4)} got ${hex(got, 4)}`);
    }
    for (const [i, s] of SEG16) {
      const got = cpu.getSel(s);
      if (((want(i) ^ got) & ~undef(i)) !== 0) out.push(`${REG16_NAMES[i]} exp ${hex(want(i), 4)} got ${hex(got, 4)}`);
    }
    const ip = cpu.eip >>> 0;
    if (((want(R16.IP) ^ ip) & ~undef(R16.IP)) !== 0) out.push(`ip exp ${hex(want(R16.IP), 4)} got ${hex(ip, 4)}`);
    const m = p.flagsMask & REAL_MODE_FLAGS & ~undef(R16.FLAGS);
    const ef = cpu.getEflags();
    const e = want(R16.FLAGS) & m;
    const g = ef & m;
    if (e !== g) out.push(`flags exp ${hex(e, 4)} got ${hex(g, 4)} (${flagDelta(e, g)})`);
    if (ef >>> 16 !== 0) out.push(`eflags upper half exp 0 got ${hex(ef >>> 16, 4)}`);
  }
  // RAM: every byte FINA lists, and every INIT byte FINA does not list must be unchanged.
  // The FLAGS image an exception pushed is compared under the same mask as FLAGS itself.
  const ram = b.ram;
  const fa = t.exception === null ? -2 : pushedFlagsAddress(t, wide);
  const fm = wide ? p.flagsMask : p.flagsMask & REAL_MODE_FLAGS;
  const byteMask = (a: number): number => (a === fa ? fm & 0xff : a === fa + 1 ? (fm >>> 8) & 0xff : 0xff);
  const changed = new Set<number>();
  let ramDiffs = 0;
  for (let i = 0; i < exp.ramAddr.length; i++) {
    const a = exp.ramAddr[i];
    changed.add(a);
    if (((ram[a] ^ exp.ramValue[i]) & byteMask(a)) !== 0) {
      if (ramDiffs++ < 4) out.push(`[${hex(a, 5)}] exp ${hex(exp.ramValue[i], 2)} got ${hex(ram[a], 2)}`);
    }
  }
  for (let i = 0; i < init.ramAddr.length; i++) {
    const a = init.ramAddr[i];
    if (changed.has(a)) continue;
    if (((ram[a] ^ init.ramValue[i]) & byteMask(a)) !== 0) {
      if (ramDiffs++ < 4) out.push(`[${hex(a, 5)}] exp ${hex(init.ramValue[i], 2)} (unchanged) got ${hex(ram[a], 2)}`);
    }
  }
  if (ramDiffs > 4) out.push(`...${ramDiffs - 4} more RAM bytes`);
  // Exceptions: what the CPU raised against what the 286 raised (after the documented vector change).
  const want = t.exception === null ? -1 : p.aliasVector >= 0 ? p.aliasVector : t.exception.vector;
  let got = b.raised.length > 0 ? b.raised[0] : -1;
  if (got < 0 && SOFT_INTS.has(p.view.d.opcode)) got = want; // delivered as an instruction: no hook call
  if (want !== got || b.raised.length > 1) {
    const w = want < 0 ? "none" : `#${want}`;
    const g = b.raised.length === 0 ? "none" : b.raised.map((v) => `#${v}`).join(",");
    out.push(`exception exp ${w} got ${g}`);
  }
  return out.join("; ");
}

/**
 * Physical address of the FLAGS image the exception pushed: the handler is a HLT,
 * so the final SS:SP points at the IP, CS, FLAGS frame. (EXCP records the bus
 * address, which the 286 rounds down to even, so it is only a cross-check.)
 */
function pushedFlagsAddress(t: MooTest, wide: boolean): number {
  if (wide) return t.exception!.flagsAddress;
  const iv = t.init.regs!.values;
  const fv = t.final.regs?.values;
  const fm = t.final.regs?.mask ?? 0;
  const ss = (fm >>> R16.SS) & 1 ? fv![R16.SS] : iv[R16.SS];
  const sp = (fm >>> R16.SP) & 1 ? fv![R16.SP] : iv[R16.SP];
  return ss * 16 + ((sp + 4) & 0xffff);
}

function prepare(t: MooTest, key: string, meta: OpcodeMetadata | null): Prepared {
  const d = decode16(t.bytes);
  const regs = t.init.regs?.values ?? new Array(14).fill(0);
  const view: TestView = { key, test: t, d, regs };
  const diffs = differencesFor(view);
  let flagsMask = 0xffffffff;
  if (meta !== null) {
    const e = meta.opcodes.get(metadataKey(d, meta));
    if (e !== undefined) flagsMask = e.flagsMask;
  }
  let skipBy: Difference | null = null;
  let aliasVector = -1;
  let stringFault = false;
  for (const diff of diffs) {
    const a: Action = diff.action;
    if (a.kind === "skip") {
      skipBy ??= diff;
    } else if (a.kind === "maskFlags") {
      flagsMask &= ~a.flags;
    } else if (a.kind === "vector") {
      aliasVector = a.ia32;
    } else {
      stringFault = true;
    }
  }
  return { view, diffs, skipBy, flagsMask: flagsMask >>> 0, aliasVector, stringFault };
}

/** Load INIT, run to the HLT, compare; returns "" on success or the one-line difference. */
function runOne(b: Bench, t: MooTest, p: Prepared): string {
  const cpu = b.cpu;
  const ram = b.ram;
  const init = t.init;
  const wide = init.regs === null;
  cpu.reset();
  if (wide) {
    const v = init.regs32!.values;
    for (const [i, r] of GPR32) cpu.regs[r] = v[i] | 0;
    for (const [i, s] of SEG32) cpu.setSegReal(s, v[i] & 0xffff);
    cpu.eip = v[EIP32] | 0;
    cpu.setEflags(v[EFLAGS32] | 0);
  } else {
    const v = init.regs!.values;
    for (const [i, r] of GPR16) cpu.regs[r] = v[i];
    for (const [i, s] of SEG16) cpu.setSegReal(s, v[i]);
    cpu.eip = v[R16.IP];
    cpu.setEflags(v[R16.FLAGS] & REAL_MODE_FLAGS);
  }
  for (let i = 0; i < init.ramAddr.length; i++) {
    const a = init.ramAddr[i];
    if (a >= RAM_BYTES) return `INIT RAM address ${hex(a, 8)} is beyond the ${RAM_BYTES >> 20} MiB of RAM`;
    ram[a] = init.ramValue[i];
  }
  if (p.aliasVector >= 0 && t.exception !== null) {
    // Route the IA-32 vector to the handler the 286 used (IVT entries are 4 bytes at vector * 4).
    ram.copyWithin(p.aliasVector * 4, t.exception.vector * 4, t.exception.vector * 4 + 4);
  }
  b.raised.length = 0;
  let n: number;
  try {
    n = cpu.run(STEP_CAP);
  } catch (e) {
    return `CPU threw: ${(e as Error)?.message ?? String(e)}`.replace(/\s+/g, " ");
  }
  if (!cpu.halted) {
    const why = cpu.stopVector >= 0 ? `stopped on #${cpu.stopVector}` : `did not halt after ${n} instructions`;
    return `${why} at ${hex(cpu.getSel(Seg.CS), 4)}:${hex(cpu.eip, 4)}; ${compare(b, t, p, wide)}`;
  }
  return compare(b, t, p, wide);
}

function clearTouched(b: Bench, t: MooTest, p: Prepared): void {
  const ram = b.ram;
  for (const s of [t.init, t.final]) {
    for (let i = 0; i < s.ramAddr.length; i++) if (s.ramAddr[i] < RAM_BYTES) ram[s.ramAddr[i]] = 0;
  }
  if (p.aliasVector >= 0) ram.fill(0, p.aliasVector * 4, p.aliasVector * 4 + 4);
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

interface FileRun {
  result: OpcodeResult;
  skippedBy: Map<string, number>;
  adjustedBy: Map<string, number>;
}

function runFile(
  b: Bench,
  path: string,
  name: string,
  meta: OpcodeMetadata | null,
  revoked: ReadonlySet<string>,
  opts: RunOptions,
  strict: boolean,
): FileRun {
  let file: ReturnType<typeof readMooFile>;
  try {
    file = readMooFile(path);
  } catch (e) {
    throw new RunnerError((e as Error).message);
  }
  const key = mooStem(name);
  const result: OpcodeResult = {
    key,
    mnemonic: file.meta?.mnemonic ?? "",
    passed: 0,
    failed: 0,
    skipped: 0,
    adjusted: 0,
    revoked: 0,
    failures: [],
  };
  const skippedBy = new Map<string, number>();
  const adjustedBy = new Map<string, number>();
  const keep = opts.keepFailures ?? 1;
  const fail = (t: MooTest, diff: string): void => {
    result.failed++;
    if (result.failures.length < Math.max(1, keep)) {
      result.failures.push({
        file: name,
        index: t.index,
        name: t.name,
        hash: t.hash,
        bytes: Buffer.from(t.bytes).toString("hex"),
        diff,
      });
    }
  };
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  if (file.meta !== null && file.meta.cpuMode !== 0) {
    for (const t of file.tests.slice(0, limit))
      fail(t, `CPU mode ${file.meta.cpuMode} is not supported (real mode only)`);
    return { result, skippedBy, adjustedBy };
  }
  for (const t of file.tests.slice(0, limit)) {
    if (revoked.has(t.hash)) {
      result.revoked++;
      continue;
    }
    const p = prepare(t, key, meta);
    if (p.skipBy !== null) {
      result.skipped++;
      bump(skippedBy, p.skipBy.id);
      continue;
    }
    if (p.diffs.length > 0) {
      result.adjusted++;
      for (const d of p.diffs) bump(adjustedBy, d.id);
    }
    let diff = runOne(b, t, p);
    clearTouched(b, t, p);
    if (strict) {
      const stray = b.firstNonZero();
      if (stray >= 0) {
        const msg = `stray write: [${hex(stray, 5)}] = ${hex(b.ram[stray], 2)} (not in the test's RAM)`;
        diff = diff === "" ? msg : `${diff}; ${msg}`;
        b.wipe();
      }
    }
    if (diff === "") result.passed++;
    else fail(t, diff);
  }
  return { result, skippedBy, adjustedBy };
}

function loadSideFiles(dir: string): { meta: OpcodeMetadata | null; revoked: Set<string> } {
  let meta: OpcodeMetadata | null = null;
  const mp = join(dir, "metadata.json");
  let text: string | null = null;
  try {
    text = readFileSync(mp, "utf8");
  } catch {
    text = null; // no metadata: nothing masked
  }
  if (text !== null) {
    try {
      meta = parseMetadata(text, mp);
    } catch (e) {
      throw new RunnerError((e as Error).message);
    }
  }
  let revoked = new Set<string>();
  try {
    revoked = parseRevocations(readFileSync(join(dir, "revocation_list.txt"), "utf8"));
  } catch {
    // no revocation list
  }
  return { meta, revoked };
}

/** Run a directory of MOO files. Throws RunnerError on a usage or file problem. */
export function runConformance(opts: RunOptions): RunSummary {
  const dir = resolve(opts.dir);
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new RunnerError(`${opts.dir}: not a directory`);
    names = readdirSync(dir).filter(isMooName).sort();
  } catch (e) {
    if (e instanceof RunnerError) throw e;
    throw new RunnerError(`${opts.dir}: cannot read directory: ${(e as Error).message}`);
  }
  const filter = (opts.filter ?? []).map((f) => f.toUpperCase());
  if (filter.length > 0) names = names.filter((n) => filter.some((f) => mooStem(n).toUpperCase().startsWith(f)));
  if (names.length === 0) {
    throw new RunnerError(`${opts.dir}: no .MOO or .MOO.gz files${filter.length > 0 ? " match the filter" : ""}`);
  }
  const { meta, revoked } = loadSideFiles(dir);
  const b = new Bench();
  const summary: RunSummary = {
    passed: 0,
    failed: 0,
    skipped: 0,
    adjusted: 0,
    revoked: 0,
    skippedBy: new Map(),
    adjustedBy: new Map(),
    opcodes: [],
  };
  for (const name of names) {
    const path = join(dir, name);
    let run = runFile(b, path, name, meta, revoked, opts, false);
    if (b.firstNonZero() >= 0) {
      // Some test wrote outside its listed bytes: wipe and re-run this file checking after every test.
      b.wipe();
      run = runFile(b, path, name, meta, revoked, opts, true);
    }
    const r = run.result;
    summary.opcodes.push(r);
    summary.passed += r.passed;
    summary.failed += r.failed;
    summary.skipped += r.skipped;
    summary.adjusted += r.adjusted;
    summary.revoked += r.revoked;
    for (const [k, v] of run.skippedBy) summary.skippedBy.set(k, (summary.skippedBy.get(k) ?? 0) + v);
    for (const [k, v] of run.adjustedBy) summary.adjustedBy.set(k, (summary.adjustedBy.get(k) ?? 0) + v);
  }
  return summary;
}

function byCount(m: Map<string, number>): string {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

/** The report, as lines; the last one is exactly `N passed, M failed`. */
export function formatSummary(s: RunSummary, opts: { all?: boolean; verbose?: number } = {}): string[] {
  const lines: string[] = [];
  const rows = s.opcodes.filter((r) => opts.all === true || r.failed > 0);
  if (rows.length > 0) {
    lines.push(
      `${"opcode".padEnd(7)} ${"mnemonic".padEnd(8)} ${"passed".padStart(6)} ${"failed".padStart(6)} ${"skipped".padStart(7)}  first failure`,
    );
    for (const r of rows) {
      const f = r.failures[0];
      const first = f === undefined ? "" : `${f.name} (#${f.index}, ${f.hash.slice(0, 8)}): ${f.diff}`;
      lines.push(
        `${r.key.padEnd(7)} ${r.mnemonic.padEnd(8)} ${String(r.passed).padStart(6)} ${String(r.failed).padStart(6)} ${String(r.skipped).padStart(7)}  ${first}`,
      );
      const v = opts.verbose ?? 0;
      for (const g of r.failures.slice(0, v)) {
        lines.push(`    ${g.file} #${g.index} ${g.hash} [${g.bytes}] ${g.name}: ${g.diff}`);
      }
    }
  }
  if (s.revoked > 0) lines.push(`${s.revoked} revoked (revocation_list.txt)`);
  if (s.adjusted > 0) {
    lines.push(`${s.adjusted} compared with a documented 286-vs-IA-32 adjustment (${byCount(s.adjustedBy)})`);
  }
  lines.push(
    `${s.skipped} skipped as documented 286-vs-IA-32 differences${s.skipped > 0 ? ` (${byCount(s.skippedBy)})` : ""}`,
  );
  lines.push(`${s.passed} passed, ${s.failed} failed`);
  return lines;
}

const USAGE = "usage: conformance <dir> [--filter PREFIX[,PREFIX...]] [--limit N] [--verbose N] [--all]";

interface Cli {
  dir: string;
  filter: string[];
  limit?: number;
  verbose: number;
  all: boolean;
}

function parseArgs(argv: readonly string[]): Cli {
  let dir: string | null = null;
  const cli: Cli = { dir: "", filter: [], verbose: 0, all: false };
  const num = (flag: string, v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v)) throw new RunnerError(`${flag} needs a non-negative integer; ${USAGE}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--filter") {
      const v = argv[++i];
      if (v === undefined || v === "") throw new RunnerError(`--filter needs an opcode prefix; ${USAGE}`);
      cli.filter.push(...v.split(",").filter((s) => s !== ""));
    } else if (a === "--limit") cli.limit = num(a, argv[++i]);
    else if (a === "--verbose") cli.verbose = num(a, argv[++i]);
    else if (a === "--all") cli.all = true;
    else if (a === "--help" || a === "-h") throw new RunnerError(USAGE);
    else if (a.startsWith("-")) throw new RunnerError(`unknown option ${a}; ${USAGE}`);
    else if (dir === null) dir = a;
    else throw new RunnerError(`more than one directory given; ${USAGE}`);
  }
  if (dir === null) throw new RunnerError(USAGE);
  cli.dir = dir;
  return cli;
}

export function main(argv: readonly string[]): number {
  let cli: Cli;
  let summary: RunSummary;
  try {
    cli = parseArgs(argv);
    summary = runConformance({
      dir: cli.dir,
      filter: cli.filter,
      limit: cli.limit,
      keepFailures: Math.max(1, cli.verbose),
    });
  } catch (e) {
    if (e instanceof RunnerError) {
      process.stderr.write(`conformance: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  process.stdout.write(`${formatSummary(summary, { all: cli.all, verbose: cli.verbose }).join("\n")}\n`);
  return summary.failed === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
