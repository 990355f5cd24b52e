/**
 * The IA-32 (P6 integer) CPU: registers, lazy flags, segmentation, paging with
 * a flat software TLB, exceptions, and the run loop over decoded blocks cached
 * by physical address.
 *
 * The CPU sees the world only through PhysicalMemory, PortBus, an interrupt
 * line (`intr` + `ackInterrupt`) and `timeSource` for RDTSC; it knows nothing of
 * devices, logs or traces.
 */
import type { PortBus } from "../bus/ports.ts";
import { DECODE_GP, DECODE_UD, type CodeReader, decode, Insn, Reg, Seg } from "../isa/decode.ts";
import { OpFlag } from "../isa/opcodes.ts";
import { PageKind, type PhysicalMemory } from "../memory/physical.ts";
import { AR, CR0, CR4, F, PTE, Tlb, Vec } from "./constants.ts";
import { execute } from "./exec.ts";
import { Fpu } from "./fpu.ts";
import {
  compilePartial,
  compileRegion,
  Exit,
  MERGE_AFTER,
  mergeRegions,
  type Region,
  runRegion,
} from "./jit/compile.ts";
import { WasmLayout } from "./jit/wasm-layout.ts";
import type { CpuTracer } from "./trace-hook.ts";
import { deliverInterruptPM, loadSegPM } from "./system.ts";

export { Reg, Seg };

/** Thrown (never as an Error) when an exception was raised; caught by the run loop. */
export const CPU_FAULT = { fault: true } as const;

/** Parity of a byte: 1 when the number of set bits is even (PF). */
const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >>> 4;
  b ^= b >>> 2;
  b ^= b >>> 1;
  PARITY[i] = ~b & 1;
}

const MAX_BLOCK = 64;
/**
 * A traced region is JavaScript, which V8 optimises on its one compiler thread, the second core
 * that expansion's compressor needs too; it pays only for the hottest code. Linux boot, native,
 * 500M instructions of kernel and userspace from 2.4 billion: interpreted 29.2-33.5 s (57-61 s of
 * CPU); compiled past 1,000 runs (518 regions) 62.9 s (125 s of CPU), 10,000 runs 44.2 s, 100,000
 * runs 28.9-31.0 s (alternating with the interpreted runs). The decompressor (1.0-1.5 billion,
 * records thrown away) ran at 34.4 M/s past 100,000 runs against 36.2 past 1,000.
 */
const TRACED_JIT_FACTOR = 100;

/** A run of decoded instructions starting at one physical address. */
export class Block {
  readonly insns: Insn[] = [];
  n = 0;
  valid = true;
  /** Successor cache (chaining): the last two blocks seen after this one (Cpu.getBlock). */
  nextBlock: Block | null = null;
  altBlock: Block | null = null;
  /** Executions, for the trace/JIT layers. */
  hits = 0;
  /** The compiled region (src/cpu/jit) holding this block, once it ran more than Cpu.jitThreshold times. */
  region: Region | null = null;
  /** The same for the traced loop (runBlockTraced): a region that calls the trace hook. */
  tregion: Region | null = null;
  constructor(
    readonly phys: number,
    readonly lin: number,
    readonly code32: boolean,
    /** Physical pages this block's bytes come from (1 or 2). */
    readonly page0: number,
    public page1: number,
  ) {}
}

/** Model-specific registers we implement (SDM 4). Unknown MSRs raise #GP(0). */
export const enum Msr {
  TSC = 0x10,
}

export class Cpu implements CodeReader {
  /** General registers: a view of the machine's WebAssembly memory (compiled regions read them there). */
  readonly regs: Int32Array;
  eip = 0;
  /** EIP of the instruction being executed (faults restart here). */
  curEip = 0;

  // Segment registers and their descriptor caches (SDM 3A §3.4.3).
  readonly segSel = new Int32Array(6);
  readonly segBase = new Int32Array(6);
  readonly segLimit = new Int32Array(6); // unsigned value stored as int32 (0xFFFFFFFF = -1)
  readonly segAr = new Int32Array(6);
  gdtBase = 0;
  gdtLimit = 0xffff;
  idtBase = 0;
  idtLimit = 0x3ff;
  ldtSel = 0;
  ldtBase = 0;
  ldtLimit = 0xffff;
  trSel = 0;
  trBase = 0;
  trLimit = 0xffff;
  trAr = 0;

  cr0 = 0;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  readonly dr = new Int32Array(8);

  // Lazy arithmetic flags (STYLE.md §4): result, carry vector, top bit, and overrides.
  fres = 0;
  fcv = 0;
  ftop = 31;
  /** Mask of arithmetic flag bits that come from `fbits` instead of the lazy state. */
  fovr = 0;
  fbits = 0;
  /** EFLAGS without the six arithmetic flags. */
  eflags = F.Bit1;

  cpl = 0;
  /** CS.D: default operand/address size 32. */
  code32 = false;
  /** SS.B: stack pointer is ESP (true) or SP. */
  stack32 = false;
  /** IP wrap mask: 0xFFFF in 16-bit code, -1 in 32-bit code. */
  ipMask = 0xffff;

  /** CR0.AM && EFLAGS.AC && CPL 3: misaligned user data accesses raise #AC(0) (SDM 3A §6.15, int 17). */
  alignCheck = false;
  halted = false;
  /** Number of retired instructions (an integer Number: exact to 2^53). */
  icount = 0;
  /** Interrupt line from the PIC; the machine sets it. */
  intr = false;
  /** INTA cycle: returns the vector of the pending interrupt. */
  ackInterrupt: () => number = () => 0x08;
  nmiPending = false;
  /** Interrupts are inhibited until this instruction count (STI, MOV SS shadow). */
  inhibitUntil = -1;
  /** Called on triple fault (shutdown): the machine resets. */
  onShutdown: (() => void) | null = null;
  /** Trace hook (expansion): null on the untraced path, which then pays one null check per access. */
  tracer: CpuTracer | null = null;
  /** Test hook: return true to stop on an exception instead of delivering it. */
  onException: ((vector: number, errorCode: number) => boolean) | null = null;
  stopVector = -1;
  /** Run-loop stop request (machine/replay): checked at block boundaries and after HLT. */
  stopRequested = false;
  /** Time-stamp counter source: returns [lo, hi] via tscLo/tscHi; defaults to icount. */
  tscOffset = 0;
  timeSource: (() => number) | null = null;

  // Exception bookkeeping.
  excVector = -1;
  excCode = 0;
  excHasCode = false;
  /** Delivery nesting: 0 normal, 1 delivering, used for #DF / triple-fault detection. */
  private delivering = 0;
  private deliveringVector = -1;

  // Software TLB (STYLE.md §6).
  readonly tlb: Int32Array;
  /** The state block of WebAssembly regions (src/cpu/jit/wasm-layout.ts St), as int32 and float64 slots. */
  readonly wasmI32: Int32Array;
  readonly wasmF64: Float64Array;
  private readonly tlbFilled = new Int32Array(4096);
  private tlbCount = 0;
  /** RAM fast-path masks for the current CPL. */
  rdMask = Tlb.Valid | Tlb.RFast;
  wrMask = Tlb.Valid | Tlb.WFast | Tlb.SupW;
  a20Mask = -1;

