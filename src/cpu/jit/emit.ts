/**
 * Instruction emitters of the block compiler: each writes JavaScript that does what the
 * interpreter's handler (exec.ts) does for one decoded instruction, specialised by operand
 * width, register or memory form and immediate. An instruction commits its registers only
 * after its last statement that may fault, so the fault handler of the region can write the
 * locals back as the state before the instruction. Anything not handled here calls the
 * interpreter's `execute` (fallback), with the state written back before and reloaded after.
 */
import { type Insn, Reg, Seg } from "../../isa/decode.ts";
import { AluOp, Op, ShiftOp } from "../../isa/ops.ts";
import { type Gen, MASK } from "./gen.ts";

/** Ops the interpreter handles that leave segment, CPL and paging state alone (no reload after them). */
export const PURE_FALLBACK = new Set<number>([
  Op.MulE,
  Op.ImulGE,
  Op.ImulGEI,
  Op.NotE,
  Op.NegE,
  Op.ShiftE,
  Op.Shld,
  Op.Shrd,
  Op.BtEG,
  Op.BtEI,
  Op.Bsf,
  Op.Bsr,
  Op.Movs,
  Op.Cmps,
  Op.Stos,
  Op.Lods,
  Op.Scas,
  Op.Xadd,
  Op.Cmpxchg,
  Op.Cmpxchg8b,
  Op.Bswap,
  Op.Cbw,
  Op.Cwd,
  Op.Lahf,
  Op.Sahf,
  Op.Setcc,
  Op.Cmovcc,
  Op.XchgEG,
  Op.PopE,
  Op.PushSeg,
  Op.Pusha,
  Op.Popa,
  Op.Enter,
  Op.Leave,
  Op.Xlat,
  Op.Daa,
  Op.Das,
  Op.Aaa,
  Op.Aas,
  Op.Aam,
  Op.Aad,
  Op.Salc,
  Op.Cpuid,
  Op.Rdtsc,
  Op.Nop,
  Op.Esc,
  Op.Wait,
]);

/**
 * Emit instruction `i` (index k, at `eip`, next instruction at `next`). Returns true when the
 * emitted code already set `eip` and counted the block in `ic` (branches, a final interpreter call).
 */
