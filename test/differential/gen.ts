/**
 * Case generator of the differential suite. The instruction forms come from
 * the opcode table (src/isa/opcodes.ts): every ONE_BYTE/TWO_BYTE row flagged
 * User. A row's operand codes decide whether a ModRM follows and which
 * immediates to emit; its `exec` id decides which operands deserve edge values
 * (shift counts, divisors, BCD digits...); its `undef` column gives the EFLAGS
 * bits not compared. Nothing here describes an opcode.
 *
 * Cases are a pure function of (seed, form): the same seed gives the same bytes
 * and operands whatever the filter or the number of forms.
 */
import { AF, CF, type Entry, OF, ONE_BYTE, type OpDesc, OpFlag, Opnd, TWO_BYTE } from "../../src/isa/opcodes.ts";
import { AluOp, Op, ShiftOp } from "../../src/isa/ops.ts";
import { type CaseInput, DATA_WIN, DATA16_WIN, popfdImage, STACK_PTR, STACK_WIN, WIN } from "./native.ts";

// ------------------------------------------------------------------ forms

export interface Form {
  /** "add Ev,Gv [01]", "bt Ev,Ib [0F BA /4]". */
  readonly name: string;
  readonly mnem: string;
  readonly twoByte: boolean;
  readonly opcode: number;
  /** ModRM.reg of a group row; -1 when not a group; 8 when every row of the group is the same (SETcc). */
  readonly row: number;
  readonly desc: OpDesc;
}

/** Display names of operand codes (for reports only). */
const OPND_TEXT: Partial<Record<Opnd, string>> = {
  [Opnd.Eb]: "Eb",
  [Opnd.Ew]: "Ew",
  [Opnd.Ed]: "Ed",
  [Opnd.Ev]: "Ev",
  [Opnd.Gb]: "Gb",
  [Opnd.Gw]: "Gw",
  [Opnd.Gd]: "Gd",
  [Opnd.Gv]: "Gv",
  [Opnd.M]: "M",
  [Opnd.Mp]: "Mp",
  [Opnd.Ma]: "Ma",
  [Opnd.Mq]: "Mq",
  [Opnd.Rd]: "Rd",
  [Opnd.Sw]: "Sw",
  [Opnd.Cd]: "Cd",
  [Opnd.Dd]: "Dd",
  [Opnd.Ib]: "Ib",
  [Opnd.Ibs]: "Ibs",
  [Opnd.Iw]: "Iw",
  [Opnd.Iz]: "Iz",
  [Opnd.Jb]: "Jb",
  [Opnd.Jz]: "Jz",
  [Opnd.Ap]: "Ap",
  [Opnd.Ob]: "Ob",
  [Opnd.Ov]: "Ov",
  [Opnd.Zb]: "Zb",
  [Opnd.Zv]: "Zv",
  [Opnd.Xb]: "Xb",
  [Opnd.Xv]: "Xv",
  [Opnd.Yb]: "Yb",
  [Opnd.Yv]: "Yv",
  [Opnd.AL]: "AL",
  [Opnd.CL]: "CL",
  [Opnd.AX]: "AX",
  [Opnd.eAX]: "eAX",
  [Opnd.DX]: "DX",
  [Opnd.One]: "1",
  [Opnd.ES]: "ES",
  [Opnd.CS]: "CS",
  [Opnd.SS]: "SS",
  [Opnd.DS]: "DS",
  [Opnd.FS]: "FS",
  [Opnd.GS]: "GS",
};

export function operandText(d: OpDesc): string {
  return [d.dst, d.src, d.src2]
    .filter((o) => o !== Opnd.None)
    .map((o) => OPND_TEXT[o] ?? "?")
    .join(",");
}

const hex2 = (b: number): string => b.toString(16).padStart(2, "0").toUpperCase();

/**
 * User forms the suite leaves out, by handler, with the reason (README.md repeats it).
 * CPUID: the host reports its own identity and features; retrace reports a P6 by design.
 */
export const SKIPPED: ReadonlyMap<Op, string> = new Map([[Op.Cpuid, "CPUID reports the host's identity, not a P6"]]);

function sameRow(a: OpDesc, b: OpDesc): boolean {
  return a.mnem === b.mnem && a.exec === b.exec && a.sub === b.sub && operandText(a) === operandText(b);
}

