/**
 * The trace recorder: the CpuTracer that expansion attaches to a replaying
 * machine. It writes fixed-size binary records (format.ts) into one
 * preallocated buffer, no object per instruction, and hands the buffer to the
 * sinks as a chunk whenever it holds `chunkBytes` (always at an instruction
 * boundary, so every chunk starts a fresh run of records: see docs/TRACE_FORMAT.md).
 *
 * Call order from the CPU (src/cpu/trace-hook.ts): begin -> mem* -> retire,
 * or begin -> mem* -> interrupt (the instruction faulted; no retire). INT n
 * and ICEBP call interrupt between begin and retire. The recorder therefore
 * decides that an instruction faulted only when the next begin (or the end)
 * arrives without its retire, and then rewrites its record kind to FAULT.
 *
 * Not seen by the CPU hook: the accessed/dirty bits the page walker writes.
 * They reach RAM through PhysicalMemory.write8, so the recorder observes that
 * method on the machine's instance while attached and records every byte it
 * writes that is not part of an instruction's own data write as IMPLICIT.
 */
import type { Cpu } from "../cpu/cpu.ts";
import type { TracedBlock } from "../cpu/jit/compile.ts";
import type { CpuTracer } from "../cpu/trace-hook.ts";
import type { Insn } from "../isa/decode.ts";
import type { Machine } from "../machine/machine.ts";
import type { PhysicalMemory } from "../memory/physical.ts";
import { branchKindOf } from "./classify.ts";
import {
  AccFlag,
  BRANCH_TAKEN,
  BranchKind,
  encodedRel,
  IMPLIED_BRANCH_SLOT,
  INSN_BYTES,
  IntFlag,
  Mode,
  REC_BYTES,
  REC_NAMES,
  REF_BYTES,
  REF_MAX_INDEX,
  Rec,
  RefBit,
  SHORT_ACC_BYTES,
} from "./format.ts";

/** A run of raw records (uncompressed payload). `bytes` is valid only during the call. */
export interface RawChunk {
  readonly bytes: Uint8Array;
  /** Every record in the chunk happened at an icount >= this. */
  readonly firstIcount: number;
  /** INSN records (retired instructions) in the chunk. */
  readonly instructions: number;
  readonly records: number;
}

export interface ChunkSink {
  chunk(c: RawChunk): void;
  /**
   * Optional: a buffer the recorder may build the next chunk in, handed back as `bytes` of that
   * chunk (the native writer's compression slot: no copy). The sink owns it again from then on.
   */
  rawBuffer?(): Uint8Array | null;
}

export type OnlyFilter = "all" | "user" | "kernel";

/** What the recorder observes: a Machine, or a CPU with its memory and port bus (tests). */
export type Traceable = Pick<Machine, "cpu" | "ports" | "mem">;

export interface RecorderOptions {
  /** First instruction count to record (default 0). */
  from?: number;
  /** Record instructions with icount < to (default: no limit). */
  to?: number;
  only?: OnlyFilter;
  /** Raw bytes per chunk (default 4 MiB). */
  chunkBytes?: number;
  /** Called every `progressEvery` retired instructions with the icount. */
  onProgress?: ((icount: number) => void) | null;
  progressEvery?: number;
  /** Write an instruction whose INSN record is already in the chunk as a 4-byte REF (default true). */
  refs?: boolean;
  /** Write an access whose page mapping the chunk already holds as a 12-byte READ/WRITE-SHORT (default true). */
  short?: boolean;
  /** Leave out the BRANCH record of a direct near branch that went where its bytes say (default true). */
  implied?: boolean;
}

// TLB entry bits (src/cpu/constants.ts Tlb.Valid | Tlb.RFast): readable straight from `ram`.
const TLB_VALID = 1;
const TLB_RFAST = 16;
const CR0_PE = 1;
const CR0_PG = 1 << 31;
const CR4_PSE = 1 << 4;
const EFLAGS_VM = 1 << 17;
const PTE_P = 1;
const PDE_PS = 1 << 7;
const SEG_CS = 1;

/** Serial of the last chunk any recorder started (see TraceRecorder.serial). */
let chunkSerial = 0;

export class TraceRecorder implements CpuTracer {
  private buf: Uint8Array;
  private u32: Uint32Array;
  /** `buf` belongs to the sink (ChunkSink.rawBuffer): after a cut it is the sink's again. */
  private bufLent = false;
  private pos = 0;
  private readonly chunkBytes: number;
  private readonly sinks: ChunkSink[];
  private readonly from: number;
  private readonly to: number;
  private readonly only: number; // 0 all, 1 user, 2 kernel

