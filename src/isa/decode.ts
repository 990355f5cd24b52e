/**
 * Instruction decoder: bytes -> Insn, reading only the opcode table.
 * Short forms are normalised to the general E/G form (see ops.ts) so one
 * handler serves ADD AL,Ib and ADD r/m8,imm8 alike.
 * SDM Vol.2A ch.2 (instruction format), tables 2-1 (16-bit ModRM), 2-2 (32-bit ModRM), 2-3 (SIB).
 */
import { type Entry, ONE_BYTE, type OpDesc, OpFlag, Opnd, TWO_BYTE, UD_DESC } from "./opcodes.ts";
import { Op } from "./ops.ts";

/** Segment register numbers in SDM encoding order. */
export const enum Seg {
  ES = 0,
  CS = 1,
  SS = 2,
  DS = 3,
  FS = 4,
  GS = 5,
}

/** General registers in SDM encoding order. */
export const enum Reg {
  EAX = 0,
  ECX = 1,
  EDX = 2,
  EBX = 3,
  ESP = 4,
  EBP = 5,
  ESI = 6,
  EDI = 7,
}

export const enum Prefix {
  None = 0,
  Rep = 1, // F3: REP / REPE
  Repne = 2, // F2
}

/** Where the decoder gets instruction bytes; offsets are relative to the instruction start. */
export interface CodeReader {
  /** Byte at instruction start + `i`; may throw the CPU's fault sentinel (#PF, #GP). */
  byteAt(i: number): number;
}

/** A decoded instruction. One object shape for all instructions (V8 monomorphism). */
export class Insn {
  /** Handler id (Op). */
  op: number = Op.UD;
  /** Handler sub-operation from the table row. */
  sub = 0;
  /** Operand width in bytes: 1, 2 or 4. */
  w = 4;
  /** Address size 16 (true) or 32. */
  a16 = false;
  /** Total length in bytes, prefixes included. */
  len = 0;
  /** ModRM fields; mod === 3 means a register operand in rm. */
  mod = 3;
  reg = 0;
  rm = 0;
  /** Memory operand: effective segment (after overrides), base/index registers (-1 = none), scale, displacement. */
  seg: number = Seg.DS;
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /** Immediates (int32). */
  imm = 0;
  imm2 = 0;
  /** REP prefix (Prefix). */
  rep = 0;
  lock = false;
  /** Segment override prefix, or -1. */
  segOverride = -1;
  /** Opcode: 0x00-0xFF one-byte, 0x0F00-0x0FFF two-byte. */
  opcode = 0;
  /** The table row. */
  desc: OpDesc = UD_DESC;
  /** Instruction start as a linear address (set by the CPU when it decodes). */
  linear = 0;
  /**
   * The trace recorder's copy of this instruction's INSN record (src/trace/recorder.ts): its first
   * word without the mode byte (-1: not made yet), physical address and bytes. All of it follows
   * from the bytes and `linear`, which stay what they were for as long as the CPU keeps this Insn
   * (a write to its code discards the block).
   */
  traceWord = -1;
  tracePhys = 0;
  traceB0 = 0;
  traceB1 = 0;
  traceB2 = 0;
  traceB3 = 0;
  /**
   * Set with traceWord: 0, or when the bytes encode `imm` as a direct near branch's displacement
   * the way a trace reader decodes them (format.ts encodedRel): 1 | 2 (decoded as 32-bit code) |
   * 4 (a 32-bit operand size).
   */
  traceRel = 0;
  /**
   * Where the recorder last wrote this instruction's full INSN record: its chunk serial (0: none),
   * the record's ordinal among the chunk's INSN/FAULT records, and the EIP and mode byte it holds.
   * A later execution in the same chunk with the same EIP and mode is written as a REF to it.
   */
  traceChunk = 0;
  traceIdx = 0;
  traceEip = 0;
  traceMode = 0;
}

const MAX_LEN = 15; // SDM 2A §2.3.11: longer instructions raise #GP(0).

export class DecodeError {
  constructor(readonly kind: "ud" | "gp") {}
}
export const DECODE_UD = new DecodeError("ud");
export const DECODE_GP = new DecodeError("gp");

// 16-bit addressing (SDM 2A table 2-1): rm -> base, index.
const RM16_BASE = [Reg.EBX, Reg.EBX, Reg.EBP, Reg.EBP, Reg.ESI, Reg.EDI, Reg.EBP, Reg.EBX];
const RM16_INDEX = [Reg.ESI, Reg.EDI, Reg.ESI, Reg.EDI, -1, -1, -1, -1];

