/**
 * Disassembler (Intel syntax, nasm-like) driven by the opcode table: the
 * mnemonic and operand codes come from the decoded row (`insn.desc`); nothing
 * here describes opcodes. Operand codes: opcodes.ts (SDM Vol.2 Appendix A).
 */
import { type CodeReader, DECODE_GP, DECODE_UD, decode, Insn, Prefix } from "./decode.ts";
import { OpFlag, Opnd } from "./opcodes.ts";
import { Op } from "./ops.ts";

const REG8 = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"];
const REG16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
const REG32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const SEG = ["es", "cs", "ss", "ds", "fs", "gs", "?6", "?7"];
const SIZE_WORD = ["", "byte", "word", "", "dword"];

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

function regName(w: number, r: number): string {
  return w === 1 ? REG8[r] : w === 2 ? REG16[r] : REG32[r];
}

/** The ModRM/moffs memory operand: `[seg:base+index*scale+disp]`. */
function memOperand(i: Insn): string {
  const names = i.a16 ? REG16 : REG32;
  let s = "";
  if (i.base >= 0) s = names[i.base];
  if (i.index >= 0) s += `${s === "" ? "" : "+"}${names[i.index]}${i.scale > 0 ? `*${1 << i.scale}` : ""}`;
  let d = i.disp;
  if (i.a16) d &= 0xffff;
  if (s === "") s = hex(d);
  else if (d !== 0) {
    const signed = i.a16 ? (d << 16) >> 16 : d | 0;
    s += signed < 0 ? `-${hex(-signed)}` : `+${hex(signed)}`;
  }
  return `[${i.segOverride >= 0 ? `${SEG[i.segOverride]}:` : ""}${s}]`;
}

function sized(i: Insn, w: number): string {
  return `${SIZE_WORD[w]} ${memOperand(i)}`;
}

/** An r/m operand of width w: a register (mod 3) or sized memory. */
function rm(i: Insn, w: number): string {
  return i.mod === 3 ? regName(w, i.rm) : sized(i, w);
}

/** Which immediate slot (imm, imm2) the next immediate operand of the instruction uses. */
let immSlot = 0;
function nextImm(i: Insn): number {
  return immSlot++ === 0 ? i.imm : i.imm2;
}

/** Operand text. */
function operand(i: Insn, o: Opnd, eip: number): string {
  const w = i.w;
  switch (o) {
    case Opnd.Eb:
      return rm(i, 1);
    case Opnd.Ew:
      return rm(i, 2);
    case Opnd.Ed:
      return rm(i, 4);
    case Opnd.Ev:
      return rm(i, w);
    case Opnd.Gb:
      return REG8[i.reg];
    case Opnd.Gw:
      return REG16[i.reg];
    case Opnd.Gd:
      return REG32[i.reg];
    case Opnd.Gv:
      return regName(w, i.reg);
    case Opnd.M:
    case Opnd.Ma:
      return memOperand(i);
    case Opnd.Mp:
      return `far ${memOperand(i)}`;
    case Opnd.Mq:
      return `qword ${memOperand(i)}`;
    case Opnd.Rd:
      return REG32[i.rm];
    case Opnd.Sw:
      return SEG[i.reg];
    case Opnd.Cd:
      return `cr${i.reg}`;
    case Opnd.Dd:
      return `dr${i.reg}`;
    case Opnd.Ib:
      return hex(nextImm(i) & 0xff);
    case Opnd.Iw:
      return hex(nextImm(i) & 0xffff);
    case Opnd.Ibs:
    case Opnd.Iz: {
      const v = nextImm(i);
      return hex(w === 2 ? v & 0xffff : w === 1 ? v & 0xff : v);
    }
    case Opnd.Jb:
    case Opnd.Jz: {
      const t = (eip + i.len + nextImm(i)) | 0;
      return hex(w === 2 ? t & 0xffff : t);
    }
    case Opnd.Ap: {
      immSlot = 2;
      return `${hex(i.imm2 & 0xffff)}:${hex(w === 2 ? i.imm & 0xffff : i.imm)}`;
    }
    case Opnd.Ob:
      return sized(i, 1);
    case Opnd.Ov:
      return sized(i, w);
    case Opnd.Zb:
      return REG8[i.rm];
    case Opnd.Zv:
      return regName(w, i.rm);
    case Opnd.AL:
      return "al";
    case Opnd.CL:
      return "cl";
    case Opnd.AX:
      return "ax";
    case Opnd.eAX:
      return w === 2 ? "ax" : "eax";
    case Opnd.DX:
      return "dx";
    case Opnd.One:
      return "1";
    case Opnd.ES:
      return "es";
    case Opnd.CS:
      return "cs";
    case Opnd.SS:
      return "ss";
    case Opnd.DS:
      return "ds";
    case Opnd.FS:
      return "fs";
    case Opnd.GS:
      return "gs";
    default:
      return "";
  }
}