  // Chunk bookkeeping.
  private chunkFirst = 0;
  private chunkInsns = 0;
  private chunkRecords = 0;
  private needContext = true;
  private ctxCs = -1;
  private ctxCr3 = 0;
  private ctxCsBase = 0;
  /** What a reader would take as the icount of the next item, and of an interrupt raised inside an instruction. */
  private dNext = 0;
  private dLast = 0;

  // The current item (instruction or interrupt delivery) and the open instruction.
  /** Accesses are recorded (the current item passed the window and the filter). */
  private recording = false;
  /** An instruction began and has not retired. */
  private open = false;
  /** Byte offset of the open instruction's record, or -1 (not recorded). */
  private insnPos = -1;
  /** That record is a REF (4 bytes), not a full INSN record. */
  private insnRef = false;
  /** Write repeated INSN records as REF records (RecorderOptions.refs). */
  private readonly refs: boolean;
  /** RecorderOptions.short. */
  private readonly short: boolean;
  /** RecorderOptions.implied. */
  private readonly implied: boolean;
  /**
   * This chunk's page map, as a reader rebuilds it (Rec.ReadShort): by linear page, the physical
   * page of the last full READ/WRITE record, valid where mapChunk holds the chunk's serial.
   */
  private readonly mapPhys = new Int32Array(1 << 20);
  private readonly mapChunk = new Int32Array(1 << 20);
  /** This chunk's serial (process-wide, so an Insn's traceChunk never matches another recorder's chunk). */
  private serial = ++chunkSerial;
  /** Full INSN/FAULT records in this chunk so far (the next one's REF index). */
  private fullRecords = 0;
  /** The last instruction was recorded and retired in this chunk: beginNext may skip the checks. */
  private chained = false;
  /** Mode byte of the last instruction begin recorded. */
  private lastMode = 0;
  private bKind = 0;
  private bEip = 0;
  private bLen = 0;
  private bImm = 0;
  private bCs = 0;
  private bCsBase = 0;
  private bIpMask = 0;
  /** The branch's operand size as a mask: the target wraps at 64 KiB for 16 bits. */
  private bOpMask = 0;
  /** The branch's outcome may be left to the reader (RecorderOptions.implied and its bytes allow it). */
  private bImplied = false;

  // Physical writes seen through PhysicalMemory.write8 since the last callback.
  private pAddr = new Float64Array(256);
  private pVal = new Uint8Array(256);
  private pN = 0;

  private machine: Traceable | null = null;
  private physMem: PhysicalMemory | null = null;
  private readonly onProgress: ((icount: number) => void) | null;
  private readonly progressEvery: number;
  private nextProgress: number;

  /** Totals over the whole recording. */
  readonly counts = new Float64Array(16);
  instructions = 0;
  records = 0;
  rawBytes = 0;
  firstIcount: number | null = null;
  /**
   * The icount after the last recorded instruction, -1 before one. A number field, not `number |
   * null`: past 2^30 instructions V8 would box every store of it (one per retired instruction).
   */
  private endIc = -1;
  get endIcount(): number | null {
    return this.endIc < 0 ? null : this.endIc;
  }
  finished = false;

  constructor(sinks: ChunkSink | ChunkSink[], opts: RecorderOptions = {}) {
    this.sinks = Array.isArray(sinks) ? sinks : [sinks];
    this.chunkBytes = opts.chunkBytes ?? 4 << 20;
    this.from = opts.from ?? 0;
    this.to = opts.to ?? Number.POSITIVE_INFINITY;
    this.only = opts.only === "user" ? 1 : opts.only === "kernel" ? 2 : 0;
    this.refs = opts.refs ?? true;
    this.short = opts.short ?? true;
    this.implied = opts.implied ?? true;
    this.buf = new Uint8Array(0);
    this.u32 = new Uint32Array(0);
    this.takeBuffer();
    this.onProgress = opts.onProgress ?? null;
    this.progressEvery = opts.progressEvery ?? 1 << 20;
    this.nextProgress = this.progressEvery;
  }

