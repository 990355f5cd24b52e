/**
 * Source generator for compiled blocks: guest registers, lazy flags and
 * segment state live in JavaScript locals for the whole block (PERFORMANCE.md:
 * TurboFan then drops dead flag stores) and are written back at the exit, in
 * the fault handler and around calls into the interpreter's handlers.
 *
 * The lazy-flag locals (fres, fcv, ftop, fovr, fbits) are set exactly as the
 * interpreter's setFlags* would set them, so every flag read afterwards gives
 * the interpreter's values bit for bit, undefined flags included. What the
 * generator knows statically (the last writer's ftop/fovr, or the operands of
 * the last SUB/CMP/ADD/logic op) only makes the reads cheaper.
 */

const MASK = [0, 255, 65535, 0, -1];
/** F.CF | F.AF | F.OF: the flags setFlagsResult takes explicitly. */
const CF_AF_OF = 1 | 16 | 2048;
/** The six arithmetic flags (F.Arith). */
const ARITH = 1 | 4 | 16 | 64 | 128 | 2048;

/** Kinds of the last flag writer the generator can reason about directly. */
export const enum Sym {
  None = 0,
  Sub = 1, // SUB, CMP: a - b
  Add = 2, // ADD: a + b
  Logic = 3, // AND, OR, XOR, TEST: CF = OF = 0
  Res = 4, // INC, DEC, NEG, shifts...: only ZF and SF follow from r
}

export class Gen {
  /** Statements of the region body, in order. */
  readonly body: string[] = [];
  /** Temps of the current block; every block reuses t0, t1... (declared once, so the frame stays small). */
  private temps = 0;
  /** The most temps any block used. */
  maxTemps = 0;
  /** `k = ...; ke = ...;` of the current instruction, emitted before its first statement that may fault. */
  private pendingFault = "";
  /** Segments assumed flat with base 0 (the region's entry guard checks them), and those relied on. */
  flatUsed = 0;
  /** False after an interpreter call that may have reloaded segments: generic segment code until the block ends. */
  assumeFlat = true;
  /** The current block made such a call: the flat assumption is checked again before the next block. */
  recheckFlat = false;
  /** Instructions handled by the interpreter, indexed by the generated `X(c, FB[j])` calls. */
  readonly fallbacks: unknown[] = [];
  /** The current block called the interpreter (the run loop's per-block checks then apply). */
  calledOut = false;
  /** Bit r: guest register r is held in local `r<r>`. */
  regsUsed = 0;
  regsWritten = 0;
  /** Side exits: pairs (instruction index in its block, its EIP), indexed by the generated `x`. */
  readonly exits: number[] = [];
  private insnK = 0;
  private insnEip = 0;
  /** Bit s: segment s has locals `s<s>` (base) and `f<s>` (flat, no checks). */
  segsUsed = 0;
  /** The lazy-flag locals are loaded / must be written back. */
  flagsUsed = false;
  flagsWritten = false;
  usesStack = false;
  usesParity = false;
  /** Statically known ftop / fovr of the lazy-flag locals (-1: unknown). */
  kTop = -1;
  kOvr = -1;
  /** The last flag writer, when its operands are still in their locals. */
  sym: Sym = Sym.None;
  symA = "";
  symB = "";
  symR = "";
  symW = 4;
  /**
   * Traced mode (a region for `expand`, compile.ts emitTraced): each access of a specialised
   * instruction appends its address and value to the tracer's log `L` (at `lp`), and its size and
   * direction to `accKinds` (static). The tracer gets them, with the instructions, in one call
   * per run of instructions (TraceRecorder.replayBlock), made where the run ends: before an
   * interpreter call, at a side exit (the side-exited instruction's entries are dropped) and at
   * the block's end.
   */
  traced = false;
  /** Per access of the current block's traced instructions: size | (write ? 8 : 0). */
  readonly accKinds: number[] = [];
  /** accKinds.length when each instruction of the current block began. */
  readonly accStart: number[] = [];
  /** Traced mode: the first instruction of the current block not yet handed to the tracer. */
  flushFrom = 0;
  /** Traced mode: the FB index of the current block's info (compile.ts TracedBlock). */
  blockInfo = -1;
  /** Static EIPs of the current block's instructions (traced mode). */
  readonly eips: number[] = [];
  /** Traced mode: the current instruction emitted a statement that may fault (a segment check). */
  faultable = false;
  /** Traced mode: the current instruction went to the interpreter (its hooks are around that call). */
  fellBack = false;

