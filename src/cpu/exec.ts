/**
 * Instruction execution: one dispatch `switch` over small handler ids (Op),
 * with each family in its own function so that no function approaches V8's
 * 60 KiB optimisation limit (PERFORMANCE.md). Handlers run with `c.eip`
 * already pointing at the next instruction and `c.curEip` at this one; a
 * handler that faults must not have changed architectural state before it
 * raises (memory is probed for write before registers or flags change).
 */
import { type Insn, Reg, Seg } from "../isa/decode.ts";
import { AluOp, Op, ShiftOp } from "../isa/ops.ts";
import { CR4, F, Vec } from "./constants.ts";
import type { Cpu } from "./cpu.ts";
import { fpuEsc, fpuWait } from "./fpu.ts";
import {
  arpl,
  callFar,
  clts,
  grp6,
  grp7,
  iret,
  jmpFar,
  lar,
  lsl,
  movCrR,
  movDrR,
  movRCr,
  movRDr,
  retFar,
} from "./system.ts";

const MASK = [0, 0xff, 0xffff, 0, -1];

export function execute(c: Cpu, i: Insn): void {
  switch (i.op) {
    case Op.AluEG:
      aluEG(c, i);
      return;
    case Op.AluGE: {
      const w = i.w;
      const r = alu(c, i.sub, c.getReg(w, i.reg), c.readE(i, w), w);
      if (i.sub !== AluOp.Cmp) c.setReg(w, i.reg, r);
      return;
    }
    case Op.AluEI:
      aluEI(c, i);
      return;
    case Op.MovEG:
      c.writeE(i, i.w, c.getReg(i.w, i.reg));
      return;
    case Op.MovGE:
      c.setReg(i.w, i.reg, c.readE(i, i.w));
      return;
    case Op.MovEI:
      c.writeE(i, i.w, i.imm);
      return;
    case Op.Lea:
      if (i.mod === 3) c.raise(Vec.UD, -1);
      c.setReg(i.w, i.reg, c.ea(i));
      return;
    case Op.Jcc:
      if (c.cond(i.sub)) jumpRel(c, i);
      return;
    case Op.JmpRel:
      jumpRel(c, i);
      return;
    case Op.PushE:
      c.push(c.readE(i, i.w), i.w);
      return;
    case Op.PopE:
      popE(c, i);
      return;
    case Op.TestEG:
      c.setFlagsLogic(c.readE(i, i.w) & c.getReg(i.w, i.reg), i.w * 8 - 1);
      return;
    case Op.TestEI:
      c.setFlagsLogic(c.readE(i, i.w) & i.imm, i.w * 8 - 1);
      return;
    case Op.IncE:
    case Op.DecE:
      incDec(c, i);
      return;
    case Op.CallRel: {
      const ret = c.eip;
      const t = i.w === 2 ? (ret + i.imm) & 0xffff : (ret + i.imm) | 0;
      checkEip(c, t);
      c.push(ret, i.w);
      c.eip = t;
      return;
    }
    case Op.Ret: {
      const t = i.w === 2 ? c.peek(2, 0) : c.peek(4, 0);
      checkEip(c, t);
      c.addSp(i.w + i.imm);
      c.eip = t;
      return;
    }
    case Op.Movzx:
      c.setReg(i.w, i.reg, c.readE(i, i.sub));
      return;
    case Op.Movsx: {
      const v = c.readE(i, i.sub);
      c.setReg(i.w, i.reg, i.sub === 1 ? (v << 24) >> 24 : (v << 16) >> 16);
      return;
    }
    case Op.Setcc:
      c.writeE(i, 1, c.cond(i.sub) ? 1 : 0);
      return;
    case Op.Cmovcc: {
      const v = c.readE(i, i.w); // the source is read (and may fault) whatever the condition
      if (c.cond(i.sub)) c.setReg(i.w, i.reg, v);
      return;
    }
    case Op.ShiftE:
      shift(c, i);
      return;
    case Op.XchgEG:
      xchg(c, i);
      return;
    case Op.Nop:
      return;
    case Op.JmpE: {
      const t = c.readE(i, i.w);
      checkEip(c, t);
      c.eip = t;
      return;
    }
    case Op.CallE: {
      const t = c.readE(i, i.w);
      checkEip(c, t);
      c.push(c.eip, i.w);
      c.eip = t;
      return;
    }
    case Op.Loop:
      loop(c, i);
      return;
    case Op.Movs:
    case Op.Stos:
    case Op.Lods:
    case Op.Cmps:
    case Op.Scas:
      stringOp(c, i);
      return;
    default:
      executeRare(c, i);
  }
}