  /** Start observing `m` (before the replay runs). A bare CPU with its buses will do too. */
  attach(m: Traceable): void {
    this.machine = m;
    m.cpu.tracer = this;
    m.ports.observer = (port, width, write, value) => this.port(port, width, write, value);
    const mem = m.mem;
    this.physMem = mem;
    const write8 = Object.getPrototypeOf(mem).write8 as PhysicalMemory["write8"];
    mem.write8 = (addr: number, value: number): void => {
      write8.call(mem, addr, value);
      this.physWrite(addr, value);
    };
  }

  /** Stop observing (the untraced path takes over at the next block). */
  detach(): void {
    const m = this.machine;
    if (m === null) return;
    if (m.cpu.tracer === this) m.cpu.tracer = null;
    m.ports.observer = null;
    if (this.physMem !== null) delete (this.physMem as { write8?: unknown }).write8;
    this.machine = null;
    this.physMem = null;
    this.recording = false;
  }

  /** Close the last instruction and emit the last chunk. */
  finish(): void {
    if (this.finished) return;
    this.detach();
    this.resolveOpen();
    if (this.recording) this.flushPending();
    this.pN = 0;
    this.recording = false;
    this.finished = true;
    if (this.pos > 0) this.cut(0);
  }

  // ------------------------------------------------------------------ CpuTracer

  begin(cpu: Cpu, i: Insn): void {
    if (this.open) this.resolveOpen();
    const ic = cpu.icount;
    this.open = true;
    if (ic < this.from || ic >= this.to || !this.keepCpl(cpu.cpl)) {
      this.recording = false;
      this.chained = false;
      this.insnPos = -1;
      this.pN = 0;
      if (ic >= this.to) this.detach();
      return;
    }
    this.recording = true;
    this.ensure(INSN_BYTES + 3 * REC_BYTES);
    this.itemStart(cpu, ic, this.dNext);
    const cr0 = cpu.cr0;
    const mode =
      cpu.cpl |
      ((cr0 & CR0_PE) << 2) |
      ((cpu.eflags & EFLAGS_VM) !== 0 ? Mode.V86 : 0) |
      (cpu.code32 ? Mode.Code32 : 0) |
      ((cr0 >>> 31) << 5);
    this.lastMode = mode;
    this.insnItem(cpu, i, ic, mode, cpu.curEip);
  }

  beginNext(cpu: Cpu, i: Insn): void {
    const ic = cpu.icount;
    // The previous instruction of this block was recorded and retired, and no chunk was cut
    // since: the window, the privilege filter, the context record and the mode byte all hold.
    if (!this.chained || ic >= this.to) {
      this.begin(cpu, i);
      return;
    }
    this.open = true;
    this.recording = true;
    this.ensure(INSN_BYTES + 3 * REC_BYTES);
    this.insnItem(cpu, i, ic, this.lastMode, cpu.curEip);
  }

  /** The INSN record (or REF) of instruction `i` at `eip`, recorded at icount `ic` with mode byte `mode`. */
  private insnItem(cpu: Cpu, i: Insn, ic: number, mode: number, eip: number): void {
    this.chained = false;
    const p = this.pos;
    const w = p >> 2;
    const u = this.u32;
    let w0 = i.traceWord;
    if (w0 >= 0 && i.traceChunk === this.serial && i.traceEip === eip && i.traceMode === mode) {
      // The same record is already in this chunk: a 4-byte reference to it.
      u[w] = Rec.Ref | (i.traceIdx << RefBit.IndexShift);
      this.insnRef = true;
      this.pos = p + REF_BYTES;
      this.counts[Rec.Ref]++;
    } else {
      if (w0 < 0) w0 = this.insnRecord(cpu, i);
      u[w] = w0 | (mode << 16);
      u[w + 1] = eip;
      u[w + 2] = i.linear;
      u[w + 3] = i.tracePhys;
      u[w + 4] = i.traceB0;
      u[w + 5] = i.traceB1;
      u[w + 6] = i.traceB2;
      u[w + 7] = i.traceB3;
      const idx = this.fullRecords++;
      if (this.refs && idx <= REF_MAX_INDEX) {
        i.traceChunk = this.serial;
        i.traceIdx = idx;
        i.traceEip = eip;
        i.traceMode = mode;
      } else i.traceChunk = 0; // an older record of this Insn (decoded again since) must not be named
      this.insnRef = false;
      this.pos = p + INSN_BYTES;
    }
    const kind = w0 >>> 24;
    this.insnPos = p;
    this.dLast = ic;
    this.chunkRecords++;
    this.counts[Rec.Insn]++;
    this.bKind = kind;
    if (kind !== BranchKind.None) {
      this.bEip = eip;
      this.bLen = i.len;
      this.bImm = i.imm;
      this.bCs = cpu.segSel[SEG_CS];
      this.bCsBase = cpu.segBase[SEG_CS];
      this.bIpMask = cpu.ipMask;
      this.bOpMask = i.w === 2 ? 0xffff : -1;
      // The reader infers the target from the bytes, with the mode byte's code size: the same
      // displacement and sizes as here (format.ts impliedTarget).
      this.bImplied =
        this.implied &&
        i.traceRel === (1 | (cpu.code32 ? 2 : 0) | (i.w === 2 ? 0 : 4)) &&
        cpu.ipMask === (cpu.code32 ? -1 : 0xffff);
    }
    if (this.pN > 0) this.flushPending();
  }