  constructor(
    readonly code32: boolean,
    readonly stack32: boolean,
    /** Segments that are flat (base 0, 4 GiB, read/write data) at compile time. */
    readonly flat0: number,
    /** CS limit (unsigned) at compile time, checked by the entry guard: branch targets are checked statically. */
    readonly csLimit: number,
  ) {}

  emit(s: string): void {
    this.body.push(s);
  }

  /** Set the fault bookkeeping of instruction k at `eip` (emitted lazily: most register forms cannot fault). */
  beginInsn(k: number, eip: number): void {
    this.pendingFault = `k = ${k}; ke = ${eip};`;
    this.insnK = k;
    this.insnEip = eip;
    this.faultable = false;
    this.fellBack = false;
    if (this.traced) {
      this.accStart[k] = this.accKinds.length;
      this.eips[k] = eip;
    }
  }

  /**
   * Traced mode: the statement handing instructions flushFrom..k-1 of the block to the tracer
   * (`endEip`: where the last of them went), or "" when there are none.
   */
  flushTrace(k: number, icBase: string, endEip: string): string {
    if (k <= this.flushFrom) return "";
    return `T.replayBlock(c, FB[${this.blockInfo}], ${this.flushFrom}, ${k}, ${icBase}, ${endEip}); lp = 0;`;
  }

  /** What restore() needs to take back the code of an instruction (traced mode). */
  mark(): { body: number; pendingFault: string; accs: number } {
    return { body: this.body.length, pendingFault: this.pendingFault, accs: this.accKinds.length };
  }

  /**
   * Drop the code emitted since `m` (traced mode: the instruction goes to the interpreter
   * instead). What else it changed only widens the region's bookkeeping (registers loaded and
   * stored, segments checked, unused temps and side exits); flag knowledge is forgotten.
   */
  restore(m: { body: number; pendingFault: string; accs: number }): void {
    this.body.length = m.body;
    this.pendingFault = m.pendingFault;
    this.accKinds.length = m.accs;
    this.faultable = false;
    this.fellBack = false;
    this.forgetFlags();
  }

  /** Traced mode: log an access (its value `v`, masked as the interpreter hands it to the hook). */
  private traceAcc(w: number, lin: string, write: boolean, v: string): void {
    const mask = !write ? "" : w === 1 ? " & 255" : w === 2 ? " & 65535" : " | 0";
    this.emit(`L[lp] = ${lin}; L[lp + 1] = ${v}${mask}; lp += 2;`);
    this.accKinds.push(w | (write ? 8 : 0));
  }

  /** Emit a statement that may fault: the fault handler then needs k/ke of this instruction. */
  emitF(s: string): void {
    if (this.pendingFault !== "") {
      this.body.push(this.pendingFault);
      this.pendingFault = "";
    }
    this.body.push(s);
  }

  tmp(): string {
    return `t${this.temps++}`;
  }

  get tempCount(): number {
    return this.temps;
  }

  /** Start a block: temps and static flag knowledge are per block. */
  beginBlock(): void {
    this.temps = 0;
    this.accKinds.length = 0;
    this.accStart.length = 0;
    this.eips.length = 0;
    this.flushFrom = 0;
    this.calledOut = false;
    this.assumeFlat = true;
    this.recheckFlat = false;
    this.forgetFlags();
  }