/** Every User row of the opcode table, minus SKIPPED. */
export function userForms(): Form[] {
  const forms: Form[] = [];
  const add = (twoByte: boolean, opcode: number, row: number, d: OpDesc): void => {
    if ((d.flags & OpFlag.User) === 0 || SKIPPED.has(d.exec)) return;
    const ops = operandText(d);
    const key = `${twoByte ? "0F " : ""}${hex2(opcode)}${row < 0 ? "" : row === 8 ? " /r" : ` /${row}`}`;
    forms.push({ name: `${d.mnem}${ops ? ` ${ops}` : ""} [${key}]`, mnem: d.mnem, twoByte, opcode, row, desc: d });
  };
  const walk = (map: Entry[], twoByte: boolean): void => {
    for (let op = 0; op < 256; op++) {
      const e = map[op];
      if (!Array.isArray(e)) {
        add(twoByte, op, -1, e);
        continue;
      }
      if (e.every((r) => sameRow(r, e[0]))) add(twoByte, op, 8, e[0]);
      else
        e.forEach((r, reg) => {
          add(twoByte, op, reg, r);
        });
    }
  };
  walk(ONE_BYTE, false);
  walk(TWO_BYTE, true);
  return forms;
}

// ------------------------------------------------------------------ random numbers

/** sfc32: small, fast, and the same on every platform. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number, stream = 0) {
    this.a = seed | 0;
    this.b = stream | 0;
    this.c = 0x9e3779b9;
    this.d = 1;
    for (let k = 0; k < 16; k++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** 0 .. n-1 */
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** FNV-1a of a string: a form's random stream depends only on its name. */
export function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
  return h | 0;
}

// ------------------------------------------------------------------ values

const EDGE32 = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe,
  0xffffffff, 0xffff8000, 0xffffff80, 0xffff7fff, 0x00ff00ff, 0x55555555, 0xaaaaaaaa, 0x0000fffe, 0x12345678,
].map((v) => v | 0);
const EDGE8 = [0, 1, 2, 0x09, 0x0a, 0x0f, 0x10, 0x7e, 0x7f, 0x80, 0x81, 0x99, 0x9a, 0xf9, 0xfe, 0xff];
const EDGE16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7ffe, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff];
/** AL values around the BCD digit boundaries (DAA/DAS/AAA/AAS). */
const BCD_AL = [
  0x00, 0x05, 0x09, 0x0a, 0x0f, 0x10, 0x19, 0x1a, 0x5f, 0x60, 0x7f, 0x80, 0x90, 0x99, 0x9a, 0x9f, 0xa0, 0xf9, 0xfa,
  0xff,
];

/** A 32-bit value: random, an edge, or random with edge bytes/words in the low lanes. */
function value32(rng: Rng): number {
  switch (rng.int(5)) {
    case 0:
    case 1:
      return rng.u32() | 0;
    case 2:
      return rng.pick(EDGE32);
    case 3: // edge in the low byte and in bits 8..15 (AL/AH, CL/CH...)
      return (rng.u32() & 0xffff0000) | (rng.pick(EDGE8) << 8) | rng.pick(EDGE8) | 0;
    default: // edge low word
      return (rng.u32() & 0xffff0000) | rng.pick(EDGE16) | 0;
  }
}

function mask(w: number): number {
  return w === 4 ? -1 : (1 << (w * 8)) - 1;
}

function shiftCount(rng: Rng, w: number): number {
  const bits = w * 8;
  return rng.pick([0, 1, 1, 2, 3, bits - 1, bits, bits + 1, 9, 16, 17, 31, 32, 33, 63, 255, rng.int(256), rng.int(32)]);
}

// ------------------------------------------------------------------ cases

/** Post-run corrections of the stack image, applied to both sides (README: "masked beyond the table"). */
export const enum Fixup {
  None = 0,
  /** PUSHF: the pushed TF is the runner's single-step flag; clear it in both images. */
  PushfTF = 1,
  /** PUSH Sreg with a 32-bit operand size: the upper word of the slot is implementation-specific. */
  PushSegHigh = 2,
}

export interface GenCase extends CaseInput {
  readonly form: Form;
  /** EFLAGS bits compared when the instruction completes (faults compare every non-TF/RF bit). */
  readonly flagMask: number;
  readonly fixup: Fixup;
  /** Operand description for reports: "reg", "mem [ebx+esi*4+disp32] -> 0x500fd0", ... */
  readonly note: string;
}

/** Every EFLAGS bit compared by default: all but TF (the runner's single step) and RF (set by the kernel on faults). */
export const CMP_MASK = 0x3fffff & ~(1 << 8) & ~(1 << 16);
const DF = 1 << 10;
const ARITH = 0x8d5;

const REG32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const SEG_PREFIX = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]; // ES CS SS DS FS GS
const SEG_NAME = ["es", "cs", "ss", "ds", "fs", "gs"];
const ESP = 4;
const EBP = 5;
const EAX = 0;
const ECX = 1;
const EDX = 2;
const EBX = 3;
const ESI = 6;
const EDI = 7;

const isMemOnly = (o: Opnd): boolean => o === Opnd.M || o === Opnd.Mp || o === Opnd.Ma || o === Opnd.Mq;
const isE = (o: Opnd): boolean => o === Opnd.Eb || o === Opnd.Ew || o === Opnd.Ed || o === Opnd.Ev || isMemOnly(o);
const isString = (op: Op): boolean =>
  op === Op.Movs || op === Op.Cmps || op === Op.Stos || op === Op.Lods || op === Op.Scas;

