/**
 * The x87 FPU (SDM Vol.1 ch.8, Vol.2 instruction pages, Vol.3A §2.5 and §9.2 for CR0.EM/MP/TS/NE).
 *
 * State: eight 80-bit physical registers R0-R7 (ST(i) = R[(TOP + i) & 7]) kept as three int32
 * arrays (sign+exponent, significand high and low words), a "not empty" bit per register (the
 * full tag word is rebuilt from the contents when stored, as P6 processors do), the control and
 * status words, and the last instruction/operand pointers and opcode. Arithmetic is the software
 * 80-bit float of fpu-float.ts; transcendentals are fpu-trans.ts.
 *
 * Exceptions: a flag is set in the status word; an unmasked one also sets ES/B, and the next
 * waiting x87 instruction (or WAIT) raises #MF when CR0.NE = 1, or signals FERR# through
 * `onFerr` (IRQ 13 on a PC) when CR0.NE = 0. CR0.EM or TS raise #NM on an x87 instruction, and
 * WAIT raises #NM when TS and MP are both set.
 */
import { type Insn, Reg, Seg } from "../isa/decode.ts";
import { CR0, F, Vec } from "./constants.ts";
import type { Cpu } from "./cpu.ts";
import { Cls, classify, Ex, INDEF_HI, INDEF_SE, X87Math } from "./fpu-float.ts";
import { f2xm1, fpatan, fyl2x, fyl2xp1, TrigOp, trig, trigOutOfRange } from "./fpu-trans.ts";

/** Status word bits (SDM Vol.1 §8.1.3). */
export const enum Sw {
  Flags = 0x3f,
  SF = 0x40,
  ES = 0x80,
  C0 = 0x100,
  C1 = 0x200,
  C2 = 0x400,
  TopShift = 11,
  Top = 0x3800,
  C3 = 0x4000,
  B = 0x8000,
  Cc = 0x4700,
}

/** Precision for each precision-control value: 00 single, 01 reserved (extended), 10 double, 11 extended. */
const PREC = [24, 64, 53, 64];

/** Power-of-ten table for BCD conversion: 10^k for k = 0..18 as [hi, lo] words. */
const TEN_HI = new Int32Array(19);
const TEN_LO = new Int32Array(19);
{
  let v = 1;
  for (let k = 0; k < 19; k++) {
    // 10^k < 2^63: split exactly with integer arithmetic on doubles below 2^53 per step.
    if (k <= 15) {
      TEN_HI[k] = Math.floor(v / 4294967296) | 0;
      TEN_LO[k] = (v % 4294967296) | 0;
      v *= 10;
    } else {
      // 10^k = 10^(k-1) * 10 on words.
      const lo = (TEN_LO[k - 1] >>> 0) * 10;
      const hi = (TEN_HI[k - 1] >>> 0) * 10 + Math.floor(lo / 4294967296);
      TEN_LO[k] = (lo % 4294967296) | 0;
      TEN_HI[k] = hi | 0;
    }
  }
}

export class Fpu {
  readonly se = new Int32Array(8);
  readonly hi = new Int32Array(8);
  readonly lo = new Int32Array(8);
  /** Bit i set: physical register i is not empty. */
  valid = 0;
  top = 0;
  cw = 0x0040;
  /** Status word without TOP (bits 11-13 are kept in `top`). */
  sw = 0;
  fip = 0;
  fcs = 0;
  fdp = 0;
  fds = 0;
  fop = 0;
  /**
   * FERR# output (CR0.NE = 0 error reporting): called with true when a waiting x87 instruction
   * finds an unmasked exception pending, and with false when the exception summary (ES) is
   * cleared. On a PC the machine routes it to IRQ 13. Null: not wired (nothing happens).
   */
  onFerr: ((asserted: boolean) => void) | null = null;
  readonly m = new X87Math();
  /** Scratch image for environment/state transfers (FNSAVE is the largest: 108 bytes). */
  private readonly buf = new Uint8Array(108);
  private readonly dv = new DataView(this.buf.buffer);

  /** Power-on/RESET state (SDM Vol.3A table 9-1): CW 0040, SW 0, tags 5555 (all +0.0). */
  reset(): void {
    this.se.fill(0);
    this.hi.fill(0);
    this.lo.fill(0);
    this.valid = 0xff;
    this.top = 0;
    this.cw = 0x0040;
    this.sw = 0;
    this.fip = this.fcs = this.fdp = this.fds = this.fop = 0;
  }

  /** FNINIT (SDM Vol.2A FINIT): CW 037F, SW 0, all empty, pointers 0; register contents stay. */
  init(): void {
    const hadEs = (this.sw & Sw.ES) !== 0;
    this.cw = 0x037f;
    this.sw = 0;
    this.top = 0;
    this.valid = 0;
    this.fip = this.fcs = this.fdp = this.fds = this.fop = 0;
    if (hadEs && this.onFerr !== null) this.onFerr(false);
  }

  /** The status word as FNSTSW stores it. */
  status(): number {
    return (this.sw & ~Sw.Top) | (this.top << Sw.TopShift);
  }

  /** Set the status word (TOP included), recomputing ES/B from the flags and masks. */
  setStatus(v: number): void {
    this.top = (v >>> Sw.TopShift) & 7;
    this.sw = v & 0xffff & ~Sw.Top;
    this.updateEs();
  }

  /** Set the control word: reserved bits 6 (reads as 1), 7, 13-15 (read as 0). */
  setControl(v: number): void {
    this.cw = (v & 0x1f3f) | 0x40;
    this.updateEs();
  }

  /** ES and B summarize the unmasked exception flags (SDM Vol.1 §8.1.3.3). */
  private updateEs(): void {
    const had = (this.sw & Sw.ES) !== 0;
    if ((this.sw & ~this.cw & Sw.Flags) !== 0) this.sw |= Sw.ES | Sw.B;
    else {
      this.sw &= ~(Sw.ES | Sw.B);
      if (had && this.onFerr !== null) this.onFerr(false);
    }
  }

  /** The full tag word (SDM Vol.1 §8.1.7): 00 valid, 01 zero, 10 special, 11 empty, per physical register. */
  tagWord(): number {
    let tw = 0;
    for (let r = 0; r < 8; r++) {
      let t: number;
      if (((this.valid >>> r) & 1) === 0) t = 3;
      else {
        const k = classify(this.se[r], this.hi[r], this.lo[r]);
        t = k === Cls.Zero ? 1 : k === Cls.Normal ? 0 : 2;
      }
      tw |= t << (2 * r);
    }
    return tw;
  }

  setTagWord(tw: number): void {
    let v = 0;
    for (let r = 0; r < 8; r++) if (((tw >>> (2 * r)) & 3) !== 3) v |= 1 << r;
    this.valid = v;
  }

  /** Physical register of ST(i). */
  phys(i: number): number {
    return (this.top + i) & 7;
  }

  isEmpty(i: number): boolean {
    return ((this.valid >>> ((this.top + i) & 7)) & 1) === 0;
  }

  /** Write ST(i) (marks it valid). */
  setSt(i: number, se: number, hi: number, lo: number): void {
    const r = (this.top + i) & 7;
    this.se[r] = se & 0xffff;
    this.hi[r] = hi;
    this.lo[r] = lo;
    this.valid |= 1 << r;
  }

  push(se: number, hi: number, lo: number): void {
    this.top = (this.top - 1) & 7;
    this.setSt(0, se, hi, lo);
  }

  pop(): void {
    this.valid &= ~(1 << this.top);
    this.top = (this.top + 1) & 7;
  }

  /** Start an operation: clear the math object's flags and load RC and the masks. */
  begin(): X87Math {
    const m = this.m;
    m.exc = 0;
    m.up = 0;
    m.rc = (this.cw >>> 10) & 3;
    m.masks = this.cw & Sw.Flags;
    return m;
  }

  /** Precision of the precision-controlled operations. */
  prec(): number {
    return PREC[(this.cw >>> 8) & 3];
  }