  endBlock(): void {
    if (this.temps > this.maxTemps) this.maxTemps = this.temps;
  }

  /**
   * `expr` as a name: itself when it is a literal, a temp (assigned once) or a register local,
   * else a new temp. A register local named here may be reassigned later in the instruction
   * only through setReg, which keeps the symbolic flags right; use copy() for a snapshot.
   */
  val(expr: string): string {
    if (/^(-?\d+|[tr]\d+)$/.test(expr)) return expr;
    const t = this.tmp();
    this.emit(`${t} = ${expr};`);
    return t;
  }

  /** A temp holding the current value of `expr` (a register local is snapshotted). */
  copy(expr: string): string {
    if (/^(-?\d+|t\d+)$/.test(expr)) return expr;
    const t = this.tmp();
    this.emit(`${t} = ${expr};`);
    return t;
  }

  /** Register local `name` is about to change: symbolic flags that name it get a snapshot. */
  private clobber(name: string): void {
    if (this.sym === Sym.None) return;
    if (this.symA !== name && this.symB !== name && this.symR !== name) return;
    const t = this.tmp();
    this.emit(`${t} = ${name};`);
    if (this.symA === name) this.symA = t;
    if (this.symB === name) this.symB = t;
    if (this.symR === name) this.symR = t;
  }

  // ------------------------------------------------------------------ registers

  private use(r: number): void {
    this.regsUsed |= 1 << r;
  }

  /** Guest register `r` at width `w` (zero-extended), as the interpreter's getReg. */
  reg(w: number, r: number): string {
    if (w === 4) {
      this.use(r);
      return `r${r}`;
    }
    if (w === 2) {
      this.use(r);
      return `(r${r} & 65535)`;
    }
    if (r < 4) {
      this.use(r);
      return `(r${r} & 255)`;
    }
    this.use(r - 4);
    return `((r${r - 4} >>> 8) & 255)`;
  }

  /**
   * Before a setReg inside a branch: what the flag symbols read of that register is copied here,
   * on every path, not in the branch (where the other path would leave the copy unset).
   */
  beforeBranchWrite(w: number, r: number): void {
    this.clobber(`r${w === 1 && r >= 4 ? r - 4 : r}`);
  }

  /** Statement for the interpreter's setReg(w, r, v). */
  setReg(w: number, r: number, v: string): void {
    this.beforeBranchWrite(w, r);
    if (w === 4) {
      this.use(r);
      this.regsWritten |= 1 << r;
      this.emit(`r${r} = ${v};`);
    } else if (w === 2) {
      this.use(r);
      this.regsWritten |= 1 << r;
      this.emit(`r${r} = (r${r} & -65536) | (${v} & 65535);`);
    } else if (r < 4) {
      this.use(r);
      this.regsWritten |= 1 << r;
      this.emit(`r${r} = (r${r} & -256) | (${v} & 255);`);
    } else {
      this.use(r - 4);
      this.regsWritten |= 1 << (r - 4);
      this.emit(`r${r - 4} = (r${r - 4} & -65281) | ((${v} & 255) << 8);`);
    }
  }

  // ------------------------------------------------------------------ memory

  /** Effective address of a ModRM memory operand (the interpreter's ea()). */
  ea(disp: number, base: number, index: number, scale: number, a16: boolean): string {
    if (!a16 && disp === 0 && index < 0 && base >= 0) {
      this.use(base);
      return `r${base}`;
    }
    let s = String(disp);
    if (base >= 0) {
      this.use(base);
      s += ` + r${base}`;
    }
    if (index >= 0) {
      this.use(index);
      s += scale === 0 ? ` + r${index}` : ` + (r${index} << ${scale})`;
    }
    if (base < 0 && index < 0) return a16 ? String(disp & 0xffff) : String(disp | 0);
    return a16 ? `((${s}) & 65535)` : `((${s}) | 0)`;
  }

