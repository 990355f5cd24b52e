/**
 * Random straight-line programs for the block compiler's tests: integer instructions with
 * register, memory and immediate operands at all three widths, flag consumers (Jcc, SETcc,
 * CMOVcc, ADC/SBB, PUSHF), forward branches, stack traffic, and instructions the compiler
 * leaves to the interpreter, so that compiled and interpreted runs can be compared state for
 * state. Encodings follow the SDM Vol.2 opcode map; EBP holds the data base and is never written.
 */

/** Seeded xorshift32: the same seed gives the same program. */
export class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  /** A value with a bias towards the edges where flags change (0, 1, sign bits, all ones). */
  value(): number {
    const edges = [0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000];
    return this.int(4) === 0 ? this.pick(edges) | 0 : this.next() | 0;
  }
}

/** Registers a program may write: EAX ECX EDX EBX ESI EDI (not ESP, not EBP = data base). */
const DST = [0, 1, 2, 3, 6, 7];
/** Byte registers that do not alias ESP/EBP: AL CL DL BL AH CH DH BH. */
const DST8 = [0, 1, 2, 3, 4, 5, 6, 7];

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

export interface FuzzOptions {
  /** Instructions in the program (before the final HLT). */
  length: number;
  /** Offsets of [EBP + disp8] stay below this (the data window). */
  dataBytes: number;
}

