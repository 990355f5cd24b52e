/**
 * ChampSim `input_instr` records: 64 bytes per retired instruction, the
 * layout of the published DPC/CRC traces (ChampSim inc/trace_instruction.h
 * without the newer trailing `load_type` byte):
 *
 *   0 ip u64 | 8 is_branch u8 | 9 branch_taken u8 | 10 destination_registers[2] u8
 *   12 source_registers[4] u8 | 16 destination_memory[2] u64 | 32 source_memory[4] u64
 *
 * ChampSim ignores is_branch and infers the branch kind from three register
 * ids (stack pointer 6, flags 25, instruction pointer 26) and whether some
 * other register is read (inc/instruction.h), so every control transfer gets
 * its implicit operands here: Jcc reads flags and IP and writes IP, CALL and
 * RET read and write ESP, indirect jumps and calls read a register other than
 * those three. INT n / INTO and IRET come out as ChampSim's "other" branch.
 *
 * Only retired instructions become records; interrupt delivery and faulted
 * attempts have none. Memory operands are linear addresses, one per distinct
 * address, at most 4 reads and 2 writes; address 0 cannot be represented (0 = none).
 */
import { DECODE_GP, DECODE_UD, decode, Insn } from "../isa/decode.ts";
import { BytesReader } from "../isa/disasm.ts";
import { Opnd } from "../isa/opcodes.ts";
import { AluOp, Op, ShiftOp } from "../isa/ops.ts";
import { BRANCH_TAKEN, BranchKind, INSN_BYTES, Mode, REF_BYTES, Rec, RefBit, recordSize } from "./format.ts";
import type { ByteSink } from "./native.ts";
import type { ChunkSink, RawChunk } from "./recorder.ts";
import { refTarget, u32Of } from "./records.ts";

export const CHAMPSIM_RECORD_BYTES = 64;

/** ChampSim's special register ids (inc/trace_instruction.h). */
export const CS_REG = {
  SP: 6,
  FLAGS: 25,
  IP: 26,
} as const;

/**
 * retrace's ids for the other x86 registers (documented in docs/TRACE_FORMAT.md).
 * General registers in SDM order; ESP is ChampSim's stack pointer.
 */
export const GPR_ID = [1, 2, 3, 4, CS_REG.SP, 7, 8, 9] as const; // eax ecx edx ebx esp ebp esi edi
export const SEG_ID_BASE = 10; // es cs ss ds fs gs = 10..15
export const SYSREG_ID = 16; // control, debug and other system registers
export const X87_ID = 17;
/** Read by an indirect jump or call whose target comes from memory addressed by no register but ESP. */
export const INDIRECT_ID = 5;

const EAX = 0;
const ECX = 1;
const EDX = 2;
const ESP = 4;
const ESI = 6;
const EDI = 7;

/** Register ids of one instruction; at most 2 destinations and 4 sources are kept (ChampSim's slots). */
export class RegSet {
  readonly dst = new Uint8Array(2);
  readonly src = new Uint8Array(4);
  nd = 0;
  ns = 0;
  clear(): void {
    this.dst.fill(0);
    this.src.fill(0);
    this.nd = 0;
    this.ns = 0;
  }
  addDst(id: number): void {
    for (let k = 0; k < this.nd; k++) if (this.dst[k] === id) return;
    if (this.nd < 2) this.dst[this.nd++] = id;
  }
  addSrc(id: number): void {
    for (let k = 0; k < this.ns; k++) if (this.src[k] === id) return;
    if (this.ns < 4) this.src[this.ns++] = id;
  }
}

/** Address registers of the ModRM memory operand. */
function addrRegs(i: Insn, out: RegSet, skipEsp: boolean): number {
  let n = 0;
  if (i.base >= 0 && !(skipEsp && i.base === ESP)) {
    out.addSrc(GPR_ID[i.base]);
    n++;
  }
  if (i.index >= 0 && !(skipEsp && i.index === ESP)) {
    out.addSrc(GPR_ID[i.index]);
    n++;
  }
  return n;
}