  /**
   * Linear address of a w-byte access at seg:off (the interpreter's lin()). A segment the region
   * assumes flat adds nothing; otherwise the flat test or the full check (which may fault).
   */
  lin(seg: number, off: string, w: number, write: boolean): string {
    if (this.assumeFlat && (this.flat0 & (1 << seg)) !== 0) {
      this.flatUsed |= 1 << seg;
      return this.val(off);
    }
    this.segsUsed |= 1 << seg;
    this.faultable = true;
    const o = this.val(off);
    const t = this.tmp();
    this.emitF(`${t} = f${seg} ? (s${seg} + ${o}) | 0 : c.segCheck(${seg}, ${o}, ${w}, ${write});`);
    return t;
  }

  /**
   * Leave the region before the current instruction (a "side exit"): the interpreter then
   * executes it, with every slow case (TLB miss, page crossing, MMIO, a write to decoded code,
   * A/D bits, a fault). Nothing of the instruction has been committed yet.
   */
  sideExit(): string {
    const x = this.exits.length >>> 1;
    this.exits.push(this.insnK, this.insnEip);
    // Traced: the instructions before this one go to the tracer; this one's log entries are dropped.
    const flush = this.traced ? this.flushTrace(this.insnK, "ic", String(this.insnEip)) : "";
    return `{ ${flush} x = ${3 + x}; break loop; }`; // Exit.Side + x (compile.ts)
  }

  /**
   * Read w bytes at linear `lin` (a name) from RAM through the TLB; anything else is a side exit.
   * 16- and 32-bit accesses go through the aligned views (ram16, ram32), so a misaligned one
   * is a side exit too (that also covers page crossings). A typed-array element is cheaper than
   * a DataView call: V8's baseline code calls a builtin for every DataView access, and TurboFan
   * spends its inlining phase reducing them.
   */
  read(w: number, lin: string): string {
    const v = this.tmp();
    const p = `(e & -4096) | (${lin} & 4095)`;
    const miss = `((e = tlb[${lin} >>> 12]) & rdm) !== rdm`;
    if (w === 1) this.emit(`if (${miss}) ${this.sideExit()} ${v} = ram[${p}];`);
    else if (w === 2) this.emit(`if ((${lin} & 1) !== 0 || ${miss}) ${this.sideExit()} ${v} = m16[(${p}) >> 1];`);
    else this.emit(`if ((${lin} & 3) !== 0 || ${miss}) ${this.sideExit()} ${v} = m32[(${p}) >> 2];`);
    if (this.traced) this.traceAcc(w, lin, false, v);
    return v;
  }

  /** Write w bytes at linear `lin` to RAM without decoded code; anything else (misaligned too) is a side exit. */
  write(w: number, lin: string, v: string): void {
    const p = `(e & -4096) | (${lin} & 4095)`;
    const miss = `((e = tlb[${lin} >>> 12]) & wrm) !== wrm`;
    if (w === 1) this.emit(`if (${miss}) ${this.sideExit()} ram[${p}] = ${v};`);
    else if (w === 2) this.emit(`if ((${lin} & 1) !== 0 || ${miss}) ${this.sideExit()} m16[(${p}) >> 1] = ${v};`);
    else this.emit(`if ((${lin} & 3) !== 0 || ${miss}) ${this.sideExit()} m32[(${p}) >> 2] = ${v};`);
    if (this.traced) this.traceAcc(w, lin, true, v);
  }

  /** Read-modify-write: the write permission is checked first (the interpreter's rmwLin). Returns [value, address]. */
  rmwRead(w: number, lin: string): [string, string] {
    const p = this.tmp();
    const v = this.tmp();
    const align = w === 1 ? "" : w === 2 ? `(${lin} & 1) !== 0 || ` : `(${lin} & 3) !== 0 || `;
    const get = w === 1 ? `ram[${p}]` : w === 2 ? `m16[${p} >> 1]` : `m32[${p} >> 2]`;
    this.emit(
      `if (${align}((e = tlb[${lin} >>> 12]) & wrm) !== wrm) ${this.sideExit()} ${p} = (e & -4096) | (${lin} & 4095); ${v} = ${get};`,
    );
    if (this.traced) {
      this.traceAcc(w, lin, false, v);
      // The write's log entry needs this address, and a register named here may change before it.
      this.rmwLin = lin;
      this.rmwLinNow = /^r\d+$/.test(lin) ? this.copy(lin) : lin;
    }
    return [v, p];
  }