  /**
   * Merge exception flags into the status word and set C1 to `c1` (0 or 1; -1 leaves it). The
   * other condition codes are the caller's.
   */
  finish(exc: number, c1: number): void {
    if (c1 >= 0) this.sw = (this.sw & ~Sw.C1) | (c1 !== 0 ? Sw.C1 : 0);
    this.sw |= exc & 0x7f;
    if ((this.sw & ~this.cw & Sw.Flags) !== 0) this.sw |= Sw.ES | Sw.B;
  }

  /** True when `exc` holds an exception that is unmasked (the masked response must not be applied). */
  unmasked(exc: number): boolean {
    return (exc & ~this.cw & Sw.Flags) !== 0;
  }

  // ------------------------------------------------------------------ environment images

  /**
   * Store the environment (FNSTENV/FNSAVE) into `buf` at 0; returns its size (14 or 28). Formats:
   * SDM Vol.1 figures 8-9 to 8-12 (protected or real/V86 mode, 16- or 32-bit operand size).
   */
  private envToBuf(c: Cpu, o32: boolean): number {
    const dv = this.dv;
    const tw = this.tagWord();
    const real = (c.cr0 & CR0.PE) === 0 || (c.eflags & F.VM) !== 0;
    const cw = this.cw;
    const sw = this.status();
    if (o32) {
      dv.setUint32(0, (0xffff0000 | cw) >>> 0, true);
      dv.setUint32(4, (0xffff0000 | sw) >>> 0, true);
      dv.setUint32(8, (0xffff0000 | tw) >>> 0, true);
      if (real) {
        const ip = (this.fip + (this.fcs << 4)) | 0;
        const dp = (this.fdp + (this.fds << 4)) | 0;
        dv.setUint32(12, (0xffff0000 | (ip & 0xffff)) >>> 0, true);
        dv.setUint32(16, (((ip >>> 16) << 12) | (this.fop & 0x7ff)) >>> 0, true);
        dv.setUint32(20, (0xffff0000 | (dp & 0xffff)) >>> 0, true);
        dv.setUint32(24, ((dp >>> 16) << 12) >>> 0, true);
      } else {
        dv.setUint32(12, this.fip >>> 0, true);
        dv.setUint32(16, ((this.fcs & 0xffff) | ((this.fop & 0x7ff) << 16)) >>> 0, true);
        dv.setUint32(20, this.fdp >>> 0, true);
        dv.setUint32(24, (0xffff0000 | (this.fds & 0xffff)) >>> 0, true);
      }
      return 28;
    }
    dv.setUint16(0, cw, true);
    dv.setUint16(2, sw, true);
    dv.setUint16(4, tw, true);
    if (real) {
      const ip = (this.fip + (this.fcs << 4)) | 0;
      const dp = (this.fdp + (this.fds << 4)) | 0;
      dv.setUint16(6, ip & 0xffff, true);
      dv.setUint16(8, (((ip >>> 16) & 0xf) << 12) | (this.fop & 0x7ff), true);
      dv.setUint16(10, dp & 0xffff, true);
      dv.setUint16(12, ((dp >>> 16) & 0xf) << 12, true);
    } else {
      dv.setUint16(6, this.fip & 0xffff, true);
      dv.setUint16(8, this.fcs & 0xffff, true);
      dv.setUint16(10, this.fdp & 0xffff, true);
      dv.setUint16(12, this.fds & 0xffff, true);
    }
    return 14;
  }

  /** Load the environment from `buf` at 0 (FLDENV/FRSTOR); returns its size. */
  private envFromBuf(c: Cpu, o32: boolean): number {
    const dv = this.dv;
    const real = (c.cr0 & CR0.PE) === 0 || (c.eflags & F.VM) !== 0;
    let cw: number;
    let sw: number;
    let tw: number;
    if (o32) {
      cw = dv.getUint16(0, true);
      sw = dv.getUint16(4, true);
      tw = dv.getUint16(8, true);
      if (real) {
        this.fip = dv.getUint16(12, true) | ((dv.getUint32(16, true) >>> 12) << 16) | 0;
        this.fop = dv.getUint16(16, true) & 0x7ff;
        this.fcs = 0;
        this.fdp = dv.getUint16(20, true) | ((dv.getUint32(24, true) >>> 12) << 16) | 0;
        this.fds = 0;
      } else {
        this.fip = dv.getUint32(12, true) | 0;
        this.fcs = dv.getUint16(16, true);
        this.fop = dv.getUint16(18, true) & 0x7ff;
        this.fdp = dv.getUint32(20, true) | 0;
        this.fds = dv.getUint16(24, true);
      }
    } else {
      cw = dv.getUint16(0, true);
      sw = dv.getUint16(2, true);
      tw = dv.getUint16(4, true);
      if (real) {
        const w = dv.getUint16(8, true);
        this.fip = dv.getUint16(6, true) | ((w >>> 12) << 16);
        this.fop = w & 0x7ff;
        this.fcs = 0;
        this.fdp = dv.getUint16(10, true) | ((dv.getUint16(12, true) >>> 12) << 16);
        this.fds = 0;
      } else {
        this.fip = dv.getUint16(6, true);
        this.fcs = dv.getUint16(8, true);
        this.fdp = dv.getUint16(10, true);
        this.fds = dv.getUint16(12, true);
      }
    }
    this.cw = (cw & 0x1f3f) | 0x40;
    this.setTagWord(tw);
    this.setStatus(sw);
    return o32 ? 28 : 14;
  }

  /** Registers ST(0)..ST(7) to `buf` at `off` (10 bytes each). */
  private regsToBuf(off: number): void {
    const dv = this.dv;
    for (let i = 0; i < 8; i++) {
      const r = (this.top + i) & 7;
      const o = off + i * 10;
      dv.setUint32(o, this.lo[r] >>> 0, true);
      dv.setUint32(o + 4, this.hi[r] >>> 0, true);
      dv.setUint16(o + 8, this.se[r] & 0xffff, true);
    }
  }

  private regsFromBuf(off: number): void {
    const dv = this.dv;
    for (let i = 0; i < 8; i++) {
      const r = (this.top + i) & 7;
      const o = off + i * 10;
      this.lo[r] = dv.getUint32(o, true) | 0;
      this.hi[r] = dv.getUint32(o + 4, true) | 0;
      this.se[r] = dv.getUint16(o + 8, true);
    }
  }

  /** The 108-byte 32-bit protected-mode FNSAVE image (tests and tools; no state change). */
  saveImage(c: Cpu): Uint8Array {
    this.envToBuf(c, true);
    this.regsToBuf(28);
    return this.buf.slice(0, 108);
  }

  /** Load a 108-byte 32-bit FRSTOR image (tests and tools). */
  loadImage(c: Cpu, img: Uint8Array): void {
    this.buf.set(img.subarray(0, 108));
    this.envFromBuf(c, true);
    this.regsFromBuf(28);
  }

  // ------------------------------------------------------------------ memory helpers (called by the dispatcher)

  /** FNSTENV (save = false) / FNSAVE (save = true) to memory; faults before any state change. */
  storeEnv(c: Cpu, seg: number, off: number, o32: boolean, save: boolean): void {
    const n = this.envToBuf(c, o32);
    let size = n;
    if (save) {
      this.regsToBuf(n);
      size += 80;
    }
    const lin = c.lin(seg, off, size, true);
    c.probeWrite(lin, size);
    // Dword writes (the sizes 14, 28, 94, 108 end in a word at worst).
    const dv = this.dv;
    for (let k = 0; k < size; k += 4) {
      if (k + 4 <= size) c.writeLin32((lin + k) | 0, dv.getInt32(k, true));
      else c.writeLin16((lin + k) | 0, dv.getUint16(k, true));
    }
    if (save) this.init();
    else {
      // FNSTENV masks all exceptions after storing (SDM Vol.2A FSTENV).
      this.cw |= Sw.Flags;
      this.updateEs();
    }
  }