  /**
   * Make `i`'s cached INSN record (Insn.traceWord and the fields after it): kind, length and
   * branch kind, the physical address of its first byte and its bytes as RAM holds them now.
   */
  private insnRecord(cpu: Cpu, i: Insn): number {
    const len = i.len;
    const lin = i.linear;
    const bytes = new Uint8Array(16);
    const off = lin & 0xfff;
    const e = cpu.tlb[lin >>> 12];
    if ((e & (TLB_VALID | TLB_RFAST)) === (TLB_VALID | TLB_RFAST) && off + len <= 0x1000) {
      const phys = (e & ~0xfff) | off;
      i.tracePhys = phys;
      bytes.set(cpu.ram.subarray(phys, phys + len));
    } else {
      i.tracePhys = peekPhys(cpu, lin);
      for (let k = 0; k < len; k++) bytes[k] = cpu.mem.read8(peekPhys(cpu, (lin + k) | 0));
    }
    const words = new Uint32Array(bytes.buffer);
    i.traceB0 = words[0];
    i.traceB1 = words[1];
    i.traceB2 = words[2];
    i.traceB3 = words[3];
    const kind = branchKindOf(i.op);
    const rel =
      kind === BranchKind.Cond || kind === BranchKind.Jump || kind === BranchKind.Call
        ? encodedRel(bytes, len, cpu.code32)
        : null;
    i.traceRel = rel !== null && rel.rel === i.imm ? 1 | (cpu.code32 ? 2 : 0) | (rel.o32 ? 4 : 0) : 0;
    const w0 = Rec.Insn | (len << 8) | (kind << 24);
    i.traceWord = w0;
    return w0;
  }

  mem(cpu: Cpu, lin: number, size: number, write: boolean, value: number): void {
    if (!this.recording) {
      this.pN = 0;
      return;
    }
    const phys = cpu.physOf(lin);
    const split = (lin & 0xfff) + size > 0x1000;
    const phys2 = split ? cpu.physOf(((lin | 0xfff) + 1) | 0) : 0;
    if (this.pN > 0) {
      if (write) this.dropData(phys, phys2, lin, size);
      this.flushPending();
    }
    if (!split) {
      this.access(lin, phys, size, write, value);
      return;
    }
    this.ensure(2 * REC_BYTES);
    const w = this.pos >> 2;
    const u = this.u32;
    const kind = write ? Rec.Write : Rec.Read;
    this.chunkRecords += 2;
    this.counts[kind]++;
    const lp = lin >>> 12;
    this.mapChunk[lp] = this.serial;
    this.mapPhys[lp] = phys >>> 12;
    u[w] = kind | (size << 8) | (AccFlag.Split << 16);
    u[w + 1] = lin;
    u[w + 2] = phys;
    u[w + 3] = value;
    u[w + 4] = Rec.Phys2;
    u[w + 5] = 0;
    u[w + 6] = phys2;
    u[w + 7] = 0;
    this.pos += 2 * REC_BYTES;
    this.counts[Rec.Phys2]++;
  }

  /** The record of an access that lies on one page: short when the chunk's page map has its page. */
  private access(lin: number, phys: number, size: number, write: boolean, value: number): void {
    this.ensure(REC_BYTES);
    const w = this.pos >> 2;
    const u = this.u32;
    this.chunkRecords++;
    this.counts[write ? Rec.Write : Rec.Read]++;
    const lp = lin >>> 12;
    if (this.mapChunk[lp] === this.serial && this.mapPhys[lp] === phys >>> 12 && this.short) {
      u[w] = (write ? Rec.WriteShort : Rec.ReadShort) | (size << 8);
      u[w + 1] = lin;
      u[w + 2] = value;
      this.pos += SHORT_ACC_BYTES;
      return;
    }
    this.mapChunk[lp] = this.serial;
    this.mapPhys[lp] = phys >>> 12;
    u[w] = (write ? Rec.Write : Rec.Read) | (size << 8);
    u[w + 1] = lin;
    u[w + 2] = phys;
    u[w + 3] = value;
    this.pos += REC_BYTES;
  }