  rmwWrite(w: number, lin: string, p: string, v: string): void {
    this.emit(w === 1 ? `ram[${p}] = ${v};` : w === 2 ? `m16[${p} >> 1] = ${v};` : `m32[${p} >> 2] = ${v};`);
    if (this.traced) this.traceAcc(w, lin === this.rmwLin ? this.rmwLinNow : lin, true, v);
  }

  /** Traced mode: the last rmwRead's address, and a name holding its value. */
  private rmwLin = "";
  private rmwLinNow = "";

  // ------------------------------------------------------------------ stack

  /** Offset of the stack top + delta (SS-relative), by the block's stack size. */
  spOff(delta: number): string {
    this.usesStack = true;
    this.use(4);
    if (this.stack32) return delta === 0 ? "r4" : `((r4 + ${delta}) | 0)`;
    return `((r4 + ${delta}) & 65535)`;
  }

  /** Statement: ESP/SP += n (the interpreter's addSp). */
  addSp(n: number): void {
    this.clobber("r4");
    this.usesStack = true;
    this.use(4);
    this.regsWritten |= 1 << 4;
    if (this.stack32) this.emit(`r4 = (r4 + ${n}) | 0;`);
    else this.emit(`r4 = (r4 & -65536) | ((r4 + ${n}) & 65535);`);
  }

  /** Push `v` (w = 2 or 4): write below the stack top, then move ESP (it changes only after the write). */
  push(v: string, w: number): void {
    const val = this.val(v);
    const lin = this.lin(2, this.spOff(-w), w, true);
    this.write(w, lin, val);
    this.addSp(-w);
  }

  /** Read the w-byte value at the stack top + delta without popping. */
  peek(w: number, delta: number): string {
    const lin = this.lin(2, this.spOff(delta), w, false);
    return this.read(w, lin);
  }

  // ------------------------------------------------------------------ flags

  private sext(r: string, top: number): string {
    if (top === 31) return r;
    const sh = 31 - top;
    return `((${r} << ${sh}) >> ${sh})`;
  }

  /** Assign ftop/fovr unless the locals statically hold these values already. */
  private topOvr(top: number, ovr: number): string {
    let s = "";
    if (this.kTop !== top) s += ` ftop = ${top};`;
    if (this.kOvr !== ovr) s += ` fovr = ${ovr};`;
    this.kTop = top;
    this.kOvr = ovr;
    return s;
  }

  private setLazy(fcv: string, r: string, top: number, ovr = 0): void {
    this.flagsUsed = true;
    this.flagsWritten = true;
    this.emit(`fcv = ${fcv}; fres = ${this.sext(r, top)};${this.topOvr(top, ovr)}`);
  }

  flagsAdd(a: string, b: string, r: string, w: number, sym: boolean): void {
    this.setLazy(`(${a} & ${b}) | ((${a} | ${b}) & ~${r})`, r, w * 8 - 1);
    this.setSym(sym ? Sym.Add : Sym.Res, a, b, r, w);
  }

  flagsSub(a: string, b: string, r: string, w: number, sym: boolean): void {
    this.setLazy(`(~${a} & ${b}) | ((~${a} ^ ${b}) & ${r})`, r, w * 8 - 1);
    this.setSym(sym ? Sym.Sub : Sym.Res, a, b, r, w);
  }

  flagsLogic(r: string, w: number): void {
    this.setLazy("0", r, w * 8 - 1);
    this.setSym(Sym.Logic, "", "", r, w);
  }