function executeRare(c: Cpu, i: Insn): void {
  switch (i.op) {
    case Op.UD:
    case Op.Ud2:
      c.raise(Vec.UD, -1);
      return;
    case Op.NotE:
    case Op.NegE:
      notNeg(c, i);
      return;
    case Op.MulE:
      mulDiv(c, i);
      return;
    case Op.ImulGEI:
    case Op.ImulGE:
      imul2(c, i);
      return;
    case Op.MovESw:
      // A register destination with 32-bit operand size gets the zero-extended selector (P6 behaviour).
      if (i.reg > 5) c.raise(Vec.UD, -1);
      if (i.mod === 3) c.setReg(i.w, i.rm, c.segSel[i.reg]);
      else c.wr16(i.seg, c.ea(i), c.segSel[i.reg]);
      return;
    case Op.MovSwE: {
      if (i.reg > 5 || i.reg === Seg.CS) c.raise(Vec.UD, -1);
      const v = c.readE(i, 2);
      c.loadSeg(i.reg, v);
      if (i.reg === Seg.SS) c.inhibitUntil = c.icount + 2;
      return;
    }
    case Op.PushI:
      c.push(i.imm, i.w);
      return;
    case Op.PushSeg:
      pushSeg(c, i);
      return;
    case Op.PopSeg: {
      const v = c.peek(i.w, 0) & 0xffff;
      c.loadSeg(i.sub, v);
      c.addSp(i.w);
      if (i.sub === Seg.SS) c.inhibitUntil = c.icount + 2;
      return;
    }
    case Op.Pusha:
      pusha(c, i);
      return;
    case Op.Popa:
      popa(c, i);
      return;
    case Op.Pushf:
      pushf(c, i);
      return;
    case Op.Popf:
      popf(c, i);
      return;
    case Op.Shld:
    case Op.Shrd:
      shiftDouble(c, i);
      return;
    case Op.BtEG:
    case Op.BtEI:
      bitTest(c, i);
      return;
    case Op.Bsf:
    case Op.Bsr:
      bitScan(c, i);
      return;
    case Op.JmpFar:
      jmpFar(c, i.imm2, i.w === 2 ? i.imm & 0xffff : i.imm);
      return;
    case Op.JmpFarM:
    case Op.CallFarM: {
      if (i.mod === 3) c.raise(Vec.UD, -1);
      const ea = c.ea(i);
      const off = c.rd(i.seg, ea, i.w);
      const sel = c.rd16(i.seg, (ea + i.w) & (i.a16 ? 0xffff : -1));
      if (i.op === Op.JmpFarM) jmpFar(c, sel, off);
      else callFar(c, sel, off, i.w);
      return;
    }
    case Op.CallFar:
      callFar(c, i.imm2, i.w === 2 ? i.imm & 0xffff : i.imm, i.w);
      return;
    case Op.Retf:
      retFar(c, i.w, i.imm);
      return;
    case Op.Iret:
      iret(c, i.w);
      return;
    case Op.Int:
      if (i.opcode === 0xf1) {
        c.interrupt(Vec.DB, -1, false); // ICEBP: delivered like a hardware #DB
        return;
      }
      softInt(c, i.imm & 0xff);
      return;
    case Op.Int3:
      softInt(c, Vec.BP);
      return;
    case Op.Into:
      if (c.getOF()) softInt(c, Vec.OF);
      return;
    case Op.Ins:
    case Op.Outs:
      stringIo(c, i);
      return;
    case Op.InI:
    case Op.InDX: {
      const port = i.op === Op.InI ? i.imm & 0xff : c.regs[Reg.EDX] & 0xffff;
      checkIo(c, port, i.w);
      c.setReg(i.w, Reg.EAX, portIn(c, port, i.w));
      return;
    }
    case Op.OutI:
    case Op.OutDX: {
      const port = i.op === Op.OutI ? i.imm & 0xff : c.regs[Reg.EDX] & 0xffff;
      checkIo(c, port, i.w);
      portOut(c, port, c.getReg(i.w, Reg.EAX), i.w);
      return;
    }
    case Op.Cbw:
      if (i.w === 2) c.setReg(2, Reg.EAX, (c.regs[Reg.EAX] << 24) >> 24);
      else c.regs[Reg.EAX] = (c.regs[Reg.EAX] << 16) >> 16;
      return;
    case Op.Cwd:
      if (i.w === 2) c.setReg(2, Reg.EDX, (c.regs[Reg.EAX] << 16) >> 31);
      else c.regs[Reg.EDX] = c.regs[Reg.EAX] >> 31;
      return;
    case Op.Lahf:
      c.setReg(1, 4, (c.arithFlags() & 0xd5) | 2);
      return;
    case Op.Sahf:
      c.setArith(F.SF | F.ZF | F.AF | F.PF | F.CF, (c.regs[Reg.EAX] >>> 8) & 0xd5);
      return;
    case Op.FlagOp:
      flagOp(c, i.sub);
      return;
    case Op.Hlt:
      if (c.cpl !== 0) c.gp(0);
      c.halted = true;
      return;
    case Op.Xlat: {
      const base = i.a16
        ? (c.regs[Reg.EBX] + (c.regs[Reg.EAX] & 0xff)) & 0xffff
        : (c.regs[Reg.EBX] + (c.regs[Reg.EAX] & 0xff)) | 0;
      c.setReg(1, Reg.EAX, c.rd8(i.segOverride >= 0 ? i.segOverride : Seg.DS, base));
      return;
    }
    case Op.Daa:
    case Op.Das:
    case Op.Aaa:
    case Op.Aas:
    case Op.Aam:
    case Op.Aad:
      bcd(c, i);
      return;
    case Op.Salc:
      c.setReg(1, Reg.EAX, c.getCF() ? 0xff : 0);
      return;
    case Op.Enter:
      enter(c, i);
      return;
    case Op.Leave: {
      const bp = c.regs[Reg.EBP];
      const v = c.rd(Seg.SS, c.stack32 ? bp : bp & 0xffff, i.w);
      if (c.stack32) c.regs[Reg.ESP] = (bp + i.w) | 0;
      else c.regs[Reg.ESP] = (c.regs[Reg.ESP] & ~0xffff) | ((bp + i.w) & 0xffff);
      c.setReg(i.w, Reg.EBP, v);
      return;
    }
    case Op.Bound: {
      if (i.mod === 3) c.raise(Vec.UD, -1);
      const ea = c.ea(i);
      const sh = 32 - i.w * 8;
      const lo = (c.rd(i.seg, ea, i.w) << sh) >> sh;
      const hi = (c.rd(i.seg, (ea + i.w) & (i.a16 ? 0xffff : -1), i.w) << sh) >> sh;
      const v = (c.getReg(i.w, i.reg) << sh) >> sh;
      if (v < lo || v > hi) c.raise(Vec.BR, -1);
      return;
    }
    case Op.Arpl:
      arpl(c, i);
      return;
    case Op.LoadFar: {
      if (i.mod === 3) c.raise(Vec.UD, -1);
      const ea = c.ea(i);
      const off = c.rd(i.seg, ea, i.w);
      const sel = c.rd16(i.seg, (ea + i.w) & (i.a16 ? 0xffff : -1));
      c.loadSeg(i.sub, sel);
      c.setReg(i.w, i.reg, off);
      if (i.sub === Seg.SS) c.inhibitUntil = c.icount + 2;
      return;
    }
    case Op.Bswap: {
      const v = c.regs[i.rm];
      // With a 16-bit operand the result is undefined (SDM 2A BSWAP); P6 clears the low word.
      if (i.w === 2) c.regs[i.rm] = v & ~0xffff;
      else c.regs[i.rm] = (v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
      return;
    }
    case Op.Xadd:
      xadd(c, i);
      return;
    case Op.Cmpxchg:
      cmpxchg(c, i);
      return;
    case Op.Cmpxchg8b:
      cmpxchg8b(c, i);
      return;
    case Op.Cpuid:
      cpuid(c);
      return;
    case Op.Rdtsc: {
      if (c.cr4 & CR4.TSD && c.cpl !== 0 && c.protectedMode) c.gp(0);
      const t = c.readTsc();
      c.regs[Reg.EAX] = (t % 4294967296) | 0;
      c.regs[Reg.EDX] = Math.floor(t / 4294967296) | 0;
      return;
    }
    case Op.Rdmsr:
    case Op.Wrmsr:
      msr(c, i.op === Op.Wrmsr);
      return;
    case Op.Grp6:
      grp6(c, i);
      return;
    case Op.Grp7:
      grp7(c, i);
      return;
    case Op.Lar:
      lar(c, i);
      return;
    case Op.Lsl:
      lsl(c, i);
      return;
    case Op.Clts:
      clts(c);
      return;
    case Op.MovRC:
      movRCr(c, i);
      return;
    case Op.MovCR:
      movCrR(c, i);
      return;
    case Op.MovRD:
      movRDr(c, i);
      return;
    case Op.MovDR:
      movDrR(c, i);
      return;
    case Op.Invd:
      if (c.cpl !== 0) c.gp(0);
      return;
    case Op.Wait:
      fpuWait(c);
      return;
    case Op.Esc:
      fpuEsc(c, i);
      return;
    default:
      c.raise(Vec.UD, -1);
  }
}

// ------------------------------------------------------------------ ALU

/** Two-operand ALU op at width w; returns the result (for CMP, the first operand). */
export function alu(c: Cpu, op: number, a: number, b: number, w: number): number {
  const top = w * 8 - 1;
  const mask = MASK[w];
  let r: number;
  switch (op) {
    case AluOp.Add:
      r = (a + b) & mask;
      c.setFlagsAdd(a, b, r, top);
      return r;
    case AluOp.Or:
      r = a | b;
      c.setFlagsLogic(r, top);
      return r;
    case AluOp.Adc:
      r = (a + b + c.getCF()) & mask;
      c.setFlagsAdd(a, b, r, top);
      return r;
    case AluOp.Sbb:
      r = (a - b - c.getCF()) & mask;
      c.setFlagsSub(a, b, r, top);
      return r;
    case AluOp.And:
      r = a & b;
      c.setFlagsLogic(r, top);
      return r;
    case AluOp.Sub:
      r = (a - b) & mask;
      c.setFlagsSub(a, b, r, top);
      return r;
    case AluOp.Xor:
      r = a ^ b;
      c.setFlagsLogic(r, top);
      return r;
    default:
      c.setFlagsSub(a, b, (a - b) & mask, top);
      return a;
  }
}

function aluEG(c: Cpu, i: Insn): void {
  const w = i.w;
  if (i.mod === 3) {
    const r = alu(c, i.sub, c.getReg(w, i.rm), c.getReg(w, i.reg), w);
    if (i.sub !== AluOp.Cmp) c.setReg(w, i.rm, r);
    return;
  }
  const lin = c.lin(i.seg, c.ea(i), w, i.sub !== AluOp.Cmp);
  if (i.sub !== AluOp.Cmp) c.probeWrite(lin, w);
  const r = alu(c, i.sub, c.readLin(lin, w), c.getReg(w, i.reg), w);
  if (i.sub !== AluOp.Cmp) c.writeLin(lin, r, w);
}

function aluEI(c: Cpu, i: Insn): void {
  const w = i.w;
  const imm = i.imm & MASK[w];
  if (i.mod === 3) {
    const r = alu(c, i.sub, c.getReg(w, i.rm), imm, w);
    if (i.sub !== AluOp.Cmp) c.setReg(w, i.rm, r);
    return;
  }
  const lin = c.lin(i.seg, c.ea(i), w, i.sub !== AluOp.Cmp);
  if (i.sub !== AluOp.Cmp) c.probeWrite(lin, w);
  const r = alu(c, i.sub, c.readLin(lin, w), imm, w);
  if (i.sub !== AluOp.Cmp) c.writeLin(lin, r, w);
}

/** Linear address of the E operand for read-modify-write, probed for write (no fault after this). */
function rmwLin(c: Cpu, i: Insn, w: number): number {
  const lin = c.lin(i.seg, c.ea(i), w, true);
  c.probeWrite(lin, w);
  return lin;
}

function incDec(c: Cpu, i: Insn): void {
  const w = i.w;
  const top = w * 8 - 1;
  const mask = MASK[w];
  const lin = i.mod === 3 ? 0 : rmwLin(c, i, w);
  const a = i.mod === 3 ? c.getReg(w, i.rm) : c.readLin(lin, w);
  const cf = c.getCF();
  let r: number;
  if (i.op === Op.IncE) {
    r = (a + 1) & mask;
    c.setFlagsAdd(a, 1, r, top);
  } else {
    r = (a - 1) & mask;
    c.setFlagsSub(a, 1, r, top);
  }
  // INC/DEC leave CF alone (SDM 2A INC).
  c.fovr = F.CF;
  c.fbits = cf;
  if (i.mod === 3) c.setReg(w, i.rm, r);
  else c.writeLin(lin, r, w);
}

function notNeg(c: Cpu, i: Insn): void {
  const w = i.w;
  const mask = MASK[w];
  const lin = i.mod === 3 ? 0 : rmwLin(c, i, w);
  const a = i.mod === 3 ? c.getReg(w, i.rm) : c.readLin(lin, w);
  let r: number;
  if (i.op === Op.NotE) r = ~a & mask;
  else {
    r = (0 - a) & mask;
    c.setFlagsSub(0, a, r, w * 8 - 1);
  }
  if (i.mod === 3) c.setReg(w, i.rm, r);
  else c.writeLin(lin, r, w);
}

function xchg(c: Cpu, i: Insn): void {
  const w = i.w;
  if (i.mod === 3) {
    const a = c.getReg(w, i.rm);
    c.setReg(w, i.rm, c.getReg(w, i.reg));
    c.setReg(w, i.reg, a);
    return;
  }
  const lin = rmwLin(c, i, w);
  const a = c.readLin(lin, w);
  c.writeLin(lin, c.getReg(w, i.reg), w);
  c.setReg(w, i.reg, a);
}

function xadd(c: Cpu, i: Insn): void {
  const w = i.w;
  const lin = i.mod === 3 ? 0 : rmwLin(c, i, w);
  const d = i.mod === 3 ? c.getReg(w, i.rm) : c.readLin(lin, w);
  const s = c.getReg(w, i.reg);
  const r = alu(c, AluOp.Add, d, s, w);
  c.setReg(w, i.reg, d);
  if (i.mod === 3) c.setReg(w, i.rm, r);
  else c.writeLin(lin, r, w);
}

function cmpxchg(c: Cpu, i: Insn): void {
  const w = i.w;
  const lin = i.mod === 3 ? 0 : rmwLin(c, i, w);
  const d = i.mod === 3 ? c.getReg(w, i.rm) : c.readLin(lin, w);
  const acc = c.getReg(w, Reg.EAX);
  alu(c, AluOp.Cmp, acc, d, w);
  if (acc === d) {
    const s = c.getReg(w, i.reg);
    if (i.mod === 3) c.setReg(w, i.rm, s);
    else c.writeLin(lin, s, w);
  } else {
    // The destination is written back unchanged on failure (SDM 2A CMPXCHG), then the accumulator loaded.
    if (i.mod !== 3) c.writeLin(lin, d, w);
    c.setReg(w, Reg.EAX, d);
  }
}

function cmpxchg8b(c: Cpu, i: Insn): void {
  if (i.mod === 3) c.raise(Vec.UD, -1);
  const ea = c.ea(i);
  const lin = c.lin(i.seg, ea, 8, true);
  if (c.alignCheck && (lin & 7) !== 0) c.raise(Vec.AC, 0); // m64 operand: 8-byte alignment
  c.probeWrite(lin, 4);
  c.probeWrite((lin + 4) | 0, 4);
  const lo = c.readLin32(lin);
  const hi = c.readLin32((lin + 4) | 0);
  if (lo === c.regs[Reg.EAX] && hi === c.regs[Reg.EDX]) {
    c.writeLin32(lin, c.regs[Reg.EBX]);
    c.writeLin32((lin + 4) | 0, c.regs[Reg.ECX]);
    c.setArith(F.ZF, F.ZF);
  } else {
    c.writeLin32(lin, lo);
    c.writeLin32((lin + 4) | 0, hi);
    c.regs[Reg.EAX] = lo;
    c.regs[Reg.EDX] = hi;
    c.setArith(F.ZF, 0);
  }
}

// ------------------------------------------------------------------ multiply and divide

let mulHi = 0;
/** Unsigned 32x32 -> 64 multiply: returns the low 32 bits (int32), sets `mulHi` (int32). */
function mulU32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  mulHi = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) | 0;
  return ((mid & 0xffff) << 16) | (ll & 0xffff);
}