export function emitInsn(g: Gen, i: Insn, k: number, eip: number, next: number, last: boolean, n: number): boolean {
  const w = i.w;
  const mem = i.mod !== 3;
  g.beginInsn(k, eip);
  // Traced: accesses a condition in the code decides (a CL count of zero, a failed compare)
  // would need their hooks in the same branch; the interpreter records them as they happen.
  if (
    g.traced &&
    mem &&
    (i.op === Op.Cmpxchg || ((i.op === Op.ShiftE || i.op === Op.Shld || i.op === Op.Shrd) && i.imm2 === 1))
  )
    return fallback(g, i, k, eip, next, last, n);
  switch (i.op) {
    case Op.AluEG:
    case Op.AluGE:
    case Op.AluEI: {
      const cmp = i.sub === AluOp.Cmp;
      if (i.op === Op.AluGE) {
        const b = g.val(readE(g, i, w));
        const a = g.val(g.reg(w, i.reg));
        const r = alu(g, i.sub, a, b, w);
        if (!cmp) g.setReg(w, i.reg, r);
        break;
      }
      const b = i.op === Op.AluEI ? String(i.imm & MASK[w]) : "";
      if (!mem) {
        const a = g.val(g.reg(w, i.rm));
        const r = alu(g, i.sub, a, i.op === Op.AluEI ? b : g.val(g.reg(w, i.reg)), w);
        if (!cmp) g.setReg(w, i.rm, r);
        break;
      }
      const lin = g.lin(i.seg, eaOf(g, i), w, !cmp);
      if (cmp) {
        const a = g.read(w, lin);
        alu(g, i.sub, a, i.op === Op.AluEI ? b : g.val(g.reg(w, i.reg)), w);
        break;
      }
      const [a, p] = g.rmwRead(w, lin);
      const r = alu(g, i.sub, a, i.op === Op.AluEI ? b : g.val(g.reg(w, i.reg)), w);
      g.rmwWrite(w, lin, p, r);
      break;
    }
    case Op.TestEG:
    case Op.TestEI: {
      const a = g.val(readE(g, i, w));
      const b = i.op === Op.TestEI ? String(i.imm) : g.val(g.reg(w, i.reg));
      const r = g.tmp();
      g.emit(`${r} = ${a} & ${b};`);
      g.flagsLogic(r, w);
      break;
    }
    case Op.MovEG:
      writeE(g, i, w, g.val(g.reg(w, i.reg)));
      break;
    case Op.MovGE:
      g.setReg(w, i.reg, readE(g, i, w));
      break;
    case Op.MovEI:
      writeE(g, i, w, String(i.imm));
      break;
    case Op.Lea:
      if (!mem) return fallback(g, i, k, eip, next, last, n);
      g.setReg(w, i.reg, eaOf(g, i));
      break;
    case Op.Movzx:
      g.setReg(w, i.reg, readE(g, i, i.sub));
      break;
    case Op.Movsx: {
      const v = readE(g, i, i.sub);
      g.setReg(w, i.reg, i.sub === 1 ? `((${v} << 24) >> 24)` : `((${v} << 16) >> 16)`);
      break;
    }
    case Op.IncE:
    case Op.DecE: {
      const inc = i.op === Op.IncE;
      const mask = MASK[w];
      if (!mem) {
        const a = g.val(g.reg(w, i.rm));
        const r = g.tmp();
        g.emit(`${r} = (${a} ${inc ? "+" : "-"} 1) & ${mask};`);
        g.flagsIncDec(inc, a, r, w);
        g.setReg(w, i.rm, r);
        break;
      }
      const lin = g.lin(i.seg, eaOf(g, i), w, true);
      const [a, p] = g.rmwRead(w, lin);
      const r = g.tmp();
      g.emit(`${r} = (${a} ${inc ? "+" : "-"} 1) & ${mask};`);
      g.flagsIncDec(inc, a, r, w);
      g.rmwWrite(w, lin, p, r);
      break;
    }
    case Op.NotE:
    case Op.NegE: {
      const mask = MASK[w];
      const neg = i.op === Op.NegE;
      let a: string;
      let lin = "";
      let p = "";
      if (mem) {
        lin = g.lin(i.seg, eaOf(g, i), w, true);
        [a, p] = g.rmwRead(w, lin);
      } else a = g.val(g.reg(w, i.rm));
      const r = g.tmp();
      if (neg) {
        g.emit(`${r} = (0 - ${a}) & ${mask};`);
        g.flagsSub("0", a, r, w, false);
      } else g.emit(`${r} = ~${a} & ${mask};`);
      if (mem) g.rmwWrite(w, lin, p, r);
      else g.setReg(w, i.rm, r);
      break;
    }
    case Op.XchgEG: {
      if (!mem) {
        const a = g.copy(g.reg(w, i.rm));
        g.setReg(w, i.rm, g.val(g.reg(w, i.reg)));
        g.setReg(w, i.reg, a);
        break;
      }
      const lin = g.lin(i.seg, eaOf(g, i), w, true);
      const [a, p] = g.rmwRead(w, lin);
      g.rmwWrite(w, lin, p, g.val(g.reg(w, i.reg)));
      g.setReg(w, i.reg, a);
      break;
    }
    case Op.PushE:
      g.push(readE(g, i, w), w);
      break;
    case Op.PushI:
      g.push(String(i.imm), w);
      break;
    case Op.PopE: {
      if (mem) return fallback(g, i, k, eip, next, last, n);
      const v = g.peek(w, 0);
      g.addSp(w);
      g.setReg(w, i.rm, v);
      break;
    }
    case Op.Leave: {
      // The frame pointer's value is read through SS at EBP (or BP), then ESP = EBP + w, EBP = popped.
      g.usesStack = true;
      const bp = g.val(g.reg(4, 5));
      const lin = g.lin(2, g.stack32 ? bp : `(${bp} & 65535)`, w, false);
      const v = g.read(w, lin);
      if (g.stack32) g.setReg(4, 4, `(${bp} + ${w}) | 0`);
      else g.setReg(4, 4, `(r4 & -65536) | ((${bp} + ${w}) & 65535)`);
      g.setReg(w, 5, v);
      break;
    }
    case Op.ShiftE:
      if (!emitShift(g, i)) return fallback(g, i, k, eip, next, last, n);
      break;
    case Op.Shld:
    case Op.Shrd:
      if (w !== 4) return fallback(g, i, k, eip, next, last, n);
      emitShiftDouble(g, i);
      break;
    case Op.BtEI:
    case Op.BtEG:
      // A register bit offset into memory addresses a bit string: the interpreter's.
      if (i.op === Op.BtEG && mem) return fallback(g, i, k, eip, next, last, n);
      emitBitTest(g, i);
      break;
    case Op.Cmpxchg:
      emitCmpxchg(g, i);
      break;
    case Op.ImulGE:
    case Op.ImulGEI: {
      if (w !== 4) return fallback(g, i, k, eip, next, last, n);
      const a = g.val(readE(g, i, w));
      const b = i.op === Op.ImulGEI ? String(i.imm) : g.val(g.reg(w, i.reg));
      const r = g.tmp();
      const pr = g.tmp();
      g.emit(`${r} = Math.imul(${a}, ${b}); ${pr} = ${a} * ${b};`);
      g.flagsResult(r, 4, `(${pr} > 2147483647 || ${pr} < -2147483648 ? 2049 : 0)`);
      g.setReg(4, i.reg, r);
      break;
    }
    case Op.Setcc:
      writeE(g, i, 1, `(${g.cond(i.sub)} ? 1 : 0)`);
      break;
    case Op.Cmovcc: {
      const v = g.val(readE(g, i, w));
      const t = g.tmp();
      g.emit(`${t} = ${g.cond(i.sub)};`);
      // setReg inside a branch: the register local keeps its value otherwise.
      g.beforeBranchWrite(w, i.reg);
      g.emit(`if (${t}) {`);
      g.setReg(w, i.reg, v);
      g.emit("}");
      break;
    }
    case Op.Cbw:
      if (w === 2) g.setReg(2, 0, `((${g.reg(4, 0)} << 24) >> 24)`);
      else g.setReg(4, 0, `((${g.reg(4, 0)} << 16) >> 16)`);
      break;
    case Op.Cwd:
      if (w === 2) g.setReg(2, 2, `((${g.reg(4, 0)} << 16) >> 31)`);
      else g.setReg(4, 2, `(${g.reg(4, 0)} >> 31)`);
      break;
    case Op.Bswap: {
      const v = g.val(g.reg(4, i.rm));
      if (w === 2) g.setReg(4, i.rm, `(${v} & -65536)`);
      else g.setReg(4, i.rm, `((${v} >>> 24) | ((${v} >>> 8) & 65280) | ((${v} << 8) & 16711680) | (${v} << 24))`);
      break;
    }
    case Op.Lods:
    case Op.Stos:
    case Op.Movs:
    case Op.Scas:
    case Op.Cmps:
      // One element (REP is the interpreter's: its bulk copy and per-element budget), 32-bit addresses.
      if (i.rep !== 0 || i.a16) return fallback(g, i, k, eip, next, last, n);
      emitString(g, i);
      break;
    case Op.Nop:
      break;
    case Op.FlagOp:
      if (i.sub === 3 || i.sub === 4) {
        g.emit(i.sub === 3 ? "c.eflags &= -1025;" : "c.eflags |= 1024;");
        break;
      }
      return fallback(g, i, k, eip, next, last, n);
    // ---------------------------------------------------------------- control transfer (last in a block)
    case Op.Jcc: {
      const t = relTarget(i, next);
      if (t >>> 0 > g.csLimit) return fallback(g, i, k, eip, next, last, n); // #GP when taken
      g.emit(`eip = ${g.cond(i.sub)} ? ${t} : ${next};`);
      return finish(g, last, k, n);
    }
    case Op.JmpRel: {
      const t = relTarget(i, next);
      if (t >>> 0 > g.csLimit) return fallback(g, i, k, eip, next, last, n);
      g.emit(`eip = ${t};`);
      return finish(g, last, k, n);
    }
    case Op.Loop: {
      const t = relTarget(i, next);
      if (t >>> 0 > g.csLimit) return fallback(g, i, k, eip, next, last, n);
      const take = g.tmp();
      if (i.sub === 3) {
        g.emit(`${take} = ${i.a16 ? g.reg(2, 1) : g.reg(4, 1)} === 0;`);
      } else {
        const cnt = g.tmp();
        if (i.a16) {
          g.emit(`${cnt} = (${g.reg(4, 1)} - 1) & 65535;`);
          g.setReg(2, 1, cnt);
        } else {
          g.emit(`${cnt} = (${g.reg(4, 1)} - 1) | 0;`);
          g.setReg(4, 1, cnt);
        }
        const zf = i.sub === 0 ? ` && ${g.zf()} === 0` : i.sub === 1 ? ` && ${g.zf()} === 1` : "";
        g.emit(`${take} = ${cnt} !== 0${zf};`);
      }
      g.emit(`eip = ${take} ? ${t} : ${next};`);
      return finish(g, last, k, n);
    }
    case Op.CallRel: {
      const t = relTarget(i, next);
      if (t >>> 0 > g.csLimit) return fallback(g, i, k, eip, next, last, n);
      g.push(String(next), w);
      g.emit(`eip = ${t};`);
      return finish(g, last, k, n);
    }
    case Op.Ret: {
      const t = g.peek(w, 0);
      // A target beyond the CS limit: the interpreter raises #GP for it.
      g.emit(`if (${t} >>> 0 > ${g.csLimit}) ${g.sideExit()} eip = ${t};`);
      g.addSp(w + i.imm);
      return finish(g, last, k, n);
    }
    case Op.JmpE: {
      const t = g.val(readE(g, i, w));
      g.emit(`if (${t} >>> 0 > ${g.csLimit}) ${g.sideExit()} eip = ${t};`);
      return finish(g, last, k, n);
    }
    case Op.CallE: {
      const t = g.copy(readE(g, i, w)); // CALL ESP: the target is ESP before the push
      g.emit(`if (${t} >>> 0 > ${g.csLimit}) ${g.sideExit()}`);
      g.push(String(next), w);
      g.emit(`eip = ${t};`);
      return finish(g, last, k, n);
    }
    default:
      return fallback(g, i, k, eip, next, last, n);
  }
  return false;
}