  /** FLDENV (restore = false) / FRSTOR (restore = true) from memory. */
  loadEnv(c: Cpu, seg: number, off: number, o32: boolean, restore: boolean): void {
    const n = o32 ? 28 : 14;
    const size = restore ? n + 80 : n;
    const lin = c.lin(seg, off, size, false);
    const dv = this.dv;
    for (let k = 0; k < size; k += 4) {
      if (k + 4 <= size) dv.setInt32(k, c.readLin32((lin + k) | 0), true);
      else dv.setUint16(k, c.readLin16((lin + k) | 0), true);
    }
    this.envFromBuf(c, o32);
    if (restore) this.regsFromBuf(n);
  }
}

// ====================================================================== instruction dispatch

/** x87 arithmetic op of the ModRM reg field (D8/DC/DA/DE): FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR. */
const enum Ar {
  Add = 0,
  Mul = 1,
  Com = 2,
  Comp = 3,
  Sub = 4,
  Subr = 5,
  Div = 6,
  Divr = 7,
}

/** An unmasked exception is pending: #MF (CR0.NE = 1) or FERR# (SDM Vol.1 §8.7, Vol.3A §2.5). */
function pending(c: Cpu, f: Fpu): void {
  if ((c.cr0 & CR0.NE) !== 0) c.raise(Vec.MF, -1);
  if (f.onFerr !== null) f.onFerr(true);
}

/** WAIT/FWAIT (SDM Vol.2B WAIT). */
export function fpuWait(c: Cpu): void {
  if ((c.cr0 & (CR0.MP | CR0.TS)) === (CR0.MP | CR0.TS)) c.raise(Vec.NM, -1);
  const f = c.fpu;
  if ((f.sw & Sw.ES) !== 0) pending(c, f);
}

/** ModRM byte of the instruction (for FOP). */
function modrmOf(i: Insn): number {
  return (i.mod << 6) | (i.reg << 3) | i.rm;
}

/** Record the last instruction pointer and opcode (and the operand pointer for memory forms). */
function notePointers(c: Cpu, f: Fpu, i: Insn, mem: boolean, ea: number): void {
  f.fip = c.curEip;
  f.fcs = c.segSel[Seg.CS];
  f.fop = ((i.opcode & 7) << 8) | modrmOf(i);
  if (mem) {
    f.fdp = ea;
    f.fds = c.segSel[i.seg];
  }
}

/** An x87 escape instruction (D8-DF). */
export function fpuEsc(c: Cpu, i: Insn): void {
  if ((c.cr0 & (CR0.EM | CR0.TS)) !== 0) c.raise(Vec.NM, -1);
  const f = c.fpu;
  const esc = i.opcode & 7;
  if (i.mod === 3) escReg(c, f, i, esc);
  else escMem(c, f, i, esc);
}

// ---------------------------------------------------------------------- memory forms

/** Operand read from memory into (se, hi, lo) registers of the math object's z fields. */
function escMem(c: Cpu, f: Fpu, i: Insn, esc: number): void {
  const reg = i.reg;
  const seg = i.seg;
  const ea = c.ea(i);
  switch (esc) {
    case 0: // D8: m32fp arithmetic
    case 4: // DC: m64fp arithmetic
    case 2: // DA: m32int arithmetic
    case 6: {
      // DE: m16int arithmetic
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      const m = f.begin();
      let den = false;
      if (esc === 0) {
        m.fromF32(c.rd32(seg, ea));
        den = m.loadDen;
      } else if (esc === 4) {
        const lo = c.rd32(seg, ea);
        const hi = c.rd32(seg, (ea + 4) | 0);
        m.fromF64(hi, lo);
        den = m.loadDen;
      } else if (esc === 2) m.fromInt32(c.rd32(seg, ea));
      else m.fromInt32((c.rd16(seg, ea) << 16) >> 16);
      arithOp(f, reg, 0, m.zSe, m.zHi, m.zLo, den, false);
      notePointers(c, f, i, true, ea);
      return;
    }
    case 1:
      escMemD9(c, f, i, reg, seg, ea);
      return;
    case 3:
      escMemDB(c, f, i, reg, seg, ea);
      return;
    case 5:
      escMemDD(c, f, i, reg, seg, ea);
      return;
    default:
      escMemDF(c, f, i, reg, seg, ea);
      return;
  }
}

/**
 * Arithmetic with ST(0) and a source value (memory or a register): `reg` is the Ar op; the result
 * goes to ST(dst). For register forms `popAfter` pops (FxxxP). For D8 and memory forms the
 * operands are ST(0) op src; DC/DE register forms compute ST(i) = ST(0) op' ST(i) with the same
 * reg-field meaning (reg 4: ST(0) - ST(i), reg 5: ST(i) - ST(0), 6 and 7 likewise).
 */
function arithOp(
  f: Fpu,
  reg: number,
  dst: number,
  sSe: number,
  sHi: number,
  sLo: number,
  sDen: boolean,
  popAfter: boolean,
): void {
  const m = f.m;
  if (f.isEmpty(0)) {
    stackUnderflowResult(f, reg, dst, popAfter);
    return;
  }
  const r0 = f.phys(0);
  const aSe = f.se[r0];
  const aHi = f.hi[r0];
  const aLo = f.lo[r0];
  if (reg === Ar.Com || reg === Ar.Comp) {
    const res = m.compare(aSe, aHi, aLo, false, sSe, sHi, sLo, sDen, false);
    compareResult(f, res, m.exc);
    if (!f.unmasked(m.exc) && reg === Ar.Comp) f.pop();
    if (!f.unmasked(m.exc) && popAfter) f.pop();
    return;
  }
  let ok: boolean;
  const prec = f.prec();
  switch (reg) {
    case Ar.Add:
      ok = m.arith(0, aSe, aHi, aLo, false, sSe, sHi, sLo, sDen, prec);
      break;
    case Ar.Mul:
      ok = m.arith(2, aSe, aHi, aLo, false, sSe, sHi, sLo, sDen, prec);
      break;
    case Ar.Sub:
      ok = m.arith(1, aSe, aHi, aLo, false, sSe, sHi, sLo, sDen, prec);
      break;
    case Ar.Subr:
      ok = m.arith(1, sSe, sHi, sLo, sDen, aSe, aHi, aLo, false, prec);
      break;
    case Ar.Div:
      ok = m.arith(3, aSe, aHi, aLo, false, sSe, sHi, sLo, sDen, prec);
      break;
    default:
      ok = m.arith(3, sSe, sHi, sLo, sDen, aSe, aHi, aLo, false, prec);
      break;
  }
  if (ok) {
    f.setSt(dst, m.zSe, m.zHi, m.zLo);
    if (popAfter) f.pop();
  }
  f.finish(m.exc, ok ? m.up : 0);
}

/** Stack underflow on an arithmetic/compare source (SDM Vol.1 §8.5.1.1): IE|SF, C1 = 0. */
function stackUnderflowResult(f: Fpu, reg: number, dst: number, popAfter: boolean): void {
  const exc = Ex.IE | Ex.SF;
  const masked = (f.cw & Ex.IE) !== 0;
  if (reg === Ar.Com || reg === Ar.Comp) {
    // Unordered, whether or not IE is masked; pops only when masked.
    f.sw |= Sw.C0 | Sw.C2 | Sw.C3;
    if (masked) {
      if (reg === Ar.Comp) f.pop();
      if (popAfter) f.pop();
    }
    f.finish(exc, 0);
    return;
  }
  if (masked) {
    f.setSt(dst, INDEF_SE, INDEF_HI, 0);
    if (popAfter) f.pop();
  }
  f.finish(exc, 0);
}

/** Condition codes of a compare: res 0 greater, 1 less, 2 equal, 3 unordered (SDM Vol.2A FCOM). */
function compareResult(f: Fpu, res: number, exc: number): void {
  let cc = 0;
  if (res === 1) cc = Sw.C0;
  else if (res === 2) cc = Sw.C3;
  else if (res === 3) cc = Sw.C0 | Sw.C2 | Sw.C3;
  f.sw = (f.sw & ~(Sw.C0 | Sw.C2 | Sw.C3)) | cc;
  f.finish(exc, 0);
}