  retire(cpu: Cpu, _i: Insn): void {
    this.open = false;
    if (this.recording && this.pN > 0) this.flushPending();
    this.pN = 0;
    const p = this.insnPos;
    if (p >= 0) {
      this.insnPos = -1;
      this.chained = true;
      if (this.bKind !== BranchKind.None) this.branch(cpu, p);
      this.instructions++;
      this.chunkInsns++;
      this.endIc = cpu.icount;
      this.dNext = cpu.icount;
    }
    this.recording = false;
    const ic = cpu.icount;
    if (this.pos >= this.chunkBytes) this.cut(ic);
    if (ic >= this.nextProgress) {
      this.nextProgress = ic + this.progressEvery;
      if (this.onProgress !== null) this.onProgress(ic);
    }
    if (ic >= this.to) this.detach();
  }

  /** Where a traced region logs its accesses (CpuTracer.accLog): linear address and value of each. */
  readonly accLog = new Int32Array(4096);

  /**
   * Instructions k0..k1-1 of a traced region's block, recorded as begin/mem/retire would record
   * them (CpuTracer.replayBlock). The first goes through begin (or beginNext), which writes what
   * an item start needs; the others write their records directly, and what retire does for each
   * is done once at the end: no chunk is cut inside the run, which stays in one block (one context
   * and mode), and a region's accesses lie on one page and walk no page tables. Where the run
   * touches the window's edges or the privilege filter, every instruction takes the hooks.
   */
  replayBlock(cpu: Cpu, block: TracedBlock, k0: number, k1: number, icBase: number, endEip: number): void {
    const log = this.accLog;
    const insns = block.insns;
    const eips = block.eips;
    const start = block.accStart;
    const kinds = block.accKinds;
    let q = 0;
    if (this.pN > 0 || icBase + k0 < this.from || icBase + k1 >= this.to || !this.keepCpl(cpu.cpl)) {
      for (let k = k0; k < k1; k++) {
        const i = insns[k];
        this.beginAt(cpu, i, k, eips[k], icBase + k);
        for (let a = start[k], end = start[k + 1]; a < end; a++) {
          const kind = kinds[a];
          this.mem(cpu, log[q], kind & 7, kind > 7, log[q + 1]);
          q += 2;
        }
        cpu.icount = icBase + k + 1;
        cpu.eip = k + 1 < k1 ? eips[k + 1] : endEip;
        this.retire(cpu, i);
      }
      return;
    }
    // The first instruction: an item start (context, ICOUNT, chunk start), as the hooks do.
    this.beginAt(cpu, insns[k0], k0, eips[k0], icBase + k0);
    const mode = this.lastMode;
    const serial = this.serial;
    const mapChunk = this.mapChunk;
    const mapPhys = this.mapPhys;
    const short = this.short;
    const tlb = cpu.tlb;
    // The common case with the chunk position in a local: an instruction without a branch whose
    // record is in the chunk (a REF), accesses whose page the chunk's map has (short records).
    // Everything else goes through insnItem and access, with the position written back around them.
    let refs = 0;
    let reads = 0;
    let writes = 0;
    let u = this.u32;
    let p = this.pos;
    for (let k = k0; k < k1; k++) {
      const i = insns[k];
      if (k > k0) {
        if (p + INSN_BYTES + 6 * REC_BYTES > this.buf.length) {
          this.pos = p;
          this.ensure(INSN_BYTES + 6 * REC_BYTES);
          u = this.u32;
        }
        const eip = eips[k];
        const w0 = i.traceWord;
        if (
          w0 >= 0 &&
          w0 >>> 24 === BranchKind.None &&
          i.traceChunk === serial &&
          i.traceEip === eip &&
          i.traceMode === mode
        ) {
          u[p >> 2] = Rec.Ref | (i.traceIdx << RefBit.IndexShift);
          p += REF_BYTES;
          refs++;
        } else {
          this.pos = p;
          this.insnItem(cpu, i, icBase + k, mode, eip);
          p = this.pos;
          u = this.u32;
        }
      }
      for (let a = start[k], end = start[k + 1]; a < end; a++) {
        const kind = kinds[a];
        const lin = log[q];
        const lp = lin >>> 12;
        const pp = tlb[lp] >>> 12;
        if (mapChunk[lp] === serial && mapPhys[lp] === pp && short) {
          const w = p >> 2;
          u[w] = (kind > 7 ? Rec.WriteShort : Rec.ReadShort) | ((kind & 7) << 8);
          u[w + 1] = lin;
          u[w + 2] = log[q + 1];
          p += SHORT_ACC_BYTES;
          if (kind > 7) writes++;
          else reads++;
        } else {
          this.pos = p;
          this.access(lin, cpu.physOf(lin), kind & 7, kind > 7, log[q + 1]);
          p = this.pos;
          u = this.u32;
        }
        q += 2;
      }
      if (k > k0 && i.traceWord >>> 24 === BranchKind.None) continue;
      // A branch (its record went through insnItem, which set the branch fields).
      if (this.bKind !== BranchKind.None) {
        this.pos = p;
        cpu.eip = k + 1 < k1 ? eips[k + 1] : endEip;
        this.branch(cpu, this.insnPos);
        p = this.pos;
        u = this.u32;
      }
    }
    this.pos = p;
    if (refs > 0) {
      this.insnRef = true;
      this.dLast = icBase + k1 - 1;
      this.counts[Rec.Ref] += refs;
      this.counts[Rec.Insn] += refs;
      this.chunkRecords += refs;
    }
    this.counts[Rec.Read] += reads;
    this.counts[Rec.Write] += writes;
    this.chunkRecords += reads + writes;
    // What retire does, once for the run.
    this.open = false;
    this.insnPos = -1;
    this.recording = false;
    this.chained = true;
    const n = k1 - k0;
    this.instructions += n;
    this.chunkInsns += n;
    const ic = icBase + k1;
    this.endIc = ic;
    this.dNext = ic;
    cpu.icount = ic;
    cpu.eip = endEip;
    if (this.pos >= this.chunkBytes) this.cut(ic);
    if (ic >= this.nextProgress) {
      this.nextProgress = ic + this.progressEvery;
      if (this.onProgress !== null) this.onProgress(ic);
    }
  }