  // Decoded-block cache, by physical address, one map per default code size.
  private readonly blocks16 = new Map<number, Block>();
  private readonly blocks32 = new Map<number, Block>();
  /** Count of live blocks per physical page; nonzero pages are write-protected in the TLB. */
  readonly codePages: Uint16Array;
  private readonly pageBlocks = new Map<number, Block[]>();
  /** Set when the current block was invalidated by a write while executing. */
  blockDirty = false;
  private decodeLin = 0;
  private decodeLimitCheck = false;

  readonly ram: Uint8Array;
  /** `ram` for 16/32-bit little-endian accesses. */
  readonly ramView: DataView;
  /** `ram` as aligned 16- and 32-bit words (compiled blocks, which need a little-endian host). */
  readonly ram16: Uint16Array;
  readonly ram32: Int32Array;
  /**
   * Default of `jitThreshold` for new CPUs (tests set 0 to compile every block, -1 interprets).
   * On the Linux boot, with one V8 compiler thread (bin/retrace), 1000 reached the done marker in
   * 17.3-23.6 s (median 19.1, 9 runs) where 200 took 20.1-22.9 s (median 21.7, 12 runs): 568 regions
   * to optimise instead of 956, and the compiler thread is the bottleneck of the kernel phase
   * (compiling on the main thread instead: 30.6 s against 37 s). 3000 and 10000 were no better
   * (21.6-22.7 s). --jit-threshold N sets it.
   */
  static defaultJitThreshold = 1000;
  /** Blocks executed more than this many times are compiled to JavaScript (src/cpu/jit); -1: never. */
  jitThreshold = Cpu.defaultJitThreshold;
  private readonly ramPages: number;
  msrSysenterCs = 0;
  msrSysenterEsp = 0;
  msrSysenterEip = 0;
  /** The x87 FPU (fpu.ts). */
  readonly fpu = new Fpu();

  constructor(
    readonly mem: PhysicalMemory,
    readonly io: PortBus,
  ) {
    this.ram = mem.ram;
    const wbuf = mem.wasm.buffer;
    this.regs = new Int32Array(wbuf, WasmLayout.Regs, 8);
    this.tlb = new Int32Array(wbuf, WasmLayout.Tlb, 1 << 20);
    this.wasmI32 = new Int32Array(wbuf, WasmLayout.State, 64);
    this.wasmF64 = new Float64Array(wbuf, WasmLayout.State, 32);
    new Uint8Array(wbuf, WasmLayout.Parity, 256).set(PARITY);
    this.ramView = new DataView(mem.ram.buffer, mem.ram.byteOffset, mem.ram.byteLength);
    this.ram16 = new Uint16Array(mem.ram.buffer, mem.ram.byteOffset, mem.ram.byteLength >>> 1);
    this.ram32 = new Int32Array(mem.ram.buffer, mem.ram.byteOffset, mem.ram.byteLength >>> 2);
    this.ramPages = mem.ramBytes >>> 12;
    this.codePages = new Uint16Array(this.ramPages + 1);
    mem.onMapChange = () => this.flushTlb();
    this.reset();
  }

  // ---------------------------------------------------------------- reset and modes

  /** Power-on / RESET state (SDM 3A §9.1.1, table 9-1). */
  reset(): void {
    this.regs.fill(0);
    this.regs[Reg.EDX] = 0x0633; // family 6, model 3, stepping 3: what CPUID reports
    this.eip = 0xfff0;
    this.setEflags(F.Bit1);
    for (let s = 0; s < 6; s++) {
      this.segSel[s] = 0;
      this.segBase[s] = 0;
      this.segLimit[s] = 0xffff;
      this.segAr[s] = AR.P | AR.S | AR.RW | AR.Accessed;
    }
    this.segSel[Seg.CS] = 0xf000;
    this.segBase[Seg.CS] = 0xffff0000 | 0;
    this.segAr[Seg.CS] = AR.P | AR.S | AR.Code | AR.RW | AR.Accessed;
    this.gdtBase = 0;
    this.gdtLimit = 0xffff;
    this.idtBase = 0;
    this.idtLimit = 0x3ff;
    this.ldtSel = this.ldtBase = 0;
    this.ldtLimit = 0xffff;
    this.trSel = this.trBase = 0;
    this.trLimit = 0xffff;
    this.trAr = 0x8b;
    this.cr0 = CR0.ET | CR0.CD | CR0.NW;
    this.cr2 = this.cr3 = this.cr4 = 0;
    this.dr.fill(0);
    this.dr[6] = 0xffff0ff0 | 0;
    this.dr[7] = 0x400;
    this.halted = false;
    this.inhibitUntil = -1;
    this.stopVector = -1;
    this.delivering = 0;
    this.nmiPending = false;
    this.tscOffset = 0;
    this.msrSysenterCs = this.msrSysenterEsp = this.msrSysenterEip = 0;
    this.fpu.reset();
    this.updateMode();
    this.flushTlb();
    this.flushBlocks();
  }

  /** Recompute CPL-, CS- and SS-derived caches. Call after any change to CR0, CS, SS or EFLAGS.VM. */
  updateMode(): void {
    if ((this.cr0 & CR0.PE) === 0) this.cpl = 0;
    else if (this.eflags & F.VM) this.cpl = 3;
    else this.cpl = this.segSel[Seg.CS] & 3;
    this.code32 = (this.segAr[Seg.CS] & AR.DB) !== 0 && (this.eflags & F.VM) === 0;
    this.stack32 = (this.segAr[Seg.SS] & AR.DB) !== 0 && (this.eflags & F.VM) === 0;
    this.ipMask = this.code32 ? -1 : 0xffff;
    this.alignCheck = this.cpl === 3 && (this.cr0 & CR0.AM) !== 0 && (this.eflags & F.AC) !== 0;
    this.rdMask = Tlb.Valid | Tlb.RFast | (this.cpl === 3 ? Tlb.UserR : 0);
    this.wrMask = Tlb.Valid | Tlb.WFast | (this.cpl === 3 ? Tlb.UserW : Tlb.SupW);
  }

  get protectedMode(): boolean {
    return (this.cr0 & CR0.PE) !== 0;
  }
  get v86(): boolean {
    return (this.eflags & F.VM) !== 0;
  }

  /** Tests: protected mode with flat 4 GiB segments at CPL `cpl`, paging off, no IDT. */
  enterFlat32(cpl: 0 | 3): void {
    this.cr0 |= CR0.PE;
    this.eflags &= ~F.VM;
    const dpl = cpl << AR.DplShift;
    for (let s = 0; s < 6; s++) {
      const code = s === Seg.CS;
      this.segSel[s] = (code ? 0x08 : 0x10) | cpl;
      this.segBase[s] = 0;
      this.segLimit[s] = -1;
      this.segAr[s] = AR.P | AR.S | AR.RW | AR.Accessed | AR.DB | AR.G | dpl | (code ? AR.Code : 0);
    }
    this.updateMode();
    this.flushTlb();
  }

  // ---------------------------------------------------------------- flags

