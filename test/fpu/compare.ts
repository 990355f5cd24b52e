/**
 * Comparison of native and emulated x87 results, the mismatch report and the batch driver.
 *
 * Compared bit for bit: the exception vector, EIP at a fault, the six arithmetic EFLAGS, the
 * general registers, the data window, and the FNSAVE image's control, status and tag words, FIP
 * and the eight registers. Not compared: FCS, FOP, FDP and FDS (in the image and in images the
 * instruction stores): the host is a processor that deprecates FCS/FDS (stores 0) and updates
 * FOP/FDP only on unmasked exceptions, while retrace records them like a P6.
 *
 * Transcendental forms (Tol.Trans) compare their result registers within ULP_TOL units in the
 * last place of the 64-bit significand, and ignore C1 (round-up) and PE, which follow from the
 * last bit of an approximation.
 */
import { readFileSync } from "node:fs";
import { type Form, type GenCase, generateCase, Rng, Tol } from "./gen.ts";
import { FpuEmulator, type FpuResult, type HostInfo, runNative } from "./host.ts";

/** Tolerance of transcendental results, in units in the last place (64-bit significand). */
export const ULP_TOL = 1;

export interface Mismatch {
  c: GenCase;
  what: string[];
  native: FpuResult;
  emu: FpuResult;
}

const ARITH_FLAGS = 0x8d5;

function hex(v: number, n = 8): string {
  return (v >>> 0).toString(16).padStart(n, "0");
}

/** Register ST(i) of an FNSAVE image as "seee hhhhhhhhllllllll". */
export function regText(img: Uint8Array, i: number): string {
  const dv = new DataView(img.buffer, img.byteOffset);
  const o = 28 + 10 * i;
  return `${hex(dv.getUint16(o + 8, true), 4)}:${hex(dv.getUint32(o + 4, true))}${hex(dv.getUint32(o, true))}`;
}

function reg80(img: Uint8Array, i: number): { se: number; sig: bigint } {
  const dv = new DataView(img.buffer, img.byteOffset);
  const o = 28 + 10 * i;
  return { se: dv.getUint16(o + 8, true), sig: dv.getBigUint64(o, true) };
}

/** Distance in units of the last place between two finite 80-bit values of the same sign, or -1. */
export function ulpDistance(a: { se: number; sig: bigint }, b: { se: number; sig: bigint }): number {
  if ((a.se & 0x8000) !== (b.se & 0x8000)) return -1;
  const ea = a.se & 0x7fff;
  const eb = b.se & 0x7fff;
  if (ea === 0x7fff || eb === 0x7fff) return -1;
  // Monotonic integer: exponent * 2^63 + significand without J (J is implied by the exponent for normals).
  const key = (e: number, s: bigint): bigint =>
    BigInt(e === 0 ? 1 : e) * (1n << 63n) + (s & ((1n << 63n) - 1n)) - (e === 0 && s < 1n << 63n ? 1n << 63n : 0n);
  const d = key(ea, a.sig) - key(eb, b.sig);
  const ad = d < 0n ? -d : d;
  return ad > 1000000n ? 1000000 : Number(ad);
}

function u16(img: Uint8Array, o: number): number {
  return img[o] | (img[o + 1] << 8);
}

/** Bytes of stored environment images that hold FCS/FOP/FDP/FDS, relative to the image start. */
function pointerBytes(size: number): number[] {
  if (size === 14 || size === 94) return [8, 9, 10, 11, 12, 13];
  return [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27];
}

/** Where the case's memory operand starts in the data window (for FNSTENV/FNSAVE masks). */
function operandOffset(c: GenCase): number {
  const b = c.bytes;
  let p = 0;
  while (b[p] === 0x26 || b[p] === 0x36 || b[p] === 0x3e || b[p] === 0x64 || b[p] === 0x66) p++;
  const modrm = b[p + 1];
  let addr: number;
  if ((modrm & 0xc7) === 5) addr = b[p + 2] | (b[p + 3] << 8) | (b[p + 4] << 16) | (b[p + 5] << 24);
  else addr = (c.regs[3] + ((b[p + 2] << 24) >> 24)) | 0;
  return addr - 0x00500f80;
}

