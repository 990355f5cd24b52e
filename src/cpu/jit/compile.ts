/**
 * The block compiler: hot decoded blocks become JavaScript (`new Function`), grouped into
 * regions. A region holds the hot blocks of a 16 KiB window of linear code (same code size
 * and CS base) in one function: a loop dispatches on EIP to the blocks, so guest registers,
 * lazy flags and segment state stay in locals (gen.ts) while control stays in the window.
 * Instructions are specialised by emit.ts; the rest calls the interpreter. The generated
 * JavaScript is translated into WebAssembly (wasm.ts), which is what runs; where the translator
 * declines, or with RETRACE_WASM=0, the JavaScript itself is compiled (`new Function`).
 *
 * Contract with the run loop (cpu.ts runBlock), so that compiled code is indistinguishable
 * from the interpreter, bit for bit and instruction count for instruction count:
 * - a region runs whole blocks only: it leaves before a block the remaining budget does not
 *   cover (the interpreter then runs that partial block);
 * - memory goes through the TLB to RAM inline; any other case (a miss, a page crossing, a
 *   misaligned word, MMIO, a write to a page holding decoded code, a fault) leaves the region
 *   before the instruction (a side exit) and the interpreter executes it, so compiled code never
 *   runs device code or faults there;
 * - after an interpreter fallback it stops exactly where the interpreter's block loop stops:
 *   a write that invalidated code, HLT, a stop request or a raised interrupt line; the run loop
 *   does not enter a region while an interrupt line is already raised;
 * - a fault leaves registers, flags, icount and curEip as the interpreter leaves them;
 * - it returns false, having done nothing, when its entry guard fails (CS base, stack size,
 *   alignment checking, the segments it assumes flat);
 * - a write to any page it was compiled from invalidates it (Region.valid, cleared by the CPU).
 */
import { setFlagsFromString } from "node:v8";
import type { Insn } from "../../isa/decode.ts";
import type { Block, Cpu } from "../cpu.ts";
import { execute } from "../exec.ts";
import { emitInsn, fallback } from "./emit.ts";
import { bitsOf, Gen } from "./gen.ts";
import { buildWasmRegion, type WasmRegionInfo } from "./wasm.ts";

/** How a region run ended (RegionFn's result). */
export const enum Exit {
  /** The entry guard failed: nothing was done. */
  Declined = 0,
  /** It stopped where the run loop must look (budget, side exit, an interpreter call's stop). */
  Stopped = 1,
  /** Control reached a block this region does not hold. */
  Left = 2,
  /**
   * A side exit: Side + x left before instruction exits[2x] of its block, at EIP exits[2x + 1]
   * (runRegion applies them and returns Stopped). The region function only returns the number,
   * so leaving by a side exit for the first time runs no code of its own without type feedback
   * (an `ic += XI[x]` there was half of all deoptimisations of optimised regions on the Linux boot).
   */
  Side = 3,
}

/** Runs the region from c.eip; `limit` is the absolute icount the run must not pass. Returns an Exit (Side + x for side exit x). */
export type RegionFn = (c: Cpu, limit: number) => number;

/** A compiled region; `valid` is cleared when a page it was compiled from is written or flushed. */
export class Region {
  valid = true;
  /** Entry guard failures: past a few, the entry block is recompiled for the current state. */
  misses = 0;
  /**
   * The region this one leaves to most (a majority vote over its exits of kind Exit.Left) and
   * the vote's margin: past MERGE_AFTER the two are compiled into one (mergeRegions).
   */
  next: Region | null = null;
  nextVotes = 0;
  constructor(
    readonly fn: RegionFn,
    /** Its blocks (none for a one-off partial region), the first is the one it was compiled for. */
    readonly parts: readonly RegionBlock[],
    /** Side exit x: pairs (index of the instruction in its block, its EIP) at 2x and 2x + 1. */
    readonly exits: Int32Array,
  ) {}
}

/** Run region `r` from c.eip (see RegionFn); a side exit leaves icount and EIP at its instruction. */
export function runRegion(c: Cpu, r: Region, limit: number): Exit {
  const x = r.fn(c, limit);
  if (x < Exit.Side) return x;
  const j = (x - Exit.Side) << 1;
  c.icount += r.exits[j];
  c.eip = r.exits[j + 1];
  return Exit.Stopped;
}

type Factory = (fallbacks: readonly Insn[], rt: Runtime) => RegionFn;