/** The register an operand names (-1: none, memory or immediate). */
function operandReg(i: Insn, o: Opnd): number {
  switch (o) {
    case Opnd.Eb:
    case Opnd.Ew:
    case Opnd.Ed:
    case Opnd.Ev:
      return i.mod === 3 ? gprOrByte(i, i.rm, o === Opnd.Eb) : -1;
    case Opnd.Gb:
    case Opnd.Gw:
    case Opnd.Gd:
    case Opnd.Gv:
      return gprOrByte(i, i.reg, o === Opnd.Gb);
    case Opnd.Rd:
      return GPR_ID[i.rm];
    case Opnd.Zb:
      return GPR_ID[i.rm & 3];
    case Opnd.Zv:
      return GPR_ID[i.rm];
    case Opnd.AL:
    case Opnd.AX:
    case Opnd.eAX:
      return GPR_ID[EAX];
    case Opnd.CL:
      return GPR_ID[ECX];
    case Opnd.DX:
      return GPR_ID[EDX];
    case Opnd.Sw:
      return SEG_ID_BASE + i.reg;
    case Opnd.Cd:
    case Opnd.Dd:
      return SYSREG_ID;
    case Opnd.ES:
    case Opnd.CS:
    case Opnd.SS:
    case Opnd.DS:
    case Opnd.FS:
    case Opnd.GS:
      return SEG_ID_BASE + (o - Opnd.ES);
    default:
      return -1;
  }
}

/** Byte registers 4-7 are AH..BH: the same register as 0-3. */
function gprOrByte(_i: Insn, r: number, byte: boolean): number {
  return GPR_ID[byte ? r & 3 : r];
}

function isMemOperand(i: Insn, o: Opnd): boolean {
  switch (o) {
    case Opnd.Eb:
    case Opnd.Ew:
    case Opnd.Ed:
    case Opnd.Ev:
      return i.mod !== 3;
    case Opnd.M:
    case Opnd.Mp:
    case Opnd.Ma:
    case Opnd.Mq:
      return true;
    default:
      return false;
  }
}

/** The destination is only written (not read first). */
function writeOnly(op: number): boolean {
  switch (op) {
    case Op.MovEG:
    case Op.MovGE:
    case Op.MovEI:
    case Op.MovESw:
    case Op.MovSwE:
    case Op.Lea:
    case Op.Movzx:
    case Op.Movsx:
    case Op.PopE:
    case Op.PopSeg:
    case Op.Setcc:
    case Op.InI:
    case Op.InDX:
    case Op.MovRC:
    case Op.MovCR:
    case Op.MovRD:
    case Op.MovDR:
    case Op.LoadFar:
    case Op.Lar:
    case Op.Lsl:
      return true;
    default:
      return false;
  }
}

/** The destination is not written at all (CMP, TEST, BT, stores to ports). */
function noWrite(i: Insn): boolean {
  switch (i.op) {
    case Op.AluEG:
    case Op.AluGE:
    case Op.AluEI:
      return i.sub === AluOp.Cmp;
    case Op.TestEG:
    case Op.TestEI:
    case Op.OutI:
    case Op.OutDX:
    case Op.Bound:
    case Op.PushE:
    case Op.PushI:
    case Op.PushSeg:
      return true;
    case Op.BtEG:
    case Op.BtEI:
      return i.sub === 0;
    default:
      return false;
  }
}

function writesFlags(i: Insn): boolean {
  switch (i.op) {
    case Op.AluEG:
    case Op.AluGE:
    case Op.AluEI:
    case Op.TestEG:
    case Op.TestEI:
    case Op.IncE:
    case Op.DecE:
    case Op.NegE:
    case Op.MulE:
    case Op.ImulGEI:
    case Op.ImulGE:
    case Op.ShiftE:
    case Op.Shld:
    case Op.Shrd:
    case Op.BtEG:
    case Op.BtEI:
    case Op.Bsf:
    case Op.Bsr:
    case Op.Cmps:
    case Op.Scas:
    case Op.Daa:
    case Op.Das:
    case Op.Aaa:
    case Op.Aas:
    case Op.Aam:
    case Op.Aad:
    case Op.Sahf:
    case Op.Popf:
    case Op.FlagOp:
    case Op.Xadd:
    case Op.Cmpxchg:
    case Op.Cmpxchg8b:
    case Op.Arpl:
    case Op.Lar:
    case Op.Lsl:
      return true;
    default:
      return false;
  }
}