  /** Instruction k of a block begins at `eip`, icount `ic`, as the CPU's traced loop begins it. */
  private beginAt(cpu: Cpu, i: Insn, k: number, eip: number, ic: number): void {
    cpu.curEip = eip;
    cpu.icount = ic;
    if (k === 0) this.begin(cpu, i);
    else this.beginNext(cpu, i);
  }

  interrupt(cpu: Cpu, vector: number, code: number, soft: boolean): void {
    this.chained = false;
    if (this.recording && this.pN > 0) this.flushPending();
    this.pN = 0;
    const ic = cpu.icount;
    if (ic < this.from || ic >= this.to || this.only === 1) {
      this.recording = false;
      return;
    }
    this.recording = true;
    this.ensure(4 * REC_BYTES);
    this.itemStart(cpu, ic, this.open ? this.dLast : this.dNext);
    const w = this.pos >> 2;
    const u = this.u32;
    const flags = (soft ? IntFlag.Soft : 0) | (code >= 0 ? IntFlag.HasCode : 0) | (this.open ? IntFlag.InInsn : 0);
    u[w] = Rec.Interrupt | ((vector & 0xff) << 8) | (flags << 16);
    u[w + 1] = Math.max(code, 0);
    u[w + 2] = cpu.eip;
    u[w + 3] = cpu.segSel[SEG_CS] & 0xffff;
    this.pos += REC_BYTES;
    this.chunkRecords++;
    this.counts[Rec.Interrupt]++;
  }

  // ------------------------------------------------------------------ other observers

  private port(port: number, width: number, write: boolean, value: number): void {
    if (!this.recording) return;
    this.ensure(REC_BYTES);
    const w = this.pos >> 2;
    const u = this.u32;
    u[w] = Rec.Port | (width << 8) | ((write ? 1 : 0) << 16);
    u[w + 1] = port;
    u[w + 2] = value;
    u[w + 3] = 0;
    this.pos += REC_BYTES;
    this.chunkRecords++;
    this.counts[Rec.Port]++;
  }