interface Runtime {
  execute: (c: Cpu, i: Insn) => void;
  parity: Uint8Array;
  /** Does linear page `lp` still map to physical `phys`, executable at the current CPL? */
  pageCheck: (c: Cpu, lp: number, phys: number) => boolean;
}

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i;
  b ^= b >>> 4;
  b ^= b >>> 2;
  b ^= b >>> 1;
  PARITY[i] = ~b & 1;
}
const RT: Runtime = {
  execute,
  parity: PARITY,
  pageCheck: (c, lp, phys) => {
    const e = c.tlb[lp];
    return (e & c.rdMask) === c.rdMask && (e & -4096) === phys;
  },
};
/** Comments in generated code (debugging the compiler). */
const DEBUG = false;

/** Compiled factories by source text: identical regions (same bytes, same addresses) compile once. */
const factories = new Map<string, Factory>();
const MAX_FACTORIES = 20000;
/** A region takes blocks from up to SPAN_PAGES pages either side of the hot block's page. */
const SPAN_PAGES = 8;
/**
 * Region size limits. V8 never optimises a function above 60 KiB of bytecode (PERFORMANCE.md);
 * generated code measures about 0.55 bytes of bytecode per source character, so regions stay
 * below MAX_REGION_SOURCE characters (the coldest blocks are left out until they fit).
 * MAX_REGION_INSNS: V8 also waits longer before optimising a bigger function (its tick budget
 * grows with the bytecode size), and kernel code moves on before a big region pays for itself.
 * On the Linux boot 150 took 49.5-57.7 s where 600 took 57.5-69.7 s (virtual clock, AMD EPYC,
 * two or three runs each); the decompressor alone is the same with either. Once side exits no
 * longer deoptimised regions (Exit.Side), 100 reached the done marker in 15.9-16.5 s (median
 * 16.2, 7 runs) against 15.9-17.0 s (median 16.6) for 150, 16.1-16.8 s for 120, 17.2-17.4 s
 * for 70 and 18.6-18.8 s for 50 (2-core Xeon, interleaved).
 */
const MAX_REGION_INSNS = 100;
const MAX_REGION_SOURCE = 90_000;
/**
 * The same limits for WebAssembly regions (wasm.ts), which V8 compiles at any size, at once
 * (Liftoff) and optimises in the background. On the Linux boot (2-core AMD EPYC, alternating
 * runs, done marker): regions of up to 400 instructions merged up to 3,000 (source up to 400,000
 * characters) took 13.3-13.4 s against 13.8-15.3 s for 200 and 1,500 and 14.4-15.6 s for the
 * JavaScript limits; the decompressor's share fell from 6.2-6.9 s to 5.1 s, as its hot regions
 * now merge. 800 and 6,000 were no better (13.6-14.3 s).
 */
const WASM_REGION_INSNS = 400;
const WASM_MERGED_INSNS = 3000;
const WASM_REGION_SOURCE = 400_000;
/**
 * Merging (mergeRegions): a region is merged with the region it leaves to once that one has won
 * its exit vote by MERGE_AFTER, up to MAX_MERGED_INSNS instructions over MAX_MERGED_SPAN bytes
 * of code. Hot code is split over several regions because a block belongs to the first region
 * compiled near it, and which blocks are warm then is an accident of timing.
 */
export const MERGE_AFTER = 20_000;
const MAX_MERGED_INSNS = 600;
const MAX_MERGED_SPAN = 64 << 10;

/** Statistics for tests and the bench. */
export const jitStats = { compiled: 0, cacheHits: 0, regions: 0, merged: 0, wasm: 0, traced: 0 };

/** Compile regions to WebAssembly (wasm.ts) where the translator handles them; else JavaScript. */
export let wasmRegions = process.env.RETRACE_WASM !== "0";
export function setWasmRegions(on: boolean): void {
  wasmRegions = on;
}

/** One block of a region: its instructions (the first `count` of them) and its EIP. */
export interface RegionBlock {
  block: Block;
  count: number;
  eip: number;
}