  getCF(): number {
    return this.fovr & F.CF ? this.fbits & 1 : (this.fcv >>> this.ftop) & 1;
  }
  getPF(): number {
    return this.fovr & F.PF ? (this.fbits >>> 2) & 1 : PARITY[this.fres & 0xff];
  }
  getAF(): number {
    return this.fovr & F.AF ? (this.fbits >>> 4) & 1 : (this.fcv >>> 3) & 1;
  }
  getZF(): number {
    return this.fovr & F.ZF ? (this.fbits >>> 6) & 1 : this.fres === 0 ? 1 : 0;
  }
  getSF(): number {
    return this.fovr & F.SF ? (this.fbits >>> 7) & 1 : this.fres >>> 31;
  }
  getOF(): number {
    return this.fovr & F.OF ? (this.fbits >>> 11) & 1 : ((this.fcv >>> this.ftop) ^ (this.fcv >>> (this.ftop - 1))) & 1;
  }

  /** The six arithmetic flags as EFLAGS bits. */
  arithFlags(): number {
    return (
      this.getCF() |
      (this.getPF() << 2) |
      (this.getAF() << 4) |
      (this.getZF() << 6) |
      (this.getSF() << 7) |
      (this.getOF() << 11)
    );
  }

  getEflags(): number {
    return this.eflags | this.arithFlags() | F.Bit1 | 0;
  }

  /** Set all of EFLAGS (no privilege filtering: callers filter). */
  setEflags(v: number): void {
    const oldVm = this.eflags & F.VM;
    this.fovr = F.Arith;
    this.fbits = v & F.Arith;
    this.eflags = (v & ~F.Arith & 0x3f7fd7) | F.Bit1;
    if ((this.eflags & F.VM) !== oldVm) this.updateMode();
    else this.alignCheck = this.cpl === 3 && (this.cr0 & CR0.AM) !== 0 && (this.eflags & F.AC) !== 0;
  }

  /** Replace some arithmetic flags (mask of F bits) with explicit values. */
  setArith(mask: number, bits: number): void {
    if (mask === F.Arith) {
      this.fovr = F.Arith;
      this.fbits = bits & F.Arith;
      return;
    }
    const cur = this.arithFlags();
    this.fovr = F.Arith;
    this.fbits = (cur & ~mask) | (bits & mask);
  }

  setFlagsAdd(a: number, b: number, r: number, top: number): void {
    this.fcv = (a & b) | ((a | b) & ~r);
    const sh = 31 - top;
    this.fres = (r << sh) >> sh;
    this.ftop = top;
    this.fovr = 0;
  }
  setFlagsSub(a: number, b: number, r: number, top: number): void {
    this.fcv = (~a & b) | ((~a ^ b) & r);
    const sh = 31 - top;
    this.fres = (r << sh) >> sh;
    this.ftop = top;
    this.fovr = 0;
  }
  setFlagsLogic(r: number, top: number): void {
    this.fcv = 0;
    const sh = 31 - top;
    this.fres = (r << sh) >> sh;
    this.ftop = top;
    this.fovr = 0;
  }
  /** Result-based SF/ZF/PF with explicit CF/OF/AF (shifts, multiplies). */
  setFlagsResult(r: number, top: number, cfofaf: number): void {
    const sh = 31 - top;
    this.fres = (r << sh) >> sh;
    this.ftop = top;
    this.fovr = F.CF | F.OF | F.AF;
    this.fbits = cfofaf;
  }

  /** Condition code cc (SDM 2 Appendix B): 0 O, 1 NO, 2 B, 3 AE, 4 E, 5 NE, 6 BE, 7 A, 8 S, 9 NS, A P, B NP, C L, D GE, E LE, F G. */
  cond(cc: number): boolean {
    let r: number;
    switch (cc >>> 1) {
      case 0:
        r = this.getOF();
        break;
      case 1:
        r = this.getCF();
        break;
      case 2:
        r = this.getZF();
        break;
      case 3:
        r = this.getCF() | this.getZF();
        break;
      case 4:
        r = this.getSF();
        break;
      case 5:
        r = this.getPF();
        break;
      case 6:
        r = this.getSF() ^ this.getOF();
        break;
      default:
        r = this.getZF() | (this.getSF() ^ this.getOF());
        break;
    }
    return (r ^ (cc & 1)) !== 0;
  }

  // ---------------------------------------------------------------- registers by width

  getReg(w: number, r: number): number {
    if (w === 4) return this.regs[r];
    if (w === 2) return this.regs[r] & 0xffff;
    return r < 4 ? this.regs[r] & 0xff : (this.regs[r - 4] >>> 8) & 0xff;
  }

  setReg(w: number, r: number, v: number): void {
    if (w === 4) this.regs[r] = v;
    else if (w === 2) this.regs[r] = (this.regs[r] & ~0xffff) | (v & 0xffff);
    else if (r < 4) this.regs[r] = (this.regs[r] & ~0xff) | (v & 0xff);
    else this.regs[r - 4] = (this.regs[r - 4] & ~0xff00) | ((v & 0xff) << 8);
  }

  // ---------------------------------------------------------------- segments

  getSel(s: number): number {
    return this.segSel[s];
  }

  /** Real-mode style segment load: base = selector << 4 (limit and attributes kept, as on hardware). */
  setSegReal(s: number, sel: number): void {
    sel &= 0xffff;
    this.segSel[s] = sel;
    this.segBase[s] = sel << 4;
    if (this.eflags & F.VM) {
      // V86: every segment is a 64 KiB DPL-3 data segment (SDM 3A §20.1.1).
      this.segLimit[s] = 0xffff;
      this.segAr[s] = AR.P | AR.S | AR.RW | AR.Accessed | (3 << AR.DplShift) | (s === Seg.CS ? AR.Code : 0);
    } else if (s === Seg.CS) {
      // Real mode keeps CS a 16-bit code segment.
      this.segAr[s] = (this.segAr[s] & ~(AR.DB | AR.TypeMask)) | AR.Code | AR.RW | AR.Accessed | AR.P | AR.S;
    }
    if (s === Seg.CS || s === Seg.SS) this.updateMode();
  }

  /** Load a descriptor cache directly (tests, task switch, SMM-like setup). */
  setSegCache(s: number, sel: number, base: number, limit: number, ar: number): void {
    this.segSel[s] = sel & 0xffff;
    this.segBase[s] = base | 0;
    this.segLimit[s] = limit | 0;
    this.segAr[s] = ar;
    if (s === Seg.CS || s === Seg.SS) this.updateMode();
  }

  /** MOV/POP to a segment register, or LxS: mode-dependent checks (SDM 3A §5). */
  loadSeg(s: number, sel: number): void {
    if ((this.cr0 & CR0.PE) === 0 || this.eflags & F.VM) this.setSegReal(s, sel);
    else loadSegPM(this, s, sel & 0xffff);
  }

