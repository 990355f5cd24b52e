/**
 * Documented differences between the 80286 that recorded the SingleStepTests
 * vectors and an IA-32 processor (P6), which is what retrace implements.
 *
 * Each entry names the tests it covers (by metadata key, e.g. "8C" or "C0.4",
 * plus a predicate on the test), what the runner does with them and why, with
 * the manual passage that makes the difference architectural. Anything not
 * listed here that fails is a CPU bug: entries are never added to hide one.
 *
 * References:
 *  - 286 PRM: Intel, "80286 and 80287 Programmer's Reference Manual": the
 *    Real Address Mode chapter (its list of real-mode interrupts) and the
 *    per-instruction "Real Address Mode Exceptions" of the instruction set
 *    chapter ("Interrupt 13 for a word operand at offset 0FFFFH").
 *  - SDM: Intel 64 and IA-32 Architectures Software Developer's Manual, Vol. 2
 *    (per-instruction "Real-Address Mode Exceptions" and flag notes) and Vol. 3A
 *    ch. 20 (8086 emulation / real-address mode) and §22 (IA-32 compatibility).
 */
import type { Decoded16, MooTest } from "./moo.ts";
import { R16 } from "./moo.ts";

export interface TestView {
  /** Metadata key of the instruction ("80.0", "C6", "0F01.2"). */
  key: string;
  test: MooTest;
  d: Decoded16;
  /** INIT REGS values in REG16 order (ax bx cx dx cs ss ds es sp bp si di ip flags). */
  regs: readonly number[];
}

export type Action =
  /** The two CPUs do different things: the test is not compared (counted as skipped). */
  | { kind: "skip" }
  /** IA-32 leaves these FLAGS bits undefined here: masked out of the comparison. */
  | { kind: "maskFlags"; flags: number }
  /**
   * IA-32 raises vector `ia32` where the 286 raised the test's vector. The runner
   * points IVT entry `ia32` at the same handler, requires the CPU to raise `ia32`,
   * and compares everything else as usual.
   */
  | { kind: "vector"; ia32: number }
  /**
   * A word string instruction faulted on a segment overrun. The 286 has already
   * stepped SI/DI (and CX under REP) for the faulting iteration; IA-32 faults
   * precisely. SI and DI may each equal the recorded value or be one element
   * behind it; under REP, CX may equal it or be 1 or 2 higher (the 286 drops CX
   * by 2 when a store faults). Everything else is compared as usual.
   */
  | { kind: "stringFault" };

export interface Difference {
  id: string;
  /** Metadata keys covered; an entry "80" also covers "80.0".."80.7". null: any opcode. */
  opcodes: readonly string[] | null;
  applies(v: TestView): boolean;
  action: Action;
  /** What differs and why, with the manual passage. */
  reason: string;
}

const OF = 0x0800;
const SF = 0x0080;
const ZF = 0x0040;
const PF = 0x0004;

/** Length of the instruction under test (BYTS without the trailing HLT). */
export function instructionLength(t: MooTest): number {
  return t.bytes.length - 1;
}

const mod = (m: number): number => m >>> 6;
const reg = (m: number): number => (m >>> 3) & 7;
const rm = (m: number): number => m & 7;

/** Bytes of displacement after a 16-bit ModRM byte. */
function dispLength(m: number): number {
  if (mod(m) === 0) return rm(m) === 6 ? 2 : 0;
  if (mod(m) === 1) return 1;
  if (mod(m) === 2) return 2;
  return 0;
}

/** Width in bytes of the memory operand of a ModRM instruction (0: no access). */
function memWidth(op: number, r: number): number {
  if (op <= 0x3b) return op & 1 ? 2 : 1;
  switch (op) {
    case 0x62: // BOUND: two words
    case 0xc4: // LES
    case 0xc5: // LDS
      return 4;
    case 0x8d: // LEA computes, never accesses
      return 0;
    case 0x80:
    case 0x82:
    case 0xc0:
    case 0xc6:
    case 0xd0:
    case 0xd2:
    case 0xf6:
    case 0xfe:
      return 1;
    case 0xff:
      return r === 3 || r === 5 ? 4 : 2;
    default:
      if (op >= 0x84 && op <= 0x8b) return op & 1 ? 2 : 1;
      return 2; // 69 6B 81 83 8C 8E 8F C1 C7 D1 D3 D8-DF F7
  }
}