/** Push with the stack-overflow check (SDM Vol.1 §8.5.1.1): returns false when nothing was pushed. */
function pushValue(f: Fpu, se: number, hi: number, lo: number, exc: number, up: number): boolean {
  if (((f.valid >>> ((f.top - 1) & 7)) & 1) !== 0) {
    // Overflow: IE|SF with C1 = 1; masked: push the indefinite.
    if ((f.cw & Ex.IE) !== 0) f.push(INDEF_SE, INDEF_HI, 0);
    f.finish(Ex.IE | Ex.SF, 1);
    return false;
  }
  if (f.unmasked(exc)) {
    f.finish(exc, 0);
    return false;
  }
  f.push(se, hi, lo);
  f.finish(exc, up);
  return true;
}

/** D9 memory forms: FLD m32, FST/FSTP m32, FLDENV, FLDCW, FNSTENV, FNSTCW. */
function escMemD9(c: Cpu, f: Fpu, i: Insn, reg: number, seg: number, ea: number): void {
  switch (reg) {
    case 0: {
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      const v = c.rd32(seg, ea);
      const m = f.begin();
      m.fromF32(v);
      loadConverted(f, m.loadDen);
      notePointers(c, f, i, true, ea);
      return;
    }
    case 2:
    case 3: {
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      storeReal(c, f, seg, ea, 4, reg === 3);
      notePointers(c, f, i, true, ea);
      return;
    }
    case 4:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      f.loadEnv(c, seg, ea, i.w === 4, false);
      return;
    case 5: {
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      f.setControl(c.rd16(seg, ea));
      return;
    }
    case 6:
      f.storeEnv(c, seg, ea, i.w === 4, false);
      return;
    case 7:
      c.wr16(seg, ea, f.cw);
      return;
    default:
      c.raise(Vec.UD, -1);
  }
}

/**
 * Push a value converted from memory (in m.z): an SNaN raises IE and is quieted; a denormal
 * source raises DE but is loaded even when DE is unmasked (as the hardware does).
 */
function loadConverted(f: Fpu, den: boolean): void {
  const m = f.m;
  const hi = m.zHi;
  if (classify(m.zSe, hi, m.zLo) === Cls.SNaN) {
    pushValue(f, m.zSe, hi | 0x40000000, m.zLo, Ex.IE, 0);
    return;
  }
  if (pushValue(f, m.zSe, hi, m.zLo, 0, 0) && den) f.finish(Ex.DE, 0);
}

/**
 * FST/FSTP to a memory real of `size` 4, 8 or 10 bytes. The value is computed first: a store that
 * an unmasked exception suppresses does not touch memory (and cannot fault); a store that faults
 * leaves the FPU unchanged.
 */
function storeReal(c: Cpu, f: Fpu, seg: number, ea: number, size: number, popAfter: boolean): void {
  const m = f.begin();
  let lo = 0;
  let hi = 0;
  let se = 0;
  let ok = true;
  let exc = 0;
  if (f.isEmpty(0)) {
    exc = Ex.IE | Ex.SF;
    ok = (f.cw & Ex.IE) !== 0;
    if (size === 4) lo = 0xffc00000 | 0;
    else if (size === 8) hi = 0xfff80000 | 0;
    else {
      se = INDEF_SE;
      hi = INDEF_HI;
    }
  } else {
    const r = f.phys(0);
    if (size === 10) {
      se = f.se[r];
      hi = f.hi[r];
      lo = f.lo[r];
    } else if (size === 4) {
      ok = m.toF32(f.se[r], f.hi[r], f.lo[r]);
      lo = m.outLo;
    } else {
      ok = m.toF64(f.se[r], f.hi[r], f.lo[r]);
      lo = m.outLo;
      hi = m.outHi;
    }
    exc = m.exc;
  }
  const up = (exc & Ex.SF) !== 0 ? 0 : m.up;
  if (ok) {
    const lin = c.lin(seg, ea, size, true);
    c.probeWrite(lin, size);
    if (size === 4) c.writeLin32(lin, lo);
    else {
      c.writeLin32(lin, lo);
      c.writeLin32((lin + 4) | 0, hi);
      if (size === 10) c.writeLin16((lin + 8) | 0, se);
    }
    if (popAfter) f.pop();
  }
  f.finish(exc, up);
}

/** DB memory forms: FILD m32, FIST/FISTP m32, FLD m80, FSTP m80 (FISTTP is SSE3: #UD). */
function escMemDB(c: Cpu, f: Fpu, i: Insn, reg: number, seg: number, ea: number): void {
  switch (reg) {
    case 0: {
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      const v = c.rd32(seg, ea);
      const m = f.begin();
      m.fromInt32(v);
      pushValue(f, m.zSe, m.zHi, m.zLo, 0, 0);
      break;
    }
    case 2:
    case 3:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      storeInt(c, f, seg, ea, 32, reg === 3);
      break;
    case 5: {
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      const lo = c.rd32(seg, ea);
      const hi = c.rd32(seg, (ea + 4) | 0);
      const se = c.rd16(seg, (ea + 8) | 0);
      f.begin();
      pushValue(f, se, hi, lo, 0, 0);
      break;
    }
    case 7:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      storeReal(c, f, seg, ea, 10, true);
      break;
    default:
      c.raise(Vec.UD, -1);
  }
  notePointers(c, f, i, true, ea);
}

/** FIST/FISTP of `bits` 16, 32 or 64 (memory touched only when the value is stored). */
function storeInt(c: Cpu, f: Fpu, seg: number, ea: number, bits: number, popAfter: boolean): void {
  const m = f.begin();
  const size = bits >>> 3;
  let ok: boolean;
  let exc: number;
  let hi: number;
  let lo: number;
  if (f.isEmpty(0)) {
    exc = Ex.IE | Ex.SF;
    ok = (f.cw & Ex.IE) !== 0;
    hi = bits === 64 ? 0x80000000 | 0 : 0;
    lo = bits === 64 ? 0 : bits === 32 ? 0x80000000 | 0 : 0x8000;
  } else {
    const r = f.phys(0);
    ok = m.toInt(f.se[r], f.hi[r], f.lo[r], bits);
    exc = m.exc;
    hi = m.outHi;
    lo = m.outLo;
  }
  const up = (exc & Ex.SF) !== 0 ? 0 : m.up;
  if (ok) {
    const lin = c.lin(seg, ea, size, true);
    c.probeWrite(lin, size);
    if (bits === 16) c.writeLin16(lin, lo);
    else if (bits === 32) c.writeLin32(lin, lo);
    else {
      c.writeLin32(lin, lo);
      c.writeLin32((lin + 4) | 0, hi);
    }
    if (popAfter) f.pop();
  }
  f.finish(exc, up);
}

/** DD memory forms: FLD m64, FST/FSTP m64, FRSTOR, FNSAVE, FNSTSW m16. */
function escMemDD(c: Cpu, f: Fpu, i: Insn, reg: number, seg: number, ea: number): void {
  switch (reg) {
    case 0: {
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      const lo = c.rd32(seg, ea);
      const hi = c.rd32(seg, (ea + 4) | 0);
      const m = f.begin();
      m.fromF64(hi, lo);
      loadConverted(f, m.loadDen);
      notePointers(c, f, i, true, ea);
      return;
    }
    case 2:
    case 3:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      storeReal(c, f, seg, ea, 8, reg === 3);
      notePointers(c, f, i, true, ea);
      return;
    case 4:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      f.loadEnv(c, seg, ea, i.w === 4, true);
      return;
    case 6:
      f.storeEnv(c, seg, ea, i.w === 4, true);
      return;
    case 7:
      c.wr16(seg, ea, f.status());
      return;
    default:
      c.raise(Vec.UD, -1);
  }
}