function readsFlags(i: Insn): boolean {
  switch (i.op) {
    case Op.Setcc:
    case Op.Cmovcc:
    case Op.Pushf:
    case Op.Lahf:
    case Op.Daa:
    case Op.Das:
    case Op.Aaa:
    case Op.Aas:
    case Op.Salc:
      return true;
    case Op.AluEG:
    case Op.AluGE:
    case Op.AluEI:
      return i.sub === AluOp.Adc || i.sub === AluOp.Sbb;
    case Op.ShiftE:
      return i.sub === ShiftOp.Rcl || i.sub === ShiftOp.Rcr;
    case Op.FlagOp:
      return i.sub === 2; // CMC
    default:
      return false;
  }
}

function usesStack(op: number): boolean {
  switch (op) {
    case Op.PushE:
    case Op.PushI:
    case Op.PushSeg:
    case Op.PopE:
    case Op.PopSeg:
    case Op.Pusha:
    case Op.Popa:
    case Op.Pushf:
    case Op.Popf:
    case Op.Enter:
    case Op.Leave:
      return true;
    default:
      return false;
  }
}

/** Fill `out` with the ChampSim register ids of `i`, a branch of `kind` (BranchKind) or not a branch. */
export function champsimRegs(i: Insn, kind: number, out: RegSet): void {
  out.clear();
  const IP = CS_REG.IP;
  const SP = CS_REG.SP;
  switch (kind) {
    case BranchKind.Cond:
      out.addDst(IP);
      out.addSrc(IP);
      if (i.op === Op.Jcc || i.sub <= 1) out.addSrc(CS_REG.FLAGS); // LOOPNE/LOOPE test ZF
      if (i.op === Op.Loop) {
        out.addSrc(GPR_ID[ECX]);
        if (i.sub !== 3) out.addDst(GPR_ID[ECX]); // JCXZ only reads
      }
      return;
    case BranchKind.Jump:
      out.addDst(IP);
      return;
    case BranchKind.JumpInd:
    case BranchKind.CallInd: {
      out.addDst(IP);
      if (kind === BranchKind.CallInd) {
        out.addDst(SP);
        out.addSrc(IP);
        out.addSrc(SP);
      }
      // The target register (or the registers addressing it) is ChampSim's "other" source.
      let n = 0;
      if (i.mod === 3) {
        if (i.rm !== ESP) {
          out.addSrc(GPR_ID[i.rm]);
          n = 1;
        }
      } else n = addrRegs(i, out, true);
      if (n === 0) out.addSrc(INDIRECT_ID);
      return;
    }
    case BranchKind.Call:
      out.addDst(IP);
      out.addDst(SP);
      out.addSrc(IP);
      out.addSrc(SP);
      return;
    case BranchKind.Ret:
      out.addDst(IP);
      out.addDst(SP);
      out.addSrc(SP);
      return;
    case BranchKind.Other:
      if (i.op === Op.Iret) {
        // IRET restores EFLAGS; it must not look like RET (it does not pop what a CALL pushed).
        out.addDst(IP);
        out.addDst(CS_REG.FLAGS);
        out.addSrc(SP);
        out.addSrc(CS_REG.FLAGS);
      } else {
        // INT n / INT3 / INTO / INT1: push EFLAGS, CS, EIP; IF/TF cleared.
        out.addDst(IP);
        out.addDst(SP);
        out.addSrc(IP);
        out.addSrc(SP);
        out.addSrc(CS_REG.FLAGS);
      }
      return;
  }
  const d = i.desc;
  const op = i.op;
  if (op === Op.Esc) {
    out.addDst(X87_ID);
    out.addSrc(X87_ID);
    if (i.mod !== 3) addrRegs(i, out, false);
    return;
  }
  // Destination operand.
  const dreg = operandReg(i, d.dst);
  if (dreg >= 0) {
    if (!noWrite(i)) out.addDst(dreg);
    if (!writeOnly(op)) out.addSrc(dreg);
  }
  if (isMemOperand(i, d.dst) || d.dst === Opnd.Ob || d.dst === Opnd.Ov) addrRegs(i, out, false);
  // Implicit registers.
  if (usesStack(op)) {
    out.addDst(CS_REG.SP);
    out.addSrc(CS_REG.SP);
  }
  if (writesFlags(i)) out.addDst(CS_REG.FLAGS);
  if (readsFlags(i)) out.addSrc(CS_REG.FLAGS);
  switch (op) {
    case Op.MulE:
      out.addDst(GPR_ID[EAX]);
      if (i.w > 1) out.addDst(GPR_ID[EDX]);
      out.addSrc(GPR_ID[EAX]);
      if (i.sub >= 6 && i.w > 1) out.addSrc(GPR_ID[EDX]); // DIV/IDIV divide EDX:EAX
      break;
    case Op.Cwd:
      out.addDst(GPR_ID[EDX]);
      out.addSrc(GPR_ID[EAX]);
      break;
    case Op.Movs:
    case Op.Cmps:
    case Op.Stos:
    case Op.Lods:
    case Op.Scas:
    case Op.Ins:
    case Op.Outs:
      if (op === Op.Movs || op === Op.Cmps || op === Op.Lods || op === Op.Outs) out.addSrc(GPR_ID[ESI]);
      if (op !== Op.Lods && op !== Op.Outs) out.addSrc(GPR_ID[EDI]);
      if (op === Op.Stos || op === Op.Scas) out.addSrc(GPR_ID[EAX]);
      if (op === Op.Lods) out.addDst(GPR_ID[EAX]);
      if (i.rep !== 0) out.addSrc(GPR_ID[ECX]);
      out.addDst(GPR_ID[op === Op.Lods || op === Op.Outs ? ESI : EDI]);
      break;
    case Op.Cpuid:
    case Op.Rdtsc:
    case Op.Rdmsr:
      out.addDst(GPR_ID[EAX]);
      out.addDst(GPR_ID[EDX]);
      break;
  }
  // Source operands.
  for (const o of [d.src, d.src2]) {
    if (o === Opnd.None) continue;
    const r = operandReg(i, o);
    if (r >= 0) out.addSrc(r);
    if (isMemOperand(i, o) || o === Opnd.Ob || o === Opnd.Ov) addrRegs(i, out, false);
  }
}