/**
 * Decode one instruction. `code32`: the default operand/address size (CS.D).
 * Throws DECODE_UD / DECODE_GP for invalid encodings; errors from `code` propagate.
 */
export function decode(code: CodeReader, code32: boolean, out: Insn): Insn {
  out.traceWord = -1;
  let pos = 0;
  let opsize32 = code32;
  let adsize32 = code32;
  let segOverride = -1;
  let rep = 0;
  let lock = false;
  let b = code.byteAt(pos++);
  // Prefixes (SDM 2A §2.1.1); any number, any order, within 15 bytes.
  for (;;) {
    if (b === 0x66) opsize32 = !code32;
    else if (b === 0x67) adsize32 = !code32;
    else if (b === 0x26) segOverride = Seg.ES;
    else if (b === 0x2e) segOverride = Seg.CS;
    else if (b === 0x36) segOverride = Seg.SS;
    else if (b === 0x3e) segOverride = Seg.DS;
    else if (b === 0x64) segOverride = Seg.FS;
    else if (b === 0x65) segOverride = Seg.GS;
    else if (b === 0xf3) rep = Prefix.Rep;
    else if (b === 0xf2) rep = Prefix.Repne;
    else if (b === 0xf0) lock = true;
    else break;
    if (pos >= MAX_LEN) throw DECODE_GP;
    b = code.byteAt(pos++);
  }
  let opcode = b;
  let entry: Entry;
  if (b === 0x0f) {
    if (pos >= MAX_LEN) throw DECODE_GP;
    b = code.byteAt(pos++);
    opcode = 0x0f00 | b;
    entry = TWO_BYTE[b];
  } else {
    entry = ONE_BYTE[b];
  }
  out.opcode = opcode;
  out.rep = rep;
  out.lock = lock;
  out.segOverride = segOverride;
  out.a16 = !adsize32;
  out.mod = 3;
  out.reg = 0;
  out.rm = 0;
  out.base = -1;
  out.index = -1;
  out.scale = 0;
  out.disp = 0;
  out.imm = 0;
  out.imm2 = 0;
  out.seg = segOverride >= 0 ? segOverride : Seg.DS;

  let d: OpDesc;
  const isGroup = Array.isArray(entry);
  const needModrm = isGroup || (entry as OpDesc).modrm;
  if (needModrm) {
    if (pos >= MAX_LEN) throw DECODE_GP;
    const modrm = code.byteAt(pos++);
    const mod = modrm >>> 6;
    const reg = (modrm >>> 3) & 0o7;
    const rm = modrm & 0o7;
    out.mod = mod;
    out.reg = reg;
    out.rm = rm;
    d = isGroup ? (entry as OpDesc[])[reg] : (entry as OpDesc);
    if (mod !== 3) pos = decodeMemory(code, pos, adsize32, mod, rm, out);
  } else {
    d = entry as OpDesc;
  }
  out.desc = d;
  out.op = d.exec;
  out.sub = d.sub;
  out.w = d.byteOp ? 1 : opsize32 ? 4 : 2;

  // Implicit operands (no ModRM): registers in the opcode, accumulator, moffs.
  if (!needModrm) {
    const zop = d.dst === Opnd.Zv || d.dst === Opnd.Zb;
    if (zop) {
      out.mod = 3;
      out.rm = opcode & 7;
    }
    if (d.dst === Opnd.Ob || d.dst === Opnd.Ov || d.src === Opnd.Ob || d.src === Opnd.Ov) {
      out.mod = 0;
      if (adsize32) {
        out.disp = read32(code, pos);
        pos += 4;
      } else {
        out.disp = read16(code, pos);
        pos += 2;
      }
      out.reg = 0; // the accumulator is the G operand
    } else if (d.dst === Opnd.AL || d.dst === Opnd.eAX) {
      // ALU/TEST accumulator forms: the accumulator is the E operand.
      out.mod = 3;
      out.rm = 0;
    }
  }

  // Immediates in operand order: the first goes to imm, the second (ENTER's level, Ap's selector) to imm2.
  const p0 = pos;
  pos = readImm(code, pos, d.dst, opsize32, out, 0);
  pos = readImm(code, pos, d.src, opsize32, out, pos === p0 ? 0 : 1);
  pos = readImm(code, pos, d.src2, opsize32, out, pos === p0 ? 0 : 1);
  // LOCK is #UD unless the instruction is lockable and has a memory destination (SDM 2A, LOCK).
  // An over-long instruction is #GP(0) before anything else about it is checked (SDM 2A §2.3.11).
  if (pos > MAX_LEN) throw DECODE_GP;
  if (lock && ((d.flags & OpFlag.Lockable) === 0 || out.mod === 3)) throw DECODE_UD;
  if (d.src === Opnd.CL || d.src2 === Opnd.CL) out.imm2 = 1;
  if (d.src === Opnd.One) out.imm = 1;
  if (pos > MAX_LEN) throw DECODE_GP;
  out.len = pos;
  return out;
}

