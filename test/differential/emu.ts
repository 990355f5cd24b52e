/**
 * The emulated side of the differential suite: runs a case in retrace's CPU at
 * the same linear addresses the native runner uses (native.ts), ring 3 of a
 * flat 32-bit protected-mode machine with paging off.
 */
import { PortBus } from "../../src/bus/ports.ts";
import { Cpu, Seg } from "../../src/cpu/cpu.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";
import {
  type CaseInput,
  type CaseResult,
  CODE,
  DATA16_WIN,
  DATA_PAGES,
  DATA_WIN,
  INSN_ADDR,
  LOW_PAGES,
  STACK_PAGES,
  STACK_WIN,
  type Selectors,
  WIN,
} from "./native.ts";

/** AR bits of a flat ring-3 segment (SDM 3A §3.4.5): P, S, DPL 3, D/B, G, type. */
const AR_P = 1 << 7;
const AR_S = 1 << 4;
const AR_DPL3 = 3 << 5;
const AR_DB = 1 << 14;
const AR_G = 1 << 15;
const AR_DATA = 0x3; // read/write, accessed
const AR_CODE = 0xb; // execute/read, accessed
const CR0_AM = 1 << 18;

export class Emulator {
  readonly mem = new PhysicalMemory({ ramBytes: 8 << 20 });
  readonly cpu = new Cpu(this.mem, new PortBus());
  /** Error code of the exception that stopped the last case. */
  private errCode = -1;
  private readonly words = new Int32Array(this.mem.ram.buffer, this.mem.ram.byteOffset, this.mem.ram.length >>> 2);

  /**
   * `sel`: the selectors the native process runs with, so that MOV r/m,Sreg and PUSH Sreg
   * read the same values. A null selector (FS/GS on Linux) gets an unusable cache, as on
   * the host, so that an FS:/GS: access faults on both sides.
   */
  constructor(sel: Selectors) {
    const cpu = this.cpu;
    cpu.enterFlat32(3);
    cpu.cr0 |= CR0_AM; // as Linux runs user code: EFLAGS.AC enables alignment checking
    const flat = (s: number, v: number, type: number): void => {
      if ((v & 0xfffc) === 0) cpu.setSegCache(s, v, 0, 0, 0);
      else cpu.setSegCache(s, v, 0, -1, AR_P | AR_S | AR_DPL3 | AR_DB | AR_G | type);
    };
    flat(Seg.CS, sel.cs, AR_CODE);
    flat(Seg.SS, sel.ss, AR_DATA);
    flat(Seg.DS, sel.ds, AR_DATA);
    flat(Seg.ES, sel.es, AR_DATA);
    flat(Seg.FS, sel.fs, AR_DATA);
    flat(Seg.GS, sel.gs, AR_DATA);
    cpu.onException = (_vector, code) => {
      this.errCode = code;
      return true;
    };
    for (let a = CODE; a < CODE + 0x1000; a += 2) {
      this.mem.ram[a] = 0x0f;
      this.mem.ram[a + 1] = 0x0b;
    }
  }

  run(c: CaseInput): CaseResult {
    const { cpu, mem } = this;
    const ram = mem.ram;
    // Code exactly as the runner lays it out: POPFD, the instruction, UD2s.
    ram[CODE] = 0x9d;
    ram.set(c.bytes, INSN_ADDR);
    for (let k = 0; k < 16; k += 2) {
      ram[INSN_ADDR + c.bytes.length + k] = 0x0f;
      ram[INSN_ADDR + c.bytes.length + k + 1] = 0x0b;
    }
    cpu.invalidatePage(CODE >>> 12);
    const dataAt = c.low ? DATA16_WIN : DATA_WIN;
    ram.set(c.data, dataAt);
    ram.set(c.stack, STACK_WIN);
    cpu.regs.set(c.regs);
    cpu.setEflags(c.eflags);
    cpu.eip = INSN_ADDR;
    cpu.stopVector = -1;
    cpu.halted = false;
    this.errCode = -1;
    // The POPFD that the runner executes first is replaced by setting EFLAGS directly;
    // run(1) retires the instruction under test (a REP string instruction retires whole).
    cpu.run(1);
    const regs = new Int32Array(cpu.regs);
    const res: CaseResult = {
      exc: cpu.stopVector,
      errCode: this.errCode,
      eip: cpu.eip | 0,
      eflags: cpu.getEflags(),
      regs,
      data: ram.slice(dataAt, dataAt + WIN),
      stack: ram.slice(STACK_WIN, STACK_WIN + WIN),
    };
    ram.fill(0, dataAt, dataAt + WIN);
    this.checkOutside();
    return res;
  }

  /**
   * Harness check (after the data window was cleared): nothing outside the windows may change, or the generator aimed a
   * memory operand outside what the runner reports. Throws (a harness bug, not a CPU bug).
   */
  private checkOutside(): void {
    const words = this.words;
    const check = (from: number, to: number): void => {
      for (let k = from >>> 2; k < to >>> 2; k++) {
        if (words[k] !== 0) {
          this.mem.ram.fill(0, from, to);
          throw new Error(`harness: the instruction wrote outside the windows near 0x${(k * 4).toString(16)}`);
        }
      }
    };
    check(DATA_PAGES, DATA_PAGES + 0x2000);
    check(LOW_PAGES, LOW_PAGES + 0x2000);
    check(STACK_PAGES, STACK_WIN);
    check(STACK_WIN + WIN, STACK_PAGES + 0x2000);
  }
}