/** A branch was emitted (it set eip): it must be the last instruction of the block. */
function finish(g: Gen, last: boolean, k: number, n: number): boolean {
  if (!last) throw new Error(`jit: branch at ${k} of ${n} is not the last instruction`);
  g.emit(`ic += ${n};`);
  return true;
}

/** Near relative branch target: next + imm, wrapped to IP's width (the interpreter's jumpRel). */
function relTarget(i: Insn, next: number): number {
  return i.w === 2 ? (next + i.imm) & 0xffff : (next + i.imm) | 0;
}

function eaOf(g: Gen, i: Insn): string {
  return g.ea(i.disp, i.base, i.index, i.scale, i.a16);
}

/** The E operand at width w (register or memory). */
function readE(g: Gen, i: Insn, w: number): string {
  if (i.mod === 3) return g.reg(w, i.rm);
  const lin = g.lin(i.seg, eaOf(g, i), w, false);
  return g.read(w, lin);
}

function writeE(g: Gen, i: Insn, w: number, v: string): void {
  if (i.mod === 3) {
    g.setReg(w, i.rm, v);
    return;
  }
  const val = g.val(v);
  const lin = g.lin(i.seg, eaOf(g, i), w, true);
  g.write(w, lin, val);
}

/** Two-operand ALU op (the interpreter's alu()); a and b are names or literals. Returns the result's name. */
function alu(g: Gen, op: number, a: string, b: string, w: number): string {
  const mask = MASK[w];
  const r = g.tmp();
  switch (op) {
    case AluOp.Add:
      g.emit(`${r} = (${a} + ${b}) & ${mask};`);
      g.flagsAdd(a, b, r, w, true);
      return r;
    case AluOp.Or:
      g.emit(`${r} = ${a} | ${b};`);
      g.flagsLogic(r, w);
      return r;
    case AluOp.Adc: {
      const cf = g.val(g.cf());
      g.emit(`${r} = (${a} + ${b} + ${cf}) & ${mask};`);
      g.flagsAdd(a, b, r, w, false);
      return r;
    }
    case AluOp.Sbb: {
      const cf = g.val(g.cf());
      g.emit(`${r} = (${a} - ${b} - ${cf}) & ${mask};`);
      g.flagsSub(a, b, r, w, false);
      return r;
    }
    case AluOp.And:
      g.emit(`${r} = ${a} & ${b};`);
      g.flagsLogic(r, w);
      return r;
    case AluOp.Sub:
      g.emit(`${r} = (${a} - ${b}) & ${mask};`);
      g.flagsSub(a, b, r, w, true);
      return r;
    case AluOp.Xor:
      g.emit(`${r} = ${a} ^ ${b};`);
      g.flagsLogic(r, w);
      return r;
    default:
      g.emit(`${r} = (${a} - ${b}) & ${mask};`);
      g.flagsSub(a, b, r, w, true);
      return a;
  }
}