  /**
   * Segment check for an access of `size` bytes at `off`; returns the linear address.
   * SDM 3A §5.3 (limit checking), §5.4 (type checking).
   */
  segCheck(s: number, off: number, size: number, write: boolean): number {
    const ar = this.segAr[s];
    const limit = this.segLimit[s] >>> 0;
    off >>>= 0;
    const end = off + size - 1;
    if ((this.cr0 & CR0.PE) !== 0 && (this.eflags & F.VM) === 0) {
      // A null selector loads a cache marked not present (SDM 3A §5.4.1): using it is #GP(0).
      if ((ar & AR.P) === 0) this.segFault(s);
      if (write) {
        if (ar & AR.Code || (ar & AR.RW) === 0) this.segFault(s);
      } else if ((ar & (AR.Code | AR.RW)) === AR.Code) this.segFault(s); // execute-only code
    }
    if ((ar & (AR.Code | AR.DC)) === AR.DC) {
      // Expand-down data segment: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF.
      const upper = ar & AR.DB ? 0xffffffff : 0xffff;
      if (off <= limit || end > upper) this.segFault(s);
    } else if (end > limit) {
      this.segFault(s);
    }
    return (this.segBase[s] + off) | 0;
  }

  private segFault(s: number): never {
    return this.raise(s === Seg.SS ? Vec.SS : Vec.GP, 0);
  }

  /** True when segment `s` is a flat 4 GiB expand-up segment usable without checks for reads and writes. */
  isFlat(s: number): boolean {
    return this.segLimit[s] === -1 && (this.segAr[s] & (AR.Code | AR.DC | AR.RW)) === AR.RW;
  }

  // ---------------------------------------------------------------- exceptions

  /** Raise exception `vector` with an error code (-1 = none) and unwind to the run loop. */
  raise(vector: number, code: number): never {
    this.excVector = vector;
    this.excCode = code;
    this.excHasCode = code >= 0;
    throw CPU_FAULT;
  }

  /** #GP with an error code. */
  gp(code: number): never {
    return this.raise(Vec.GP, code);
  }

  // ---------------------------------------------------------------- paging and the TLB

  flushTlb(): void {
    if (this.tlbCount >= this.tlbFilled.length) this.tlb.fill(0);
    else for (let i = 0; i < this.tlbCount; i++) this.tlb[this.tlbFilled[i]] = 0;
    this.tlbCount = 0;
    // Decoded blocks ahead may now be mapped elsewhere: the run loop (and compiled code, which
    // only checks its pages when it enters them) must look the next one up again.
    this.blockDirty = true;
  }

  invlpg(lin: number): void {
    this.tlb[lin >>> 12] = 0;
    this.blockDirty = true;
  }

  private tlbFill(page: number, phys: number, bits: number): void {
    if (this.tlb[page] === 0) {
      if (this.tlbCount < this.tlbFilled.length) this.tlbFilled[this.tlbCount] = page;
      this.tlbCount++;
    }
    const ppage = phys >>> 12;
    const kind = this.mem.pageKind[ppage];
    if (kind !== PageKind.Slow) {
      bits |= Tlb.RFast;
      if (kind === PageKind.Ram && (ppage >= this.ramPages || this.codePages[ppage] === 0)) {
        bits |= Tlb.WFast;
        // Writes through this entry will skip physWrite8: the page counts as written from now on.
        if ((bits & (Tlb.SupW | Tlb.UserW)) !== 0) this.mem.written[ppage] = 1;
      }
    }
    this.tlb[page] = (phys & ~0xfff) | bits | Tlb.Valid;
  }

  /**
   * Translate a linear address, walking the page tables on a miss (SDM 3A §4.3).
   * `user`: the access is a user-mode access (CPL 3 and not an implicit system access).
   * Returns the physical address (unsigned Number); raises #PF on failure.
   */
  translate(lin: number, write: boolean, user: boolean): number {
    const page = lin >>> 12;
    const e = this.tlb[page];
    if (e !== 0) {
      const need = write ? (user ? Tlb.UserW : Tlb.SupW) : user ? Tlb.UserR : 0;
      if ((e & need) === need) return ((e & ~0xfff) | (lin & 0xfff)) >>> 0;
    }
    if ((this.cr0 & CR0.PG) === 0) {
      const phys = lin & this.a20Mask;
      this.tlbFill(page, phys, Tlb.SupW | Tlb.UserR | Tlb.UserW);
      return ((phys & ~0xfff) | (lin & 0xfff)) >>> 0;
    }
    return this.walk(lin, write, user);
  }

  private walk(lin: number, write: boolean, user: boolean): number {
    const pdeAddr = ((this.cr3 & ~0xfff) | ((lin >>> 20) & 0xffc)) & this.a20Mask;
    let pde = this.physRead32(pdeAddr);
    const wp = (this.cr0 & CR0.WP) !== 0;
    if ((pde & PTE.P) === 0) this.pageFault(lin, 0, write, user);
    if (pde & PTE.PS && this.cr4 & CR4.PSE) {
      // 4 MiB page (SDM 3A §4.3, table 4-4).
      const allowUser = (pde & PTE.U) !== 0;
      const allowW = (pde & PTE.W) !== 0;
      this.checkAccess(lin, write, user, allowUser, allowW, wp);
      const newPde = pde | PTE.A | (write ? PTE.D : 0);
      if (newPde !== pde) this.physWrite32(pdeAddr, newPde);
      pde = newPde;
      const phys = ((pde & 0xffc00000) | (lin & 0x3ff000)) & this.a20Mask;
      this.tlbFill(lin >>> 12, phys, this.permBits(allowUser, allowW, wp, (pde & PTE.D) !== 0));
      return ((phys & ~0xfff) | (lin & 0xfff)) >>> 0;
    }
    const pteAddr = ((pde & ~0xfff) | ((lin >>> 10) & 0xffc)) & this.a20Mask;
    let pte = this.physRead32(pteAddr);
    if ((pte & PTE.P) === 0) this.pageFault(lin, 0, write, user);
    const allowUser = (pde & pte & PTE.U) !== 0;
    const allowW = (pde & pte & PTE.W) !== 0;
    this.checkAccess(lin, write, user, allowUser, allowW, wp);
    if ((pde & PTE.A) === 0) this.physWrite32(pdeAddr, pde | PTE.A);
    const newPte = pte | PTE.A | (write ? PTE.D : 0);
    if (newPte !== pte) this.physWrite32(pteAddr, newPte);
    pte = newPte;
    const phys = pte & ~0xfff & this.a20Mask;
    this.tlbFill(lin >>> 12, phys, this.permBits(allowUser, allowW, wp, (pte & PTE.D) !== 0));
    return ((phys & ~0xfff) | (lin & 0xfff)) >>> 0;
  }

  private permBits(allowUser: boolean, allowW: boolean, wp: boolean, dirty: boolean): number {
    let bits = 0;
    if (allowUser) bits |= Tlb.UserR;
    if (dirty) {
      if (allowW || !wp) bits |= Tlb.SupW;
      if (allowUser && allowW) bits |= Tlb.UserW;
    }
    return bits;
  }

  private checkAccess(
    lin: number,
    write: boolean,
    user: boolean,
    allowUser: boolean,
    allowW: boolean,
    wp: boolean,
  ): void {
    if (user) {
      if (!allowUser || (write && !allowW)) this.pageFault(lin, 1, write, user);
    } else if (write && !allowW && wp) {
      this.pageFault(lin, 1, write, user);
    }
  }