/** Signed 32x32 -> 64 multiply (two's complement correction of the unsigned product). */
function mulS32(a: number, b: number): number {
  const lo = mulU32(a, b);
  let hi = mulHi;
  if (a < 0) hi = (hi - b) | 0;
  if (b < 0) hi = (hi - a) | 0;
  mulHi = hi;
  return lo;
}

let divRem = 0;
/** Unsigned (hi:lo) / d with hi < d (so the quotient fits 32 bits); returns the quotient, sets divRem. */
function divU64(hi: number, lo: number, d: number): number {
  // Long division in 16-bit digits keeps every intermediate below 2^48 (exact in a double).
  let rem = hi >>> 0;
  const dd = d >>> 0;
  let x = rem * 65536 + (lo >>> 16);
  const q1 = Math.floor(x / dd);
  rem = x - q1 * dd;
  x = rem * 65536 + (lo & 0xffff);
  const q2 = Math.floor(x / dd);
  divRem = x - q2 * dd;
  return q1 * 65536 + q2;
}

function mulDiv(c: Cpu, i: Insn): void {
  const w = i.w;
  const src = c.readE(i, w);
  const regs = c.regs;
  switch (i.sub) {
    case 4: {
      // MUL: CF = OF = upper half nonzero.
      if (w === 1) {
        const r = (regs[Reg.EAX] & 0xff) * src;
        c.setReg(2, Reg.EAX, r);
        c.setFlagsResult(r, 7, r > 0xff ? F.CF | F.OF : 0);
      } else if (w === 2) {
        const r = (regs[Reg.EAX] & 0xffff) * src;
        c.setReg(2, Reg.EAX, r);
        c.setReg(2, Reg.EDX, r >>> 16);
        c.setFlagsResult(r, 15, r > 0xffff ? F.CF | F.OF : 0);
      } else {
        const lo = mulU32(regs[Reg.EAX], src);
        regs[Reg.EAX] = lo;
        regs[Reg.EDX] = mulHi;
        c.setFlagsResult(lo, 31, mulHi !== 0 ? F.CF | F.OF : 0);
      }
      return;
    }
    case 5: {
      // IMUL (one operand): CF = OF = the result does not fit the lower half.
      if (w === 1) {
        const r = ((regs[Reg.EAX] << 24) >> 24) * ((src << 24) >> 24);
        c.setReg(2, Reg.EAX, r);
        c.setFlagsResult(r, 7, r !== (r << 24) >> 24 ? F.CF | F.OF : 0);
      } else if (w === 2) {
        const r = ((regs[Reg.EAX] << 16) >> 16) * ((src << 16) >> 16);
        c.setReg(2, Reg.EAX, r);
        c.setReg(2, Reg.EDX, r >> 16);
        c.setFlagsResult(r, 15, r !== (r << 16) >> 16 ? F.CF | F.OF : 0);
      } else {
        const lo = mulS32(regs[Reg.EAX], src);
        regs[Reg.EAX] = lo;
        regs[Reg.EDX] = mulHi;
        c.setFlagsResult(lo, 31, mulHi !== lo >> 31 ? F.CF | F.OF : 0);
      }
      return;
    }
    case 6: {
      // DIV: #DE on a zero divisor or a quotient that does not fit.
      if (src === 0) c.raise(Vec.DE, -1);
      if (w === 1) {
        const n = regs[Reg.EAX] & 0xffff;
        const q = Math.floor(n / src);
        if (q > 0xff) c.raise(Vec.DE, -1);
        c.setReg(2, Reg.EAX, ((n - q * src) << 8) | q);
      } else if (w === 2) {
        const n = ((regs[Reg.EDX] & 0xffff) * 65536 + (regs[Reg.EAX] & 0xffff)) >>> 0;
        const q = Math.floor(n / src);
        if (q > 0xffff) c.raise(Vec.DE, -1);
        c.setReg(2, Reg.EAX, q);
        c.setReg(2, Reg.EDX, n - q * src);
      } else {
        if (regs[Reg.EDX] >>> 0 >= src >>> 0) c.raise(Vec.DE, -1);
        const q = divU64(regs[Reg.EDX], regs[Reg.EAX], src);
        regs[Reg.EAX] = q | 0;
        regs[Reg.EDX] = divRem | 0;
      }
      return;
    }
    default: {
      // IDIV: truncating signed division; #DE when the quotient leaves the signed range.
      if (src === 0) c.raise(Vec.DE, -1);
      if (w === 1) {
        const n = (regs[Reg.EAX] << 16) >> 16;
        const d = (src << 24) >> 24;
        const q = Math.trunc(n / d);
        if (q > 127 || q < -128) c.raise(Vec.DE, -1);
        c.setReg(2, Reg.EAX, ((n - q * d) << 8) | (q & 0xff));
      } else if (w === 2) {
        const n = (regs[Reg.EDX] << 16) | (regs[Reg.EAX] & 0xffff) | 0;
        const d = (src << 16) >> 16;
        const q = Math.trunc(n / d);
        if (q > 32767 || q < -32768) c.raise(Vec.DE, -1);
        c.setReg(2, Reg.EAX, q);
        c.setReg(2, Reg.EDX, n - q * d);
      } else {
        let hi = regs[Reg.EDX];
        let lo = regs[Reg.EAX];
        const neg = hi < 0;
        if (neg) {
          // 64-bit two's complement negate.
          lo = (~lo + 1) | 0;
          hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
        }
        const dneg = src < 0;
        const dabs = dneg ? -src : src; // up to 2^31, as a positive Number
        if (hi >>> 0 >= dabs) c.raise(Vec.DE, -1);
        const qa = divU64(hi, lo, dabs);
        const ra = divRem;
        const qneg = neg !== dneg;
        if (qneg ? qa > 0x80000000 : qa > 0x7fffffff) c.raise(Vec.DE, -1);
        regs[Reg.EAX] = (qneg ? -qa : qa) | 0;
        regs[Reg.EDX] = (neg ? -ra : ra) | 0;
      }
      return;
    }
  }
}