  private physWrite(addr: number, value: number): void {
    let n = this.pN;
    if (n === this.pAddr.length) {
      const a = new Float64Array(n * 2);
      a.set(this.pAddr);
      const v = new Uint8Array(n * 2);
      v.set(this.pVal);
      this.pAddr = a;
      this.pVal = v;
    }
    this.pAddr[n] = addr >>> 0;
    this.pVal[n] = value;
    this.pN = ++n;
  }

  // ------------------------------------------------------------------ internals

  private keepCpl(cpl: number): boolean {
    return this.only === 0 || (this.only === 1 ? cpl === 3 : cpl !== 3);
  }

  /**
   * First records of an item: the chunk's start, an ICOUNT record when a reader would count a
   * different icount (`expected`) than the true one, a CONTEXT record when CS or CR3 changed.
   */
  private itemStart(cpu: Cpu, ic: number, expected: number): void {
    if (this.pos === 0) {
      this.chunkFirst = ic;
      this.dNext = ic;
      this.dLast = ic;
      if (this.firstIcount === null) this.firstIcount = ic;
    } else if (ic !== expected) {
      const w = this.pos >> 2;
      const u = this.u32;
      u[w] = Rec.Icount;
      u[w + 1] = ic % 0x100000000;
      u[w + 2] = Math.floor(ic / 0x100000000);
      u[w + 3] = 0;
      this.pos += REC_BYTES;
      this.chunkRecords++;
      this.counts[Rec.Icount]++;
      this.dNext = ic;
      this.dLast = ic;
    }
    const cs = cpu.segSel[SEG_CS] & 0xffff;
    const base = cpu.segBase[SEG_CS];
    const cr3 = cpu.cr3;
    if (this.needContext || cs !== this.ctxCs || cr3 !== this.ctxCr3 || base !== this.ctxCsBase) {
      this.needContext = false;
      this.ctxCs = cs;
      this.ctxCr3 = cr3;
      this.ctxCsBase = base;
      const w = this.pos >> 2;
      const u = this.u32;
      u[w] = Rec.Context | (cs << 16);
      u[w + 1] = cr3;
      u[w + 2] = base;
      u[w + 3] = 0;
      this.pos += REC_BYTES;
      this.chunkRecords++;
      this.counts[Rec.Context]++;
    }
  }

  /** The open instruction never retired: it faulted. */
  private resolveOpen(): void {
    this.open = false;
    const p = this.insnPos;
    if (p >= 0) {
      if (this.insnRef) this.buf[p + 1] |= RefBit.Fault >> 8;
      else this.buf[p] = Rec.Fault;
      this.counts[Rec.Insn]--;
      this.counts[Rec.Fault]++;
      this.insnPos = -1;
    }
  }

  private branch(cpu: Cpu, p: number): void {
    const kind = this.bKind;
    const fall = (this.bEip + this.bLen) & this.bIpMask;
    // The target the bytes encode (a direct near branch's; meaningless for the others).
    const encoded = (fall + this.bImm) & this.bOpMask;
    const eip = cpu.eip;
    const cs = cpu.segSel[SEG_CS] & 0xffff;
    let taken: boolean;
    let tEip: number;
    let tLin: number;
    let tCs: number;
    if (kind === BranchKind.Cond) {
      taken = eip === encoded;
      tEip = encoded;
      tLin = (this.bCsBase + encoded) | 0;
      tCs = this.bCs;
    } else {
      taken = kind !== BranchKind.Other || eip !== fall || cs !== this.bCs;
      tEip = eip;
      tLin = (cpu.segBase[SEG_CS] + eip) | 0;
      tCs = cs;
    }
    if (taken) {
      if (this.insnRef) this.buf[p + 1] |= RefBit.Taken >> 8;
      else this.buf[p + 3] |= BRANCH_TAKEN;
    }
    this.counts[Rec.Branch]++;
    // Where the bytes say (format.ts impliedTarget): the reader infers this record.
    if (this.bImplied && tEip === encoded && tCs === (this.bCs & 0xffff) && tLin === ((this.bCsBase + encoded) | 0)) {
      this.counts[IMPLIED_BRANCH_SLOT]++;
      return;
    }
    this.ensure(REC_BYTES);
    const w = this.pos >> 2;
    const u = this.u32;
    u[w] = Rec.Branch | ((taken ? 1 : 0) << 8) | (tCs << 16);
    u[w + 1] = tLin;
    u[w + 2] = tEip;
    u[w + 3] = 0;
    this.pos += REC_BYTES;
    this.chunkRecords++;
  }