  /** #PF: CR2 = linear address; error code P | W/R | U/S (SDM 3A §6.15, interrupt 14). */
  private pageFault(lin: number, present: number, write: boolean, user: boolean): never {
    this.cr2 = lin;
    return this.raise(Vec.PF, present | (write ? 2 : 0) | (user ? 4 : 0));
  }

  physRead32(p: number): number {
    p >>>= 0;
    if (p + 3 < this.mem.ramBytes && this.mem.pageKind[p >>> 12] !== PageKind.Slow) {
      const r = this.ram;
      return r[p] | (r[p + 1] << 8) | (r[p + 2] << 16) | (r[p + 3] << 24);
    }
    return (
      this.mem.read8(p) | (this.mem.read8(p + 1) << 8) | (this.mem.read8(p + 2) << 16) | (this.mem.read8(p + 3) << 24)
    );
  }

  physWrite32(p: number, v: number): void {
    for (let i = 0; i < 4; i++) this.physWrite8(p + i, v >>> (8 * i));
  }

  /** Every CPU write to physical memory that misses the fast path lands here (code invalidation). */
  physWrite8(p: number, v: number): void {
    p >>>= 0;
    const page = p >>> 12;
    if (page < this.ramPages && this.codePages[page] !== 0) this.invalidatePage(page);
    this.mem.write8(p, v & 0xff);
  }

  physRead8(p: number): number {
    return this.mem.read8(p);
  }

  // ---------------------------------------------------------------- linear memory access

  /** `user`: true for ordinary accesses at CPL 3; system accesses (descriptor tables, TSS) pass false. */
  private uReadLin8(lin: number, user = this.cpl === 3): number {
    const e = this.tlb[lin >>> 12];
    if ((e & this.rdMask) === this.rdMask) return this.ram[(e & ~0xfff) | (lin & 0xfff)];
    return this.mem.read8(this.translate(lin, false, user));
  }

  private uReadLin16(lin: number, user = this.cpl === 3): number {
    if ((lin & 0xfff) === 0xfff) return this.uReadLin8(lin, user) | (this.uReadLin8(lin + 1, user) << 8);
    const e = this.tlb[lin >>> 12];
    if ((e & this.rdMask) === this.rdMask) {
      const p = (e & ~0xfff) | (lin & 0xfff);
      return this.ram[p] | (this.ram[p + 1] << 8);
    }
    const p = this.translate(lin, false, user);
    return this.mem.read8(p) | (this.mem.read8(p + 1) << 8);
  }

  private uReadLin32(lin: number, user = this.cpl === 3): number {
    if ((lin & 0xfff) > 0xffc) {
      // Crosses a page: translate both pages before reading (faults leave no partial state).
      this.translate(lin, false, user);
      this.translate(((lin + 3) & ~0xfff) | 0, false, user);
      return (
        this.uReadLin8(lin, user) |
        (this.uReadLin8(lin + 1, user) << 8) |
        (this.uReadLin8(lin + 2, user) << 16) |
        (this.uReadLin8(lin + 3, user) << 24)
      );
    }
    const e = this.tlb[lin >>> 12];
    if ((e & this.rdMask) === this.rdMask) {
      const p = (e & ~0xfff) | (lin & 0xfff);
      const r = this.ram;
      return r[p] | (r[p + 1] << 8) | (r[p + 2] << 16) | (r[p + 3] << 24);
    }
    const p = this.translate(lin, false, user);
    const m = this.mem;
    return m.read8(p) | (m.read8(p + 1) << 8) | (m.read8(p + 2) << 16) | (m.read8(p + 3) << 24);
  }

  private uWriteLin8(lin: number, v: number, user = this.cpl === 3): void {
    const e = this.tlb[lin >>> 12];
    if ((e & this.wrMask) === this.wrMask) {
      this.ram[(e & ~0xfff) | (lin & 0xfff)] = v;
      return;
    }
    this.physWrite8(this.translate(lin, true, user), v);
  }

  private uWriteLin16(lin: number, v: number, user = this.cpl === 3): void {
    if ((lin & 0xfff) === 0xfff) {
      this.translate(lin, true, user);
      this.translate(((lin + 1) & ~0xfff) | 0, true, user);
      this.uWriteLin8(lin, v, user);
      this.uWriteLin8(lin + 1, v >>> 8, user);
      return;
    }
    const e = this.tlb[lin >>> 12];
    if ((e & this.wrMask) === this.wrMask) {
      const p = (e & ~0xfff) | (lin & 0xfff);
      this.ram[p] = v;
      this.ram[p + 1] = v >>> 8;
      return;
    }
    const p = this.translate(lin, true, user);
    this.physWrite8(p, v);
    this.physWrite8(p + 1, v >>> 8);
  }

  private uWriteLin32(lin: number, v: number, user = this.cpl === 3): void {
    if ((lin & 0xfff) > 0xffc) {
      this.translate(lin, true, user);
      this.translate(((lin + 3) & ~0xfff) | 0, true, user);
      for (let i = 0; i < 4; i++) this.uWriteLin8(lin + i, v >>> (8 * i), user);
      return;
    }
    const e = this.tlb[lin >>> 12];
    if ((e & this.wrMask) === this.wrMask) {
      const p = (e & ~0xfff) | (lin & 0xfff);
      const r = this.ram;
      r[p] = v;
      r[p + 1] = v >>> 8;
      r[p + 2] = v >>> 16;
      r[p + 3] = v >>> 24;
      return;
    }
    const p = this.translate(lin, true, user);
    for (let i = 0; i < 4; i++) this.physWrite8(p + i, v >>> (8 * i));
  }

  // Public linear accessors: the untraced path plus one null check for the trace hook.
  readLin8(lin: number, user = this.cpl === 3): number {
    const v = this.uReadLin8(lin, user);
    if (this.tracer !== null) this.tracer.mem(this, lin, 1, false, v);
    return v;
  }
  readLin16(lin: number, user = this.cpl === 3): number {
    if (this.alignCheck && (lin & 1) !== 0 && user) this.raise(Vec.AC, 0);
    const v = this.uReadLin16(lin, user);
    if (this.tracer !== null) this.tracer.mem(this, lin, 2, false, v);
    return v;
  }
  readLin32(lin: number, user = this.cpl === 3): number {
    if (this.alignCheck && (lin & 3) !== 0 && user) this.raise(Vec.AC, 0);
    const v = this.uReadLin32(lin, user);
    if (this.tracer !== null) this.tracer.mem(this, lin, 4, false, v);
    return v;
  }
  writeLin8(lin: number, v: number, user = this.cpl === 3): void {
    this.uWriteLin8(lin, v, user);
    if (this.tracer !== null) this.tracer.mem(this, lin, 1, true, v & 0xff);
  }
  writeLin16(lin: number, v: number, user = this.cpl === 3): void {
    if (this.alignCheck && (lin & 1) !== 0 && user) this.raise(Vec.AC, 0);
    this.uWriteLin16(lin, v, user);
    if (this.tracer !== null) this.tracer.mem(this, lin, 2, true, v & 0xffff);
  }
  writeLin32(lin: number, v: number, user = this.cpl === 3): void {
    if (this.alignCheck && (lin & 3) !== 0 && user) this.raise(Vec.AC, 0);
    this.uWriteLin32(lin, v, user);
    if (this.tracer !== null) this.tracer.mem(this, lin, 4, true, v | 0);
  }