/*
 * No on-stack replacement once regions exist. A region is a loop (the EIP dispatch), so V8 may
 * optimise a hot region only for entry at its loop (OSR) and never as a whole function: every
 * later call then starts in baseline code and jumps into the OSR code at its first back edge,
 * which costs more than a short region run (seen: 80,676 OSR entries of one decompressor region
 * in 2 s, the decompressor at 3-200 M/s instead of 400-650 M/s, in about half of all boots).
 * Without OSR a region is optimised whole and its next call runs the optimised code; a long
 * call still ends at the run slice's budget. Linux boot: 19.3-21.1 s against 23.6-24.7 s in the
 * slow half. Turned off only when the first region is compiled, because long one-call loops
 * elsewhere (the traced interpreter of `expand`, test runners) lose 5-18 % without OSR. V8 reads
 * the flag when it decides to tier a function up, so setting it at run time takes effect.
 */
let osrOff = false;

/** Compiled code reads guest words through host-endian typed arrays (Cpu.ram16, ram32). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Compile generated code into a region of `parts` (the factory is shared by identical sources). */
function build(c: Cpu, gen: Generated, parts: readonly RegionBlock[], traced = false): Region {
  // A one-off partial region (no parts) stays JavaScript: a WebAssembly module costs V8 a code
  // space of its own, and those run out when thousands are made for single runs (threshold 0).
  // A traced region too: its hook calls are calls into JavaScript, which V8 inlines there.
  if (wasmRegions && parts.length > 0 && !traced) {
    const g = gen.wasm.g;
    const fn = buildWasmRegion(c, gen.wasm, gen.fallbacks, {
      csBase: gen.wasm.csBase,
      csLimit: g.csLimit | 0,
      stack32: g.usesStack ? (g.stack32 ? 1 : 0) : -1,
      flat: g.flatUsed,
      segs: g.segsUsed,
    });
    if (fn !== null) {
      jitStats.wasm++;
      return new Region(fn, parts, gen.exits);
    }
  }
  const src = gen.src;
  if (!LITTLE_ENDIAN) throw new Error("the block compiler needs a little-endian host: run with --jit-threshold -1");
  if (!osrOff) {
    osrOff = true;
    setFlagsFromString("--no-use-osr");
  }
  let f = factories.get(src);
  if (f === undefined) {
    if (factories.size >= MAX_FACTORIES) factories.clear();
    f = new Function("FB", "RT", src) as Factory;
    factories.set(src, f);
    jitStats.compiled++;
  } else jitStats.cacheHits++;
  return new Region(f(gen.fallbacks, RT), parts, gen.exits);
}

/** Flat segments at compile time: base 0, limit 4 GiB, read/write data, protected mode (the interpreter's lin() fast path). */
function flatSegments(c: Cpu): number {
  if ((c.cr0 & 1) === 0) return 0;
  let m = 0;
  for (let s = 0; s < 6; s++)
    if (c.segLimit[s] === -1 && (c.segAr[s] & 14) === 2 && c.segBase[s] === 0 && s !== 1) m |= 1 << s;
  return m;
}

/**
 * Compile a region for hot block `b`: b and the blocks near it (SPAN_PAGES pages either side)
 * that ran more than a quarter of `threshold` times and are not compiled yet, with b's code size,
 * for the current CS base. A block is compiled once (until its code is invalidated): control
 * passes between regions through the run loop, and compiling is what costs most in cold code.
 * Sets `region` on every block compiled in and returns the region.
 */
export function compileRegion(c: Cpu, b: Block, threshold: number, traced = false): Region {
  const csBase = c.segBase[1];
  const members: Block[] = [b];
  const lins = new Set<number>([b.lin]);
  const others: Block[] = [];
  const home = b.lin >>> 12;
  // Blocks that ran at all since their page was last written join the region too: a block left
  // out ends the region each time control reaches it, and then costs a recompilation.
  const warm = threshold >>> 2;
  for (let lp = Math.max(0, home - SPAN_PAGES); lp <= Math.min(0xfffff, home + SPAN_PAGES); lp++) {
    let phys: number;
    if (lp === b.lin >>> 12) phys = b.page0;
    else {
      const e = c.tlb[lp];
      if ((e & 1) === 0) continue;
      phys = e >>> 12;
    }
    for (const x of c.blocksOnPage(phys))
      if (
        x !== b &&
        x.valid &&
        x.code32 === b.code32 &&
        x.lin >>> 12 === lp &&
        x.hits > warm &&
        ((traced ? x.tregion : x.region) === null || !(traced ? x.tregion : x.region)!.valid)
      )
        others.push(x);
  }
  // The hottest first, up to a size V8 still optimises; one block per EIP (a second one is stale).
  others.sort((x, y) => y.hits - x.hits);
  const maxInsns = wasmRegions && !traced ? WASM_REGION_INSNS : MAX_REGION_INSNS;
  const maxSource = wasmRegions && !traced ? WASM_REGION_SOURCE : MAX_REGION_SOURCE;
  let insns = b.n;
  for (const x of others) {
    if (insns + x.n > maxInsns || lins.has(x.lin)) continue;
    lins.add(x.lin);
    insns += x.n;
    members.push(x);
  }
  let parts = members.map((x) => ({ block: x, count: x.n, eip: (x.lin - csBase) | 0 }));
  let gen = generate(c, parts, traced);
  while (gen.src.length > maxSource && parts.length > 1) {
    parts = parts.slice(0, Math.max(1, Math.floor((parts.length * 3) / 4)));
    gen = generate(c, parts, traced);
  }
  const region = build(c, gen, parts, traced);
  jitStats.regions++;
  if (traced) {
    jitStats.traced++;
    for (const p of parts) p.block.tregion = region;
  } else for (const p of parts) p.block.region = region;
  return region;
}