/**
 * What every shift and rotate shares (the interpreter's shift and shiftDouble): the count is the
 * immediate or CL, & 31, and a zero count changes nothing (flags included) but still reads a
 * memory operand; otherwise the operand is read (write permission first), `op(a, n, r)` puts the
 * result in `r` and sets the flags from the operand `a` and the count `n` (a literal for an
 * immediate, a temp for CL), and the result is written back. After a CL count the flags are
 * either path's, so what is known of them statically is forgotten.
 */
function emitCounted(g: Gen, i: Insn, w: number, op: (a: string, n: string, r: string) => void): void {
  const mem = i.mod !== 3;
  if (i.imm2 !== 1) {
    const count = i.imm & 0x1f;
    const lin = mem ? g.lin(i.seg, eaOf(g, i), w, true) : "";
    if (count === 0) {
      if (mem) g.read(w, lin);
      return;
    }
    let a: string;
    let p = "";
    if (mem) [a, p] = g.rmwRead(w, lin);
    else a = g.val(g.reg(w, i.rm));
    const r = g.tmp();
    op(a, String(count), r);
    if (mem) g.rmwWrite(w, lin, p, r);
    else g.setReg(w, i.rm, r);
    return;
  }
  const cnt = g.tmp();
  g.emit(`${cnt} = ${g.reg(4, 1)} & 31;`);
  const lin = mem ? g.lin(i.seg, eaOf(g, i), w, true) : "";
  const a = g.tmp();
  const r = g.tmp();
  const p = g.tmp();
  g.emit(`if (${cnt} === 0) {`);
  if (mem) g.read(w, lin);
  g.emit("} else {");
  if (mem) {
    const [v, pp] = g.rmwRead(w, lin);
    g.emit(`${a} = ${v}; ${p} = ${pp};`);
  } else g.emit(`${a} = ${g.reg(w, i.rm)};`);
  op(a, cnt, r);
  if (mem) g.rmwWrite(w, lin, p, r);
  else g.setReg(w, i.rm, r);
  g.emit("}");
  g.forgetFlags();
}