/** Mutable state while one case is built. */
class Builder {
  readonly regs = new Int32Array(8);
  readonly data = new Uint8Array(WIN);
  readonly stack = new Uint8Array(WIN);
  /** Registers whose value a constraint fixed: the address solver must not change them. */
  pinned = 1 << ESP;
  /** Registers set after the address is chosen (the dividend of DIV): never used in an address. */
  later = 0;
  /** Where the data window is: DATA_WIN, or DATA16_WIN for 16-bit addressing. */
  dataBase = DATA_WIN;
  constructor(
    readonly rng: Rng,
    /** ESP while the instruction runs: near STACK_PTR, any alignment (pushes and pops cross the page at 0x601000). */
    readonly sp: number,
  ) {
    for (let r = 0; r < 8; r++) this.regs[r] = value32(rng);
    this.regs[ESP] = sp;
    for (let k = 0; k < WIN; k++) {
      this.data[k] = rng.u32() & 0xff;
      this.stack[k] = rng.u32() & 0xff;
    }
  }
  pin(r: number, v: number): void {
    if (r === ESP) throw new Error("generator: ESP cannot be pinned");
    this.regs[r] = v | 0;
    this.pinned |= 1 << r;
  }
  isPinned(r: number): boolean {
    return (this.pinned & (1 << r)) !== 0;
  }
  /** Register operand of width w: 8-bit registers 4..7 are AH CH DH BH. */
  getReg(w: number, r: number): number {
    if (w === 1) return r < 4 ? this.regs[r] & 0xff : (this.regs[r - 4] >>> 8) & 0xff;
    return this.regs[r] & mask(w);
  }
  setReg(w: number, r: number, v: number): void {
    if (w > 1 && r === ESP) return; // ESP belongs to the runner: it stays at sp
    if (w === 1) {
      if (r < 4) this.regs[r] = (this.regs[r] & ~0xff) | (v & 0xff);
      else this.regs[r - 4] = (this.regs[r - 4] & ~0xff00) | ((v & 0xff) << 8);
    } else if (w === 2) this.regs[r] = (this.regs[r] & ~0xffff) | (v & 0xffff);
    else this.regs[r] = v | 0;
  }
  /** Memory at a linear address inside one of the windows. */
  private win(addr: number): [Uint8Array, number] {
    if (addr >= this.dataBase && addr < this.dataBase + WIN) return [this.data, addr - this.dataBase];
    if (addr >= STACK_WIN && addr < STACK_WIN + WIN) return [this.stack, addr - STACK_WIN];
    throw new Error(`generator: address 0x${(addr >>> 0).toString(16)} outside the windows`);
  }
  getMem(addr: number, w: number): number {
    let v = 0;
    for (let k = w - 1; k >= 0; k--) {
      const [m, o] = this.win(addr + k);
      v = (v << 8) | m[o];
    }
    return v & mask(w);
  }
  setMem(addr: number, w: number, v: number): void {
    for (let k = 0; k < w; k++) {
      const [m, o] = this.win(addr + k);
      m[o] = (v >>> (8 * k)) & 0xff;
    }
  }
}

/** Where a memory operand points and how the ModRM/SIB/displacement encode it. */
interface MemOperand {
  bytes: number[]; // ModRM (reg field 0), SIB, displacement
  addr: number; // linear address the operand starts at
  text: string;
}

function le(v: number, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push((v >>> (8 * k)) & 0xff);
  return out;
}

/**
 * Choose a 32-bit addressing form whose effective address is `target`. Registers already
 * pinned keep their values (the displacement absorbs them); otherwise one register may be
 * solved for. `spDelta`: how far ESP moves before the address is computed (POP r/m).
 */