/** A one-off region of the first `count` instructions of `b` (threshold 0: the end of a run slice). */
export function compilePartial(c: Cpu, b: Block, count: number): Region {
  return build(c, generate(c, [{ block: b, count, eip: c.eip }]), []);
}

/**
 * One region of the blocks of `a` and `b`, for a pair that passes control to each other often
 * (the run loop's vote, Region.next): the transition then stays inside one function. Returns
 * null, compiling nothing, when the pair does not fit one region (size, span, code size or CS
 * base differ, or a block went stale); the caller then stops voting for it.
 */
export function mergeRegions(c: Cpu, a: Region, b: Region): Region | null {
  if (!a.valid || !b.valid || a.parts.length === 0 || b.parts.length === 0) return null;
  const first = a.parts[0];
  const csBase = (first.block.lin - first.eip) | 0;
  const code32 = first.block.code32;
  const parts: RegionBlock[] = [];
  const lins = new Set<number>();
  let insns = 0;
  let lo = first.block.lin >>> 0;
  let hi = lo;
  for (const p of a.parts.concat(b.parts)) {
    const x = p.block;
    if (!x.valid || x.code32 !== code32 || ((x.lin - p.eip) | 0) !== csBase) return null;
    if (lins.has(x.lin)) continue;
    lins.add(x.lin);
    insns += p.count;
    if (x.lin >>> 0 < lo) lo = x.lin >>> 0;
    if (x.lin >>> 0 > hi) hi = x.lin >>> 0;
    parts.push(p);
  }
  if (insns > (wasmRegions ? WASM_MERGED_INSNS : MAX_MERGED_INSNS) || hi - lo > MAX_MERGED_SPAN) return null;
  const gen = generate(c, parts);
  if (gen.src.length > (wasmRegions ? WASM_REGION_SOURCE : MAX_REGION_SOURCE)) return null;
  const region = build(c, gen, parts);
  jitStats.regions++;
  jitStats.merged++;
  for (const p of parts) p.block.region = region;
  return region;
}

/** A region's factory source, the instructions it leaves to the interpreter and its side exits (Region.exits). */
export interface Generated {
  src: string;
  fallbacks: Insn[];
  exits: Int32Array;
  /** What the WebAssembly back end translates. */
  wasm: WasmRegionInfo;
}

/**
 * Generate the region of `parts` (exported for tests). `traced`: for a CPU with a trace hook
 * (emitTraced), JavaScript only.
 */