/** Is the count `n` a literal (an immediate), not a temp's name (CL)? */
function isLiteral(n: string): boolean {
  return /^\d+$/.test(n);
}
/** A count `n` minus k, as a literal when it is one. */
function minus(n: string, k: number): string {
  return isLiteral(n) ? String(Number(n) - k) : `(${n} - ${k})`;
}
/** k minus a count `n`. */
function from(k: number, n: string): string {
  return isLiteral(n) ? String(k - Number(n)) : `(${k} - ${n})`;
}

/** SHL/SHR/SAR by an immediate or CL (the interpreter's shift()); ROL/ROR (emitRotate); false: not handled here. */
function emitShift(g: Gen, i: Insn): boolean {
  const w = i.w;
  const bits = w * 8;
  const top = bits - 1;
  const mask = MASK[w];
  const sub = i.sub;
  if (sub === ShiftOp.Rol || sub === ShiftOp.Ror) {
    emitRotate(g, i);
    return true;
  }
  if (sub !== ShiftOp.Shl && sub !== ShiftOp.Sal && sub !== ShiftOp.Shr && sub !== ShiftOp.Sar) return false;
  emitCounted(g, i, w, (a, n, r) => {
    const lit = isLiteral(n);
    if (sub === ShiftOp.Shr) {
      g.emit(`${r} = ${a} >>> ${n};`);
      g.flagsResult(r, w, `((${a} >>> ${minus(n, 1)}) & 1) | (((${a} >>> ${top}) & 1) << 11)`);
    } else if (sub === ShiftOp.Sar) {
      const ext = w === 4 ? a : `((${a} << ${32 - bits}) >> ${32 - bits})`;
      const sa = lit ? ext : g.tmp();
      if (!lit) g.emit(`${sa} = ${ext};`);
      g.emit(`${r} = (${sa} >> ${n}) & ${mask};`);
      g.flagsResult(r, w, `((${sa} >> ${minus(n, 1)}) & 1)`);
    } else {
      g.emit(`${r} = ${w === 4 && !lit ? `${a} << ${n}` : `(${a} << ${n}) & ${mask}`};`);
      // A count above the width shifts everything out (CF 0); 32 and up cannot occur (& 31).
      const cf = lit ? g.val(Number(n) > bits ? "0" : `((${a} >>> ${bits - Number(n)}) & 1)`) : g.tmp();
      if (!lit) g.emit(`${cf} = ${n} > ${bits} ? 0 : (${a} >>> (${bits} - ${n})) & 1;`);
      g.flagsResult(r, w, `${cf} | ((((${r} >>> ${top}) ^ ${cf}) & 1) << 11)`);
    }
  });
  return true;
}