/** Mnemonic with the operand-size forms the table leaves to the size (movsd, cwde, pushad, iretd). */
function mnemonic(i: Insn): string {
  const d = i.desc;
  const m = d.mnem;
  const w = i.w;
  switch (d.exec) {
    case Op.Movs:
    case Op.Cmps:
    case Op.Stos:
    case Op.Lods:
    case Op.Scas:
    case Op.Ins:
    case Op.Outs:
      return d.byteOp ? m : `${m}${w === 2 ? "w" : "d"}`;
    case Op.Cbw:
      return w === 4 ? "cwde" : "cbw";
    case Op.Cwd:
      return w === 4 ? "cdq" : "cwd";
    case Op.Pusha:
    case Op.Popa:
    case Op.Pushf:
    case Op.Popf:
    case Op.Iret:
      return w === 4 ? `${m}d` : m;
    default:
      return m;
  }
}

/** Disassemble a decoded instruction at `eip` (the offset its relative targets count from). */
export function disassemble(i: Insn, eip: number): string {
  const d = i.desc;
  if (d.exec === Op.UD) return "(bad)";
  if (d.exec === Op.Esc) {
    // x87 escapes: the table has one row per escape byte; show the escape, ModRM.reg and the operand.
    const opnd = i.mod === 3 ? `st${i.rm}` : memOperand(i);
    return `fpu ${(i.opcode & 0xff).toString(16)}/${i.reg} ${opnd}`;
  }
  let prefix = "";
  if (i.lock) prefix = "lock ";
  if (i.rep !== Prefix.None && (d.flags & OpFlag.Rep) !== 0) {
    if (d.exec === Op.Cmps || d.exec === Op.Scas) prefix += i.rep === Prefix.Rep ? "repe " : "repne ";
    else prefix += "rep ";
  }
  let text = `${prefix}${mnemonic(i)}`;
  // String instructions: every operand is implied by the mnemonic (movsd, insb), as nasm writes them.
  if ((d.flags & OpFlag.Rep) === 0) {
    immSlot = 0;
    if (d.dst !== Opnd.None) text += ` ${operand(i, d.dst, eip)}`;
    if (d.src !== Opnd.None) text += `, ${operand(i, d.src, eip)}`;
    if (d.src2 !== Opnd.None) text += `, ${operand(i, d.src2, eip)}`;
  } else if (i.segOverride >= 0) {
    text = `${prefix}${SEG[i.segOverride]} ${mnemonic(i)}`;
  }
  return text;
}

/** CodeReader over a byte array (instruction bytes from a trace). */
export class BytesReader implements CodeReader {
  bytes: Uint8Array = new Uint8Array(0);
  byteAt(k: number): number {
    if (k >= this.bytes.length) throw DECODE_GP;
    return this.bytes[k];
  }
}

const reader = new BytesReader();
const scratch = new Insn();

/** Decode `bytes` (code32: CS.D) and disassemble at `eip`; undecodable bytes give "(bad)". */
export function disassembleBytes(bytes: Uint8Array, code32: boolean, eip: number): string {
  reader.bytes = bytes;
  try {
    decode(reader, code32, scratch);
  } catch (e) {
    if (e === DECODE_UD || e === DECODE_GP) return "(bad)";
    throw e;
  }
  return disassemble(scratch, eip);
}