interface Cached {
  /** The 16 instruction-byte bytes of the INSN record (zero-padded past the length) as 4 words. */
  w0: number;
  w1: number;
  w2: number;
  w3: number;
  code32: boolean;
  dst: Uint8Array;
  src: Uint8Array;
}

/** `expand --format champsim`. */
export class ChampSimWriter implements ChunkSink {
  records = 0;
  private readonly cache = new Map<number, Cached>();
  private readonly reader = new BytesReader();
  private readonly insn = new Insn();
  private readonly regs = new RegSet();
  /**
   * The output records of a chunk, reused from chunk to chunk (the byte sink writes synchronously and
   * keeps nothing): a fresh buffer of several MiB per chunk cost more in first-touch page faults than
   * the conversion itself.
   */
  private outBuf = new Uint8Array(0);

  constructor(private readonly out: ByteSink) {}

  /** Register ids for the INSN record at byte `p` (word `w`), decoded once per distinct instruction at an address. */
  private lookup(b: Uint8Array, u: Uint32Array, p: number, w: number, code32: boolean, kind: number): Cached {
    const key = u[w + 2] | 0;
    const c = this.cache.get(key);
    if (
      c !== undefined &&
      c.w0 === u[w + 4] &&
      c.w1 === u[w + 5] &&
      c.w2 === u[w + 6] &&
      c.w3 === u[w + 7] &&
      c.code32 === code32
    ) {
      return c;
    }
    this.reader.bytes = b.slice(p + 16, p + 16 + b[p + 1]);
    const regs = this.regs;
    try {
      decode(this.reader, code32, this.insn);
      champsimRegs(this.insn, kind, regs);
    } catch (e) {
      if (e !== DECODE_UD && e !== DECODE_GP) throw e;
      regs.clear();
    }
    const n: Cached = {
      w0: u[w + 4],
      w1: u[w + 5],
      w2: u[w + 6],
      w3: u[w + 7],
      code32,
      dst: regs.dst.slice(),
      src: regs.src.slice(),
    };
    if (this.cache.size >= 1 << 20) this.cache.clear();
    this.cache.set(key, n);
    return n;
  }