  /** setFlagsResult: SF/ZF/PF from r, CF/OF/AF explicit (`bits`: an expression of F bits). */
  flagsResult(r: string, w: number, bits: string): void {
    const top = w * 8 - 1;
    this.flagsUsed = true;
    this.flagsWritten = true;
    this.emit(`fres = ${this.sext(r, top)}; fbits = ${bits};${this.topOvr(top, CF_AF_OF)}`);
    this.setSym(Sym.Res, "", "", r, w);
  }

  /**
   * setArith(mask, bits) (ROL, ROR): the flags in `mask` from `bits`, the other arithmetic flags
   * as they are; afterwards all six come from fbits (fovr = every arithmetic flag).
   */
  flagsSetArith(mask: number, bits: string): void {
    const cur = this.kOvr === ARITH ? "fbits" : this.val(this.arith());
    this.flagsUsed = true;
    this.flagsWritten = true;
    this.emit(`fbits = (${cur} & ${~mask & ARITH}) | ${bits};${this.kOvr === ARITH ? "" : ` fovr = ${ARITH};`}`);
    this.kOvr = ARITH;
    this.sym = Sym.None;
  }

  /** INC/DEC keep CF: the interpreter sets the add/sub state, then fovr = CF, fbits = old CF. */
  flagsIncDec(inc: boolean, a: string, r: string, w: number): void {
    const cf = this.val(this.cf());
    this.emit(`fbits = ${cf};`);
    this.setLazy(inc ? `(${a} & 1) | ((${a} | 1) & ~${r})` : `(~${a} & 1) | ((~${a} ^ 1) & ${r})`, r, w * 8 - 1, 1);
    this.setSym(Sym.Res, "", "", r, w);
  }

  private setSym(kind: Sym, a: string, b: string, r: string, w: number): void {
    this.sym = kind;
    this.symA = a;
    this.symB = b;
    this.symR = r;
    this.symW = w;
  }

  /** Forget static flag knowledge (after a call into the interpreter). */
  forgetFlags(): void {
    this.kTop = -1;
    this.kOvr = -1;
    this.sym = Sym.None;
  }

  private top(): string {
    return this.kTop >= 0 ? String(this.kTop) : "ftop";
  }

  /** Is flag bit `f` statically from fbits (1), from the lazy result (0), or unknown (-1)? */
  private ovr(f: number): number {
    if (this.kOvr < 0) return -1;
    return this.kOvr & f ? 1 : 0;
  }

  private lazyFlag(f: number, fromBits: string, fromLazy: string): string {
    this.flagsUsed = true;
    const o = this.ovr(f);
    if (o === 1) return fromBits;
    if (o === 0) return fromLazy;
    return `((fovr & ${f}) !== 0 ? ${fromBits} : ${fromLazy})`;
  }

  /** CF as 0/1. */
  cf(): string {
    const s = this.sym;
    const w = this.symW;
    if (s === Sym.Sub)
      return w === 4 ? `(${this.symA} >>> 0 < ${this.symB} >>> 0 ? 1 : 0)` : `(${this.symA} < ${this.symB} ? 1 : 0)`;
    if (s === Sym.Add)
      return w === 4 ? `(${this.symR} >>> 0 < ${this.symA} >>> 0 ? 1 : 0)` : `(${this.symR} < ${this.symA} ? 1 : 0)`;
    if (s === Sym.Logic) return "0";
    return this.lazyFlag(1, "(fbits & 1)", `((fcv >>> ${this.top()}) & 1)`);
  }
  zf(): string {
    if (this.sym !== Sym.None) return `(${this.symR} === 0 ? 1 : 0)`;
    return this.lazyFlag(64, "((fbits >>> 6) & 1)", "(fres === 0 ? 1 : 0)");
  }
  sf(): string {
    if (this.sym !== Sym.None) return `((${this.symR} >>> ${this.symW * 8 - 1}) & 1)`;
    return this.lazyFlag(128, "((fbits >>> 7) & 1)", "(fres >>> 31)");
  }
  of(): string {
    if (this.sym === Sym.Logic) return "0";
    const t = this.top();
    const lazy =
      this.kTop >= 0
        ? `(((fcv >>> ${t}) ^ (fcv >>> ${this.kTop - 1})) & 1)`
        : "(((fcv >>> ftop) ^ (fcv >>> (ftop - 1))) & 1)";
    return this.lazyFlag(2048, "((fbits >>> 11) & 1)", lazy);
  }
  pf(): string {
    this.usesParity = true;
    return this.lazyFlag(4, "((fbits >>> 2) & 1)", "PAR[fres & 255]");
  }
  af(): string {
    return this.lazyFlag(16, "((fbits >>> 4) & 1)", "((fcv >>> 3) & 1)");
  }