  /** Physical address the TLB holds for `lin` (valid right after an access to it). */
  physOf(lin: number): number {
    const e = this.tlb[lin >>> 12];
    return ((e & ~0xfff) | (lin & 0xfff)) >>> 0;
  }

  readLin(lin: number, w: number): number {
    return w === 4 ? this.readLin32(lin) : w === 2 ? this.readLin16(lin) : this.readLin8(lin);
  }
  writeLin(lin: number, v: number, w: number): void {
    if (w === 4) this.writeLin32(lin, v);
    else if (w === 2) this.writeLin16(lin, v);
    else this.writeLin8(lin, v);
  }

  /** Make sure a write of `w` bytes at `lin` will not fault (read-modify-write: fault before any change). */
  probeWrite(lin: number, w: number): void {
    this.translate(lin, true, this.cpl === 3);
    // The second page is probed at its first byte: that is the address #PF reports in CR2.
    if ((lin & 0xfff) + w > 0x1000) this.translate(((lin + w - 1) & ~0xfff) | 0, true, this.cpl === 3);
  }

  // ---------------------------------------------------------------- segmented access

  /** Linear address of a `w`-byte access at seg:off, checked. */
  lin(s: number, off: number, w: number, write: boolean): number {
    if (this.segLimit[s] === -1 && this.isFlat(s) && (this.cr0 & CR0.PE) !== 0) return (this.segBase[s] + off) | 0;
    return this.segCheck(s, off, w, write);
  }

  rd8(s: number, off: number): number {
    return this.readLin8(this.lin(s, off, 1, false));
  }
  rd16(s: number, off: number): number {
    return this.readLin16(this.lin(s, off, 2, false));
  }
  rd32(s: number, off: number): number {
    return this.readLin32(this.lin(s, off, 4, false));
  }
  rd(s: number, off: number, w: number): number {
    return this.readLin(this.lin(s, off, w, false), w);
  }
  wr8(s: number, off: number, v: number): void {
    this.writeLin8(this.lin(s, off, 1, true), v);
  }
  wr16(s: number, off: number, v: number): void {
    this.writeLin16(this.lin(s, off, 2, true), v);
  }
  wr32(s: number, off: number, v: number): void {
    this.writeLin32(this.lin(s, off, 4, true), v);
  }
  wr(s: number, off: number, v: number, w: number): void {
    this.writeLin(this.lin(s, off, w, true), v, w);
  }

  /** Effective address (offset) of the ModRM memory operand. */
  ea(i: Insn): number {
    let a = i.disp;
    if (i.base >= 0) a += this.regs[i.base];
    if (i.index >= 0) a += this.regs[i.index] << i.scale;
    return i.a16 ? a & 0xffff : a | 0;
  }

  /** Read the E operand at width w. */
  readE(i: Insn, w: number): number {
    if (i.mod === 3) return this.getReg(w, i.rm);
    return this.rd(i.seg, this.ea(i), w);
  }
  writeE(i: Insn, w: number, v: number): void {
    if (i.mod === 3) this.setReg(w, i.rm, v);
    else this.wr(i.seg, this.ea(i), v, w);
  }

  // ---------------------------------------------------------------- stack

  /** Push a value of `w` bytes (2 or 4). ESP changes only after the write succeeded. */
  push(v: number, w: number): void {
    const sp = this.regs[Reg.ESP];
    if (this.stack32) {
      const nsp = (sp - w) | 0;
      this.wr(Seg.SS, nsp, v, w);
      this.regs[Reg.ESP] = nsp;
    } else {
      const nsp = (sp - w) & 0xffff;
      this.wr(Seg.SS, nsp, v, w);
      this.regs[Reg.ESP] = (sp & ~0xffff) | nsp;
    }
  }

  /** Read the value `w` bytes wide at the stack top + `delta` without popping. */
  peek(w: number, delta: number): number {
    const sp = this.regs[Reg.ESP];
    return this.rd(Seg.SS, this.stack32 ? (sp + delta) | 0 : (sp + delta) & 0xffff, w);
  }

  /** Release `n` bytes from the stack. */
  addSp(n: number): void {
    const sp = this.regs[Reg.ESP];
    if (this.stack32) this.regs[Reg.ESP] = (sp + n) | 0;
    else this.regs[Reg.ESP] = (sp & ~0xffff) | ((sp + n) & 0xffff);
  }

  pop(w: number): number {
    const v = this.peek(w, 0);
    this.addSp(w);
    return v;
  }

  // ---------------------------------------------------------------- code fetch and blocks

  /** CodeReader for the decoder: byte at decodeLin + i, with CS limit and page checks. */
  byteAt(i: number): number {
    const lin = (this.decodeLin + i) | 0;
    if (this.decodeLimitCheck) {
      const off = (lin - this.segBase[Seg.CS]) >>> 0;
      if (off > this.segLimit[Seg.CS] >>> 0) this.raise(Vec.GP, 0);
    }
    const e = this.tlb[lin >>> 12];
    if ((e & this.rdMask) === this.rdMask) return this.ram[(e & ~0xfff) | (lin & 0xfff)];
    return this.mem.read8(this.translate(lin, false, this.cpl === 3));
  }

  flushBlocks(): void {
    for (const map of [this.blocks16, this.blocks32])
      for (const b of map.values()) {
        b.valid = false;
        if (b.region !== null) b.region.valid = false;
        if (b.tregion !== null) b.tregion.valid = false;
      }
    this.blocks16.clear();
    this.blocks32.clear();
    this.pageBlocks.clear();
    this.codePages.fill(0);
  }

  /** Decoded blocks registered on a RAM page (src/cpu/jit groups them into regions). */
  blocksOnPage(page: number): readonly Block[] {
    return this.pageBlocks.get(page) ?? [];
  }

  /** A write hit a page holding decoded code: drop its blocks (self-modifying code). */
  invalidatePage(page: number): void {
    const list = this.pageBlocks.get(page);
    if (list !== undefined) {
      for (let k = 0; k < list.length; k++) {
        const b = list[k];
        if (!b.valid) continue;
        b.valid = false;
        if (b.region !== null) b.region.valid = false; // compiled code from this page is stale
        if (b.tregion !== null) b.tregion.valid = false;
        (b.code32 ? this.blocks32 : this.blocks16).delete(b.phys);
        const other = b.page0 === page ? b.page1 : b.page0;
        if (other !== page && other >= 0 && other < this.ramPages && this.codePages[other] > 0) this.codePages[other]--;
      }
      this.pageBlocks.delete(page);
    }
    this.codePages[page] = 0;
    this.blockDirty = true;
  }

  private registerBlock(b: Block): void {
    (b.code32 ? this.blocks32 : this.blocks16).set(b.phys, b);
    this.addPage(b.page0, b);
    if (b.page1 !== b.page0 && b.page1 >= 0) this.addPage(b.page1, b);
  }