function read16(code: CodeReader, pos: number): number {
  return code.byteAt(pos) | (code.byteAt(pos + 1) << 8);
}
function read32(code: CodeReader, pos: number): number {
  return code.byteAt(pos) | (code.byteAt(pos + 1) << 8) | (code.byteAt(pos + 2) << 16) | (code.byteAt(pos + 3) << 24);
}

function setImm(out: Insn, slot: number, v: number): void {
  if (slot === 0) out.imm = v;
  else out.imm2 = v;
}

function readImm(code: CodeReader, pos: number, o: Opnd, opsize32: boolean, out: Insn, slot: number): number {
  switch (o) {
    case Opnd.Ib:
      setImm(out, slot, code.byteAt(pos));
      return pos + 1;
    case Opnd.Ibs:
    case Opnd.Jb:
      setImm(out, slot, (code.byteAt(pos) << 24) >> 24);
      return pos + 1;
    case Opnd.Iw:
      setImm(out, slot, read16(code, pos));
      return pos + 2;
    case Opnd.Iz:
      setImm(out, slot, opsize32 ? read32(code, pos) : read16(code, pos));
      return pos + (opsize32 ? 4 : 2);
    case Opnd.Jz:
      setImm(out, slot, opsize32 ? read32(code, pos) : (read16(code, pos) << 16) >> 16);
      return pos + (opsize32 ? 4 : 2);
    case Opnd.Ap:
      if (opsize32) {
        out.imm = read32(code, pos);
        pos += 4;
      } else {
        out.imm = read16(code, pos);
        pos += 2;
      }
      out.imm2 = read16(code, pos);
      return pos + 2;
    default:
      return pos;
  }
}

/** ModRM memory operand (mod 0-2). Returns the new position. */
function decodeMemory(code: CodeReader, pos: number, adsize32: boolean, mod: number, rm: number, out: Insn): number {
  let defaultSS = false;
  if (!adsize32) {
    if (mod === 0 && rm === 6) {
      out.disp = read16(code, pos);
      pos += 2;
    } else {
      out.base = RM16_BASE[rm];
      out.index = RM16_INDEX[rm];
      defaultSS = rm === 2 || rm === 3 || rm === 6;
      if (mod === 1) {
        out.disp = (code.byteAt(pos) << 24) >> 24;
        pos += 1;
      } else if (mod === 2) {
        out.disp = read16(code, pos);
        pos += 2;
      }
    }
  } else {
    let baseReg = rm;
    if (rm === 4) {
      const sib = code.byteAt(pos++);
      const scale = sib >>> 6;
      const index = (sib >>> 3) & 0o7;
      baseReg = sib & 0o7;
      if (index !== Reg.ESP) {
        out.index = index;
        out.scale = scale;
      }
      if (baseReg === Reg.EBP && mod === 0) {
        out.disp = read32(code, pos);
        pos += 4;
        baseReg = -1;
      }
    } else if (rm === 5 && mod === 0) {
      out.disp = read32(code, pos);
      pos += 4;
      baseReg = -1;
    }
    if (baseReg >= 0) {
      out.base = baseReg;
      defaultSS = baseReg === Reg.ESP || baseReg === Reg.EBP;
    }
    if (mod === 1) {
      out.disp = (code.byteAt(pos) << 24) >> 24;
      pos += 1;
    } else if (mod === 2) {
      out.disp = read32(code, pos);
      pos += 4;
    }
  }
  if (out.segOverride < 0) out.seg = defaultSS ? Seg.SS : Seg.DS;
  return pos;
}