  /** EFLAGS.DF as 0 or 1 (read where it is used: the interpreter or an import may change it). */
  df(): string {
    return "@DF@";
  }

  /** The six arithmetic flags as EFLAGS bits (the interpreter's arithFlags()). */
  arith(): string {
    return `(${this.cf()} | (${this.pf()} << 2) | (${this.af()} << 4) | (${this.zf()} << 6) | (${this.sf()} << 7) | (${this.of()} << 11))`;
  }

  /** Condition code cc (SDM 2 Appendix B) as a JavaScript boolean expression (the interpreter's cond()). */
  cond(cc: number): string {
    const e = this.condTrue(cc >>> 1);
    return cc & 1 ? `!${e}` : e;
  }

  private condTrue(c: number): string {
    const s = this.sym;
    const a = this.symA;
    const b = this.symB;
    const r = this.symR;
    const w = this.symW;
    const sh = 32 - w * 8;
    if (s === Sym.Sub) {
      switch (c) {
        case 1:
          return w === 4 ? `(${a} >>> 0 < ${b} >>> 0)` : `(${a} < ${b})`;
        case 2:
          return `(${r} === 0)`;
        case 3:
          return w === 4 ? `(${a} >>> 0 <= ${b} >>> 0)` : `(${a} <= ${b})`;
        case 6:
          return w === 4 ? `(${a} < ${b})` : `((${a} << ${sh}) < (${b} << ${sh}))`;
        case 7:
          return w === 4 ? `(${a} <= ${b})` : `((${a} << ${sh}) <= (${b} << ${sh}))`;
      }
    } else if (s === Sym.Logic) {
      const neg = w === 4 ? `(${r} < 0)` : `((${r} << ${sh}) < 0)`;
      switch (c) {
        case 0:
        case 1:
          return "false";
        case 2:
        case 3:
          return `(${r} === 0)`;
        case 4:
        case 6:
          return neg;
        case 7:
          return `(${r} === 0 || ${neg})`;
      }
    } else if (s !== Sym.None) {
      const neg = w === 4 ? `(${r} < 0)` : `((${r} << ${sh}) < 0)`;
      if (c === 2) return `(${r} === 0)`;
      if (c === 4) return neg;
    }
    switch (c) {
      case 0:
        return `(${this.of()} !== 0)`;
      case 1:
        return `(${this.cf()} !== 0)`;
      case 2:
        return `(${this.zf()} !== 0)`;
      case 3:
        return `((${this.cf()} | ${this.zf()}) !== 0)`;
      case 4:
        return `(${this.sf()} !== 0)`;
      case 5:
        return `(${this.pf()} !== 0)`;
      case 6:
        return `((${this.sf()} ^ ${this.of()}) !== 0)`;
      default:
        return `((${this.zf()} | (${this.sf()} ^ ${this.of()})) !== 0)`;
    }
  }
}

export { MASK };

/** The set bits of an 8-bit mask (registers, segments), lowest first. */
export function bitsOf(mask: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < 8; r++) if (mask & (1 << r)) out.push(r);
  return out;
}