  private addPage(page: number, b: Block): void {
    if (page >= this.ramPages) return; // ROM/MMIO: never written through the fast path
    let list = this.pageBlocks.get(page);
    if (list === undefined) {
      list = [];
      this.pageBlocks.set(page, list);
    }
    list.push(b);
    if (this.codePages[page]++ === 0) {
      // The page just became code: remove fast-write permission from every TLB entry.
      this.flushTlb();
    }
  }

  /** Find or decode the block at CS:EIP. May raise (#PF/#GP on fetch). */
  /** The block executed last: its successor cache chains blocks without a lookup. */
  private prevBlock: Block | null = null;

  private getBlock(): Block {
    const lin = (this.segBase[Seg.CS] + this.eip) | 0;
    const e = this.tlb[lin >>> 12];
    let phys: number;
    if ((e & this.rdMask) === this.rdMask) phys = (e & ~0xfff) | (lin & 0xfff);
    else phys = this.translate(lin, false, this.cpl === 3);
    // Chaining: the previous block remembers the two blocks that followed it last. A link holds
    // when that block starts at this linear address, comes from the physical address the TLB maps
    // it to now (so links survive TLB flushes), has the current code size and was not invalidated
    // by a code write: exactly what the lookup below would check.
    const code32 = this.code32;
    const prev = this.prevBlock;
    if (prev !== null) {
      const nb = prev.nextBlock;
      if (nb !== null && nb.lin === lin && nb.phys === phys && nb.valid && nb.code32 === code32) {
        this.prevBlock = nb;
        return nb;
      }
      const ab = prev.altBlock;
      if (ab !== null && ab.lin === lin && ab.phys === phys && ab.valid && ab.code32 === code32) {
        this.prevBlock = ab;
        return ab;
      }
    }
    const map = code32 ? this.blocks32 : this.blocks16;
    let b = map.get(phys);
    if (b === undefined || b.lin !== lin) b = this.decodeBlock(lin, phys);
    if (prev !== null) {
      prev.altBlock = prev.nextBlock;
      prev.nextBlock = b;
    }
    this.prevBlock = b;
    return b;
  }

  private decodeBlock(lin: number, phys: number): Block {
    const code32 = this.code32;
    this.decodeLimitCheck = !(this.segLimit[Seg.CS] === -1 && this.segBase[Seg.CS] === 0) || !code32;
    const page0 = phys >>> 12;
    const b = new Block(phys, lin, code32, page0, page0);
    let cur = lin;
    for (let k = 0; k < MAX_BLOCK; k++) {
      this.decodeLin = cur;
      const insn = new Insn();
      try {
        decode(this, code32, insn);
      } catch (err) {
        if (k > 0 && (err === CPU_FAULT || err === DECODE_GP)) break; // fault belongs to that instruction: next block
        if (err === DECODE_UD) {
          insn.op = 0; // Op.UD
          insn.len = 1;
        } else if (err === DECODE_GP) {
          this.raise(Vec.GP, 0);
        } else throw err;
      }
      insn.linear = cur;
      const end = (cur + insn.len - 1) | 0;
      if (end >>> 12 !== lin >>> 12) {
        // Straddles into the next page: record that page too, and end the block here.
        if (k > 0 && (this.tlb[end >>> 12] & Tlb.Valid) === 0) break;
        const p1 = this.translate(end, false, this.cpl === 3) >>> 12;
        b.page1 = p1;
        b.insns.push(insn);
        break;
      }
      b.insns.push(insn);
      cur = (cur + insn.len) | 0;
      if ((insn.desc.flags & (OpFlag.Branch | OpFlag.EndsBlock)) !== 0 || insn.op === 0) break;
      if (cur >>> 12 !== lin >>> 12) break;
    }
    b.n = b.insns.length;
    this.registerBlock(b);
    return b;
  }

  // ---------------------------------------------------------------- the run loop

  /**
   * Retire at most `max` instructions. Returns how many retired. Stops early on HLT,
   * on a stop request, or when a test hook stops on an exception.
   */
  run(max: number): number {
    const start = this.icount;
    const limit = start + max;
    while (this.icount < limit) {
      if (this.stopRequested || this.stopVector >= 0) break;
      // A pending interrupt is checked before HLT so that it wakes the processor.
      if ((this.intr || this.nmiPending) && this.icount >= this.inhibitUntil) {
        if (this.nmiPending) {
          this.nmiPending = false;
          this.interrupt(Vec.NMI, -1, false);
          continue;
        }
        if (this.eflags & F.IF) {
          this.interrupt(this.ackInterrupt() & 0xff, -1, false);
          continue;
        }
      }
      if (this.halted) break;
      try {
        if (this.eflags & F.TF) this.stepTrap();
        else if (this.tracer !== null) this.runBlockTraced(limit, this.tracer);
        else this.runBlock(limit);
      } catch (err) {
        if (err !== CPU_FAULT) throw err;
        this.eip = this.curEip;
        this.handleFault();
      }
    }
    return this.icount - start;
  }

  private runBlock(limit: number): void {
    let b: Block;
    /** The region that just ran and left to a block it does not hold. */
    let left: Region | null = null;
    for (;;) {
      this.curEip = this.eip; // a fetch fault while decoding belongs to this instruction
      b = this.getBlock();
      // JIT (src/cpu/jit/compile.ts): a compiled region runs whole blocks from here while the budget
      // allows, stopping after any instruction where the loop below would stop; it declines (false)
      // when its entry guard fails. With an interrupt line already raised (masked, or in an STI/MOV SS
      // shadow) the loop below checks it after every instruction: interpret. Partial blocks and cold
      // code are interpreted too (at threshold 0, for tests, partial blocks are compiled as well).
      let r = b.region;
      if (r !== null && !r.valid) b.region = r = null;
      if (r === null && ++b.hits > this.jitThreshold && this.jitThreshold >= 0)
        r = compileRegion(this, b, this.jitThreshold);
      if (left !== null && r !== null && r !== left) r = this.voteMerge(left, r);
      left = null;
      if (r === null || this.intr) break;
      if (this.icount + b.n <= limit) {
        const before = this.icount;
        const exit = runRegion(this, r, limit);
        if (exit === Exit.Declined) {
          // Compiled for another CS base or segment state: recompile. The whole region goes, not
          // only this entry: a block recompiled elsewhere while an old region still held its code
          // would leave that copy behind when the block's page is written (invalidation follows
          // Block.region).
          if (++r.misses > 16) r.valid = false;
          break;
        }
        if (this.icount === before) break; // its first instruction needs the interpreter (a side exit)
        if (exit === Exit.Left) left = r;
      } else if (this.jitThreshold === 0) {
        const before = this.icount;
        if (
          runRegion(this, compilePartial(this, b, limit - this.icount), limit) !== Exit.Declined &&
          this.icount !== before
        )
          return;
        break;
      } else break;
      // From one region to the next without the run loop while none of its checks applies.
      if (
        this.icount >= limit ||
        this.stopRequested ||
        this.intr ||
        this.nmiPending ||
        this.halted ||
        (this.eflags & F.TF) !== 0
      )
        return;
    }
    const insns = b.insns;
    let n = b.n;
    if (this.icount + n > limit) n = limit - this.icount;
    this.blockDirty = false;
    for (let k = 0; k < n; k++) {
      const i = insns[k];
      this.curEip = this.eip;
      this.eip = (this.eip + i.len) & this.ipMask;
      execute(this, i);
      this.icount++;
      // Stop at instruction granularity, never at block granularity: block shapes depend on where
      // earlier slices ended, so anything decided at block ends would differ between capture and replay.
      if (this.blockDirty || this.halted || this.stopRequested || (this.intr && this.irqOpen())) break;
    }
  }