  /** Remove from the pending physical writes the bytes of this data write (they are its own, not implicit). */
  private dropData(phys: number, phys2: number, lin: number, size: number): void {
    const first = Math.min(size, 0x1000 - (lin & 0xfff));
    const a = this.pAddr;
    for (let k = 0; k < size; k++) {
      const addr = k < first ? phys + k : phys2 + (k - first);
      for (let j = this.pN - 1; j >= 0; j--) {
        if (a[j] === addr) {
          a[j] = -1;
          break;
        }
      }
    }
  }

  /** Emit the pending physical writes as IMPLICIT records, runs of up to 4 ascending bytes. */
  private flushPending(): void {
    const n = this.pN;
    this.pN = 0;
    const a = this.pAddr;
    const v = this.pVal;
    let j = 0;
    while (j < n) {
      const addr = a[j];
      if (addr < 0) {
        j++;
        continue;
      }
      let size = 1;
      let value = v[j];
      while (size < 4 && j + size < n && a[j + size] === addr + size) {
        value |= v[j + size] << (8 * size);
        size++;
      }
      j += size;
      this.ensure(REC_BYTES);
      const w = this.pos >> 2;
      const u = this.u32;
      u[w] = Rec.Implicit | (size << 8);
      u[w + 1] = 0;
      u[w + 2] = addr;
      u[w + 3] = value;
      this.pos += REC_BYTES;
      this.chunkRecords++;
      this.counts[Rec.Implicit]++;
    }
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const nb = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    nb.set(this.buf.subarray(0, this.pos));
    this.setBuffer(nb, false);
  }

  /** A buffer for the next chunk: the single sink's own when it lends one big enough, else ours. */
  private takeBuffer(): void {
    const need = this.chunkBytes + (64 << 10);
    const lent = this.sinks.length === 1 && this.sinks[0].rawBuffer !== undefined ? this.sinks[0].rawBuffer() : null;
    if (lent !== null && lent.length >= need && lent.byteOffset % 4 === 0) this.setBuffer(lent, true);
    else if (this.bufLent || this.buf.length < need) this.setBuffer(new Uint8Array(need), false);
  }

  private setBuffer(b: Uint8Array, lent: boolean): void {
    this.buf = b;
    this.u32 = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
    this.bufLent = lent;
  }

  /** Hand the records so far to the sinks; the next chunk starts at `nextIcount`. */
  private cut(nextIcount: number): void {
    const c: RawChunk = {
      bytes: this.buf.subarray(0, this.pos),
      firstIcount: this.chunkFirst,
      instructions: this.chunkInsns,
      records: this.chunkRecords,
    };
    this.records += this.chunkRecords;
    this.rawBytes += this.pos;
    for (let k = 0; k < this.sinks.length; k++) this.sinks[k].chunk(c);
    this.pos = 0;
    if (!this.finished) this.takeBuffer();
    this.chunkFirst = nextIcount;
    this.chunkInsns = 0;
    this.chunkRecords = 0;
    this.needContext = true;
    this.serial = ++chunkSerial;
    this.fullRecords = 0;
    this.chained = false;
  }

  /** Record counts by kind name. */
  countsByName(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, name] of Object.entries(REC_NAMES)) out[name] = this.counts[Number(k)];
    return out;
  }
}

/**
 * Physical address of `lin` as the CPU would translate it now, without
 * touching the TLB or the accessed bits (a read-only walk; SDM 3A §4.3).
 */
export function peekPhys(cpu: Cpu, lin: number): number {
  const e = cpu.tlb[lin >>> 12];
  if ((e & TLB_VALID) !== 0) return ((e & ~0xfff) | (lin & 0xfff)) >>> 0;
  const a20 = cpu.a20Mask;
  if ((cpu.cr0 & CR0_PG) === 0) return (lin & a20) >>> 0;
  const pde = cpu.physRead32(((cpu.cr3 & ~0xfff) | ((lin >>> 20) & 0xffc)) & a20);
  if ((pde & PTE_P) === 0) return 0;
  if ((pde & PDE_PS) !== 0 && (cpu.cr4 & CR4_PSE) !== 0) return (((pde & 0xffc00000) | (lin & 0x3fffff)) & a20) >>> 0;
  const pte = cpu.physRead32(((pde & ~0xfff) | ((lin >>> 10) & 0xffc)) & a20);
  if ((pte & PTE_P) === 0) return 0;
  return (((pte & ~0xfff) | (lin & 0xfff)) & a20) >>> 0;
}