function imul2(c: Cpu, i: Insn): void {
  const w = i.w;
  const a = c.readE(i, w);
  const b = i.op === Op.ImulGEI ? i.imm : c.getReg(w, i.reg);
  let r: number;
  let ovf: boolean;
  if (w === 2) {
    const p = ((a << 16) >> 16) * ((b << 16) >> 16);
    r = p & 0xffff;
    ovf = p !== (p << 16) >> 16;
    c.setFlagsResult(r, 15, ovf ? F.CF | F.OF : 0);
  } else {
    r = mulS32(a, b);
    ovf = mulHi !== r >> 31;
    c.setFlagsResult(r, 31, ovf ? F.CF | F.OF : 0);
  }
  c.setReg(w, i.reg, r);
}

// ------------------------------------------------------------------ shifts and rotates

function shift(c: Cpu, i: Insn): void {
  const w = i.w;
  const bits = w * 8;
  const top = bits - 1;
  const mask = MASK[w];
  const count = (i.imm2 === 1 ? c.regs[Reg.ECX] : i.imm) & 0x1f;
  const lin = i.mod === 3 ? 0 : c.lin(i.seg, c.ea(i), w, true);
  if (count === 0) {
    // No flags change and nothing is written; the operand is still read (SDM 2B SAL/SAR/SHL/SHR).
    if (i.mod !== 3) c.readLin(lin, w);
    return;
  }
  if (i.mod !== 3) c.probeWrite(lin, w);
  const a = i.mod === 3 ? c.getReg(w, i.rm) : c.readLin(lin, w);
  let r: number;
  switch (i.sub) {
    case ShiftOp.Rol: {
      const n = count & top;
      r = n === 0 ? a : ((a << n) | (a >>> (bits - n))) & mask;
      const cf = r & 1;
      c.setArith(F.CF | F.OF, cf | ((((r >>> top) ^ cf) & 1) << 11));
      break;
    }
    case ShiftOp.Ror: {
      const n = count & top;
      r = n === 0 ? a : ((a >>> n) | (a << (bits - n))) & mask;
      const cf = (r >>> top) & 1;
      c.setArith(F.CF | F.OF, cf | (((cf ^ (r >>> (top - 1))) & 1) << 11));
      break;
    }
    case ShiftOp.Rcl: {
      const n = w === 4 ? count : count % (bits + 1);
      let cf = c.getCF();
      r = a;
      for (let k = 0; k < n; k++) {
        const out = (r >>> top) & 1;
        r = ((r << 1) | cf) & mask;
        cf = out;
      }
      c.setArith(F.CF | F.OF, cf | ((((r >>> top) ^ cf) & 1) << 11));
      break;
    }
    case ShiftOp.Rcr: {
      const n = w === 4 ? count : count % (bits + 1);
      let cf = c.getCF();
      r = a;
      let of = 0;
      for (let k = 0; k < n; k++) {
        if (k === n - 1) of = ((r >>> top) ^ cf) & 1;
        const out = r & 1;
        r = ((r >>> 1) | (cf << top)) & mask;
        cf = out;
      }
      c.setArith(F.CF | F.OF, cf | (of << 11));
      break;
    }
    case ShiftOp.Shl:
    case ShiftOp.Sal: {
      r = count >= 32 ? 0 : (a << count) & mask;
      const cf = count > bits ? 0 : (a >>> (bits - count)) & 1;
      c.setFlagsResult(r, top, cf | ((((r >>> top) ^ cf) & 1) << 11));
      break;
    }
    case ShiftOp.Shr: {
      r = a >>> count;
      const cf = (a >>> (count - 1)) & 1;
      c.setFlagsResult(r, top, cf | (((a >>> top) & 1) << 11));
      break;
    }
    default: {
      const sa = (a << (32 - bits)) >> (32 - bits);
      r = (sa >> count) & mask;
      const cf = (sa >> (count - 1)) & 1;
      c.setFlagsResult(r, top, cf);
      break;
    }
  }
  if (i.mod === 3) c.setReg(w, i.rm, r);
  else c.writeLin(lin, r, w);
}