/** DF memory forms: FILD m16, FIST/FISTP m16, FBLD, FILD m64, FBSTP, FISTP m64. */
function escMemDF(c: Cpu, f: Fpu, i: Insn, reg: number, seg: number, ea: number): void {
  switch (reg) {
    case 0: {
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      const v = (c.rd16(seg, ea) << 16) >> 16;
      const m = f.begin();
      m.fromInt32(v);
      pushValue(f, m.zSe, m.zHi, m.zLo, 0, 0);
      break;
    }
    case 2:
    case 3:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      storeInt(c, f, seg, ea, 16, reg === 3);
      break;
    case 4: {
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      const lo = c.rd32(seg, ea);
      const mid = c.rd32(seg, (ea + 4) | 0);
      const top = c.rd16(seg, (ea + 8) | 0);
      const m = f.begin();
      bcdToFloat(m, lo, mid, top);
      pushValue(f, m.zSe, m.zHi, m.zLo, 0, 0);
      break;
    }
    case 5: {
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      const lo = c.rd32(seg, ea);
      const hi = c.rd32(seg, (ea + 4) | 0);
      const m = f.begin();
      m.fromInt64(hi, lo);
      pushValue(f, m.zSe, m.zHi, m.zLo, 0, 0);
      break;
    }
    case 6:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      storeBcd(c, f, seg, ea);
      break;
    case 7:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      storeInt(c, f, seg, ea, 64, true);
      break;
    default:
      c.raise(Vec.UD, -1);
  }
  notePointers(c, f, i, true, ea);
}

/** FBLD: 18 packed BCD digits and a sign byte to 80-bit (exact; invalid digits count at face value). */
function bcdToFloat(m: X87Math, lo: number, mid: number, top: number): void {
  // Accumulate the value in two words: v = v * 10 + digit, most significant digit first.
  let vh = 0;
  let vl = 0;
  for (let k = 17; k >= 0; k--) {
    const bi = k >>> 1;
    const byte = bi < 4 ? (lo >>> (bi * 8)) & 0xff : bi < 8 ? (mid >>> ((bi - 4) * 8)) & 0xff : top & 0xff;
    const d = (k & 1) !== 0 ? byte >>> 4 : byte & 0xf;
    const l = (vl >>> 0) * 10 + d;
    vh = ((vh >>> 0) * 10 + Math.floor(l / 4294967296)) | 0;
    vl = (l % 4294967296) | 0;
  }
  const neg = (top & 0x8000) !== 0;
  if ((vh | vl) === 0) {
    m.setZero(neg ? 1 : 0);
    return;
  }
  m.fromInt64(vh, vl);
  if (neg) m.zSe |= 0x8000;
}

/** FBSTP: ST(0) rounded to an integer, as 18 BCD digits and a sign byte, then pop. */
function storeBcd(c: Cpu, f: Fpu, seg: number, ea: number): void {
  const m = f.begin();
  let exc = 0;
  let ok = true;
  let digitsLo = 0;
  let digitsMid = 0;
  let top = 0;
  let indefinite = false;
  if (f.isEmpty(0)) {
    exc = Ex.IE | Ex.SF;
    indefinite = true;
  } else {
    const r = f.phys(0);
    const se = f.se[r];
    const k = classify(se, f.hi[r], f.lo[r]);
    const neg = (se & 0x8000) !== 0;
    if (k === Cls.Zero) top = neg ? 0x8000 : 0;
    else if (k === Cls.Inf || k === Cls.QNaN || k === Cls.SNaN || k === Cls.Unsupported) {
      exc = Ex.IE;
      indefinite = true;
    } else {
      const fits = m.roundToInteger(se, f.hi[r], f.lo[r]);
      // |value| must be below 10^18.
      let mh = m.wH >>> 0;
      let ml = m.wL >>> 0;
      if (!fits || mh > TEN_HI[18] >>> 0 || (mh === TEN_HI[18] >>> 0 && ml >= TEN_LO[18] >>> 0)) {
        exc |= Ex.IE;
        indefinite = true;
      } else {
        if (m.wX !== 0) exc |= Ex.PE;
        // Binary to BCD: divide by 10 eighteen times.
        for (let d = 0; d < 18; d++) {
          const qh = Math.floor(mh / 10);
          const rh = mh - qh * 10;
          const t = rh * 4294967296 + ml;
          const ql = Math.floor(t / 10);
          const digit = t - ql * 10;
          mh = qh;
          ml = ql;
          if (d < 8) digitsLo |= digit << (d * 4);
          else if (d < 16) digitsMid |= digit << ((d - 8) * 4);
          else top |= digit << ((d - 16) * 4);
        }
        if (neg) top |= 0x8000;
      }
    }
  }
  if (indefinite) {
    ok = (f.cw & Ex.IE) !== 0;
    digitsLo = 0;
    digitsMid = 0xc0000000 | 0;
    top = 0xffff;
  }
  if (ok) {
    const lin = c.lin(seg, ea, 10, true);
    c.probeWrite(lin, 10);
    c.writeLin32(lin, digitsLo);
    c.writeLin32((lin + 4) | 0, digitsMid);
    c.writeLin16((lin + 8) | 0, top);
    f.pop();
  }
  f.finish(exc, (exc & (Ex.SF | Ex.IE)) !== 0 ? 0 : m.up);
}

// ---------------------------------------------------------------------- register forms

function escReg(c: Cpu, f: Fpu, i: Insn, esc: number): void {
  const reg = i.reg;
  const rm = i.rm;
  switch (esc) {
    case 0:
      // D8: FADD..FDIVR ST(0), ST(i)
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      regArith(f, reg, rm, 0, false);
      break;
    case 1:
      escRegD9(c, f, i, reg, rm);
      return;
    case 2:
      escRegDA(c, f, reg, rm);
      break;
    case 3:
      if (escRegDB(c, f, reg, rm)) return;
      break;
    case 4:
      // DC: FADD..FDIV ST(i), ST(0); /2 and /3 are the FCOM2/FCOMP3 aliases.
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      regArith(f, reg, rm, rm, false);
      break;
    case 5:
      escRegDD(c, f, reg, rm);
      break;
    case 6:
      // DE: FADDP..FDIVP ST(i), ST(0); /2 FCOMP5 alias; /3 only D9 (FCOMPP).
      if (reg === 3 && rm !== 1) c.raise(Vec.UD, -1);
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      if (reg === 3) {
        regCompare(f, 1, false, 2);
        break;
      }
      regArith(f, reg, rm, rm, true);
      break;
    default:
      if (escRegDF(c, f, reg, rm)) return;
      break;
  }
  notePointers(c, f, i, false, 0);
}

/** Register arithmetic: ST(dst) = ST(0) op ST(rm) with the reg-field meaning described at arithOp. */
function regArith(f: Fpu, reg: number, rm: number, dst: number, popAfter: boolean): void {
  f.begin();
  if (reg === Ar.Com || reg === Ar.Comp) {
    regCompare(f, rm, false, (reg === Ar.Comp ? 1 : 0) + (popAfter ? 1 : 0));
    return;
  }
  if (f.isEmpty(rm)) {
    stackUnderflowResult(f, reg, dst, popAfter);
    return;
  }
  const r = f.phys(rm);
  // For DC/DE the destination is ST(i): reg 4 is ST(0) - ST(i), 5 is ST(i) - ST(0) (as for D8).
  arithOp(f, reg, dst, f.se[r], f.hi[r], f.lo[r], false, popAfter);
}