function encodeMemory(b: Builder, target: number, spDelta: number, aligned: boolean): MemOperand {
  const rng = b.rng;
  const regs = b.regs;
  for (let attempt = 0; attempt < 20; attempt++) {
    const mod = rng.pick([0, 0, 1, 1, 2, 2]);
    const rm = rng.pick([0, 1, 2, 3, 4, 4, 5, 6, 7]);
    if (mod === 0 && rm === 5) {
      return { bytes: [0o005, ...le(target, 4)], addr: target, text: "[disp32]" };
    }
    let base = rm;
    let index = -1;
    let scale = 0;
    let sib = -1;
    if (rm === 4) {
      base = rng.int(8);
      index = rng.int(8);
      scale = rng.int(4);
      if (index === ESP) index = -1;
      sib = (scale << 6) | ((index < 0 ? 4 : index) << 3) | base;
      if (mod === 0 && base === EBP) base = -1; // [index*s + disp32]
    }
    if ((base >= 0 && (b.later & (1 << base)) !== 0) || (index >= 0 && (b.later & (1 << index)) !== 0)) continue;
    const hasDisp32 = mod === 2 || (mod === 0 && base === -1);
    const regVal = (r: number): number => (r === ESP ? (b.sp + spDelta) | 0 : regs[r]);
    const text = (): string => {
      const parts: string[] = [];
      if (base >= 0) parts.push(REG32[base]);
      if (index >= 0) parts.push(`${REG32[index]}*${1 << scale}`);
      parts.push(hasDisp32 ? "disp32" : mod === 1 ? "disp8" : "");
      return `[${parts.filter((p) => p).join("+")}]`;
    };
    const head = (): number[] => [(mod << 6) | rm, ...(sib >= 0 ? [sib] : [])];
    if (hasDisp32) {
      let sum = 0;
      if (base >= 0) sum += regVal(base);
      if (index >= 0) sum += regVal(index) << scale;
      const disp = (target - sum) | 0;
      if (base >= 0) b.pinned |= 1 << base;
      if (index >= 0) b.pinned |= 1 << index;
      return { bytes: [...head(), ...le(disp, 4)], addr: target, text: text() };
    }
    // mod 0 or 1 with a base: solve for the base, or for the index, or aim at the stack via ESP.
    const disp = mod === 1 ? ((rng.u32() & 0xff) << 24) >> 24 : 0;
    if (base === ESP) {
      if (index >= 0) continue;
      // [esp] / [esp+disp8]: the operand lands in the stack window.
      const addr = (b.sp + spDelta + disp) | 0;
      if (addr < STACK_WIN + 40 || addr > STACK_WIN + WIN - 40) continue; // room for BT offsets, Mq
      if (aligned && (addr & 7) !== 0) continue;
      return { bytes: [...head(), ...(mod === 1 ? [disp & 0xff] : [])], addr, text: text() };
    }
    if (!b.isPinned(base) && base !== index) {
      const idx = index >= 0 ? regVal(index) << scale : 0;
      b.pin(base, target - disp - idx);
      return { bytes: [...head(), ...(mod === 1 ? [disp & 0xff] : [])], addr: target, text: text() };
    }
    if (index >= 0 && index !== ESP && !b.isPinned(index) && index !== base) {
      const rest = (regVal(base) + disp) | 0;
      const addr = target - (((target - rest) | 0) & ((1 << scale) - 1)); // keep the index integral
      if (aligned && (addr & 7) !== 0) continue;
      b.pin(index, ((addr - rest) | 0) >> scale);
      return { bytes: [...head(), ...(mod === 1 ? [disp & 0xff] : [])], addr, text: text() };
    }
  }
  return { bytes: [0o005, ...le(target, 4)], addr: target, text: "[disp32]" };
}

/** 16-bit ModRM r/m: the registers summed (SDM 2A table 2-1); rm 6 with mod 0 is [disp16]. */
const RM16: readonly (readonly [number, number])[] = [
  [EBX, ESI],
  [EBX, EDI],
  [EBP, ESI],
  [EBP, EDI],
  [ESI, -1],
  [EDI, -1],
  [EBP, -1],
  [EBX, -1],
];
const RM16_TEXT = ["bx+si", "bx+di", "bp+si", "bp+di", "si", "di", "bp", "bx"];

/**
 * 16-bit addressing (0x67): the effective address is the low 16 bits of the sum, so only the low
 * halves of the registers matter (their upper halves stay random) and the sum may wrap.
 */
function encodeMemory16(b: Builder, target: number): MemOperand {
  const rng = b.rng;
  const regs = b.regs;
  for (let attempt = 0; attempt < 20; attempt++) {
    const mod = rng.pick([0, 0, 1, 1, 2, 2]);
    const rm = rng.int(8);
    if (mod === 0 && rm === 6) return { bytes: [0o006, ...le(target, 2)], addr: target, text: "[disp16]" };
    const [r1, r2] = RM16[rm];
    if ((b.later & (1 << r1)) !== 0 || (r2 >= 0 && (b.later & (1 << r2)) !== 0)) continue;
    const text = `[${RM16_TEXT[rm]}${mod === 1 ? "+disp8" : mod === 2 ? "+disp16" : ""}]`;
    const sum = (): number => (regs[r1] + (r2 >= 0 ? regs[r2] : 0)) & 0xffff;
    if (mod === 2) {
      const disp = (target - sum()) & 0xffff;
      b.pinned |= (1 << r1) | (r2 >= 0 ? 1 << r2 : 0);
      return { bytes: [0o200 | rm, ...le(disp, 2)], addr: target, text };
    }
    const disp = mod === 1 ? ((rng.u32() & 0xff) << 24) >> 24 : 0;
    const free = [r1, r2].find((r) => r >= 0 && !b.isPinned(r));
    if (free === undefined) continue;
    const other = free === r1 ? (r2 >= 0 ? regs[r2] : 0) : regs[r1];
    b.pin(free, (regs[free] & ~0xffff) | ((target - disp - other) & 0xffff));
    b.pinned |= (1 << r1) | (r2 >= 0 ? 1 << r2 : 0);
    return { bytes: [(mod << 6) | rm, ...(mod === 1 ? [disp & 0xff] : [])], addr: target, text };
  }
  return { bytes: [0o006, ...le(target, 2)], addr: target, text: "[disp16]" };
}