/** One random program; the caller loads it, points EBP at the data and ESP at a stack. */
export function randomProgram(r: Rand, o: FuzzOptions): number[] {
  const out: number[] = [];
  // ModRM for a register or [EBP + disp8] (mod 01, rm 101; EBP points at the middle of the data window).
  const half = o.dataBytes >>> 1;
  const disp = (): number => (r.int(o.dataBytes - 4) - half) & (r.int(2) ? 0xff : 0xfc);
  const modrm = (reg: number, mem: boolean, rm: number): number[] =>
    mem ? [0x45 | (reg << 3), disp()] : [0xc0 | (reg << 3) | rm];
  const wsel = (): { pre: number[]; w: number } => {
    const k = r.int(6);
    return k === 0 ? { pre: [], w: 1 } : k === 1 ? { pre: [0x66], w: 2 } : { pre: [], w: 4 };
  };
  const reg = (w: number): number => (w === 1 ? r.pick(DST8) : r.pick(DST));
  const imm = (w: number): number[] => {
    const v = r.int(3) === 0 ? r.pick([0, 1, -1, 0x7f, 0x80, 0x7fff, 0x8000]) : r.value();
    return w === 1 ? [v & 0xff] : w === 2 ? [v & 0xff, (v >>> 8) & 0xff] : le32(v);
  };
  const pendingJumps: number[] = [];
  /** Usually read the flags just produced: SETcc, CMOVcc, ADC/SBB, Jcc over an INC, PUSHFD. */
  const consumer = (): void => {
    const cc = r.int(16);
    switch (r.int(6)) {
      case 0:
        out.push(0x0f, 0x90 | cc, 0xc0 | r.pick(DST8));
        break;
      case 1:
        out.push(0x0f, 0x40 | cc, 0xc0 | (r.pick(DST) << 3) | r.pick(DST));
        break;
      case 2:
        out.push(0x11 + 8 * r.int(2), 0xc0 | (r.pick(DST) << 3) | r.pick(DST));
        break;
      case 3:
        out.push(0x70 | cc, 1, 0x40 | r.pick(DST));
        break;
      case 4:
        out.push(0x9c, 0x58 | r.pick(DST));
        break;
    }
  };
  for (let n = 0; n < o.length; n++) {
    const mem = r.int(3) === 0;
    const sel = wsel();
    // Memory operands default to SS (EBP base); sometimes through DS or ES instead.
    const pre = mem && r.int(3) === 0 ? [r.pick([0x3e, 0x26]), ...sel.pre] : sel.pre;
    const w = sel.w;
    const op1 = w === 1 ? 0 : 1;
    const kind = r.int(34);
    switch (kind < 8 ? 0 : kind - 8) {
      case 0:
      case 1:
      case 2: {
        // ALU E,G / G,E (00-3B): add or adc sbb and sub xor cmp, often followed by a flag consumer
        const alu = r.int(8);
        const dir = r.int(2) * 2;
        const a = reg(w);
        out.push(...pre, (alu << 3) | dir | op1, ...modrm(a, mem, r.int(3) === 0 ? a : reg(w))); // often x, x
        consumer();
        break;
      }
      case 3:
      case 4: {
        // ALU E,imm (80/81/83)
        const alu = r.int(8);
        if (w !== 1 && r.int(2) === 0) out.push(...pre, 0x83, ...modrm(alu, mem, reg(w)), r.int(256));
        else out.push(...pre, w === 1 ? 0x80 : 0x81, ...modrm(alu, mem, reg(w)), ...imm(w));
        consumer();
        break;
      }
      case 5:
        // TEST E,G / E,imm
        if (r.int(2)) out.push(...pre, 0x84 | op1, ...modrm(reg(w), mem, reg(w)));
        else out.push(...pre, 0xf6 | op1, ...modrm(0, mem, reg(w)), ...imm(w));
        break;
      case 6:
        // INC/DEC E (FE/FF /0 /1)
        out.push(...pre, 0xfe | op1, ...modrm(r.int(2), mem, reg(w)));
        consumer();
        break;
      case 7:
        // NOT/NEG E (F6/F7 /2 /3)
        out.push(...pre, 0xf6 | op1, ...modrm(2 + r.int(2), mem, reg(w)));
        break;
      case 8: {
        // shifts: C0/C1 imm8, D0/D1 by 1, D2/D3 by CL; all eight group-2 ops
        const sub = r.int(8);
        const k = r.int(3);
        if (k === 0) out.push(...pre, 0xc0 | op1, ...modrm(sub, mem, reg(w)), r.int(40));
        else if (k === 1) out.push(...pre, 0xd0 | op1, ...modrm(sub, mem, reg(w)));
        else out.push(...pre, 0xd2 | op1, ...modrm(sub, mem, reg(w)));
        consumer();
        break;
      }
      case 9:
        // MOV E,G / G,E / E,imm
        if (r.int(3) === 0) out.push(...pre, 0xc6 | op1, ...modrm(0, mem, reg(w)), ...imm(w));
        else out.push(...pre, 0x88 | op1 | (r.int(2) * 2), ...modrm(reg(w), mem, reg(w)));
        break;
      case 10:
        // MOVZX/MOVSX r32, r/m8 or r/m16
        out.push(0x0f, r.pick([0xb6, 0xb7, 0xbe, 0xbf]), ...modrm(r.pick(DST), mem, r.pick(DST)));
        break;
      case 11:
        // SETcc r/m8
        out.push(0x0f, 0x90 | r.int(16), ...modrm(0, mem, r.pick(DST8)));
        break;
      case 12:
        // CMOVcc r32, r/m32
        out.push(0x0f, 0x40 | r.int(16), ...modrm(r.pick(DST), mem, r.pick(DST)));
        break;
      case 13:
        // IMUL r, r/m (0F AF), r, r/m, imm8 (6B), imm32 (69)
        if (r.int(2)) out.push(...(w === 2 ? pre : []), 0x0f, 0xaf, ...modrm(r.pick(DST), mem, r.pick(DST)));
        else out.push(...(w === 2 ? pre : []), 0x6b, ...modrm(r.pick(DST), mem, r.pick(DST)), r.int(256));
        break;
      case 14:
        // LEA r32, [EBP + disp8] / [reg + reg*scale + disp8]
        if (r.int(2)) out.push(0x8d, 0x45 | (r.pick(DST) << 3), disp());
        else out.push(0x8d, 0x44 | (r.pick(DST) << 3), (r.int(4) << 6) | (r.pick(DST) << 3) | r.pick(DST), r.int(256));
        break;
      case 15:
        // XCHG E,G
        out.push(...pre, 0x86 | op1, ...modrm(reg(w), mem, reg(w)));
        break;
      case 16:
        // PUSH r / imm, then POP r (balanced)
        out.push(0x50 | r.pick(DST));
        if (r.int(2)) out.push(0x6a, r.int(256), 0x58 | r.pick(DST));
        out.push(0x58 | r.pick(DST));
        break;
      case 17:
        // PUSHFD; POP r: the six arithmetic flags become data
        out.push(0x9c, 0x58 | r.pick(DST));
        break;
      case 18:
        // a forward Jcc over the next 0-2 instructions (closed below), or a JMP
        out.push(r.int(8) === 0 ? 0xeb : 0x70 | r.int(16), 0);
        pendingJumps.push(out.length - 1, n + 1 + r.int(3));
        break;
      case 19:
        // BT/BTS/BTR/BTC r, r (0F A3 AB B3 BB), 32- or 16-bit
        out.push(...(r.int(4) === 0 ? [0x66] : []), 0x0f, r.pick([0xa3, 0xab, 0xb3, 0xbb]));
        out.push(0xc0 | (r.pick(DST) << 3) | r.pick(DST));
        break;
      case 20:
        // CLC STC CMC LAHF SAHF CBW/CWDE CWD/CDQ
        out.push(...(r.int(4) === 0 ? [0x66] : []), r.pick([0xf8, 0xf9, 0xf5, 0x9f, 0x9e, 0x98, 0x99]));
        break;
      case 21: {
        // BT/BTS/BTR/BTC r/m, imm8 (0F BA /4-/7), BSF/BSR (0F BC/BD), BSWAP
        const k = r.int(3);
        if (k === 0)
          out.push(...(r.int(4) === 0 ? [0x66] : []), 0x0f, 0xba, ...modrm(4 + r.int(4), mem, r.pick(DST)), r.int(256));
        else if (k === 1) out.push(0x0f, 0xbc | r.int(2), ...modrm(r.pick(DST), mem, r.pick(DST)));
        else out.push(0x0f, 0xc8 | r.pick(DST));
        break;
      }
      case 22:
        // MUL/IMUL E (F6/F7 /4 /5): EDX:EAX
        out.push(...pre, 0xf6 | op1, ...modrm(4 + r.int(2), mem, reg(w)));
        break;
      case 23:
        // XADD / CMPXCHG E,G
        out.push(...pre, 0x0f, r.pick([0xc0, 0xb0]) | op1, ...modrm(reg(w), mem, reg(w)));
        break;
      case 24: {
        // MOVS CMPS STOS LODS SCAS without REP, each width, in the data window (ESI and EDI set
        // first), sometimes with a segment override, sometimes after STD (DF stays set) or CLD
        if (r.int(4) === 0) out.push(r.pick([0xfc, 0xfd]));
        out.push(0x8d, 0x75, disp() & 0xfc, 0x8d, 0x7d, disp() & 0xfc);
        const sw = r.pick([1, 2, 4]);
        if (sw === 2) out.push(0x66);
        if (r.int(4) === 0) out.push(r.pick([0x26, 0x2e, 0x36, 0x3e]));
        out.push(r.pick([0xa4, 0xa6, 0xaa, 0xac, 0xae]) | (sw === 1 ? 0 : 1));
        break;
      }
      default:
        // SHLD/SHRD r/m32, r32, imm8 or CL
        if (r.int(2)) out.push(0x0f, r.pick([0xa4, 0xac]), ...modrm(r.pick(DST), mem, r.pick(DST)), r.int(32));
        else out.push(0x0f, r.pick([0xa5, 0xad]), ...modrm(r.pick(DST), mem, r.pick(DST)));
        consumer();
        break;
    }
    // Close jumps whose target instruction index is reached.
    for (let j = 0; j < pendingJumps.length; j += 2) {
      if (pendingJumps[j + 1] === n + 1) {
        const at = pendingJumps[j];
        out[at] = (out.length - (at + 1)) & 0xff;
        pendingJumps.splice(j, 2);
        j -= 2;
      }
    }
  }
  for (let j = 0; j < pendingJumps.length; j += 2) {
    const at = pendingJumps[j];
    out[at] = (out.length - (at + 1)) & 0xff;
  }
  out.push(0xf4); // HLT
  return out;
}