export function generate(c: Cpu, parts: readonly RegionBlock[], traced = false): Generated {
  const first = parts[0];
  const code32 = first.block.code32;
  const csBase = (first.block.lin - first.eip) | 0;
  const g = new Gen(code32, c.stack32, flatSegments(c), c.segLimit[1] >>> 0);
  g.traced = traced;
  const ipMask = code32 ? -1 : 0xffff;
  // Dispatch: EIP minus the lowest block's EIP indexes a slot table.
  let winLin = first.block.lin;
  for (const p of parts) if (p.block.lin >>> 0 < winLin >>> 0) winLin = p.block.lin;
  const multiPage = parts.some((p) => p.block.lin >>> 12 !== first.block.lin >>> 12);
  let slotsSize = 0;
  const slots: string[] = [];
  for (let j = 0; j < parts.length; j++) {
    const { block, count, eip: eip0 } = parts[j];
    g.beginBlock();
    g.emit(`case ${j + 1}: {`);
    g.emit(`if (ic + ${count} > limit) break loop;`);
    if (multiPage) {
      // Entering another page of the window: its linear->physical mapping must still be the one compiled.
      const lp = block.lin >>> 12;
      g.emit(`if (pg !== ${lp}) { if (!PG(c, ${lp}, ${block.page0 << 12})) break loop; pg = ${lp}; }`);
    }
    let eip = eip0;
    let ended = false;
    let info: TracedBlock | null = null;
    if (traced) {
      info = {
        insns: block.insns.slice(0, count),
        eips: new Int32Array(count),
        accStart: new Uint16Array(count + 1),
        accKinds: new Uint8Array(0),
      };
      g.blockInfo = g.fallbacks.length;
      g.fallbacks.push(info);
    }
    for (let k = 0; k < count; k++) {
      const i = block.insns[k];
      const next = (eip + i.len) & ipMask;
      if (DEBUG) g.emit(`// ${k}: op ${i.op}.${i.sub} w${i.w} mod${i.mod}`);
      ended = traced
        ? emitTraced(g, i, k, eip, next, k === count - 1, count)
        : emitInsn(g, i, k, eip, next, k === count - 1, count);
      eip = next;
    }
    if (info !== null) {
      info.eips.set(g.eips.slice(0, count));
      info.accStart.set(g.accStart.slice(0, count));
      info.accStart[count] = g.accKinds.length;
      info.accKinds = Uint8Array.from(g.accKinds);
    }
    if (!ended) g.emit(`ic += ${count}; eip = ${eip};`);
    // An interpreter call may have loaded a segment register the region assumes flat.
    if (g.recheckFlat) g.emit("if (!(@FLATOK@)) break loop;");
    g.emit("continue loop;");
    g.emit("}");
    g.endBlock();
    const off = (block.lin - winLin) >>> 0;
    slots.push(`S[${off}] = ${j + 1};`);
    if (off + 1 > slotsSize) slotsSize = off + 1;
  }
  const src = assemble(g, first, csBase, winLin, slotsSize, slots, multiPage);
  const slotArr = new Int32Array(slotsSize);
  for (let j = 0; j < parts.length; j++) slotArr[(parts[j].block.lin - winLin) >>> 0] = j + 1;
  const wasm: WasmRegionInfo = {
    g,
    body: g.body.join("\n"),
    winEip: (winLin - csBase) | 0,
    slots: slotArr,
    multiPage,
    csBase,
  };
  return { src, fallbacks: g.fallbacks as Insn[], exits: Int32Array.from(g.exits), wasm };
}

/**
 * What a traced region hands the tracer for one block (TraceRecorder.replayBlock): its
 * instructions, their EIPs, and the size and direction of each logged access.
 */
export interface TracedBlock {
  insns: readonly Insn[];
  /** EIP of instruction k. */
  eips: Int32Array;
  /** Instruction k's accesses are accKinds[accStart[k]] .. accKinds[accStart[k + 1] - 1]. */
  accStart: Uint16Array;
  /** Per access: size | 8 for a write. */
  accKinds: Uint8Array;
}

/**
 * Instruction `i` of a traced region. The trace hook (src/cpu/trace-hook.ts) sees what the CPU's
 * traced interpreter loop shows it: begin (beginNext after a block's first instruction), each
 * access in order, retire, with the Cpu's icount, curEip and eip as that loop has them. A
 * specialised instruction logs its accesses (gen.ts traceAcc), and the tracer replays each run of
 * such instructions in one call where the run ends; a side exit (the interpreter executes the
 * instruction instead) leaves no trace of the instruction it leaves before. An instruction whose
 * code could fault (a segment check) goes to the interpreter, with the hooks around that call.
 */
function emitTraced(g: Gen, i: Insn, k: number, eip: number, next: number, last: boolean, n: number): boolean {
  const m = g.mark();
  let ended = emitInsn(g, i, k, eip, next, last, n);
  if (g.faultable && !g.fellBack) {
    g.restore(m);
    ended = fallback(g, i, k, eip, next, last, n);
  }
  // A branch has counted its block in ic already and set eip.
  if (last) g.emit(g.flushTrace(n, ended ? `ic - ${n}` : "ic", ended ? "eip" : String(next)));
  return ended;
}