function shiftDouble(c: Cpu, i: Insn): void {
  const w = i.w;
  const count = (i.imm2 === 1 ? c.regs[Reg.ECX] : i.imm) & 0x1f;
  const lin = i.mod === 3 ? 0 : c.lin(i.seg, c.ea(i), w, true);
  if (count === 0) {
    if (i.mod !== 3) c.readLin(lin, w);
    return;
  }
  if (i.mod !== 3) c.probeWrite(lin, w);
  const a = i.mod === 3 ? c.getReg(w, i.rm) : c.readLin(lin, w);
  const b = c.getReg(w, i.reg);
  let r: number;
  let cf: number;
  if (w === 4) {
    if (i.op === Op.Shld) {
      r = (a << count) | (b >>> (32 - count));
      cf = (a >>> (32 - count)) & 1;
    } else {
      r = (a >>> count) | (b << (32 - count));
      cf = (a >>> (count - 1)) & 1;
    }
  } else {
    // 16-bit: shift the 48-bit value a:b:a (what P6 does for counts above 16, which the SDM leaves undefined).
    if (i.op === Op.Shld) {
      const hi = (a << 16) | b; // a:b
      const v = count <= 16 ? (hi << count) | (a >>> (16 - count)) : (((b << 16) | a) << (count - 16)) | 0;
      r = (v >>> 16) & 0xffff;
      cf = count <= 16 ? (a >>> (16 - count)) & 1 : (b >>> (32 - count)) & 1;
    } else {
      const lo = (b << 16) | a; // b:a
      const v = count <= 16 ? (lo >>> count) | (b << (32 - count)) : ((a << 16) | b) >>> (count - 16);
      r = v & 0xffff;
      cf = count <= 16 ? (a >>> (count - 1)) & 1 : (b >>> (count - 17)) & 1;
    }
  }
  const top = w * 8 - 1;
  const of = ((r ^ a) >>> top) & 1;
  c.setFlagsResult(r, top, cf | (of << 11));
  if (i.mod === 3) c.setReg(w, i.rm, r);
  else c.writeLin(lin, r, w);
}

// ------------------------------------------------------------------ bit instructions

function bitTest(c: Cpu, i: Insn): void {
  const w = i.w;
  const bits = w * 8;
  let bit: number;
  let a: number;
  let lin = 0;
  if (i.op === Op.BtEI) {
    bit = i.imm & (bits - 1);
    if (i.mod !== 3) lin = c.lin(i.seg, c.ea(i), w, i.sub !== 0);
  } else {
    const off = c.getReg(w, i.reg);
    if (i.mod === 3) bit = off & (bits - 1);
    else {
      // Memory bit strings: the register is a signed bit offset (SDM 2A BT, "bit base").
      const soff = w === 2 ? (off << 16) >> 16 : off;
      const disp = (soff >> (w === 2 ? 4 : 5)) * w;
      const ea = i.a16 ? (c.ea(i) + disp) & 0xffff : (c.ea(i) + disp) | 0;
      lin = c.lin(i.seg, ea, w, i.sub !== 0);
      bit = soff & (bits - 1);
    }
  }
  if (i.mod !== 3 && i.sub !== 0) c.probeWrite(lin, w);
  a = i.mod === 3 ? c.getReg(w, i.rm) : c.readLin(lin, w);
  const cf = (a >>> bit) & 1;
  if (i.sub !== 0) {
    if (i.sub === 1) a |= 1 << bit;
    else if (i.sub === 2) a &= ~(1 << bit);
    else a ^= 1 << bit;
    a &= MASK[w];
    if (i.mod === 3) c.setReg(w, i.rm, a);
    else c.writeLin(lin, a, w);
  }
  c.setArith(F.CF, cf);
}