/** Per comparison: how many registers matched only within the transcendental tolerance. */
let approxRegs = 0;

export function compareOne(c: GenCase, n: FpuResult, e: FpuResult): string[] {
  const what: string[] = [];
  approxRegs = 0;
  const fm = c.form;
  // A store that an unmasked x87 exception suppresses: Intel processors (and retrace, a P6)
  // check nothing of its address; AMD processors still check the segment (#GP).
  const suppressedStoreChecked = n.exc === 13 && e.exc === -1 && fm.rm === -2 && (u16(e.image, 4) & 0x80) !== 0;
  if (n.exc !== e.exc) {
    if (!suppressedStoreChecked) what.push(`exception ${n.exc} vs ${e.exc}`);
    return what;
  }
  if (n.exc >= 0 && n.eip !== e.eip) what.push(`eip ${hex(n.eip)} vs ${hex(e.eip)}`);
  if ((n.eflags & ARITH_FLAGS) !== (e.eflags & ARITH_FLAGS))
    what.push(`eflags ${hex(n.eflags & ARITH_FLAGS, 4)} vs ${hex(e.eflags & ARITH_FLAGS, 4)}`);
  for (let r = 0; r < 8; r++) {
    if (r === 4) continue;
    if (n.regs[r] !== e.regs[r]) what.push(`r${r} ${hex(n.regs[r])} vs ${hex(e.regs[r])}`);
  }
  // Data window, minus pointer fields of stored environments.
  const skip = new Set<number>();
  if (n.exc < 0 && fm.rm === -2 && (fm.mnem === "fnstenv" || fm.mnem === "fnsave")) {
    const off = operandOffset(c);
    for (const k of pointerBytes(fm.size)) skip.add(off + k);
  }
  for (let k = 0; k < n.data.length; k++) {
    if (skip.has(k)) continue;
    if (n.data[k] !== e.data[k]) {
      what.push(`data[+${k}] ${hex(n.data[k], 2)} vs ${hex(e.data[k], 2)}`);
      break;
    }
  }
  const trans = fm.tol === Tol.Trans && n.exc < 0;
  let swMask = 0xffff;
  const ni = n.image;
  const ei = e.image;
  // Registers.
  for (let i = 0; i < 8; i++) {
    const a = regText(ni, i);
    const b = regText(ei, i);
    if (a === b) continue;
    if (trans) {
      const d = ulpDistance(reg80(ni, i), reg80(ei, i));
      if (d >= 0 && d <= ULP_TOL) {
        swMask &= ~0x220;
        approxRegs++;
        continue;
      }
    }
    what.push(`st${i} ${a} vs ${b}`);
  }
  if (trans) swMask &= ~0x220;
  if (u16(ni, 0) !== u16(ei, 0)) what.push(`cw ${hex(u16(ni, 0), 4)} vs ${hex(u16(ei, 0), 4)}`);
  if ((u16(ni, 4) & swMask) !== (u16(ei, 4) & swMask)) what.push(`sw ${hex(u16(ni, 4), 4)} vs ${hex(u16(ei, 4), 4)}`);
  if (u16(ni, 8) !== u16(ei, 8)) what.push(`tw ${hex(u16(ni, 8), 4)} vs ${hex(u16(ei, 8), 4)}`);
  const fipN = new DataView(ni.buffer, ni.byteOffset).getUint32(12, true);
  const fipE = new DataView(ei.buffer, ei.byteOffset).getUint32(12, true);
  // The kernel saves and restores the x87 state with XSAVE/XRSTOR in a fault's signal frame, and
  // whenever the test process is preempted between the instruction and its FNSAVE (more often
  // on a loaded machine). AMD processors keep FIP through that only while an x87 exception is
  // pending: a zero FIP there is the host's save path, not the instruction.
  const fipLost = (n.exc >= 0 || AMD_HOST) && fipN === 0 && (u16(ni, 4) & 0x80) === 0;
  if (fipN !== fipE && !fipLost) what.push(`fip ${hex(fipN)} vs ${hex(fipE)}`);
  return what;
}