function assemble(
  g: Gen,
  first: RegionBlock,
  csBase: number,
  winLin: number,
  slotsSize: number,
  slots: string[],
  multiPage: boolean,
): string {
  const used = bitsOf(g.regsUsed);
  const written = bitsOf(g.regsWritten);
  const segs = bitsOf(g.segsUsed);
  const flags = g.flagsUsed || g.flagsWritten;
  const segLoad = segs
    .map((s) => `s${s} = c.segBase[${s}]; f${s} = pe && c.segLimit[${s}] === -1 && (c.segAr[${s}] & 14) === 2;`)
    .join(" ");
  const modeLoad = `rdm = c.rdMask; wrm = c.wrMask; pe = (c.cr0 & 1) !== 0; ${segLoad}`;
  const regLoad = used.map((r) => `r${r} = regs[${r}];`).join(" ");
  const regStore = written.map((r) => `regs[${r}] = r${r};`).join(" ");
  const flagLoad = flags ? "fres = c.fres; fcv = c.fcv; ftop = c.ftop; fovr = c.fovr; fbits = c.fbits;" : "";
  const flagStore = g.flagsWritten ? "c.fres = fres; c.fcv = fcv; c.ftop = ftop; c.fovr = fovr; c.fbits = fbits;" : "";
  const flatOk = bitsOf(g.flatUsed)
    .map((s) => `c.segBase[${s}] === 0 && c.segLimit[${s}] === -1 && (c.segAr[${s}] & 14) === 2`)
    .concat(g.flatUsed !== 0 ? ["(c.cr0 & 1) !== 0"] : [])
    .join(" && ");
  const decls: string[] = ["e = 0", "k = 0", "ke = 0", "x = 1", "rdm = 0", "wrm = 0", "pe = false"];
  if (g.traced) decls.push("lp = 0");
  decls.push("fres = 0", "fcv = 0", "ftop = 31", "fovr = 0", "fbits = 0");
  if (multiPage) decls.push(`pg = (eip + ${csBase}) >>> 12`);
  for (const r of used) decls.push(`r${r} = 0`);
  for (const s of segs) decls.push(`s${s} = 0`, `f${s} = false`);
  for (let t = 0; t < g.maxTemps; t++) decls.push(`t${t} = 0`);
  const body = g.body
    .join("\n        ")
    .replaceAll("@SYNC@", `${regStore} ${flagStore}`)
    .replaceAll("@RELOAD@", `${regLoad} ${flagLoad}`)
    .replaceAll("@MODE@", modeLoad)
    .replaceAll("@FLATOK@", flatOk === "" ? "true" : flatOk)
    .replaceAll("@DF@", "((c.eflags >>> 10) & 1)");
  const guard = [`c.segBase[1] !== ${csBase}`, `c.segLimit[1] !== ${g.csLimit | 0}`, "c.alignCheck"];
  if (g.usesStack) guard.push(`c.stack32 !== ${g.stack32}`);
  if (flatOk !== "") guard.push(`!(${flatOk})`);
  const winEip = (winLin - csBase) | 0;
  return `"use strict";
const X = RT.execute, PAR = RT.parity, PG = RT.pageCheck, S = new ${slots.length < 255 ? "Uint8Array" : "Uint16Array"}(${slotsSize});
${slots.join(" ")}
return function region_${(first.block.lin >>> 0).toString(16)}(c, limit) {
  if (${guard.join(" || ")}) return 0;
  const regs = c.regs, tlb = c.tlb, ram = c.ram, m16 = c.ram16, m32 = c.ram32${g.traced ? ", T = c.tracer, L = T.accLog" : ""};
  let ic = c.icount, eip = c.eip | 0, ${decls.join(", ")};
  ${modeLoad}
  ${regLoad}
  ${flagLoad}
  c.blockDirty = false;
  try {
    loop: for (;;) {
      const d = ((eip - ${winEip}) | 0) >>> 0;
      if (d >= ${slotsSize}) { x = 2; break; }
      switch (S[d]) {
        ${body}
        default:
          x = 2;
          break loop;
      }
    }
  } catch (x) {
    if (k >= 0) {
      ${regStore}
      ${flagStore}
      c.icount = ic + k;
      c.curEip = ke;
    }
    throw x;
  }
  ${regStore}
  ${flagStore}
  c.icount = ic;
  c.eip = eip;
  return x;
};`;
}
