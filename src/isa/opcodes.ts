/**
 * The opcode table: the one description of every IA-32 (P6) integer opcode.
 * The decoder, the disassembler, the trace classifier and the differential
 * test generator all read it; nothing else describes opcodes.
 *
 * Operand codes follow the SDM Vol.2 Appendix A opcode map so that a row can
 * be checked against the manual by eye:
 *   E = ModRM r/m, G = ModRM reg, M = ModRM memory only, R = ModRM register only,
 *   S = segment register in ModRM reg, C/D = control/debug register in ModRM reg,
 *   I = immediate, J = relative offset, A = far pointer immediate, O = moffs,
 *   Z = register in the opcode's low 3 bits, X/Y = DS:eSI / ES:eDI string operands;
 *   size suffixes b = byte, w = word, d = dword, v = word/dword by operand size,
 *   z = word/dword immediate, bs = byte sign-extended, p = far pointer, a = BOUND pair,
 *   q = qword. Fixed registers are spelled out (AL, eAX, CL, DX, ...).
 */
import { AluOp, Op } from "./ops.ts";

export const enum OpFlag {
  None = 0,
  /** LOCK is legal (with a memory destination). SDM 2A, LOCK. */
  Lockable = 1 << 0,
  /** Control transfer: ends a decoded block. */
  Branch = 1 << 1,
  /** Conditional branch (Jcc, LOOPcc, JCXZ): ChampSim's "conditional". */
  Cond = 1 << 2,
  /** Call (pushes a return address). */
  Call = 1 << 3,
  /** Return (RET, RETF, IRET). */
  Ret = 1 << 4,
  /** Value comes from outside the CPU (IN, INS, RDTSC): capture/replay must see it. */
  Nondet = 1 << 5,
  /** Can be executed in ring 3 of a flat 32-bit process: the host-differential suite tests it. */
  User = 1 << 6,
  /** Ends a decoded block after it executes: it changes mode, flags that gate interrupts, or code. */
  EndsBlock = 1 << 7,
  /** Privileged (CPL 0 only) or IOPL-sensitive: never in the differential suite. */
  System = 1 << 8,
  /** Accepts the REP/REPE/REPNE prefix as a repeat (string instructions). */
  Rep = 1 << 9,
}

/** Parsed operand kinds (decoder and disassembler). */
export const enum Opnd {
  None = 0,
  Eb,
  Ew,
  Ed,
  Ev,
  Gb,
  Gw,
  Gd,
  Gv,
  M, // memory of any size (LEA, INVLPG, LGDT...)
  Mp, // far pointer in memory
  Ma, // BOUND pair
  Mq, // CMPXCHG8B
  Rd, // MOV CR/DR general register
  Sw,
  Cd,
  Dd,
  Ib,
  Ibs,
  Iw,
  Iz,
  Jb,
  Jz,
  Ap,
  Ob,
  Ov,
  Zb,
  Zv,
  Xb,
  Xv,
  Yb,
  Yv,
  AL,
  CL,
  AX,
  eAX,
  DX,
  One, // the constant 1 of D0/D1
  ES,
  CS,
  SS,
  DS,
  FS,
  GS,
}

export interface OpDesc {
  /** Mnemonic for disassembly and traces; never used for dispatch. */
  readonly mnem: string;
  readonly dst: Opnd;
  readonly src: Opnd;
  readonly src2: Opnd;
  readonly flags: number;
  /** Handler id (Op). */
  readonly exec: Op;
  /** Handler sub-operation (ALU op, condition code, shift kind, segment...). */
  readonly sub: number;
  /** EFLAGS bits the SDM leaves undefined after this instruction (masked when comparing with silicon). */
  readonly undef: number;
  /** A ModRM byte follows the opcode. */
  readonly modrm: boolean;
  /** Operand size is fixed at byte (b) regardless of prefixes. */
  readonly byteOp: boolean;
}

// EFLAGS bits (SDM 1 §3.4.3).
export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const OF = 1 << 11;