function bitScan(c: Cpu, i: Insn): void {
  const v = c.readE(i, i.w);
  if (v === 0) {
    c.setArith(F.ZF, F.ZF); // destination unchanged (SDM: undefined; P6 leaves it)
    return;
  }
  const idx = i.op === Op.Bsf ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
  c.setReg(i.w, i.reg, idx);
  c.setArith(F.ZF, 0);
}

// ------------------------------------------------------------------ control transfer

/** #GP(0) when a near branch target lies outside CS (SDM 2A JMP). */
function checkEip(c: Cpu, t: number): void {
  if (t >>> 0 > c.segLimit[Seg.CS] >>> 0) c.gp(0);
}

function jumpRel(c: Cpu, i: Insn): void {
  const t = i.w === 2 ? (c.eip + i.imm) & 0xffff : (c.eip + i.imm) | 0;
  checkEip(c, t);
  c.eip = t;
}

function loop(c: Cpu, i: Insn): void {
  const regs = c.regs;
  let cnt: number;
  if (i.sub === 3) {
    cnt = i.a16 ? regs[Reg.ECX] & 0xffff : regs[Reg.ECX];
    if (cnt === 0) jumpRel(c, i);
    return;
  }
  if (i.a16) {
    cnt = (regs[Reg.ECX] - 1) & 0xffff;
    regs[Reg.ECX] = (regs[Reg.ECX] & ~0xffff) | cnt;
  } else {
    cnt = (regs[Reg.ECX] - 1) | 0;
    regs[Reg.ECX] = cnt;
  }
  let take = cnt !== 0;
  if (i.sub === 0) take = take && c.getZF() === 0;
  else if (i.sub === 1) take = take && c.getZF() === 1;
  if (take) jumpRel(c, i);
}

function softInt(c: Cpu, vector: number): void {
  // In V86 mode INT n is IOPL-sensitive (SDM 3A §20.2.7); INT3/INTO too without VME.
  if (c.v86 && (c.eflags & F.IOPL) !== F.IOPL) c.gp(0);
  c.interrupt(vector, -1, true);
}

// ------------------------------------------------------------------ stack

function popE(c: Cpu, i: Insn): void {
  const w = i.w;
  const v = c.peek(w, 0);
  if (i.mod === 3) {
    c.addSp(w);
    c.setReg(w, i.rm, v);
    return;
  }
  // ESP as a base register is used after the increment (SDM 2B POP).
  const oldEsp = c.regs[Reg.ESP];
  c.addSp(w);
  try {
    c.wr(i.seg, c.ea(i), v, w);
  } catch (e) {
    c.regs[Reg.ESP] = oldEsp;
    throw e;
  }
}

function pushSeg(c: Cpu, i: Insn): void {
  const sel = c.segSel[i.sub];
  if (i.w === 2) {
    c.push(sel, 2);
    return;
  }
  // P6: a 32-bit push of a segment register writes only the low word (SDM 2B PUSH).
  const sp = c.regs[Reg.ESP];
  const nsp = c.stack32 ? (sp - 4) | 0 : (sp - 4) & 0xffff;
  // Alignment checking sees the 4-byte push, not the word written (as an AMD EPYC host does; hosts differ).
  if (c.alignCheck && ((c.segBase[Seg.SS] + nsp) & 3) !== 0) c.raise(Vec.AC, 0);
  c.wr16(Seg.SS, nsp, sel);
  c.regs[Reg.ESP] = c.stack32 ? nsp : (sp & ~0xffff) | nsp;
}

function spOff(c: Cpu, delta: number): number {
  const sp = c.regs[Reg.ESP];
  return c.stack32 ? (sp + delta) | 0 : (sp + delta) & 0xffff;
}

function pusha(c: Cpu, i: Insn): void {
  const w = i.w;
  const regs = c.regs;
  const sp = regs[Reg.ESP];
  for (let r = 0; r < 8; r++) {
    const v = r === Reg.ESP ? sp : regs[r];
    c.wr(Seg.SS, spOff(c, -(r + 1) * w), v, w);
  }
  c.addSp(-8 * w);
}

function popa(c: Cpu, i: Insn): void {
  const w = i.w;
  const vals = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let r = 7; r >= 0; r--) vals[r] = c.rd(Seg.SS, spOff(c, (7 - r) * w), w);
  for (let r = 0; r < 8; r++) if (r !== Reg.ESP) c.setReg(w, r, vals[r]);
  c.addSp(8 * w);
}

function iopl(c: Cpu): number {
  return (c.eflags >>> 12) & 3;
}

function pushf(c: Cpu, i: Insn): void {
  if (c.v86 && iopl(c) < 3) c.gp(0);
  // VM and RF are never copied to the stack image (SDM 2B PUSHF).
  c.push(c.getEflags() & ~(F.VM | F.RF), i.w);
}

function popf(c: Cpu, i: Insn): void {
  const w = i.w;
  if (c.v86 && iopl(c) < 3) c.gp(0);
  const v = c.peek(w, 0);
  let changeable = F.Arith | F.TF | F.DF | F.NT | F.AC | F.ID | F.IF | F.IOPL;
  if (c.protectedMode) {
    if (c.v86) changeable &= ~F.IOPL;
    else {
      if (c.cpl > 0) changeable &= ~F.IOPL;
      if (c.cpl > iopl(c)) changeable &= ~F.IF;
    }
  }
  if (w === 2) changeable &= 0xffff;
  const cur = c.getEflags();
  c.addSp(w);
  const wasIf = cur & F.IF;
  c.setEflags((cur & ~changeable & ~F.RF) | (v & changeable));
  if (!wasIf && c.eflags & F.IF) c.inhibitUntil = c.icount + 1;
}

function enter(c: Cpu, i: Insn): void {
  const w = i.w;
  const size = i.imm & 0xffff;
  const level = i.imm2 & 0x1f;
  const regs = c.regs;
  const bp = regs[Reg.EBP];
  // Build the frame at explicit offsets, then commit ESP/EBP: a fault leaves nothing changed.
  let off = -w;
  c.wr(Seg.SS, spOff(c, off), bp, w);
  const frame = spOff(c, off);
  if (level > 0) {
    for (let k = 1; k < level; k++) {
      const src = c.stack32 ? (bp - k * w) | 0 : (bp - k * w) & 0xffff;
      const v = c.rd(Seg.SS, src, w);
      off -= w;
      c.wr(Seg.SS, spOff(c, off), v, w);
    }
    off -= w;
    c.wr(Seg.SS, spOff(c, off), frame, w);
  }
  off -= size;
  if (size > 0) {
    // The new stack top is checked as for a push there: limit, page, and alignment (as the host CPU does).
    const lin = c.lin(Seg.SS, spOff(c, off), w, true);
    if (c.alignCheck && (lin & (w - 1)) !== 0) c.raise(Vec.AC, 0);
    c.probeWrite(lin, w);
  }
  c.setReg(w, Reg.EBP, frame);
  c.addSp(off);
}

// ------------------------------------------------------------------ string instructions

/** Per-element register step for string ops: +w or -w by DF. */
function strStep(c: Cpu, w: number): number {
  return c.eflags & F.DF ? -w : w;
}