/** A target in the middle of the data window; sometimes just below the page boundary at +0x80. */
function dataTarget(rng: Rng, base: number): number {
  if (rng.chance(0.3)) return base + 0x80 - 1 - rng.int(8);
  return base + 72 + rng.int(WIN - 144);
}

function encodePrefixes(rng: Rng, list: number[]): number[] {
  const p = list.slice();
  for (let k = p.length - 1; k > 0; k--) {
    const j = rng.int(k + 1);
    [p[k], p[j]] = [p[j], p[k]];
  }
  return p;
}

/** Operand-size prefix allowed? BSWAP r16 has an undefined result (SDM 2A BSWAP). */
function o16Allowed(d: OpDesc): boolean {
  return d.exec !== Op.Bswap;
}

export function generateCase(form: Form, rng: Rng): GenCase {
  const d = form.desc;
  const op = d.exec;
  // ESP: mostly STACK_PTR, sometimes a few bytes off (ENTER needs its whole frame in the window: only upwards).
  const spMove = rng.chance(0.3) ? (op === Op.Enter ? rng.int(5) : rng.int(25) - 12) : 0;
  const b = new Builder(rng, STACK_PTR + spMove);
  const notes: string[] = [];
  let eflags = (rng.u32() & (ARITH | DF)) | 0x202;
  // NT and ID are inert here but must survive; AC turns on alignment checking (Linux sets CR0.AM).
  if (rng.chance(0.1)) eflags |= 1 << 14;
  if (rng.chance(0.2)) eflags |= 1 << 21;
  if (rng.chance(0.05)) eflags |= 1 << 18;
  let fixup = Fixup.None;

  // --- prefixes
  const o16 = o16Allowed(d) && rng.chance(d.byteOp ? 0.1 : 0.4);
  const w = d.byteOp ? 1 : o16 ? 2 : 4;
  const string = isString(op);
  let rep = 0;
  if (string && (d.flags & OpFlag.Rep) !== 0) {
    const r = rng.int(3);
    if (r === 1) rep = 0xf3;
    else if (r === 2) rep = op === Op.Cmps || op === Op.Scas ? 0xf2 : 0xf3;
  }
  let a16 = op === Op.Loop && rng.chance(0.3);

  // --- ModRM: register or memory
  const eOp = [d.dst, d.src, d.src2].find(isE);
  const memOnly = eOp !== undefined && isMemOnly(eOp);
  let memForm = false;
  // Memory-only forms get a register ModRM now and then (#UD), except BOUND: on hosts with AVX-512,
  // 62 with mod = 11 is the EVEX prefix, not BOUND.
  if (d.modrm) memForm = memOnly ? op === Op.Bound || rng.chance(0.95) : rng.chance(0.5);
  let regField = form.row >= 0 && form.row < 8 ? form.row : rng.int(8);
  // BT-family memory forms: the bit offset register must be free to hold a small offset (ESP is not).
  if (op === Op.BtEG && memForm && regField === ESP) regField = rng.pick([0, 1, 2, 3, 5, 6, 7]);
  const rmReg = rng.int(8);
  const implicitMem = string || op === Op.Xlat || [d.dst, d.src].some((o) => o === Opnd.Ob || o === Opnd.Ov);
  const anyMem = memForm || implicitMem;
  // 16-bit addressing: the operand lives in the low data window (README: "16-bit addressing").
  if (anyMem && rng.chance(0.15)) {
    a16 = true;
    b.dataBase = DATA16_WIN;
  }
  const low16 = (v: number, at: number): number => (a16 ? (v & ~0xffff) | (at & 0xffff) : at);
  let seg = -1;
  if (anyMem && rng.chance(0.15)) seg = rng.int(6);
  const lockable = (d.flags & OpFlag.Lockable) !== 0;
  const lock = lockable && memForm ? rng.chance(0.3) : rng.chance(0.02);

  // --- register constraints that come before the address (pins)
  const imms: number[] = []; // immediate values, in operand order
  let count = -1; // shift count as executed (before masking)
  if (op === Op.ShiftE || op === Op.Shld || op === Op.Shrd) {
    count = shiftCount(rng, w);
    if ((op === Op.Shld || op === Op.Shrd) && w === 2 && (count & 31) > 16) count &= 15; // result undefined above 16
    if (d.src === Opnd.One) count = 1;
    if (d.src === Opnd.CL || d.src2 === Opnd.CL) b.pin(ECX, (b.regs[ECX] & ~0xff) | count);
  }
  if (op === Op.BtEG && memForm) {
    const off = rng.int(512) - 256;
    b.pin(regField, (b.regs[regField] & ~mask(w)) | (off & mask(w)));
  }
  if (string) {
    eflags = (eflags & ~DF) | (rng.chance(0.5) ? DF : 0);
    // With 0x67 only SI, DI and CX count: the upper halves stay random.
    b.pin(ESI, low16(b.regs[ESI], b.dataBase + 40 + rng.int(WIN - 80)));
    b.pin(EDI, low16(b.regs[EDI], b.dataBase + 40 + rng.int(WIN - 80)));
    if (rep !== 0) b.pin(ECX, low16(b.regs[ECX], rng.pick([0, 1, 2, 3, 4, 5, 8])));
    const at = (r: number): string => `+0x${(((b.regs[r] & (a16 ? 0xffff : -1)) - b.dataBase) | 0).toString(16)}`;
    notes.push(`esi->${at(ESI)} edi->${at(EDI)}`);
  }
  if (op === Op.Xlat) {
    const al = b.regs[EAX] & 0xff;
    b.pin(EBX, low16(b.regs[EBX], dataTarget(rng, b.dataBase) - al));
    b.pinned |= 1 << EAX;
  }
  if (op === Op.Enter) b.pin(EBP, b.sp + rng.int(121));
  if (op === Op.Leave) b.pin(EBP, STACK_PTR - 120 + rng.int(241));
  if (op === Op.Loop) {
    if (rng.chance(0.5)) b.pin(ECX, rng.pick([0, 1, 2, 0x10000, 0x10001, 0xffff, -1]));
  }
  if (op === Op.Daa || op === Op.Das || op === Op.Aaa || op === Op.Aas) {
    if (rng.chance(0.7)) b.setReg(1, 0, rng.pick(BCD_AL));
  }
  if (op === Op.MulE && d.sub >= 6) b.later |= (1 << EAX) | (1 << EDX); // the dividend is set below
  if (op === Op.PushSeg && w === 4) {
    // Model-specific (SDM 2B PUSH): a 32-bit push of a segment register writes the low word only
    // (recent Intel, and retrace) or the zero-extended selector (seen on an Intel Xeon host), and
    // hosts differ on whether alignment checking sees a 2- or a 4-byte access. A zero upper word
    // and no alignment checking make every host agree.
    b.setMem((b.sp - 2) | 0, 2, 0);
    eflags &= ~(1 << 18);
  }
  if (op === Op.Popf) {
    // POPF at CPL 3, IOPL 0: IF and IOPL are ignored, VM/VIF/VIP kept, RF cleared; every other bit is
    // loadable, NT, AC and ID included. TF is free: the single-step trap after POPF happens either way.
    const v = rng.u32();
    b.setMem(b.sp, 4, v);
  }

  // --- memory operand
  let mem: MemOperand | null = null;
  let target = 0;
  if (memForm) {
    target = dataTarget(rng, b.dataBase);
    // A LOCKed access split across cache lines is a split lock: hosts with split-lock detection
    // raise #AC for it (or stall the process), retrace rightly does not. Keep locked operands aligned.
    if (lock) target &= ~7;
    const spDelta = op === Op.PopE ? w : 0;
    mem = a16 ? encodeMemory16(b, target) : encodeMemory(b, target, spDelta, lock);
    target = mem.addr;
    notes.push(`mem ${mem.text} -> 0x${(target >>> 0).toString(16)}`);
  } else if (d.modrm) {
    notes.push("reg");
  }
  const memWidth = (): number => (eOp === Opnd.Eb ? 1 : eOp === Opnd.Ew ? 2 : eOp === Opnd.Ed ? 4 : w);

  // --- edge values for the E operand (register or memory)
  const eW = memWidth();
  const setE = (v: number): void => {
    if (mem !== null) b.setMem(target, Math.min(eW, 4), v);
    else if (d.modrm) b.setReg(eW, rmReg, v);
  };
  const getE = (): number => (mem !== null ? b.getMem(target, Math.min(eW, 4)) : b.getReg(eW, rmReg));
  if (mem !== null && eOp !== Opnd.Mq && eOp !== Opnd.Ma && eOp !== Opnd.Mp && eOp !== Opnd.M && rng.chance(0.5)) {
    setE(value32(rng));
  }
  if (op === Op.Bsf || op === Op.Bsr) {
    const r = rng.int(5);
    if (r === 0) setE(0);
    else if (r === 1) setE(1 << rng.int(eW * 8));
  }
  if (op === Op.MulE && d.sub >= 6) setupDivide(b, rng, d.sub === 7, w, setE, getE);
  if (op === Op.Cmpxchg && rng.chance(0.5)) setE(b.getReg(w, EAX));
  if (op === Op.Cmpxchg8b && mem !== null && rng.chance(0.5)) {
    b.setMem(target, 4, b.regs[EAX]);
    b.setMem(target + 4, 4, b.regs[EDX]);
  }
  if (op === Op.Bound && mem !== null) {
    const v = signExtend(b.getReg(w, regField), w);
    const lo = v - rng.pick([0, 0, 1, 5, 1000, -1, -7]);
    const hi = rng.chance(0.5) ? lo + rng.int(3000) : v + rng.pick([0, 1, 9, -1, -3]);
    b.setMem(target, w, lo);
    b.setMem(target + w, w, hi);
  }
  if (string) {
    // CMPS/SCAS: make the operands partly equal so that REPE/REPNE stop at different places.
    if ((op === Op.Cmps || op === Op.Scas) && rng.chance(0.6)) {
      const n = rng.int(9);
      const step = eflags & DF ? -w : w;
      const am = a16 ? 0xffff : -1;
      for (let k = 0; k < n; k++) {
        const di = (b.regs[EDI] & am) + k * step;
        const v = op === Op.Cmps ? b.getMem((b.regs[ESI] & am) + k * step, w) : b.getReg(w, EAX);
        if (op === Op.Scas && k === n - 1 && rng.chance(0.5)) continue;
        b.setMem(di, w, v);
      }
    }
  }

  // --- immediates, in operand order
  for (const o of [d.dst, d.src, d.src2]) {
    switch (o) {
      case Opnd.Ib:
      case Opnd.Ibs:
        imms.push(immByte(op, rng, count, imms.length));
        break;
      case Opnd.Iw:
        // ENTER: the frame must end inside the mapped stack pages; the host probes the new ESP (#PF).
        imms.push(
          op === Op.Enter ? (rng.chance(0.5) ? rng.int(65) : rng.int(3800)) : rng.pick([0, 2, 4, rng.u32() & 0xffff]),
        );
        break;
      case Opnd.Iz:
        imms.push(value32(rng));
        break;
      case Opnd.Jb:
        imms.push(rng.u32() & 0xff);
        break;
      case Opnd.Jz:
        imms.push(rng.chance(0.5) ? rng.u32() : rng.int(512) - 256);
        break;
      case Opnd.Ob:
      case Opnd.Ov: {
        target = dataTarget(rng, b.dataBase);
        imms.push(target);
        notes.push(`moffs -> 0x${target.toString(16)}`);
        break;
      }
    }
  }

  // --- bytes
  const prefixes: number[] = [];
  if (lock) prefixes.push(0xf0);
  if (rep) prefixes.push(rep);
  if (seg >= 0) prefixes.push(SEG_PREFIX[seg]);
  if (o16) prefixes.push(0x66);
  if (a16) prefixes.push(0x67);
  const bytes: number[] = encodePrefixes(rng, prefixes);
  // Now and then, pad with repeats of the prefixes to 15 bytes (the limit) or 16 (#GP).
  const padTo = rng.chance(0.03) ? rng.pick([15, 16]) : 0;
  if (form.twoByte) bytes.push(0x0f);
  bytes.push(form.opcode);
  if (d.modrm) {
    if (mem !== null) {
      bytes.push(mem.bytes[0] | (regField << 3), ...mem.bytes.slice(1));
    } else {
      bytes.push(0o300 | (regField << 3) | rmReg);
    }
  }
  let immIdx = 0;
  for (const o of [d.dst, d.src, d.src2]) {
    const v = imms[immIdx];
    switch (o) {
      case Opnd.Ib:
      case Opnd.Ibs:
      case Opnd.Jb:
        bytes.push(v & 0xff);
        immIdx++;
        break;
      case Opnd.Iw:
        bytes.push(...le(v, 2));
        immIdx++;
        break;
      case Opnd.Iz:
      case Opnd.Jz:
        bytes.push(...le(v, o16 ? 2 : 4));
        immIdx++;
        break;
      case Opnd.Ob:
      case Opnd.Ov:
        bytes.push(...le(v, a16 ? 2 : 4));
        immIdx++;
        break;
    }
  }

  // --- flags compared
  let undef = d.undef;
  if (
    (op === Op.AluEG || op === Op.AluGE || op === Op.AluEI) &&
    (d.sub === AluOp.And || d.sub === AluOp.Or || d.sub === AluOp.Xor)
  ) {
    undef |= AF; // SDM 2A AND/OR/XOR: "the state of the AF flag is undefined" (not in the table)
  }
  if (op === Op.ShiftE && count >= 0) {
    const c = count & 31;
    if (c === 0) undef = 0;
    else {
      if (c === 1) undef &= ~OF;
      const isShift = d.sub === ShiftOp.Shl || d.sub === ShiftOp.Shr || d.sub === ShiftOp.Sal;
      if (isShift && c >= w * 8) undef |= CF; // SDM 2B SAL/SAR/SHL/SHR: CF undefined when count >= width
    }
  }
  if ((op === Op.Shld || op === Op.Shrd) && count >= 0) {
    const c = count & 31;
    if (c === 0) undef = 0;
    else if (c === 1) undef &= ~OF;
  }
  if (op === Op.Pushf) fixup = Fixup.PushfTF;
  if (op === Op.PushSeg && w === 4) fixup = Fixup.PushSegHigh;
  if (count >= 0 && (op === Op.ShiftE || op === Op.Shld || op === Op.Shrd)) notes.push(`count ${count}`);
  if (seg >= 0) notes.push(`${SEG_NAME[seg]}:`);

  // The runner's POPFD pops this image just below ESP.
  if (padTo > 0) {
    const pads = prefixes.length > 0 ? prefixes : [0x3e];
    while (bytes.length < padTo) bytes.unshift(rng.pick(pads));
    notes.push(`padded to ${bytes.length} bytes`);
  }
  const img = popfdImage(eflags);
  b.setMem(b.sp - 4, 4, img);

  return {
    form,
    bytes: Uint8Array.from(bytes),
    regs: b.regs,
    eflags,
    data: b.data,
    stack: b.stack,
    rep: rep !== 0,
    low: b.dataBase === DATA16_WIN,
    flagMask: CMP_MASK & ~undef,
    fixup,
    note: notes.join(", "),
  };
}