const OPND_NAMES: Record<string, Opnd> = {
  Eb: Opnd.Eb,
  Ew: Opnd.Ew,
  Ed: Opnd.Ed,
  Ev: Opnd.Ev,
  Gb: Opnd.Gb,
  Gw: Opnd.Gw,
  Gd: Opnd.Gd,
  Gv: Opnd.Gv,
  M: Opnd.M,
  Mp: Opnd.Mp,
  Ma: Opnd.Ma,
  Mq: Opnd.Mq,
  Rd: Opnd.Rd,
  Sw: Opnd.Sw,
  Cd: Opnd.Cd,
  Dd: Opnd.Dd,
  Ib: Opnd.Ib,
  Ibs: Opnd.Ibs,
  Iw: Opnd.Iw,
  Iz: Opnd.Iz,
  Jb: Opnd.Jb,
  Jz: Opnd.Jz,
  Ap: Opnd.Ap,
  Ob: Opnd.Ob,
  Ov: Opnd.Ov,
  Zb: Opnd.Zb,
  Zv: Opnd.Zv,
  Xb: Opnd.Xb,
  Xv: Opnd.Xv,
  Yb: Opnd.Yb,
  Yv: Opnd.Yv,
  AL: Opnd.AL,
  CL: Opnd.CL,
  AX: Opnd.AX,
  eAX: Opnd.eAX,
  DX: Opnd.DX,
  "1": Opnd.One,
  ES: Opnd.ES,
  CS: Opnd.CS,
  SS: Opnd.SS,
  DS: Opnd.DS,
  FS: Opnd.FS,
  GS: Opnd.GS,
};

const USES_MODRM = new Set<Opnd>([
  Opnd.Eb,
  Opnd.Ew,
  Opnd.Ed,
  Opnd.Ev,
  Opnd.Gb,
  Opnd.Gw,
  Opnd.Gd,
  Opnd.Gv,
  Opnd.M,
  Opnd.Mp,
  Opnd.Ma,
  Opnd.Mq,
  Opnd.Rd,
  Opnd.Sw,
  Opnd.Cd,
  Opnd.Dd,
]);
const BYTE_OPNDS = new Set<Opnd>([Opnd.Eb, Opnd.Gb, Opnd.Zb, Opnd.Xb, Opnd.Yb, Opnd.AL, Opnd.Ob]);

function desc(
  mnem: string,
  operands: string,
  exec: Op,
  sub: number,
  flags: number,
  undef: number,
  forceModrm = false,
): OpDesc {
  const parts = operands === "" ? [] : operands.split(",");
  const ops = parts.map((p) => {
    const o = OPND_NAMES[p];
    if (o === undefined) throw new Error(`opcode table: unknown operand '${p}' in ${mnem}`);
    return o;
  });
  const dst = ops[0] ?? Opnd.None;
  const src = ops[1] ?? Opnd.None;
  const src2 = ops[2] ?? Opnd.None;
  const modrm = forceModrm || ops.some((o) => USES_MODRM.has(o));
  // A byte operation when its destination is a byte (MOVZX Gv,Eb is not); for OUT/OUTS the source decides.
  const byteOp = BYTE_OPNDS.has(dst) || ((dst === Opnd.Ib || dst === Opnd.DX) && BYTE_OPNDS.has(src));
  return { mnem, dst, src, src2, flags, exec, sub, undef, modrm, byteOp };
}

export const UD_DESC: OpDesc = desc("(bad)", "", Op.UD, 0, 0, 0);

/** One-byte opcode map; a group entry holds 8 rows indexed by ModRM.reg. */
export type Entry = OpDesc | OpDesc[];

export const ONE_BYTE: Entry[] = Array.from({ length: 256 }, () => UD_DESC);
export const TWO_BYTE: Entry[] = Array.from({ length: 256 }, () => UD_DESC);

function def(map: Entry[], code: number, e: Entry): void {
  if (map[code] !== UD_DESC) throw new Error(`opcode 0x${code.toString(16)} defined twice`);
  map[code] = e;
}
const one = (code: number, mnem: string, operands: string, exec: Op, sub = 0, flags = 0, undef = 0): void =>
  def(ONE_BYTE, code, desc(mnem, operands, exec, sub, flags, undef));