function stringOp(c: Cpu, i: Insn): void {
  const w = i.w;
  const regs = c.regs;
  const a16 = i.a16;
  const amask = a16 ? 0xffff : -1;
  const step = strStep(c, w);
  const srcSeg = i.segOverride >= 0 ? i.segOverride : Seg.DS;
  const rep = i.rep !== 0;
  const op = i.op;
  // REP MOVS/STOS in bulk, a page at a time, when nothing per element can differ from the loop below:
  // 32-bit addressing, DF = 0, flat segments in protected mode, no alignment checking, no trace hook
  // (it sees every access). repBulk declines (a TLB miss, a page that is not plain RAM or holds decoded
  // code, an element crossing a page, overlapping forward copies) and the loop does one element.
  const bulk =
    rep &&
    !a16 &&
    step > 0 &&
    (op === Op.Stos || op === Op.Movs) &&
    c.tracer === null &&
    !c.alignCheck &&
    (c.cr0 & 1) !== 0 &&
    c.isFlat(Seg.ES) &&
    (op === Op.Stos || c.isFlat(srcSeg));
  for (;;) {
    if (rep) {
      const cnt = regs[Reg.ECX] & amask;
      if (cnt === 0) return;
      if (bulk && repBulk(c, op, w, srcSeg)) continue;
    }
    const si = regs[Reg.ESI] & amask;
    const di = regs[Reg.EDI] & amask;
    let zf = 0;
    switch (op) {
      case Op.Movs: {
        const v = c.rd(srcSeg, si, w);
        c.wr(Seg.ES, di, v, w);
        regs[Reg.ESI] = a16 ? (regs[Reg.ESI] & ~0xffff) | ((si + step) & 0xffff) : (si + step) | 0;
        regs[Reg.EDI] = a16 ? (regs[Reg.EDI] & ~0xffff) | ((di + step) & 0xffff) : (di + step) | 0;
        break;
      }
      case Op.Stos:
        c.wr(Seg.ES, di, c.getReg(w, Reg.EAX), w);
        regs[Reg.EDI] = a16 ? (regs[Reg.EDI] & ~0xffff) | ((di + step) & 0xffff) : (di + step) | 0;
        break;
      case Op.Lods:
        c.setReg(w, Reg.EAX, c.rd(srcSeg, si, w));
        regs[Reg.ESI] = a16 ? (regs[Reg.ESI] & ~0xffff) | ((si + step) & 0xffff) : (si + step) | 0;
        break;
      case Op.Cmps: {
        const a = c.rd(srcSeg, si, w);
        const b = c.rd(Seg.ES, di, w);
        alu(c, AluOp.Cmp, a, b, w);
        zf = a === b ? 1 : 0;
        regs[Reg.ESI] = a16 ? (regs[Reg.ESI] & ~0xffff) | ((si + step) & 0xffff) : (si + step) | 0;
        regs[Reg.EDI] = a16 ? (regs[Reg.EDI] & ~0xffff) | ((di + step) & 0xffff) : (di + step) | 0;
        break;
      }
      default: {
        const b = c.rd(Seg.ES, di, w);
        const a = c.getReg(w, Reg.EAX);
        alu(c, AluOp.Cmp, a, b, w);
        zf = a === b ? 1 : 0;
        regs[Reg.EDI] = a16 ? (regs[Reg.EDI] & ~0xffff) | ((di + step) & 0xffff) : (di + step) | 0;
        break;
      }
    }
    if (!rep) return;
    regs[Reg.ECX] = a16 ? (regs[Reg.ECX] & ~0xffff) | ((regs[Reg.ECX] - 1) & 0xffff) : (regs[Reg.ECX] - 1) | 0;
    if (op === Op.Cmps || op === Op.Scas) {
      // REPE stops when ZF = 0, REPNE when ZF = 1.
      if (i.rep === 1 ? zf === 0 : zf === 1) return;
    }
  }
}

/**
 * The elements of a REP MOVS/STOS (DF = 0, 32-bit addresses, flat segments) that lie in the current
 * source and destination pages, copied or filled in RAM directly, with ECX/ESI/EDI advanced as the
 * element loop would. False, having done nothing, when that is not plain RAM through the TLB.
 * Copies overlapping forwards (destination just above the source) repeat a pattern element by
 * element and are left to the loop; every other overlap copies like memmove.
 */
function repBulk(c: Cpu, op: number, w: number, srcSeg: number): boolean {
  const regs = c.regs;
  const cnt = regs[Reg.ECX] >>> 0;
  const dl = (c.segBase[Seg.ES] + regs[Reg.EDI]) | 0;
  let n = Math.min(cnt, ((4096 - (dl & 0xfff)) / w) | 0);
  const de = c.tlb[dl >>> 12];
  if (n === 0 || (de & c.wrMask) !== c.wrMask) return false;
  const dp = (de & ~0xfff) | (dl & 0xfff);
  if (op === Op.Stos) {
    const v = regs[Reg.EAX];
    if (w === 1) c.ram.fill(v & 0xff, dp, dp + n);
    else if (w === 2) for (let k = 0; k < n; k++) c.ramView.setUint16(dp + 2 * k, v, true);
    else for (let k = 0; k < n; k++) c.ramView.setInt32(dp + 4 * k, v, true);
  } else {
    const sl = (c.segBase[srcSeg] + regs[Reg.ESI]) | 0;
    n = Math.min(n, ((4096 - (sl & 0xfff)) / w) | 0);
    const se = c.tlb[sl >>> 12];
    if (n === 0 || (se & c.rdMask) !== c.rdMask) return false;
    const sp = (se & ~0xfff) | (sl & 0xfff);
    const bytes = n * w;
    if (dp > sp && dp < sp + bytes) return false;
    c.ram.copyWithin(dp, sp, sp + bytes);
    regs[Reg.ESI] = (regs[Reg.ESI] + bytes) | 0;
  }
  regs[Reg.EDI] = (regs[Reg.EDI] + n * w) | 0;
  regs[Reg.ECX] = (cnt - n) | 0;
  return true;
}

function stringIo(c: Cpu, i: Insn): void {
  const w = i.w;
  const regs = c.regs;
  const a16 = i.a16;
  const amask = a16 ? 0xffff : -1;
  const step = strStep(c, w);
  const port = regs[Reg.EDX] & 0xffff;
  checkIo(c, port, w);
  const rep = i.rep !== 0;
  const srcSeg = i.segOverride >= 0 ? i.segOverride : Seg.DS;
  for (;;) {
    if (rep && (regs[Reg.ECX] & amask) === 0) return;
    if (i.op === Op.Ins) {
      const di = regs[Reg.EDI] & amask;
      const lin = c.lin(Seg.ES, di, w, true);
      c.probeWrite(lin, w);
      c.writeLin(lin, portIn(c, port, w), w);
      regs[Reg.EDI] = a16 ? (regs[Reg.EDI] & ~0xffff) | ((di + step) & 0xffff) : (di + step) | 0;
    } else {
      const si = regs[Reg.ESI] & amask;
      portOut(c, port, c.rd(srcSeg, si, w), w);
      regs[Reg.ESI] = a16 ? (regs[Reg.ESI] & ~0xffff) | ((si + step) & 0xffff) : (si + step) | 0;
    }
    if (!rep) return;
    regs[Reg.ECX] = a16 ? (regs[Reg.ECX] & ~0xffff) | ((regs[Reg.ECX] - 1) & 0xffff) : (regs[Reg.ECX] - 1) | 0;
  }
}