/** The host is an AMD processor (FIP through XSAVE/XRSTOR, above). */
const AMD_HOST = (() => {
  try {
    return readFileSync("/proc/cpuinfo", "latin1").includes("AuthenticAMD");
  } catch {
    return false;
  }
})();

export interface FormStats {
  name: string;
  cases: number;
  mismatches: number;
  /** Cases that passed only thanks to the transcendental tolerance (a result 1 ulp away). */
  approx: number;
}

export interface DiffResult {
  cases: number;
  /** The first KEEP_PER_FORM mismatches of each form. */
  mismatches: Mismatch[];
  perForm: Map<string, FormStats>;
}

/** Mismatches kept per form for the report (the counts are always complete). */
const KEEP_PER_FORM = 20;
/** Cases per runner process; generation, native run and comparison stream through batches of this size. */
const BATCH = 20000;

/** Run `perForm` cases of every form (generated from `seed`), streaming in batches. */
export function runDifferential(forms: readonly Form[], seed: number, perForm: number, host: HostInfo): DiffResult {
  const emu = new FpuEmulator(host);
  const perFormStats = new Map<string, FormStats>();
  const mismatches: Mismatch[] = [];
  let total = 0;
  for (const fm of forms) {
    const rng = new Rng(seed, fm.name);
    const s: FormStats = { name: fm.name, cases: 0, mismatches: 0, approx: 0 };
    perFormStats.set(fm.name, s);
    for (let done = 0; done < perForm; ) {
      const n = Math.min(BATCH, perForm - done);
      const cases: GenCase[] = [];
      for (let k = 0; k < n; k++) cases.push(generateCase(rng, fm));
      const native = runNative(cases, BATCH);
      for (let k = 0; k < n; k++) {
        const c = cases[k];
        const e = emu.run(c);
        const what = compareOne(c, native[k], e);
        s.cases++;
        if (what.length === 0 && approxRegs > 0) s.approx++;
        if (what.length > 0) {
          s.mismatches++;
          if (s.mismatches <= KEEP_PER_FORM) mismatches.push({ c, what, native: native[k], emu: e });
        }
      }
      done += n;
      total += n;
    }
  }
  return { cases: total, mismatches, perForm: perFormStats };
}

/** A readable account of one case and how the two sides differ. */
export function describe(m: Mismatch): string {
  const c = m.c;
  const dv = new DataView(c.image.buffer, c.image.byteOffset);
  const lines = [
    `${c.form.name}: bytes ${Array.from(c.bytes, (b) => hex(b, 2)).join(" ")}  eflags ${hex(c.eflags, 4)}`,
    `  in:  cw ${hex(dv.getUint16(0, true), 4)} sw ${hex(dv.getUint16(4, true), 4)} tw ${hex(dv.getUint16(8, true), 4)}`,
  ];
  for (let i = 0; i < 8; i++) lines.push(`    st${i} ${regText(c.image, i)}`);
  lines.push(`  differences: ${m.what.join("; ")}`);
  return lines.join("\n");
}

export function summarize(ms: readonly Mismatch[], show: number): string {
  const byForm = new Map<string, Mismatch[]>();
  for (const m of ms) {
    const l = byForm.get(m.c.form.name) ?? [];
    l.push(m);
    byForm.set(m.c.form.name, l);
  }
  const out: string[] = [];
  for (const [name, l] of byForm) {
    out.push(`== ${name}: ${l.length} mismatches`);
    for (const m of l.slice(0, show)) out.push(describe(m));
  }
  return out.join("\n");
}