/** SHLD and SHRD with 32-bit operands (the interpreter's shiftDouble). */
function emitShiftDouble(g: Gen, i: Insn): void {
  const left = i.op === Op.Shld;
  emitCounted(g, i, 4, (a, n, r) => {
    const b = g.val(g.reg(4, i.reg));
    g.emit(
      left
        ? `${r} = (${a} << ${n}) | (${b} >>> ${from(32, n)});`
        : `${r} = (${a} >>> ${n}) | (${b} << ${from(32, n)});`,
    );
    const cf = left ? `((${a} >>> ${from(32, n)}) & 1)` : `((${a} >>> ${minus(n, 1)}) & 1)`;
    g.flagsResult(r, 4, `${cf} | ((((${r} ^ ${a}) >>> 31) & 1) << 11)`);
  });
}

/** LODS, STOS, MOVS, SCAS, CMPS without REP and with 32-bit addresses (the interpreter's stringOp). */
function emitString(g: Gen, i: Insn): void {
  const w = i.w;
  const op = i.op;
  const src = i.segOverride >= 0 ? i.segOverride : Seg.DS;
  const step = g.val(`(${g.df()} ? ${-w} : ${w})`);
  const esi = () => g.setReg(4, Reg.ESI, `(${g.reg(4, Reg.ESI)} + ${step}) | 0`);
  const edi = () => g.setReg(4, Reg.EDI, `(${g.reg(4, Reg.EDI)} + ${step}) | 0`);
  if (op === Op.Lods) {
    const v = g.read(w, g.lin(src, g.reg(4, Reg.ESI), w, false));
    g.setReg(w, Reg.EAX, v);
    esi();
  } else if (op === Op.Stos) {
    const v = g.val(g.reg(w, Reg.EAX));
    g.write(w, g.lin(Seg.ES, g.reg(4, Reg.EDI), w, true), v);
    edi();
  } else if (op === Op.Movs) {
    const v = g.read(w, g.lin(src, g.reg(4, Reg.ESI), w, false));
    g.write(w, g.lin(Seg.ES, g.reg(4, Reg.EDI), w, true), v);
    esi();
    edi();
  } else if (op === Op.Scas) {
    const b = g.read(w, g.lin(Seg.ES, g.reg(4, Reg.EDI), w, false));
    alu(g, AluOp.Cmp, g.val(g.reg(w, Reg.EAX)), b, w);
    edi();
  } else {
    const a = g.read(w, g.lin(src, g.reg(4, Reg.ESI), w, false));
    const b = g.read(w, g.lin(Seg.ES, g.reg(4, Reg.EDI), w, false));
    alu(g, AluOp.Cmp, a, b, w);
    esi();
    edi();
  }
}