const SEG_SS = 0x36;
const SEG_DS = 0x3e;

interface MemOperand {
  seg: number; // segment-override prefix byte naming the segment (0x26 ES, 0x2E CS, 0x36 SS, 0x3E DS)
  ea: number;
  width: number;
}

/** The ModRM memory operand of the instruction, from the INIT registers; null for none. */
function memOperand(v: TestView): MemOperand | null {
  const { d, regs, test } = v;
  if (d.modrm < 0 || mod(d.modrm) === 3 || d.opcode > 0xff) return null;
  const width = memWidth(d.opcode, reg(d.modrm));
  if (width === 0) return null;
  const b = test.bytes;
  const at = d.opAt + 2;
  const dl = dispLength(d.modrm);
  let disp = 0;
  if (dl === 1) disp = (b[at] << 24) >> 24;
  else if (dl === 2) disp = b[at] | (b[at + 1] << 8);
  const bx = regs[R16.BX];
  const bp = regs[R16.BP];
  const si = regs[R16.SI];
  const di = regs[R16.DI];
  let base: number;
  let seg = SEG_DS;
  switch (rm(d.modrm)) {
    case 0:
      base = bx + si;
      break;
    case 1:
      base = bx + di;
      break;
    case 2:
      base = bp + si;
      seg = SEG_SS;
      break;
    case 3:
      base = bp + di;
      seg = SEG_SS;
      break;
    case 4:
      base = si;
      break;
    case 5:
      base = di;
      break;
    case 6:
      if (mod(d.modrm) === 0) base = 0;
      else {
        base = bp;
        seg = SEG_SS;
      }
      break;
    default:
      base = bx;
  }
  if (d.segOverride >= 0) seg = d.segOverride;
  return { seg, ea: (base + disp) & 0xffff, width };
}

/** True when `width` bytes from 16-bit offset `off` cross offset 0xFFFF. */
function overruns(off: number, width: number): boolean {
  return (off & 0xffff) + width - 1 > 0xffff;
}

/** Words popped from SS:SP, by opcode (one-byte opcodes and FF/8F groups handled by the caller). */
const POPS: Record<number, number> = {
  7: 1,
  23: 1,
  31: 1,
  97: 8,
  143: 1,
  157: 1,
  194: 1,
  195: 1,
  202: 2,
  203: 2,
  207: 3,
};
for (let op = 0x58; op <= 0x5f; op++) POPS[op] = 1;

/** Words pushed below SS:SP. */
const PUSHES: Record<number, number> = {
  6: 1,
  14: 1,
  22: 1,
  30: 1,
  96: 8,
  104: 1,
  106: 1,
  154: 2,
  156: 1,
  204: 3,
  205: 3,
  206: 3,
  232: 1,
};
for (let op = 0x50; op <= 0x57; op++) PUSHES[op] = 1;

function stackPops(v: TestView): boolean {
  const n = POPS[v.d.opcode] ?? 0;
  const sp = v.regs[R16.SP];
  for (let k = 0; k < n; k++) if (overruns(sp + 2 * k, 2)) return true;
  return false;
}

function stackPushes(v: TestView): boolean {
  let n = PUSHES[v.d.opcode] ?? 0;
  if (v.d.opcode === 0xff && v.d.modrm >= 0) n = [0, 0, 1, 2, 0, 0, 1, 0][reg(v.d.modrm)];
  const sp = v.regs[R16.SP];
  for (let k = 1; k <= n; k++) if (overruns(sp - 2 * k, 2)) return true;
  return false;
}

/**
 * Which segment the first overrunning access of a string instruction uses:
 * SS only through an SS: override on the source. Iterations follow DF and CX.
 */