/** FCOM/FCOMP/FCOMPP/FUCOM* of ST(0) with ST(rm): `pops` 0, 1 or 2. */
function regCompare(f: Fpu, rm: number, quiet: boolean, pops: number): void {
  const m = f.begin();
  if (f.isEmpty(0) || f.isEmpty(rm)) {
    f.sw |= Sw.C0 | Sw.C2 | Sw.C3;
    if ((f.cw & Ex.IE) !== 0) for (let k = 0; k < pops; k++) f.pop();
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  const a = f.phys(0);
  const b = f.phys(rm);
  const res = m.compare(f.se[a], f.hi[a], f.lo[a], false, f.se[b], f.hi[b], f.lo[b], false, quiet);
  compareResult(f, res, m.exc);
  if (!f.unmasked(m.exc)) for (let k = 0; k < pops; k++) f.pop();
}

/** FCOMI/FCOMIP/FUCOMI/FUCOMIP: compare into ZF, PF, CF; OF, SF, AF cleared (SDM Vol.2A FCOMI). */
function regCompareEflags(c: Cpu, f: Fpu, rm: number, quiet: boolean, popAfter: boolean): void {
  const m = f.begin();
  const mask = F.ZF | F.PF | F.CF | F.OF | F.SF | F.AF;
  if (f.isEmpty(0) || f.isEmpty(rm)) {
    c.setArith(mask, F.ZF | F.PF | F.CF);
    if ((f.cw & Ex.IE) !== 0 && popAfter) f.pop();
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  const a = f.phys(0);
  const b = f.phys(rm);
  const res = m.compare(f.se[a], f.hi[a], f.lo[a], false, f.se[b], f.hi[b], f.lo[b], false, quiet);
  // EFLAGS are written even when the exception is unmasked; C1 is left alone.
  const bits = res === 0 ? 0 : res === 1 ? F.CF : res === 2 ? F.ZF : F.ZF | F.PF | F.CF;
  c.setArith(mask, bits);
  if (popAfter && !f.unmasked(m.exc)) f.pop();
  f.finish(m.exc, -1);
}

/** D9 register forms. */
function escRegD9(c: Cpu, f: Fpu, i: Insn, reg: number, rm: number): void {
  switch (reg) {
    case 0: {
      // FLD ST(i)
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      f.begin();
      if (f.isEmpty(rm)) {
        stackFaultPush(f);
        break;
      }
      const r = f.phys(rm);
      pushValue(f, f.se[r], f.hi[r], f.lo[r], 0, 0);
      break;
    }
    case 1:
      // FXCH ST(i)
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      fxch(f, rm);
      break;
    case 2:
      // D0: FNOP; D1-D7 reserved.
      if (rm !== 0) c.raise(Vec.UD, -1);
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      break;
    case 3:
      // D9 D8+i: FSTP without the empty check ("FSTPNCE" on P6 and later; FSTP1 on the 8087).
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      if (!f.isEmpty(0)) {
        const r = f.phys(0);
        f.setSt(rm, f.se[r], f.hi[r], f.lo[r]);
      }
      f.pop();
      f.finish(0, 0);
      break;
    case 4:
      if (rm === 2 || rm === 3 || rm === 6 || rm === 7) c.raise(Vec.UD, -1);
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      if (rm <= 1) signOp(f, rm);
      else if (rm === 4) ftst(f);
      else fxam(f);
      break;
    case 5:
      if (rm === 7) c.raise(Vec.UD, -1);
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      loadConstant(f, rm);
      break;
    case 6:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      escRegD9F0(f, rm);
      break;
    default:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      escRegD9F8(f, rm);
      break;
  }
  notePointers(c, f, i, false, 0);
}

/**
 * A push whose source register is empty: IE|SF, C1 = 0 (masked: push the indefinite). The
 * underflow is reported even when the push also overflows.
 */
function stackFaultPush(f: Fpu): void {
  if ((f.cw & Ex.IE) !== 0) f.push(INDEF_SE, INDEF_HI, 0);
  f.finish(Ex.IE | Ex.SF, 0);
}

function fxch(f: Fpu, rm: number): void {
  const e0 = f.isEmpty(0);
  const ei = f.isEmpty(rm);
  if (e0 || ei) {
    if ((f.cw & Ex.IE) === 0) {
      f.finish(Ex.IE | Ex.SF, 0);
      return;
    }
    if (e0) f.setSt(0, INDEF_SE, INDEF_HI, 0);
    if (ei) f.setSt(rm, INDEF_SE, INDEF_HI, 0);
    swap(f, rm);
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  swap(f, rm);
  f.finish(0, 0);
}

function swap(f: Fpu, rm: number): void {
  const a = f.phys(0);
  const b = f.phys(rm);
  let t = f.se[a];
  f.se[a] = f.se[b];
  f.se[b] = t;
  t = f.hi[a];
  f.hi[a] = f.hi[b];
  f.hi[b] = t;
  t = f.lo[a];
  f.lo[a] = f.lo[b];
  f.lo[b] = t;
}

/** FST/FSTP ST(i) (and the FSTP1/8/9 aliases): exact copy of ST(0). */
function fstReg(f: Fpu, rm: number, popAfter: boolean): void {
  f.begin();
  if (f.isEmpty(0)) {
    if ((f.cw & Ex.IE) !== 0) {
      f.setSt(rm, INDEF_SE, INDEF_HI, 0);
      if (popAfter) f.pop();
    }
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  const r = f.phys(0);
  f.setSt(rm, f.se[r], f.hi[r], f.lo[r]);
  if (popAfter) f.pop();
  f.finish(0, 0);
}

/** FCHS (rm 0) / FABS (rm 1): sign bit only. */
function signOp(f: Fpu, rm: number): void {
  f.begin();
  if (f.isEmpty(0)) {
    if ((f.cw & Ex.IE) !== 0) f.setSt(0, INDEF_SE, INDEF_HI, 0);
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  const r = f.phys(0);
  f.se[r] = rm === 0 ? f.se[r] ^ 0x8000 : f.se[r] & 0x7fff;
  f.finish(0, 0);
}

/** FTST: compare ST(0) with +0.0. */
function ftst(f: Fpu): void {
  const m = f.begin();
  if (f.isEmpty(0)) {
    f.sw |= Sw.C0 | Sw.C2 | Sw.C3;
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  const r = f.phys(0);
  const res = m.compare(f.se[r], f.hi[r], f.lo[r], false, 0, 0, 0, false, false);
  compareResult(f, res, m.exc);
}

/** FXAM: classify ST(0) into C3 C2 C0, sign into C1 (SDM Vol.2A FXAM, table 3-?). */
function fxam(f: Fpu): void {
  const r = f.phys(0);
  let cc: number;
  if (f.isEmpty(0)) cc = Sw.C3 | Sw.C0;
  else {
    switch (classify(f.se[r], f.hi[r], f.lo[r])) {
      case Cls.Unsupported:
        cc = 0;
        break;
      case Cls.QNaN:
      case Cls.SNaN:
        cc = Sw.C0;
        break;
      case Cls.Normal:
        cc = Sw.C2;
        break;
      case Cls.Inf:
        cc = Sw.C2 | Sw.C0;
        break;
      case Cls.Zero:
        cc = Sw.C3;
        break;
      default:
        cc = Sw.C3 | Sw.C2;
        break;
    }
  }
  if ((f.se[r] & 0x8000) !== 0) cc |= Sw.C1;
  f.sw = (f.sw & ~(Sw.C0 | Sw.C1 | Sw.C2 | Sw.C3)) | cc;
}

/** FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (D9 E8-EE). */
function loadConstant(f: Fpu, rm: number): void {
  const m = f.begin();
  switch (rm) {
    case 0:
      m.setResult(0x3fff, 0x80000000, 0);
      break;
    case 1:
      m.constant(0x4000, 0xd49a784b, 0xcd1b8afe, 0x492bf6ff);
      break;
    case 2:
      m.constant(0x3fff, 0xb8aa3b29, 0x5c17f0bb, 0xbe87fed0);
      break;
    case 3:
      m.constant(0x4000, 0xc90fdaa2, 0x2168c234, 0xc4c6628b);
      break;
    case 4:
      m.constant(0x3ffd, 0x9a209a84, 0xfbcff798, 0x8f8959ac);
      break;
    case 5:
      m.constant(0x3ffe, 0xb17217f7, 0xd1cf79ab, 0xc9e3b398);
      break;
    default:
      m.setZero(0);
      break;
  }
  pushValue(f, m.zSe, m.zHi, m.zLo, 0, 0);
}

/** D9 F0-F7: F2XM1 FYL2X FPTAN FPATAN FXTRACT FPREM1 FDECSTP FINCSTP. */
function escRegD9F0(f: Fpu, rm: number): void {
  f.begin();
  switch (rm) {
    case 0:
      unaryOp(f, 0);
      return;
    case 1:
      binaryPop(f, 0);
      return;
    case 2:
      fptan(f);
      return;
    case 3:
      binaryPop(f, 1);
      return;
    case 4:
      fxtract(f);
      return;
    case 5:
      fprem(f, true);
      return;
    case 6:
      f.top = (f.top - 1) & 7;
      f.sw &= ~Sw.C1;
      return;
    default:
      f.top = (f.top + 1) & 7;
      f.sw &= ~Sw.C1;
      return;
  }
}

/** D9 F8-FF: FPREM FYL2XP1 FSQRT FSINCOS FRNDINT FSCALE FSIN FCOS. */
function escRegD9F8(f: Fpu, rm: number): void {
  switch (rm) {
    case 0:
      fprem(f, false);
      return;
    case 1:
      binaryPop(f, 2);
      return;
    case 2:
      unaryOp(f, 1);
      return;
    case 3:
      fsincos(f);
      return;
    case 4:
      unaryOp(f, 2);
      return;
    case 5:
      fscale(f);
      return;
    case 6:
      trigOp(f, TrigOp.Sin);
      return;
    default:
      trigOp(f, TrigOp.Cos);
      return;
  }
}

/** ST(0) = op(ST(0)): 0 F2XM1, 1 FSQRT, 2 FRNDINT. */
function unaryOp(f: Fpu, op: number): void {
  const m = f.begin();
  if (f.isEmpty(0)) {
    stackUnderflowResult(f, Ar.Add, 0, false);
    return;
  }
  const r = f.phys(0);
  let ok: boolean;
  if (op === 0) ok = f2xm1(m, f.se[r], f.hi[r], f.lo[r]);
  else if (op === 1) ok = m.sqrt(f.se[r], f.hi[r], f.lo[r], f.prec());
  else ok = m.roundInt(f.se[r], f.hi[r], f.lo[r]);
  if (ok) f.setSt(0, m.zSe, m.zHi, m.zLo);
  f.finish(m.exc, ok ? m.up : 0);
}

/** ST(1) = op(ST(0), ST(1)) then pop: 0 FYL2X, 1 FPATAN, 2 FYL2XP1. */
function binaryPop(f: Fpu, op: number): void {
  const m = f.begin();
  if (f.isEmpty(0) || f.isEmpty(1)) {
    stackUnderflowResult(f, Ar.Add, 1, true);
    return;
  }
  const a = f.phys(0);
  const b = f.phys(1);
  let ok: boolean;
  if (op === 0) ok = fyl2x(m, f.se[a], f.hi[a], f.lo[a], f.se[b], f.hi[b], f.lo[b]);
  else if (op === 1) ok = fpatan(m, f.se[a], f.hi[a], f.lo[a], f.se[b], f.hi[b], f.lo[b]);
  else ok = fyl2xp1(m, f.se[a], f.hi[a], f.lo[a], f.se[b], f.hi[b], f.lo[b]);
  if (ok) {
    f.setSt(1, m.zSe, m.zHi, m.zLo);
    f.pop();
  }
  f.finish(m.exc, ok ? m.up : 0);
}

/** FSIN / FCOS: C2 = 1 and nothing else when |ST(0)| >= 2^63. */
function trigOp(f: Fpu, op: TrigOp): void {
  const m = f.begin();
  if (f.isEmpty(0)) {
    f.sw &= ~Sw.C2;
    stackUnderflowResult(f, Ar.Add, 0, false);
    return;
  }
  const r = f.phys(0);
  if (trigOutOfRange(f.se[r], f.hi[r], f.lo[r])) {
    f.sw |= Sw.C2;
    f.finish(0, 0);
    return;
  }
  f.sw &= ~Sw.C2;
  const ok = trig(m, op, f.se[r], f.hi[r], f.lo[r]);
  if (ok) f.setSt(0, m.zSe, m.zHi, m.zLo);
  f.finish(m.exc, ok ? m.up : 0);
}

/** FSINCOS: ST(0) = sin, then push cos. */
function fsincos(f: Fpu): void {
  const m = f.begin();
  if (f.isEmpty(0)) {
    f.sw &= ~Sw.C2;
    if ((f.cw & Ex.IE) !== 0) {
      // Masked underflow: both results are the indefinite.
      f.setSt(0, INDEF_SE, INDEF_HI, 0);
      f.push(INDEF_SE, INDEF_HI, 0);
    }
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  if (((f.valid >>> ((f.top - 1) & 7)) & 1) !== 0) {
    f.sw &= ~Sw.C2;
    if ((f.cw & Ex.IE) !== 0) {
      f.setSt(0, INDEF_SE, INDEF_HI, 0);
      f.push(INDEF_SE, INDEF_HI, 0);
    }
    f.finish(Ex.IE | Ex.SF, 1);
    return;
  }
  const r = f.phys(0);
  const se = f.se[r];
  const hi = f.hi[r];
  const lo = f.lo[r];
  if (trigOutOfRange(se, hi, lo)) {
    f.sw |= Sw.C2;
    f.finish(0, 0);
    return;
  }
  f.sw &= ~Sw.C2;
  let ok = trig(m, TrigOp.Sin, se, hi, lo);
  const sSe = m.zSe;
  const sHi = m.zHi;
  const sLo = m.zLo;
  const up = m.up;
  if (ok) ok = trig(m, TrigOp.Cos, se, hi, lo);
  if (ok) {
    f.setSt(0, sSe, sHi, sLo);
    f.push(m.zSe, m.zHi, m.zLo);
  }
  f.finish(m.exc, ok ? m.up | up : 0);
}

/** FPTAN: ST(0) = tan, then push 1.0. */
function fptan(f: Fpu): void {
  const m = f.m;
  if (f.isEmpty(0)) {
    f.sw &= ~Sw.C2;
    if ((f.cw & Ex.IE) !== 0) {
      f.setSt(0, INDEF_SE, INDEF_HI, 0);
      f.push(INDEF_SE, INDEF_HI, 0);
    }
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  if (((f.valid >>> ((f.top - 1) & 7)) & 1) !== 0) {
    f.sw &= ~Sw.C2;
    if ((f.cw & Ex.IE) !== 0) {
      f.setSt(0, INDEF_SE, INDEF_HI, 0);
      f.push(INDEF_SE, INDEF_HI, 0);
    }
    f.finish(Ex.IE | Ex.SF, 1);
    return;
  }
  const r = f.phys(0);
  if (trigOutOfRange(f.se[r], f.hi[r], f.lo[r])) {
    f.sw |= Sw.C2;
    f.finish(0, 0);
    return;
  }
  f.sw &= ~Sw.C2;
  const k = classify(f.se[r], f.hi[r], f.lo[r]);
  const ok = trig(m, TrigOp.Tan, f.se[r], f.hi[r], f.lo[r]);
  if (ok) {
    f.setSt(0, m.zSe, m.zHi, m.zLo);
    // A NaN operand gives a NaN in both places; otherwise 1.0 is pushed.
    if (k === Cls.QNaN || k === Cls.SNaN) f.push(m.zSe, m.zHi, m.zLo);
    else if (m.zSe === INDEF_SE && m.zHi === INDEF_HI && m.zLo === 0 && (k === Cls.Inf || k === Cls.Unsupported))
      f.push(INDEF_SE, INDEF_HI, 0);
    else f.push(0x3fff, 0x80000000 | 0, 0);
  }
  f.finish(m.exc, ok ? m.up : 0);
}

/** FXTRACT: ST(0) = exponent, push significand (SDM Vol.2A FXTRACT). */
function fxtract(f: Fpu): void {
  const m = f.m;
  if (f.isEmpty(0)) {
    // Underflow (reported even when the push would also overflow): both results indefinite.
    if ((f.cw & Ex.IE) !== 0) {
      f.setSt(0, INDEF_SE, INDEF_HI, 0);
      f.push(INDEF_SE, INDEF_HI, 0);
    }
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  if (((f.valid >>> ((f.top - 1) & 7)) & 1) !== 0) {
    if ((f.cw & Ex.IE) !== 0) {
      f.setSt(0, INDEF_SE, INDEF_HI, 0);
      f.push(INDEF_SE, INDEF_HI, 0);
    }
    f.finish(Ex.IE | Ex.SF, 1);
    return;
  }
  const r = f.phys(0);
  const se = f.se[r];
  const hi = f.hi[r];
  const lo = f.lo[r];
  const k = classify(se, hi, lo);
  let exc = 0;
  let eSe: number;
  let eHi: number;
  let eLo = 0;
  let sSe: number;
  let sHi: number;
  let sLo: number;
  switch (k) {
    case Cls.Unsupported:
      exc = Ex.IE;
      eSe = sSe = INDEF_SE;
      eHi = sHi = INDEF_HI;
      sLo = 0;
      break;
    case Cls.QNaN:
    case Cls.SNaN:
      if (k === Cls.SNaN) exc = Ex.IE;
      eSe = sSe = se;
      eHi = sHi = hi | 0x40000000;
      eLo = sLo = lo;
      break;
    case Cls.Zero:
      // Exponent -inf (zero divide), significand the zero.
      exc = Ex.ZE;
      eSe = 0xffff;
      eHi = 0x80000000 | 0;
      sSe = se;
      sHi = 0;
      sLo = 0;
      break;
    case Cls.Inf:
      eSe = 0x7fff;
      eHi = 0x80000000 | 0;
      sSe = se;
      sHi = hi;
      sLo = lo;
      break;
    default: {
      if (k === Cls.Denormal) exc = Ex.DE;
      m.unpack(0, se, hi, lo);
      m.fromInt32(m.aE - 16383);
      eSe = m.zSe;
      eHi = m.zHi;
      eLo = m.zLo;
      sSe = (se & 0x8000) | 0x3fff;
      sHi = m.aH;
      sLo = m.aL;
      break;
    }
  }
  if (f.unmasked(exc)) {
    f.finish(exc, 0);
    return;
  }
  f.setSt(0, eSe, eHi, eLo);
  f.push(sSe, sHi, sLo);
  f.finish(exc, 0);
}

/** FPREM / FPREM1: C2 partial, C0 C3 C1 = Q2 Q1 Q0 of a complete reduction. */
function fprem(f: Fpu, nearest: boolean): void {
  const m = f.begin();
  if (f.isEmpty(0) || f.isEmpty(1)) {
    f.sw &= ~Sw.C2;
    stackUnderflowResult(f, Ar.Add, 0, false);
    return;
  }
  const a = f.phys(0);
  const b = f.phys(1);
  const ok = m.prem(f.se[a], f.hi[a], f.lo[a], f.se[b], f.hi[b], f.lo[b], nearest);
  if (!ok) {
    f.sw &= ~Sw.C2;
    f.finish(m.exc, 0);
    return;
  }
  f.setSt(0, m.zSe, m.zHi, m.zLo);
  if (m.q < 0) {
    // Invalid operation or a NaN: C0 and C3 stay, C1 and C2 are cleared.
    f.sw &= ~Sw.C2;
    f.finish(m.exc, 0);
    return;
  }
  let cc = 0;
  if (m.partial) cc = Sw.C2;
  else {
    const q = m.q;
    if ((q & 4) !== 0) cc |= Sw.C0;
    if ((q & 2) !== 0) cc |= Sw.C3;
  }
  f.sw = (f.sw & ~(Sw.C0 | Sw.C2 | Sw.C3)) | cc;
  f.finish(m.exc, !m.partial && (m.q & 1) !== 0 ? 1 : 0);
}

/** FSCALE: ST(0) = ST(0) * 2^trunc(ST(1)). */
function fscale(f: Fpu): void {
  const m = f.begin();
  if (f.isEmpty(0) || f.isEmpty(1)) {
    stackUnderflowResult(f, Ar.Add, 0, false);
    return;
  }
  const a = f.phys(0);
  const b = f.phys(1);
  const ok = m.scale(f.se[a], f.hi[a], f.lo[a], f.se[b], f.hi[b], f.lo[b]);
  if (ok) f.setSt(0, m.zSe, m.zHi, m.zLo);
  f.finish(m.exc, ok ? m.up : 0);
}

/** DA register forms: FCMOVB/E/BE/U, FUCOMPP. */
function escRegDA(c: Cpu, f: Fpu, reg: number, rm: number): void {
  if (reg >= 4) {
    if (reg !== 5 || rm !== 1) c.raise(Vec.UD, -1);
    if ((f.sw & Sw.ES) !== 0) pending(c, f);
    f.begin();
    regCompare(f, 1, true, 2);
    return;
  }
  if ((f.sw & Sw.ES) !== 0) pending(c, f);
  // B: CF, E: ZF, BE: CF|ZF, U: PF (SDM Vol.2A FCMOVcc).
  fcmov(c, f, reg === 0 ? 0x2 : reg === 1 ? 0x4 : reg === 2 ? 0x6 : 0xa, rm);
}

/** FCMOVcc: ST(0) = ST(i) if the Jcc condition `cc` holds. */
function fcmov(c: Cpu, f: Fpu, cc: number, rm: number): void {
  f.begin();
  if (f.isEmpty(0) || f.isEmpty(rm)) {
    if ((f.cw & Ex.IE) !== 0) f.setSt(0, INDEF_SE, INDEF_HI, 0);
    f.finish(Ex.IE | Ex.SF, 0);
    return;
  }
  if (c.cond(cc)) {
    const r = f.phys(rm);
    f.setSt(0, f.se[r], f.hi[r], f.lo[r]);
  }
  f.finish(0, -1);
}

/** DB register forms; returns true when the instruction is a control one (no pointer update). */
function escRegDB(c: Cpu, f: Fpu, reg: number, rm: number): boolean {
  switch (reg) {
    case 4:
      // E0 FNENI, E1 FNDISI (8087 only: no-ops), E2 FNCLEX, E3 FNINIT, E4 FNSETPM (287: no-op).
      if (rm > 4) c.raise(Vec.UD, -1);
      if (rm === 2) {
        const had = (f.sw & Sw.ES) !== 0;
        f.sw &= ~(Sw.Flags | Sw.SF | Sw.ES | Sw.B);
        if (had && f.onFerr !== null) f.onFerr(false);
      } else if (rm === 3) f.init();
      return true;
    case 5:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      regCompareEflags(c, f, rm, true, false);
      return false;
    case 6:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      regCompareEflags(c, f, rm, false, false);
      return false;
    case 7:
      c.raise(Vec.UD, -1);
      return true;
    default:
      // FCMOVNB/NE/NBE/NU
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      fcmov(c, f, reg === 0 ? 0x3 : reg === 1 ? 0x5 : reg === 2 ? 0x7 : 0xb, rm);
      return false;
  }
}

/** DD register forms: FFREE, FXCH4 alias, FST, FSTP, FUCOM, FUCOMP. */
function escRegDD(c: Cpu, f: Fpu, reg: number, rm: number): void {
  if (reg >= 6) c.raise(Vec.UD, -1);
  if ((f.sw & Sw.ES) !== 0) pending(c, f);
  switch (reg) {
    case 0:
      f.valid &= ~(1 << f.phys(rm));
      f.sw &= ~Sw.C1;
      return;
    case 1:
      fxch(f, rm);
      return;
    case 2:
      fstReg(f, rm, false);
      return;
    case 3:
      fstReg(f, rm, true);
      return;
    case 4:
      regCompare(f, rm, true, 0);
      return;
    default:
      regCompare(f, rm, true, 1);
      return;
  }
}

/** DF register forms; returns true for FNSTSW AX (a control instruction). */
function escRegDF(c: Cpu, f: Fpu, reg: number, rm: number): boolean {
  switch (reg) {
    case 0:
      // FFREEP ST(i) (undocumented): free and pop.
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      f.valid &= ~(1 << f.phys(rm));
      f.pop();
      f.sw &= ~Sw.C1;
      return false;
    case 1:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      fxch(f, rm);
      return false;
    case 2:
    case 3:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      fstReg(f, rm, true);
      return false;
    case 4:
      if (rm !== 0) c.raise(Vec.UD, -1);
      c.setReg(2, Reg.EAX, f.status());
      return true;
    case 5:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      regCompareEflags(c, f, rm, true, true);
      return false;
    case 6:
      if ((f.sw & Sw.ES) !== 0) pending(c, f);
      regCompareEflags(c, f, rm, false, true);
      return false;
    default:
      c.raise(Vec.UD, -1);
      return true;
  }
}