const two = (code: number, mnem: string, operands: string, exec: Op, sub = 0, flags = 0, undef = 0): void =>
  def(TWO_BYTE, code, desc(mnem, operands, exec, sub, flags, undef));
/** A group: rows for /0../7; missing rows are #UD. */
function group(map: Entry[], code: number, rows: (OpDesc | null)[]): void {
  const g: OpDesc[] = [];
  for (let i = 0; i < 8; i++) g.push(rows[i] ?? desc("(bad)", "", Op.UD, 0, 0, 0, true));
  def(map, code, g);
}

const U = OpFlag.User;
const LK = OpFlag.Lockable;
const BR = OpFlag.Branch;
const SYS = OpFlag.System;
const ALU_NAMES = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];
const CC_NAMES = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
const SHIFT_NAMES = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"];
const OSZAPC = OF | SF | ZF | AF | PF | CF;
const LOGIC_ALU = (alu: number): boolean => alu === AluOp.Or || alu === AluOp.And || alu === AluOp.Xor;

// --- 00-3F: ALU rows, segment push/pop, BCD adjusts, prefixes (handled by the decoder) -------------
for (let alu = 0; alu < 8; alu++) {
  const base = alu * 8;
  const m = ALU_NAMES[alu];
  const lk = alu === AluOp.Cmp ? 0 : LK;
  // AND/OR/XOR leave AF undefined (SDM 2A AND); the others define all six flags.
  const uf = LOGIC_ALU(alu) ? AF : 0;
  one(base + 0, m, "Eb,Gb", Op.AluEG, alu, U | lk, uf);
  one(base + 1, m, "Ev,Gv", Op.AluEG, alu, U | lk, uf);
  one(base + 2, m, "Gb,Eb", Op.AluGE, alu, U, uf);
  one(base + 3, m, "Gv,Ev", Op.AluGE, alu, U, uf);
  one(base + 4, m, "AL,Ib", Op.AluEI, alu, U, uf);
  one(base + 5, m, "eAX,Iz", Op.AluEI, alu, U, uf);
}
one(0x06, "push", "ES", Op.PushSeg, 0, U);
one(0x07, "pop", "ES", Op.PopSeg, 0, OpFlag.EndsBlock);
one(0x0e, "push", "CS", Op.PushSeg, 1, U);
one(0x16, "push", "SS", Op.PushSeg, 2, U);
// POP SS inhibits interrupts for one instruction (SDM 2B POP): it ends the block so the shadow is honoured.
one(0x17, "pop", "SS", Op.PopSeg, 2, OpFlag.EndsBlock);
one(0x1e, "push", "DS", Op.PushSeg, 3, U);
one(0x1f, "pop", "DS", Op.PopSeg, 3, OpFlag.EndsBlock);
one(0x27, "daa", "", Op.Daa, 0, U, OF);
one(0x2f, "das", "", Op.Das, 0, U, OF);
one(0x37, "aaa", "", Op.Aaa, 0, U, OF | SF | ZF | PF);
one(0x3f, "aas", "", Op.Aas, 0, U, OF | SF | ZF | PF);
// --- 40-5F: INC/DEC/PUSH/POP register ---------------------------------------------------------
for (let r = 0; r < 8; r++) {
  one(0x40 + r, "inc", "Zv", Op.IncE, 0, U);
  one(0x48 + r, "dec", "Zv", Op.DecE, 0, U);
  one(0x50 + r, "push", "Zv", Op.PushE, 0, U);
  one(0x58 + r, "pop", "Zv", Op.PopE, 0, U);
}
// --- 60-6F ------------------------------------------------------------------------------------
one(0x60, "pusha", "", Op.Pusha, 0, U);
one(0x61, "popa", "", Op.Popa, 0, U);
one(0x62, "bound", "Gv,Ma", Op.Bound, 0, U);
one(0x63, "arpl", "Ew,Gw", Op.Arpl, 0, 0);
one(0x68, "push", "Iz", Op.PushI, 0, U);
one(0x69, "imul", "Gv,Ev,Iz", Op.ImulGEI, 0, U, SF | ZF | AF | PF);
one(0x6a, "push", "Ibs", Op.PushI, 0, U);
one(0x6b, "imul", "Gv,Ev,Ibs", Op.ImulGEI, 0, U, SF | ZF | AF | PF);
one(0x6c, "insb", "Yb,DX", Op.Ins, 0, OpFlag.Nondet | OpFlag.Rep | SYS);
one(0x6d, "ins", "Yv,DX", Op.Ins, 0, OpFlag.Nondet | OpFlag.Rep | SYS);
one(0x6e, "outsb", "DX,Xb", Op.Outs, 0, OpFlag.Rep | SYS);
one(0x6f, "outs", "DX,Xv", Op.Outs, 0, OpFlag.Rep | SYS);
// --- 70-7F: Jcc rel8 ---------------------------------------------------------------------------
for (let cc = 0; cc < 16; cc++) one(0x70 + cc, `j${CC_NAMES[cc]}`, "Jb", Op.Jcc, cc, U | BR | OpFlag.Cond);
// --- 80-8F -------------------------------------------------------------------------------------
function aluGroup(code: number, operands: string): void {
  group(
    ONE_BYTE,
    code,
    ALU_NAMES.map((m, alu) =>
      desc(m, operands, Op.AluEI, alu, U | (alu === AluOp.Cmp ? 0 : LK), LOGIC_ALU(alu) ? AF : 0),
    ),
  );
}
aluGroup(0x80, "Eb,Ib");
aluGroup(0x81, "Ev,Iz");
aluGroup(0x82, "Eb,Ib"); // alias of 80 on IA-32 (SDM Appendix A, "Grp 1 ... 82")
aluGroup(0x83, "Ev,Ibs");
one(0x84, "test", "Eb,Gb", Op.TestEG, 0, U, AF);
one(0x85, "test", "Ev,Gv", Op.TestEG, 0, U, AF);
one(0x86, "xchg", "Eb,Gb", Op.XchgEG, 0, U | LK);
one(0x87, "xchg", "Ev,Gv", Op.XchgEG, 0, U | LK);
one(0x88, "mov", "Eb,Gb", Op.MovEG, 0, U);
one(0x89, "mov", "Ev,Gv", Op.MovEG, 0, U);
one(0x8a, "mov", "Gb,Eb", Op.MovGE, 0, U);
one(0x8b, "mov", "Gv,Ev", Op.MovGE, 0, U);
one(0x8c, "mov", "Ev,Sw", Op.MovESw, 0, U);
one(0x8d, "lea", "Gv,M", Op.Lea, 0, U);
// MOV SS inhibits interrupts for one instruction; a CS destination is #UD.
one(0x8e, "mov", "Sw,Ew", Op.MovSwE, 0, OpFlag.EndsBlock);
group(ONE_BYTE, 0x8f, [desc("pop", "Ev", Op.PopE, 0, U, 0)]);
// --- 90-9F -------------------------------------------------------------------------------------
one(0x90, "nop", "", Op.Nop, 0, U);
for (let r = 1; r < 8; r++) one(0x90 + r, "xchg", "Zv,eAX", Op.XchgEG, 0, U);
one(0x98, "cbw", "", Op.Cbw, 0, U); // CWDE with 32-bit operand size
one(0x99, "cwd", "", Op.Cwd, 0, U); // CDQ with 32-bit operand size
one(0x9a, "call", "Ap", Op.CallFar, 0, BR | OpFlag.Call);
one(0x9b, "wait", "", Op.Wait, 0, U);
one(0x9c, "pushf", "", Op.Pushf, 0, U);
one(0x9d, "popf", "", Op.Popf, 0, U | OpFlag.EndsBlock);
one(0x9e, "sahf", "", Op.Sahf, 0, U);
one(0x9f, "lahf", "", Op.Lahf, 0, U);
// --- A0-AF: moffs moves and string instructions --------------------------------------------------
one(0xa0, "mov", "AL,Ob", Op.MovGE, 0, U);
one(0xa1, "mov", "eAX,Ov", Op.MovGE, 0, U);
one(0xa2, "mov", "Ob,AL", Op.MovEG, 0, U);
one(0xa3, "mov", "Ov,eAX", Op.MovEG, 0, U);
one(0xa4, "movsb", "Yb,Xb", Op.Movs, 0, U | OpFlag.Rep);
one(0xa5, "movs", "Yv,Xv", Op.Movs, 0, U | OpFlag.Rep);
one(0xa6, "cmpsb", "Xb,Yb", Op.Cmps, 0, U | OpFlag.Rep);
one(0xa7, "cmps", "Xv,Yv", Op.Cmps, 0, U | OpFlag.Rep);
one(0xa8, "test", "AL,Ib", Op.TestEI, 0, U, AF);
one(0xa9, "test", "eAX,Iz", Op.TestEI, 0, U, AF);
one(0xaa, "stosb", "Yb,AL", Op.Stos, 0, U | OpFlag.Rep);
one(0xab, "stos", "Yv,eAX", Op.Stos, 0, U | OpFlag.Rep);
one(0xac, "lodsb", "AL,Xb", Op.Lods, 0, U | OpFlag.Rep);
one(0xad, "lods", "eAX,Xv", Op.Lods, 0, U | OpFlag.Rep);
one(0xae, "scasb", "AL,Yb", Op.Scas, 0, U | OpFlag.Rep);
one(0xaf, "scas", "eAX,Yv", Op.Scas, 0, U | OpFlag.Rep);
// --- B0-BF: MOV register, immediate ------------------------------------------------------------
for (let r = 0; r < 8; r++) {
  one(0xb0 + r, "mov", "Zb,Ib", Op.MovEI, 0, U);
  one(0xb8 + r, "mov", "Zv,Iz", Op.MovEI, 0, U);
}
// --- C0-CF -------------------------------------------------------------------------------------
function shiftGroup(code: number, operands: string): void {
  group(
    ONE_BYTE,
    code,
    [0, 1, 2, 3, 4, 5, 6, 7].map((s) => {
      // SDM: OF is defined only for 1-bit shifts/rotates; AF is undefined for shifts with a count.
      const undef = (s >= 4 ? AF : 0) | (operands.endsWith(",1") ? 0 : OF);
      return desc(SHIFT_NAMES[s], operands, Op.ShiftE, s, U, undef);
    }),
  );
}
shiftGroup(0xc0, "Eb,Ib");
shiftGroup(0xc1, "Ev,Ib");
one(0xc2, "ret", "Iw", Op.Ret, 0, U | BR | OpFlag.Ret);
one(0xc3, "ret", "", Op.Ret, 0, U | BR | OpFlag.Ret);
one(0xc4, "les", "Gv,Mp", Op.LoadFar, 0, 0);
one(0xc5, "lds", "Gv,Mp", Op.LoadFar, 3, 0);
group(ONE_BYTE, 0xc6, [desc("mov", "Eb,Ib", Op.MovEI, 0, U, 0)]);
group(ONE_BYTE, 0xc7, [desc("mov", "Ev,Iz", Op.MovEI, 0, U, 0)]);
one(0xc8, "enter", "Iw,Ib", Op.Enter, 0, U);
one(0xc9, "leave", "", Op.Leave, 0, U);
one(0xca, "retf", "Iw", Op.Retf, 0, BR | OpFlag.Ret);
one(0xcb, "retf", "", Op.Retf, 0, BR | OpFlag.Ret);
one(0xcc, "int3", "", Op.Int3, 0, BR);
one(0xcd, "int", "Ib", Op.Int, 0, BR);
one(0xce, "into", "", Op.Into, 0, BR);
one(0xcf, "iret", "", Op.Iret, 0, BR | OpFlag.Ret);
// --- D0-DF -------------------------------------------------------------------------------------
shiftGroup(0xd0, "Eb,1");
shiftGroup(0xd1, "Ev,1");
shiftGroup(0xd2, "Eb,CL");
shiftGroup(0xd3, "Ev,CL");
one(0xd4, "aam", "Ib", Op.Aam, 0, U, OF | AF | CF);
one(0xd5, "aad", "Ib", Op.Aad, 0, U, OF | AF | CF);
one(0xd6, "salc", "", Op.Salc, 0, U); // undocumented but present on every IA-32 CPU through P6
one(0xd7, "xlat", "", Op.Xlat, 0, U);
for (let c = 0xd8; c <= 0xdf; c++) def(ONE_BYTE, c, desc("fpu", "M", Op.Esc, c & 7, 0, 0, true));
// --- E0-EF -------------------------------------------------------------------------------------
one(0xe0, "loopne", "Jb", Op.Loop, 0, U | BR | OpFlag.Cond);
one(0xe1, "loope", "Jb", Op.Loop, 1, U | BR | OpFlag.Cond);
one(0xe2, "loop", "Jb", Op.Loop, 2, U | BR | OpFlag.Cond);
one(0xe3, "jcxz", "Jb", Op.Loop, 3, U | BR | OpFlag.Cond);
one(0xe4, "in", "AL,Ib", Op.InI, 0, OpFlag.Nondet | SYS);
one(0xe5, "in", "eAX,Ib", Op.InI, 0, OpFlag.Nondet | SYS);
one(0xe6, "out", "Ib,AL", Op.OutI, 0, SYS);
one(0xe7, "out", "Ib,eAX", Op.OutI, 0, SYS);
one(0xe8, "call", "Jz", Op.CallRel, 0, U | BR | OpFlag.Call);
one(0xe9, "jmp", "Jz", Op.JmpRel, 0, U | BR);
one(0xea, "jmp", "Ap", Op.JmpFar, 0, BR);
one(0xeb, "jmp", "Jb", Op.JmpRel, 0, U | BR);
one(0xec, "in", "AL,DX", Op.InDX, 0, OpFlag.Nondet | SYS);
one(0xed, "in", "eAX,DX", Op.InDX, 0, OpFlag.Nondet | SYS);
one(0xee, "out", "DX,AL", Op.OutDX, 0, SYS);
one(0xef, "out", "DX,eAX", Op.OutDX, 0, SYS);
// --- F0-FF -------------------------------------------------------------------------------------
one(0xf1, "int1", "", Op.Int, 1, BR); // ICEBP: #DB as a trap
one(0xf4, "hlt", "", Op.Hlt, 0, BR | SYS);
one(0xf5, "cmc", "", Op.FlagOp, 2, U);
group(ONE_BYTE, 0xf6, [
  desc("test", "Eb,Ib", Op.TestEI, 0, U, AF),
  desc("test", "Eb,Ib", Op.TestEI, 0, U, AF), // /1 aliases /0 (SDM Appendix A note)
  desc("not", "Eb", Op.NotE, 0, U | LK, 0),
  desc("neg", "Eb", Op.NegE, 0, U | LK, 0),
  desc("mul", "Eb", Op.MulE, 4, U, SF | ZF | AF | PF),
  desc("imul", "Eb", Op.MulE, 5, U, SF | ZF | AF | PF),
  desc("div", "Eb", Op.MulE, 6, U, OSZAPC),
  desc("idiv", "Eb", Op.MulE, 7, U, OSZAPC),
]);
group(ONE_BYTE, 0xf7, [
  desc("test", "Ev,Iz", Op.TestEI, 0, U, AF),
  desc("test", "Ev,Iz", Op.TestEI, 0, U, AF),
  desc("not", "Ev", Op.NotE, 0, U | LK, 0),
  desc("neg", "Ev", Op.NegE, 0, U | LK, 0),
  desc("mul", "Ev", Op.MulE, 4, U, SF | ZF | AF | PF),
  desc("imul", "Ev", Op.MulE, 5, U, SF | ZF | AF | PF),
  desc("div", "Ev", Op.MulE, 6, U, OSZAPC),
  desc("idiv", "Ev", Op.MulE, 7, U, OSZAPC),
]);
one(0xf8, "clc", "", Op.FlagOp, 0, U);
one(0xf9, "stc", "", Op.FlagOp, 1, U);
one(0xfa, "cli", "", Op.FlagOp, 5, SYS);
// STI delays interrupt recognition by one instruction: end the block so the shadow is exact.
one(0xfb, "sti", "", Op.FlagOp, 6, SYS | OpFlag.EndsBlock);
one(0xfc, "cld", "", Op.FlagOp, 3, U);
one(0xfd, "std", "", Op.FlagOp, 4, U);
group(ONE_BYTE, 0xfe, [desc("inc", "Eb", Op.IncE, 0, U | LK, 0), desc("dec", "Eb", Op.DecE, 0, U | LK, 0)]);
group(ONE_BYTE, 0xff, [
  desc("inc", "Ev", Op.IncE, 0, U | LK, 0),
  desc("dec", "Ev", Op.DecE, 0, U | LK, 0),
  desc("call", "Ev", Op.CallE, 0, U | BR | OpFlag.Call, 0),
  desc("call", "Mp", Op.CallFarM, 0, BR | OpFlag.Call, 0),
  desc("jmp", "Ev", Op.JmpE, 0, U | BR, 0),
  desc("jmp", "Mp", Op.JmpFarM, 0, BR, 0),
  desc("push", "Ev", Op.PushE, 0, U, 0),
]);