function stringOverrunIsSS(v: TestView): boolean {
  const op = v.d.opcode;
  const readsSrc = op === 0xa5 || op === 0xa7 || op === 0xad || op === 0x6f;
  const writesDst = op === 0xa5 || op === 0xa7 || op === 0xab || op === 0xaf || op === 0x6d;
  const step = v.regs[R16.FLAGS] & 0x400 ? -2 : 2;
  const count = v.d.rep !== 0 ? v.regs[R16.CX] : 1;
  const srcSeg = v.d.segOverride >= 0 ? v.d.segOverride : SEG_DS;
  for (let k = 0; k < count; k++) {
    if (readsSrc && overruns(v.regs[R16.SI] + k * step, 2)) return srcSeg === SEG_SS;
    if (writesDst && overruns(v.regs[R16.DI] + k * step, 2)) return false;
  }
  return false;
}

/**
 * True when the access that overruns offset 0xFFFF (the 286's interrupt 13)
 * is relative to SS, computed from the INIT registers in the instruction's
 * access order.
 */
export function ssOverrun(v: TestView): boolean {
  const op = v.d.opcode;
  if ((op >= 0xa4 && op <= 0xaf) || (op >= 0x6c && op <= 0x6f)) return stringOverrunIsSS(v);
  if (op === 0xc9) return overruns(v.regs[R16.BP], 2); // LEAVE: pops BP from SS:BP
  if (op === 0x8f && stackPops(v)) return true; // POP r/m reads the stack before writing
  const m = memOperand(v);
  if (m !== null && overruns(m.ea, m.width)) return m.seg === SEG_SS;
  return stackPops(v) || stackPushes(v);
}

/** A byte of INIT RAM at a physical address, or -1 when the test does not list it. */
function initByte(v: TestView, addr: number): number {
  const a = v.test.init.ramAddr;
  for (let i = 0; i < a.length; i++) if (a[i] === addr) return v.test.init.ramValue[i];
  return -1;
}

const SEG_REG: Record<number, number> = { 38: R16.ES, 46: R16.CS, 54: R16.SS, 62: R16.DS };

/** The source operand of F6/F7 (unsigned, `width` bytes), or -1 when it cannot be read from INIT. */
function grp3Operand(v: TestView, width: number): number {
  const m = v.d.modrm;
  if (mod(m) === 3) {
    const r16 = [R16.AX, R16.CX, R16.DX, R16.BX, R16.SP, R16.BP, R16.SI, R16.DI];
    if (width === 2) return v.regs[r16[rm(m)]];
    const r = v.regs[r16[rm(m) & 3]];
    return rm(m) < 4 ? r & 0xff : r >>> 8;
  }
  const op = memOperand(v);
  if (op === null) return -1;
  const base = v.regs[SEG_REG[op.seg]] * 16;
  let value = 0;
  for (let i = 0; i < width; i++) {
    const b = initByte(v, base + ((op.ea + i) & 0xffff));
    if (b < 0) return -1;
    value |= b << (8 * i);
  }
  return value;
}

/** IDIV (F6 /7, F7 /7) whose true quotient does not fit the destination. */
export function idivOverflows(v: TestView): boolean {
  const width = v.d.opcode === 0xf7 ? 2 : 1;
  const src = grp3Operand(v, width);
  if (src < 0) return false;
  const divisor = width === 1 ? (src << 24) >> 24 : (src << 16) >> 16;
  if (divisor === 0) return true;
  const dividend = width === 1 ? (v.regs[R16.AX] << 16) >> 16 : (v.regs[R16.DX] << 16) | v.regs[R16.AX] | 0;
  const q = Math.trunc(dividend / divisor);
  return width === 1 ? q > 127 || q < -128 : q > 32767 || q < -32768;
}