  chunk(c: RawChunk): void {
    const { b, u } = u32Of(c.bytes);
    const need = c.instructions * CHAMPSIM_RECORD_BYTES;
    if (this.outBuf.length < need) this.outBuf = new Uint8Array(Math.max(need, this.outBuf.length * 2));
    const out = this.outBuf.subarray(0, need);
    out.fill(0);
    const o32 = new Uint32Array(out.buffer, 0, need >>> 2);
    let n = 0;
    let cur = -1; // byte offset in `out` of the record being filled, -1: none
    let nSrc = 0;
    let nDst = 0;
    const len = b.length;
    let p = 0;
    // The chunk's full INSN/FAULT records (what REF records name) and their register sets once looked up.
    const full: number[] = [];
    const fullRegs: (Cached | undefined)[] = [];
    while (p < len) {
      const kind = b[p];
      if (kind === Rec.Insn || kind === Rec.Ref) {
        let q = p;
        let br: number;
        let reg: Cached | undefined;
        if (kind === Rec.Ref) {
          const word = u[p >> 2];
          if ((word & RefBit.Fault) !== 0) {
            cur = -1;
            p += REF_BYTES;
            continue;
          }
          q = refTarget(full, word, p);
          const idx = word >>> RefBit.IndexShift;
          br = (b[q + 3] & 7) | ((word & RefBit.Taken) !== 0 ? BRANCH_TAKEN : 0);
          reg = fullRegs[idx];
          if (reg === undefined) {
            reg = this.lookup(b, u, q, q >> 2, (b[q + 2] & Mode.Code32) !== 0, br & 7);
            fullRegs[idx] = reg;
          }
          p += REF_BYTES;
        } else {
          br = b[p + 3];
          reg = this.lookup(b, u, p, p >> 2, (b[p + 2] & Mode.Code32) !== 0, br & 7);
          full.push(p);
          fullRegs.push(reg);
          p += INSN_BYTES;
        }
        const lin = u[(q >> 2) + 2];
        cur = n * CHAMPSIM_RECORD_BYTES;
        const w = cur >> 2;
        o32[w] = lin;
        out[cur + 8] = (br & 7) !== BranchKind.None ? 1 : 0;
        out[cur + 9] = (br & BRANCH_TAKEN) !== 0 ? 1 : 0;
        out[cur + 10] = reg.dst[0];
        out[cur + 11] = reg.dst[1];
        out[cur + 12] = reg.src[0];
        out[cur + 13] = reg.src[1];
        out[cur + 14] = reg.src[2];
        out[cur + 15] = reg.src[3];
        nSrc = 0;
        nDst = 0;
        n++;
        continue;
      }
      if (kind === Rec.Fault) {
        full.push(p);
        fullRegs.push(undefined);
        cur = -1;
        p += INSN_BYTES;
        continue;
      }
      if (kind === Rec.Interrupt) cur = -1;
      else if (
        cur >= 0 &&
        (kind === Rec.Read || kind === Rec.Write || kind === Rec.ReadShort || kind === Rec.WriteShort)
      ) {
        const lin = u[(p >> 2) + 1];
        if (lin !== 0) {
          const w = cur >> 2;
          if (kind === Rec.Read || kind === Rec.ReadShort) {
            let dup = false;
            for (let k = 0; k < nSrc; k++) if (o32[w + 8 + 2 * k] === lin) dup = true;
            if (!dup && nSrc < 4) o32[w + 8 + 2 * nSrc++] = lin;
          } else {
            let dup = false;
            for (let k = 0; k < nDst; k++) if (o32[w + 4 + 2 * k] === lin) dup = true;
            if (!dup && nDst < 2) o32[w + 4 + 2 * nDst++] = lin;
          }
        }
      }
      p += recordSize(kind);
    }
    this.records += n;
    if (n > 0)
      this.out.write(n * CHAMPSIM_RECORD_BYTES === out.length ? out : out.subarray(0, n * CHAMPSIM_RECORD_BYTES));
  }
}