/** BT BTS BTR BTC with an immediate bit, or a register bit of a register (the interpreter's bitTest). */
function emitBitTest(g: Gen, i: Insn): void {
  const w = i.w;
  const mem = i.mod !== 3;
  const sub = i.sub;
  const bit = i.op === Op.BtEI ? String(i.imm & (w * 8 - 1)) : g.val(`${g.reg(w, i.reg)} & ${w * 8 - 1}`);
  let a: string;
  let lin = "";
  let p = "";
  if (!mem) a = g.val(g.reg(w, i.rm));
  else {
    lin = g.lin(i.seg, eaOf(g, i), w, sub !== 0);
    if (sub === 0) a = g.read(w, lin);
    else [a, p] = g.rmwRead(w, lin);
  }
  const cf = g.val(`(${a} >>> ${bit}) & 1`);
  if (sub !== 0) {
    const r = g.tmp();
    const op = sub === 1 ? `${a} | (1 << ${bit})` : sub === 2 ? `${a} & ~(1 << ${bit})` : `${a} ^ (1 << ${bit})`;
    g.emit(`${r} = (${op}) & ${MASK[w]};`);
    if (mem) g.rmwWrite(w, lin, p, r);
    else g.setReg(w, i.rm, r);
  }
  g.flagsSetArith(1, cf);
}

/** CMPXCHG (the interpreter's cmpxchg): a failed compare writes memory back unchanged, which is no write here. */
function emitCmpxchg(g: Gen, i: Insn): void {
  const w = i.w;
  const mem = i.mod !== 3;
  let d: string;
  let lin = "";
  let p = "";
  if (mem) {
    lin = g.lin(i.seg, eaOf(g, i), w, true);
    [d, p] = g.rmwRead(w, lin);
  } else d = g.val(g.reg(w, i.rm));
  const acc = g.val(g.reg(w, 0));
  const s = g.val(g.reg(w, i.reg));
  alu(g, AluOp.Cmp, acc, d, w);
  // Registers written in the branches: what the flag symbols read of them is copied first.
  g.beforeBranchWrite(w, 0);
  if (!mem) g.beforeBranchWrite(w, i.rm);
  g.emit(`if (${acc} === ${d}) {`);
  if (mem) g.rmwWrite(w, lin, p, s);
  else g.setReg(w, i.rm, s);
  g.emit("} else {");
  g.setReg(w, 0, d);
  g.emit("}");
}