function signExtend(v: number, w: number): number {
  const sh = 32 - 8 * w;
  return (v << sh) >> sh;
}

function immByte(op: Op, rng: Rng, count: number, index: number): number {
  switch (op) {
    case Op.ShiftE:
    case Op.Shld:
    case Op.Shrd:
      return count & 0xff;
    case Op.Aam:
    case Op.Aad:
      return rng.pick([0, 1, 10, 10, 16, 255, rng.u32() & 0xff]);
    case Op.Enter:
      return index === 1 ? rng.pick([0, 1, 2, 3, 8, 31, 32, 33, rng.int(32)]) : rng.u32() & 0xff;
    case Op.BtEI:
      return rng.pick([0, 7, 8, 15, 16, 31, 32, rng.u32() & 0xff]);
    default:
      return rng.chance(0.4) ? rng.pick(EDGE8) : rng.u32() & 0xff;
  }
}

/**
 * DIV/IDIV: the divisor is the E operand; the dividend (AX, DX:AX or EDX:EAX) is chosen so that
 * the quotient fits (most cases), overflows (#DE), or is random; divisor 0 now and then (#DE).
 */
function setupDivide(
  b: Builder,
  rng: Rng,
  signed: boolean,
  w: number,
  setE: (v: number) => void,
  getE: () => number,
): void {
  const bits = BigInt(w * 8);
  const r = rng.int(10);
  if (r === 0) setE(0);
  const dv = BigInt(getE());
  const divisor = signed ? BigInt.asIntN(w * 8, dv) : dv;
  if (divisor === 0n || r >= 8) return; // #DE by zero, or a random dividend
  const qmax = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  const qmin = signed ? -(1n << (bits - 1n)) : 0n;
  let q: bigint;
  if (r === 7)
    q = rng.chance(0.5) ? qmax + 1n + BigInt(rng.int(3)) : signed ? qmin - 1n - BigInt(rng.int(3)) : qmax + 1n;
  else if (r === 6) q = rng.pick([qmax, qmin, 0n, 1n, -1n]);
  else q = BigInt.asIntN(w * 8, BigInt(rng.u32()));
  if (!signed && q < 0n) q = -q;
  const ad = divisor < 0n ? -divisor : divisor;
  let rem = BigInt(rng.u32()) % ad;
  const neg = q * divisor < 0n || (q === 0n && rng.chance(0.5));
  if (signed && neg) rem = -rem;
  const dividend = BigInt.asUintN(w * 16, q * divisor + rem);
  if (w === 1) b.setReg(2, EAX, Number(dividend & 0xffffn));
  else {
    b.setReg(w, EAX, Number(dividend & ((1n << bits) - 1n)));
    b.setReg(w, EDX, Number((dividend >> bits) & ((1n << bits) - 1n)));
  }
}

/**
 * All cases of one run: `cases` per form, from the seed. `low`: the host can map the low data
 * window; when it cannot, the cases with 16-bit addressing are left out (the others are unchanged).
 */
export function generate(forms: readonly Form[], seed: number, cases: number, low = true): GenCase[] {
  const out: GenCase[] = [];
  for (const f of forms) {
    const rng = new Rng(seed, hashName(f.name));
    for (let k = 0; k < cases; k++) {
      const c = generateCase(f, rng);
      if (low || !c.low) out.push(c);
    }
  }
  return out;
}

export { EAX, EBX, ECX, EDI, EDX, ESI };