/** IA-32 accepts LOCK only on these read-modify-write forms, with a memory destination (SDM Vol.2A "LOCK"). */
function lockableOnIA32(d: Decoded16): boolean {
  if (d.modrm < 0 || mod(d.modrm) === 3) return false;
  const op = d.opcode;
  const r = reg(d.modrm);
  if (op <= 0x31 && (op & 7) <= 1) return true; // ADD OR ADC SBB AND SUB XOR r/m, r
  if (op >= 0x80 && op <= 0x83) return r !== 7; // group 1 except CMP
  if (op === 0x86 || op === 0x87) return true; // XCHG
  if (op === 0xf6 || op === 0xf7) return r === 2 || r === 3; // NOT, NEG
  if (op === 0xfe || op === 0xff) return r === 0 || r === 1; // INC, DEC
  return false;
}

/** Count of a C0/C1 (imm8) group-2 instruction, before masking. */
function shiftCount(v: TestView): number {
  return v.test.bytes[v.d.opAt + 2 + dispLength(v.d.modrm)];
}

const WORD_STRING_OPS = ["6D", "6F", "A5", "A7", "AB", "AD", "AF"];

export const DIFFERENCES: readonly Difference[] = [
  {
    id: "lock-prefix",
    opcodes: null,
    applies: (v) => v.d.lock && !lockableOnIA32(v.d),
    action: { kind: "skip" },
    reason:
      "The 286 asserts LOCK# for any instruction a LOCK prefix precedes (286 PRM, LOCK; in real mode there is " +
      "no restriction). IA-32 raises #UD when LOCK precedes anything but the listed read-modify-write " +
      "instructions with a memory destination (SDM Vol.2A, LOCK: 'An undefined opcode exception will also be " +
      "generated if the LOCK prefix is used with any instruction not in the above list').",
  },
  {
    id: "length-limit",
    opcodes: null,
    applies: (v) => instructionLength(v.test) > 10 && v.test.exception?.vector === 13,
    action: { kind: "skip" },
    reason:
      "The 286 limits an instruction, prefixes included, to 10 bytes and raises interrupt 13 beyond that " +
      "(286 PRM, Real Address Mode chapter; every 11- and 12-byte test in the set that does not #UD records it); IA-32 allows 15 bytes " +
      "(SDM Vol.2A §2.3.11), so these 11- and 12-byte forms simply execute.",
  },
  {
    id: "ss-overrun-vector",
    opcodes: null,
    applies: (v) => v.test.exception?.vector === 13 && ssOverrun(v),
    action: { kind: "vector", ia32: 12 },
    reason:
      "In real mode the 286 reports every segment overrun (a word at offset 0FFFFH, a stack access " +
      "wrapping past it) as interrupt 13 whatever the segment (286 PRM, per-instruction Real Address " +
      "Mode Exceptions: 'Interrupt 13 for a word operand at offset 0FFFFH', stack instructions included). IA-32 raises #SS (12) when the offending access is SS-relative (SDM Vol.2, Real-Address " +
      "Mode Exceptions: '#SS If a memory operand effective address is outside the SS segment limit'). The " +
      "pushed frame is the same, so the runner routes vector 12 to the test's handler and compares the rest.",
  },
  {
    id: "string-overrun-state",
    opcodes: WORD_STRING_OPS,
    applies: (v) => v.test.exception?.vector === 13,
    action: { kind: "stringFault" },
    reason:
      "When a word string instruction (MOVSW CMPSW STOSW LODSW SCASW INSW OUTSW) overruns offset 0FFFFH, the " +
      "recorded 286 has already stepped the index register of the access that faulted (and of the accesses " +
      "before it) and, under REP, CX when it takes interrupt 13: the vectors show SI/DI up to one element on and " +
      "CX up to two lower than at the start of the faulting iteration, with the frame pointing at the instruction. " +
      "IA-32 faults are precise: the registers reflect only the completed iterations (SDM Vol.3A §6.5 'Faults': " +
      "state restored to before the faulting instruction; Vol.2B REP: after a fault the registers point to the " +
      "element to process next, so the instruction restarts correctly).",
  },
  {
    id: "pop-rm-overrun-state",
    opcodes: ["8F"],
    applies: (v) => {
      if (v.test.exception?.vector !== 13) return false;
      const m = memOperand(v);
      return m !== null && overruns(m.ea, m.width);
    },
    action: { kind: "skip" },
    reason:
      "POP r/m16 whose memory destination overruns offset 0FFFFH: the recorded 286 has already added 2 to SP " +
      "when it takes interrupt 13, so its frame sits 2 bytes higher than an IA-32 frame. IA-32 faults are precise " +
      "and leave SP as it was (SDM Vol.3A §6.5 'Faults'; Vol.2B POP: the stack pointer is incremented only once " +
      "the instruction completes), so neither SP nor the frame's addresses are comparable.",
  },
  {
    id: "aam-zero-flags",
    opcodes: ["D4"],
    applies: (v) => v.test.exception?.vector === 0,
    action: { kind: "maskFlags", flags: SF | ZF | PF },
    reason:
      "AAM with an immediate of 0: the recorded 286 has already set SF, ZF and PF when it raises the divide " +
      "error, so FLAGS and the pushed FLAGS image differ from the state before the instruction. On IA-32 #DE is " +
      "a fault and leaves FLAGS unchanged (SDM Vol.2A AAM: '#DE If an immediate value of 0 is used'; Vol.3A §6.5).",
  },
  {
    id: "idiv-overflow-undetected",
    opcodes: ["F6.7", "F7.7"],
    applies: (v) => v.test.exception === null && idivOverflows(v),
    action: { kind: "skip" },
    reason:
      "IDIV whose true quotient does not fit the destination, yet the recorded 286 raised no divide error and " +
      "left a truncated quotient (e.g. AX=81C1h / 7Ch = -260 gave AL=80h): the 286's overflow check misses some " +
      "such quotients. IA-32 raises #DE whenever the quotient is outside -128..127 (-32768..32767) " +
      "(SDM Vol.2A IDIV: 'IF (temp > 7FH) or (temp < 80H) THEN #DE').",
  },
  {
    id: "fs-gs",
    opcodes: ["8C", "8E"],
    applies: (v) => v.d.modrm >= 0 && (reg(v.d.modrm) === 4 || reg(v.d.modrm) === 5),
    action: { kind: "skip" },
    reason:
      "Sreg encodings 4 and 5 do not exist on the 286 (four segment registers; MOV with them is an " +
      "undefined opcode, interrupt 6). On IA-32 they are FS and GS (SDM Vol.2B, MOV: Sreg 4 = FS, 5 = GS).",
  },
  {
    id: "shift-rotate-undefined-of",
    opcodes: ["C0"],
    applies: (v) => (shiftCount(v) & 0x1f) > 1,
    action: { kind: "maskFlags", flags: OF },
    reason:
      "For shifts and rotates by more than one bit, OF is undefined on IA-32 (SDM Vol.2B, SAL/SAR/SHL/SHR " +
      "and RCL/RCR/ROL/ROR: 'The OF flag is defined only for the 1-bit rotates/shifts; it is undefined in all " +
      "other cases'). metadata.json masks OF for C1, D2 and D3 but not for the C0 byte forms (e.g. SHR CH,9Fh: " +
      "the 286 leaves OF clear).",
  },
];

/** Whether a difference's opcode list covers a metadata key. */
export function coversKey(diff: Difference, key: string): boolean {
  if (diff.opcodes === null) return true;
  const base = key.split(".")[0];
  return diff.opcodes.includes(key) || diff.opcodes.includes(base);
}

/** The differences that apply to one test, in table order. */
export function differencesFor(v: TestView): Difference[] {
  return DIFFERENCES.filter((diff) => coversKey(diff, v.key) && diff.applies(v));
}

/**
 * Real mode on the 286: FLAGS bits 12-15 (IOPL, NT, reserved) cannot be set and
 * read as 0 (286 PRM, Real Address Mode chapter; README of the vector set: "mask them"). The runner
 * clears them in the INIT state before loading it and leaves them out of the
 * FLAGS comparison; an IA-32 CPU would otherwise keep IOPL/NT from POPF/IRET.
 */
export const REAL_MODE_FLAGS = 0x0fff;