/**
 * ROL and ROR (the interpreter's shift): by count & 31, zero changing nothing; the rotation is by
 * count & (bits - 1), so an 8- or 16-bit operand may rotate by zero and still set CF and OF.
 * Shifting by n and by bits - n gives the operand itself when n is zero, so one formula serves.
 */
function emitRotate(g: Gen, i: Insn): void {
  const w = i.w;
  const bits = w * 8;
  const top = bits - 1;
  const mask = MASK[w];
  const rol = i.sub === ShiftOp.Rol;
  emitCounted(g, i, w, (a, count, r) => {
    let n: string;
    if (isLiteral(count)) n = String(Number(count) & top);
    else {
      n = g.tmp();
      g.emit(`${n} = ${count} & ${top};`);
    }
    g.emit(
      rol
        ? `${r} = ((${a} << ${n}) | (${a} >>> ${from(bits, n)})) & ${mask};`
        : `${r} = ((${a} >>> ${n}) | (${a} << ${from(bits, n)})) & ${mask};`,
    );
    const cf = rol ? `(${r} & 1)` : `((${r} >>> ${top}) & 1)`;
    const of = rol ? `(((${r} >>> ${top}) ^ ${r}) & 1)` : `(((${r} >>> ${top}) ^ (${r} >>> ${top - 1})) & 1)`;
    g.flagsSetArith(1 | 2048, `${cf} | (${of} << 11)`);
  });
}

/**
 * Everything else: the interpreter's handler, with the locals written back before and
 * reloaded after; `k = -1` tells the fault handler that the Cpu fields are authoritative.
 */
export function fallback(g: Gen, i: Insn, k: number, eip: number, next: number, last: boolean, n: number): boolean {
  const j = g.fallbacks.length;
  g.fallbacks.push(i);
  g.calledOut = true;
  if (g.traced) {
    // The instructions before this one go to the tracer first (that sets the Cpu's icount and EIPs).
    g.emit(g.flushTrace(k, "ic", String(eip)));
    g.flushFrom = k + 1;
  }
  g.emitF(`@SYNC@ c.icount = ic + ${k}; c.curEip = ${eip}; c.eip = ${next}; k = -1;`);
  if (g.traced) {
    // The trace hooks around the interpreter's handler, as its traced loop calls them (cpu.ts).
    g.fellBack = true;
    g.emit(
      `T.${k === 0 ? "begin" : "beginNext"}(c, FB[${j}]); X(c, FB[${j}]); c.icount = ic + ${k + 1}; T.retire(c, FB[${j}]);`,
    );
  } else g.emit(`X(c, FB[${j}]);`);
  if (PURE_FALLBACK.has(i.op)) g.emit("@RELOAD@");
  else {
    // It may have loaded a segment register (LDS, LES...): generic segment code until the block ends.
    g.emit("@RELOAD@ @MODE@");
    g.assumeFlat = false;
    g.recheckFlat = true;
  }
  g.forgetFlags();
  // Flags are reloaded, so the locals must be loaded at entry too.
  g.flagsUsed = true;
  if (last) {
    // It may have jumped anywhere (far transfers, interrupts) or changed what the run loop checks.
    g.emit(`ic += ${n}; eip = c.eip; break loop;`);
    return true;
  }
  // The interpreter stops after this instruction on these (cpu.ts runBlock); the region ends here too.
  g.emit(`if (c.blockDirty || c.halted || c.stopRequested || c.intr) { ic += ${k + 1}; eip = c.eip; break loop; }`);
  return false;
}