// ------------------------------------------------------------------ I/O

/**
 * I/O permission (SDM 1 §19.5): in protected mode with CPL > IOPL, and always in V86 mode,
 * every port of the access must be allowed by the TSS I/O bitmap.
 */
export function checkIo(c: Cpu, port: number, w: number): void {
  if (!c.protectedMode) return;
  if (!c.v86 && c.cpl <= iopl(c)) return;
  // Only a 32-bit TSS has a bitmap.
  if ((c.trAr & 0xf) !== 0xb && (c.trAr & 0xf) !== 0x9) c.gp(0);
  const limit = c.trLimit >>> 0;
  if (limit < 0x67) c.gp(0);
  const mapOff = c.readLin16((c.trBase + 0x66) | 0, false);
  const byteOff = mapOff + (port >>> 3);
  if (byteOff + 1 > limit) c.gp(0);
  const bitsWord = c.readLin16((c.trBase + byteOff) | 0, false);
  const mask = ((1 << w) - 1) << (port & 7);
  if (bitsWord & mask) c.gp(0);
}

function portIn(c: Cpu, port: number, w: number): number {
  return w === 1 ? c.io.in8(port) : w === 2 ? c.io.in16(port) : c.io.in32(port);
}

function portOut(c: Cpu, port: number, v: number, w: number): void {
  if (w === 1) c.io.out8(port, v);
  else if (w === 2) c.io.out16(port, v);
  else c.io.out32(port, v);
}

// ------------------------------------------------------------------ flags, BCD, CPUID, MSRs

function flagOp(c: Cpu, sub: number): void {
  switch (sub) {
    case 0:
      c.setArith(F.CF, 0);
      return;
    case 1:
      c.setArith(F.CF, F.CF);
      return;
    case 2:
      c.setArith(F.CF, c.getCF() ^ 1);
      return;
    case 3:
      c.eflags &= ~F.DF;
      return;
    case 4:
      c.eflags |= F.DF;
      return;
    case 5:
      if (c.protectedMode && c.cpl > iopl(c)) c.gp(0);
      c.eflags &= ~F.IF;
      return;
    default:
      if (c.protectedMode && c.cpl > iopl(c)) c.gp(0);
      // STI: interrupts stay blocked until after the next instruction (SDM 2B STI).
      if ((c.eflags & F.IF) === 0) c.inhibitUntil = c.icount + 2;
      c.eflags |= F.IF;
      return;
  }
}

function bcd(c: Cpu, i: Insn): void {
  const regs = c.regs;
  const al = regs[Reg.EAX] & 0xff;
  const af = c.getAF();
  const cf = c.getCF();
  switch (i.op) {
    case Op.Daa: {
      let r = al;
      let ncf = 0;
      let naf = 0;
      if ((al & 0xf) > 9 || af) {
        r = (r + 6) & 0xff;
        ncf = cf | (al > 0xf9 ? 1 : 0);
        naf = 1;
      }
      if (al > 0x99 || cf) {
        r = (r + 0x60) & 0xff;
        ncf = 1;
      }
      c.setReg(1, Reg.EAX, r);
      c.setFlagsResult(r, 7, ncf | (naf << 4));
      return;
    }
    case Op.Das: {
      let r = al;
      let ncf = 0;
      let naf = 0;
      if ((al & 0xf) > 9 || af) {
        r = (r - 6) & 0xff;
        ncf = cf | (al < 6 ? 1 : 0);
        naf = 1;
      }
      if (al > 0x99 || cf) {
        r = (r - 0x60) & 0xff;
        ncf = 1;
      }
      c.setReg(1, Reg.EAX, r);
      c.setFlagsResult(r, 7, ncf | (naf << 4));
      return;
    }
    case Op.Aaa:
    case Op.Aas: {
      let ax = regs[Reg.EAX] & 0xffff;
      let f = 0;
      if ((al & 0xf) > 9 || af) {
        // AAA: AX += 106h; AAS: AX -= 6 then AH -= 1, the borrow from AL reaching AH (SDM 2A AAS).
        ax = i.op === Op.Aaa ? ax + 0x106 : (ax - 6 - 0x100) & 0xffff;
        f = F.AF | F.CF;
      }
      ax = (ax & 0xff00) | (ax & 0x0f);
      c.setReg(2, Reg.EAX, ax);
      c.setFlagsResult(ax & 0xff, 7, f);
      return;
    }
    case Op.Aam: {
      const base = i.imm & 0xff;
      if (base === 0) c.raise(Vec.DE, -1);
      const r = al % base;
      c.setReg(2, Reg.EAX, (Math.floor(al / base) << 8) | r);
      c.setFlagsLogic(r, 7);
      return;
    }
    default: {
      const base = i.imm & 0xff;
      const r = (al + ((regs[Reg.EAX] >>> 8) & 0xff) * base) & 0xff;
      c.setReg(2, Reg.EAX, r);
      c.setFlagsLogic(r, 7);
      return;
    }
  }
}

/** CPUID feature bits we implement (SDM 2A CPUID, table 3-11): FPU, PSE, TSC, MSR, CX8, CMOV. */
export const CPUID_FEATURES = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 8) | (1 << 15);

function cpuid(c: Cpu): void {
  const regs = c.regs;
  const leaf = regs[Reg.EAX];
  if (leaf === 0) {
    regs[Reg.EAX] = 1;
    // "GenuineIntel": we model a Pentium Pro class processor.
    regs[Reg.EBX] = 0x756e6547;
    regs[Reg.EDX] = 0x49656e69;
    regs[Reg.ECX] = 0x6c65746e;
  } else if (leaf === 1) {
    regs[Reg.EAX] = 0x0633; // family 6, model 3, stepping 3
    regs[Reg.EBX] = 0;
    regs[Reg.ECX] = 0;
    regs[Reg.EDX] = CPUID_FEATURES;
  } else {
    regs[Reg.EAX] = 0;
    regs[Reg.EBX] = 0;
    regs[Reg.ECX] = 0;
    regs[Reg.EDX] = 0;
  }
}

function msr(c: Cpu, write: boolean): void {
  if (c.cpl !== 0 || c.v86) c.gp(0);
  const regs = c.regs;
  const idx = regs[Reg.ECX] >>> 0;
  if (idx === 0x10) {
    if (write) {
      const want = (regs[Reg.EDX] >>> 0) * 4294967296 + (regs[Reg.EAX] >>> 0);
      c.tscOffset += want - c.readTsc();
    } else {
      const t = c.readTsc();
      regs[Reg.EAX] = (t % 4294967296) | 0;
      regs[Reg.EDX] = Math.floor(t / 4294967296) | 0;
    }
    return;
  }
  c.gp(0);
}