  /**
   * Region `a` left to a block of region `r`: a vote for r as a's usual successor (a majority
   * vote, so a's exits to anywhere else count against it). Past MERGE_AFTER the two become one
   * region, which is returned to run in r's place; a pair that cannot be merged is not voted on again.
   */
  private voteMerge(a: Region, r: Region): Region {
    if (a.next === r) {
      if (++a.nextVotes >= MERGE_AFTER) {
        const m = mergeRegions(this, a, r);
        if (m !== null) return m;
        a.nextVotes = -(1 << 30);
      }
    } else if (a.nextVotes > 0) a.nextVotes--;
    else if (a.nextVotes === 0) {
      a.next = r;
      a.nextVotes = 1;
    }
    return r;
  }

  /**
   * The same loop with the trace hook called around every instruction (chosen once per block).
   * Hot blocks run in traced regions (compile.ts emitTraced), which call the hook as this loop
   * does: past TRACED_JIT_FACTOR times jitThreshold runs (0 still compiles every block).
   */
  private runBlockTraced(limit: number, t: CpuTracer): void {
    this.curEip = this.eip;
    const b = this.getBlock();
    const thr = this.jitThreshold * TRACED_JIT_FACTOR;
    if (++b.hits > thr && thr >= 0 && !this.intr && this.icount + b.n <= limit && t.replayBlock !== undefined) {
      let r = b.tregion;
      if (r !== null && !r.valid) b.tregion = r = null;
      if (r === null) r = compileRegion(this, b, thr, true);
      const before = this.icount;
      if (runRegion(this, r, limit) === Exit.Declined) {
        if (++r.misses > 16) r.valid = false;
      } else if (this.icount !== before) return;
      // Declined, or its first instruction needs the interpreter: interpret the block.
    }
    const insns = b.insns;
    let n = b.n;
    if (this.icount + n > limit) n = limit - this.icount;
    this.blockDirty = false;
    for (let k = 0; k < n; k++) {
      const i = insns[k];
      this.curEip = this.eip;
      this.eip = (this.eip + i.len) & this.ipMask;
      if (k === 0) t.begin(this, i);
      else t.beginNext(this, i);
      execute(this, i);
      this.icount++;
      t.retire(this, i);
      if (this.blockDirty || this.halted || this.tracer === null || this.stopRequested || (this.intr && this.irqOpen()))
        break;
    }
  }

  /** An interrupt raised now would be accepted before the next instruction (IF set, no shadow). */
  irqOpen(): boolean {
    return (this.eflags & F.IF) !== 0 && this.icount >= this.inhibitUntil;
  }

  /** TF set: execute one instruction, then #DB as a trap (SDM 3A §17.3.1.4). */
  private stepTrap(): void {
    this.curEip = this.eip;
    const b = this.getBlock();
    const i = b.insns[0];
    this.curEip = this.eip;
    this.eip = (this.eip + i.len) & this.ipMask;
    const tfBefore = (this.eflags & F.TF) !== 0;
    const t = this.tracer;
    if (t !== null) t.begin(this, i);
    execute(this, i);
    this.icount++;
    if (t !== null) t.retire(this, i);
    if (tfBefore && i.op !== 52 /* INT n clears TF itself */) {
      this.dr[6] |= 1 << 14; // BS
      this.interrupt(Vec.DB, -1, false);
    }
  }

  /** Deliver the pending exception (after EIP was rolled back to the faulting instruction). */
  private handleFault(): void {
    const vector = this.excVector;
    const code = this.excHasCode ? this.excCode : -1;
    if (this.onException !== null && this.onException(vector, code)) {
      this.stopVector = vector;
      return;
    }
    this.interrupt(vector, code, false);
  }

  /**
   * Deliver an interrupt or exception through the IVT/IDT. `soft`: INT n / INT3 / INTO
   * (privilege-checked against the gate DPL, and EIP already points past it).
   * Nested faults during delivery become #DF, and a fault while delivering #DF shuts down.
   */
  interrupt(vector: number, code: number, soft: boolean): void {
    const outer = this.delivering;
    if (outer > 0) {
      const prev = this.deliveringVector;
      if (prev === Vec.DF) {
        this.shutdown();
        return;
      }
      if (isContributoryOrPF(vector) && isContributoryOrPF(prev) && !(prev !== Vec.PF && vector === Vec.PF)) {
        vector = Vec.DF;
        code = 0;
        soft = false;
      }
    }
    this.delivering = outer + 1;
    this.deliveringVector = vector;
    this.halted = false;
    if (this.tracer !== null) this.tracer.interrupt(this, vector, code, soft);
    try {
      if ((this.cr0 & CR0.PE) === 0) this.interruptReal(vector);
      else deliverInterruptPM(this, vector, code, soft);
    } catch (err) {
      if (err !== CPU_FAULT) throw err;
      // A fault while delivering: restore and deliver the new one (possibly as #DF).
      this.eip = this.curEip;
      const v = this.excVector;
      const c = this.excHasCode ? this.excCode : -1;
      if (this.delivering > 2 || vector === Vec.DF) {
        this.delivering = 0;
        this.shutdown();
        return;
      }
      this.interrupt(v, c, false);
    } finally {
      this.delivering = outer;
    }
  }

  /** Real-mode interrupt: push FLAGS, CS, IP; load CS:IP from the IVT (SDM 3A §20.1.4). */
  private interruptReal(vector: number): void {
    if (vector * 4 + 3 > this.idtLimit) this.raise(Vec.GP, vector * 8 + 2);
    const off = this.readLin16((this.idtBase + vector * 4) | 0);
    const sel = this.readLin16((this.idtBase + vector * 4 + 2) | 0);
    this.push(this.getEflags() & 0xffff, 2);
    this.push(this.segSel[Seg.CS], 2);
    this.push(this.eip & 0xffff, 2);
    this.eflags &= ~(F.IF | F.TF | F.AC | F.RF);
    this.setSegReal(Seg.CS, sel);
    this.eip = off;
  }

  private shutdown(): void {
    // Triple fault (SDM 3A §6.15, interrupt 8): the processor shuts down; a PC resets.
    this.halted = true;
    this.stopRequested = true;
    if (this.onShutdown !== null) this.onShutdown();
  }

  /** RDTSC value as a Number (the machine supplies the time source in capture/replay). */
  readTsc(): number {
    const t = this.timeSource !== null ? this.timeSource() : this.icount;
    return t + this.tscOffset;
  }
}

function isContributoryOrPF(v: number): boolean {
  return v === Vec.DE || v === Vec.TS || v === Vec.NP || v === Vec.SS || v === Vec.GP || v === Vec.PF;
}