// --- Two-byte map (0F xx) ----------------------------------------------------------------------
group(TWO_BYTE, 0x00, [
  desc("sldt", "Ew", Op.Grp6, 0, SYS, 0),
  desc("str", "Ew", Op.Grp6, 1, SYS, 0),
  desc("lldt", "Ew", Op.Grp6, 2, SYS | OpFlag.EndsBlock, 0),
  desc("ltr", "Ew", Op.Grp6, 3, SYS | OpFlag.EndsBlock, 0),
  desc("verr", "Ew", Op.Grp6, 4, SYS, 0),
  desc("verw", "Ew", Op.Grp6, 5, SYS, 0),
]);
group(TWO_BYTE, 0x01, [
  desc("sgdt", "M", Op.Grp7, 0, SYS, 0),
  desc("sidt", "M", Op.Grp7, 1, SYS, 0),
  desc("lgdt", "M", Op.Grp7, 2, SYS | OpFlag.EndsBlock, 0),
  desc("lidt", "M", Op.Grp7, 3, SYS | OpFlag.EndsBlock, 0),
  desc("smsw", "Ew", Op.Grp7, 4, SYS, 0),
  null,
  desc("lmsw", "Ew", Op.Grp7, 6, SYS | OpFlag.EndsBlock, 0),
  desc("invlpg", "M", Op.Grp7, 7, SYS | OpFlag.EndsBlock, 0),
]);
two(0x02, "lar", "Gv,Ew", Op.Lar, 0, SYS);
two(0x03, "lsl", "Gv,Ew", Op.Lsl, 0, SYS);
two(0x06, "clts", "", Op.Clts, 0, SYS);
two(0x08, "invd", "", Op.Invd, 0, SYS);
two(0x09, "wbinvd", "", Op.Invd, 1, SYS);
two(0x0b, "ud2", "", Op.Ud2, 0, 0);
// P6 introduced the multi-byte NOP Ev (0F 1F /0); SDM 2B NOP.
group(TWO_BYTE, 0x1f, [desc("nop", "Ev", Op.Nop, 0, U, 0)]);
two(0x20, "mov", "Rd,Cd", Op.MovRC, 0, SYS);
two(0x21, "mov", "Rd,Dd", Op.MovRD, 0, SYS);
two(0x22, "mov", "Cd,Rd", Op.MovCR, 0, SYS | OpFlag.EndsBlock);
two(0x23, "mov", "Dd,Rd", Op.MovDR, 0, SYS);
two(0x30, "wrmsr", "", Op.Wrmsr, 0, SYS | OpFlag.EndsBlock);
two(0x31, "rdtsc", "", Op.Rdtsc, 0, OpFlag.Nondet | SYS);
two(0x32, "rdmsr", "", Op.Rdmsr, 0, SYS);
for (let cc = 0; cc < 16; cc++) {
  two(0x40 + cc, `cmov${CC_NAMES[cc]}`, "Gv,Ev", Op.Cmovcc, cc, U);
  two(0x80 + cc, `j${CC_NAMES[cc]}`, "Jz", Op.Jcc, cc, U | BR | OpFlag.Cond);
  group(
    TWO_BYTE,
    0x90 + cc,
    [0, 1, 2, 3, 4, 5, 6, 7].map(() => desc(`set${CC_NAMES[cc]}`, "Eb", Op.Setcc, cc, U, 0)),
  );
}
two(0xa0, "push", "FS", Op.PushSeg, 4, U);
two(0xa1, "pop", "FS", Op.PopSeg, 4, OpFlag.EndsBlock);
two(0xa2, "cpuid", "", Op.Cpuid, 0, U);
two(0xa3, "bt", "Ev,Gv", Op.BtEG, 0, U, OF | SF | AF | PF);
two(0xa4, "shld", "Ev,Gv,Ib", Op.Shld, 0, U, AF | OF);
two(0xa5, "shld", "Ev,Gv,CL", Op.Shld, 0, U, AF | OF);
two(0xa8, "push", "GS", Op.PushSeg, 5, U);
two(0xa9, "pop", "GS", Op.PopSeg, 5, OpFlag.EndsBlock);
two(0xab, "bts", "Ev,Gv", Op.BtEG, 1, U | LK, OF | SF | AF | PF);
two(0xac, "shrd", "Ev,Gv,Ib", Op.Shrd, 0, U, AF | OF);
two(0xad, "shrd", "Ev,Gv,CL", Op.Shrd, 0, U, AF | OF);
two(0xaf, "imul", "Gv,Ev", Op.ImulGE, 0, U, SF | ZF | AF | PF);
two(0xb0, "cmpxchg", "Eb,Gb", Op.Cmpxchg, 0, U | LK);
two(0xb1, "cmpxchg", "Ev,Gv", Op.Cmpxchg, 0, U | LK);
two(0xb2, "lss", "Gv,Mp", Op.LoadFar, 2, OpFlag.EndsBlock);
two(0xb3, "btr", "Ev,Gv", Op.BtEG, 2, U | LK, OF | SF | AF | PF);
two(0xb4, "lfs", "Gv,Mp", Op.LoadFar, 4, 0);
two(0xb5, "lgs", "Gv,Mp", Op.LoadFar, 5, 0);
two(0xb6, "movzx", "Gv,Eb", Op.Movzx, 1, U);
two(0xb7, "movzx", "Gv,Ew", Op.Movzx, 2, U);
group(TWO_BYTE, 0xba, [
  null,
  null,
  null,
  null,
  desc("bt", "Ev,Ib", Op.BtEI, 0, U, OF | SF | AF | PF),
  desc("bts", "Ev,Ib", Op.BtEI, 1, U | LK, OF | SF | AF | PF),
  desc("btr", "Ev,Ib", Op.BtEI, 2, U | LK, OF | SF | AF | PF),
  desc("btc", "Ev,Ib", Op.BtEI, 3, U | LK, OF | SF | AF | PF),
]);
two(0xbb, "btc", "Ev,Gv", Op.BtEG, 3, U | LK, OF | SF | AF | PF);
two(0xbc, "bsf", "Gv,Ev", Op.Bsf, 0, U, OF | SF | AF | PF | CF);
two(0xbd, "bsr", "Gv,Ev", Op.Bsr, 0, U, OF | SF | AF | PF | CF);
two(0xbe, "movsx", "Gv,Eb", Op.Movsx, 1, U);
two(0xbf, "movsx", "Gv,Ew", Op.Movsx, 2, U);
two(0xc0, "xadd", "Eb,Gb", Op.Xadd, 0, U | LK);
two(0xc1, "xadd", "Ev,Gv", Op.Xadd, 0, U | LK);
group(TWO_BYTE, 0xc7, [null, desc("cmpxchg8b", "Mq", Op.Cmpxchg8b, 0, U | LK, 0)]);
for (let r = 0; r < 8; r++) two(0xc8 + r, "bswap", "Zv", Op.Bswap, 0, U);

export { ALU_NAMES, CC_NAMES, SHIFT_NAMES };
