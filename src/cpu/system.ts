/**
 * Protected-mode system architecture: descriptor loads with their checks,
 * far transfers through call gates with stack switches, interrupt and
 * exception delivery through the IDT, IRET (to outer rings and to V86 mode),
 * hardware task switches, and the system instructions. SDM Vol.3A chapters
 * 3 (segmentation), 5 (protection), 6 (interrupts), 7 (tasks), 20 (V86).
 */
import { type Insn, Reg, Seg } from "../isa/decode.ts";
import { AR, CR0, CR4, F, Vec } from "./constants.ts";
import type { Cpu } from "./cpu.ts";

// Scratch for descriptor reads (no allocation on the hot path).
let dLo = 0;
let dHi = 0;

const descBase = (lo: number, hi: number): number => (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000) | 0;
function descLimit(lo: number, hi: number): number {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return hi & (1 << 23) ? (raw << 12) | 0xfff | 0 : raw;
}
const descAr = (hi: number): number => ((hi >>> 8) & 0xff) | ((hi >>> 8) & 0xf000);
const dplOf = (ar: number): number => (ar >>> AR.DplShift) & 3;

/** Linear address of the descriptor for `sel` (GDT or LDT), or -1 when outside the table limit. */
function descAddr(c: Cpu, sel: number): number {
  const index = sel & 0xfff8;
  if (sel & 4) {
    if ((c.ldtSel & 0xfffc) === 0 || index + 7 > c.ldtLimit >>> 0) return -1;
    return (c.ldtBase + index) | 0;
  }
  if (index + 7 > c.gdtLimit >>> 0) return -1;
  return (c.gdtBase + index) | 0;
}

/** Read the descriptor for `sel` into dLo/dHi; raises `vec`(sel) when outside the table. */
function readDesc(c: Cpu, sel: number, vec: number): number {
  const addr = descAddr(c, sel);
  if (addr === -1) c.raise(vec, sel & 0xfffc);
  dLo = c.readLin32(addr, false);
  dHi = c.readLin32((addr + 4) | 0, false);
  return addr;
}

/** Set the accessed bit of a segment descriptor in memory (SDM 3A §3.4.5.1). */
function setAccessed(c: Cpu, addr: number): void {
  if ((dHi & (1 << 8)) === 0) {
    dHi |= 1 << 8;
    c.writeLin8((addr + 5) | 0, (dHi >>> 8) & 0xff, false);
  }
}

/** MOV/POP/LxS to a data or stack segment register in protected mode (SDM 3A §5.4, §5.7). */
export function loadSegPM(c: Cpu, s: number, sel: number): void {
  const rpl = sel & 3;
  if ((sel & 0xfffc) === 0) {
    if (s === Seg.SS) c.gp(0);
    // A null selector loads an unusable cache: any access through it is #GP(0).
    c.setSegCache(s, sel, 0, 0, 0);
    return;
  }
  const addr = readDesc(c, sel, Vec.GP);
  const ar = descAr(dHi);
  const dpl = dplOf(ar);
  if (s === Seg.SS) {
    if (rpl !== c.cpl || dpl !== c.cpl || (ar & (AR.S | AR.Code | AR.RW)) !== (AR.S | AR.RW)) c.gp(sel & 0xfffc);
    if ((ar & AR.P) === 0) c.raise(Vec.SS, sel & 0xfffc);
  } else {
    if ((ar & AR.S) === 0 || (ar & (AR.Code | AR.RW)) === AR.Code) c.gp(sel & 0xfffc);
    // Data and non-conforming code: RPL and CPL must not exceed DPL.
    if ((ar & (AR.Code | AR.DC)) !== (AR.Code | AR.DC) && (rpl > dpl || c.cpl > dpl)) c.gp(sel & 0xfffc);
    if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
  }
  setAccessed(c, addr);
  c.setSegCache(s, sel, descBase(dLo, dHi), descLimit(dLo, dHi), descAr(dHi));
}

/** Load CS from the descriptor in dLo/dHi with RPL forced to `cpl`. */
function loadCs(c: Cpu, sel: number, cpl: number): void {
  c.setSegCache(Seg.CS, (sel & 0xfffc) | cpl, descBase(dLo, dHi), descLimit(dLo, dHi), descAr(dHi));
}

/** Validate a code-segment descriptor in dLo/dHi for a direct JMP/CALL (SDM 3A §5.8.1). */
function checkDirectCode(c: Cpu, sel: number): void {
  const ar = descAr(dHi);
  const dpl = dplOf(ar);
  if ((ar & AR.Code) === 0 || (ar & AR.S) === 0) c.gp(sel & 0xfffc);
  if (ar & AR.DC) {
    if (dpl > c.cpl) c.gp(sel & 0xfffc);
  } else if ((sel & 3) > c.cpl || dpl !== c.cpl) c.gp(sel & 0xfffc);
  if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
}

function realFar(c: Cpu, sel: number, off: number): void {
  c.setSegReal(Seg.CS, sel);
  c.eip = off;
}

/** Far JMP (SDM 2A JMP, protected-mode operation). */
export function jmpFar(c: Cpu, sel: number, off: number): void {
  if (!c.protectedMode || c.v86) {
    if (off >>> 0 > c.segLimit[Seg.CS] >>> 0) c.gp(0);
    realFar(c, sel, off);
    return;
  }
  if ((sel & 0xfffc) === 0) c.gp(0);
  const addr = readDesc(c, sel, Vec.GP);
  const ar = descAr(dHi);
  if (ar & AR.S) {
    checkDirectCode(c, sel);
    if (off >>> 0 > descLimit(dLo, dHi) >>> 0) c.gp(0);
    setAccessed(c, addr);
    loadCs(c, sel, c.cpl);
    c.eip = off;
    return;
  }
  const type = ar & 0xf;
  const dpl = dplOf(ar);
  if (type === 4 || type === 0xc) {
    // Call gate: JMP never changes privilege.
    if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
    if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
    const target = (dLo >>> 16) & 0xffff;
    const goff = type === 0xc ? (dHi & 0xffff0000) | (dLo & 0xffff) : dLo & 0xffff;
    if ((target & 0xfffc) === 0) c.gp(0);
    const taddr = readDesc(c, target, Vec.GP);
    const tar = descAr(dHi);
    if ((tar & (AR.S | AR.Code)) !== (AR.S | AR.Code)) c.gp(target & 0xfffc);
    const tdpl = dplOf(tar);
    if (tar & AR.DC ? tdpl > c.cpl : tdpl !== c.cpl) c.gp(target & 0xfffc);
    if ((tar & AR.P) === 0) c.raise(Vec.NP, target & 0xfffc);
    if (goff >>> 0 > descLimit(dLo, dHi) >>> 0) c.gp(0);
    setAccessed(c, taddr);
    loadCs(c, target, c.cpl);
    c.eip = goff;
    return;
  }
  if (type === 5 || type === 1 || type === 9) {
    if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
    if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
    taskSwitch(c, type === 5 ? (dLo >>> 16) & 0xffff : sel, TaskSrc.Jmp, -1);
    return;
  }
  c.gp(sel & 0xfffc);
}

/** Far CALL (SDM 2A CALL, protected-mode operation, including call gates to inner rings). */
export function callFar(c: Cpu, sel: number, off: number, w: number): void {
  if (!c.protectedMode || c.v86) {
    if (off >>> 0 > c.segLimit[Seg.CS] >>> 0) c.gp(0);
    const sp = c.regs[Reg.ESP];
    try {
      c.push(c.segSel[Seg.CS], w);
      c.push(c.eip, w);
    } catch (e) {
      c.regs[Reg.ESP] = sp;
      throw e;
    }
    realFar(c, sel, off);
    return;
  }
  if ((sel & 0xfffc) === 0) c.gp(0);
  const addr = readDesc(c, sel, Vec.GP);
  const ar = descAr(dHi);
  if (ar & AR.S) {
    checkDirectCode(c, sel);
    if (off >>> 0 > descLimit(dLo, dHi) >>> 0) c.gp(0);
    const lo = dLo;
    const hi = dHi;
    pushPair(c, c.segSel[Seg.CS], c.eip, w);
    dLo = lo;
    dHi = hi;
    setAccessed(c, addr);
    loadCs(c, sel, c.cpl);
    c.eip = off;
    return;
  }
  const type = ar & 0xf;
  const dpl = dplOf(ar);
  if (type === 5 || type === 1 || type === 9) {
    if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
    if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
    taskSwitch(c, type === 5 ? (dLo >>> 16) & 0xffff : sel, TaskSrc.Call, -1);
    return;
  }
  if (type !== 4 && type !== 0xc) c.gp(sel & 0xfffc);
  if (dpl < c.cpl || dpl < (sel & 3)) c.gp(sel & 0xfffc);
  if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
  const gate32 = type === 0xc;
  const params = dHi & 0x1f;
  const target = (dLo >>> 16) & 0xffff;
  const goff = gate32 ? (dHi & 0xffff0000) | (dLo & 0xffff) : dLo & 0xffff;
  if ((target & 0xfffc) === 0) c.gp(0);
  const taddr = readDesc(c, target, Vec.GP);
  const tar = descAr(dHi);
  const tdpl = dplOf(tar);
  if ((tar & (AR.S | AR.Code)) !== (AR.S | AR.Code) || tdpl > c.cpl) c.gp(target & 0xfffc);
  if ((tar & AR.P) === 0) c.raise(Vec.NP, target & 0xfffc);
  if (goff >>> 0 > descLimit(dLo, dHi) >>> 0) c.gp(0);
  const tLo = dLo;
  const tHi = dHi;
  const gw = gate32 ? 4 : 2;
  if ((tar & AR.DC) === 0 && tdpl < c.cpl) {
    // More privileged: switch to the inner stack from the TSS and copy the parameters.
    const stack = innerStack(c, tdpl);
    const oldSs = c.segSel[Seg.SS];
    const oldEsp = c.regs[Reg.ESP];
    const oldStack32 = c.stack32;
    const oldCs = c.segSel[Seg.CS];
    const oldEip = c.eip;
    const paramVals: number[] = [];
    for (let k = params - 1; k >= 0; k--) {
      const o = oldStack32 ? (oldEsp + k * gw) | 0 : (oldEsp + k * gw) & 0xffff;
      paramVals.push(c.rd(Seg.SS, o, gw));
    }
    const ss32 = (stack.ar & AR.DB) !== 0;
    let sp = stack.esp;
    const pushNew = (v: number): void => {
      sp = ss32 ? (sp - gw) | 0 : (sp - gw) & 0xffff;
      writeStack(c, stack.base, sp, v, gw);
    };
    pushNew(oldSs);
    pushNew(oldEsp);
    for (let k = 0; k < paramVals.length; k++) pushNew(paramVals[k]);
    pushNew(oldCs);
    pushNew(oldEip);
    c.setSegCache(Seg.SS, stack.sel, stack.base, stack.limit, stack.ar);
    c.regs[Reg.ESP] = ss32 ? sp : (c.regs[Reg.ESP] & ~0xffff) | sp;
    dLo = tLo;
    dHi = tHi;
    setAccessed(c, taddr);
    loadCs(c, target, tdpl);
    c.eip = goff;
    return;
  }
  pushPair(c, c.segSel[Seg.CS], c.eip, gw);
  dLo = tLo;
  dHi = tHi;
  setAccessed(c, taddr);
  loadCs(c, target, c.cpl);
  c.eip = goff;
}

/** Push CS then EIP (w bytes each), both or neither. */
function pushPair(c: Cpu, cs: number, eip: number, w: number): void {
  const sp = c.regs[Reg.ESP];
  try {
    c.push(cs, w);
    c.push(eip, w);
  } catch (e) {
    c.regs[Reg.ESP] = sp;
    throw e;
  }
}

function writeStack(c: Cpu, base: number, sp: number, v: number, w: number): void {
  const lin = (base + sp) | 0;
  if (w === 4) c.writeLin32(lin, v, false);
  else c.writeLin16(lin, v, false);
}

interface StackInfo {
  sel: number;
  esp: number;
  base: number;
  limit: number;
  ar: number;
}

/** SS:ESP for privilege level `dpl` from the current TSS, validated (SDM 3A §5.8.5, #TS cases). */
function innerStack(c: Cpu, dpl: number): StackInfo {
  const tss32 = (c.trAr & 0x8) !== 0;
  let sel: number;
  let esp: number;
  if (tss32) {
    const off = 4 + dpl * 8;
    if (off + 5 > c.trLimit >>> 0) c.raise(Vec.TS, c.trSel & 0xfffc);
    esp = c.readLin32((c.trBase + off) | 0, false);
    sel = c.readLin16((c.trBase + off + 4) | 0, false);
  } else {
    const off = 2 + dpl * 4;
    if (off + 3 > c.trLimit >>> 0) c.raise(Vec.TS, c.trSel & 0xfffc);
    esp = c.readLin16((c.trBase + off) | 0, false);
    sel = c.readLin16((c.trBase + off + 2) | 0, false);
  }
  if ((sel & 0xfffc) === 0) c.raise(Vec.TS, sel & 0xfffc);
  const addr = descAddr(c, sel);
  if (addr === -1) c.raise(Vec.TS, sel & 0xfffc);
  dLo = c.readLin32(addr, false);
  dHi = c.readLin32((addr + 4) | 0, false);
  const ar = descAr(dHi);
  if ((sel & 3) !== dpl || dplOf(ar) !== dpl || (ar & (AR.S | AR.Code | AR.RW)) !== (AR.S | AR.RW)) {
    c.raise(Vec.TS, sel & 0xfffc);
  }
  if ((ar & AR.P) === 0) c.raise(Vec.SS, sel & 0xfffc);
  setAccessed(c, addr);
  return { sel, esp, base: descBase(dLo, dHi), limit: descLimit(dLo, dHi), ar: descAr(dHi) };
}

/** After a return to an outer ring, data segment registers the new CPL may not use become null (SDM 2A RET). */
function nullInvalidSegs(c: Cpu): void {
  for (const s of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) {
    const ar = c.segAr[s];
    if ((ar & AR.P) === 0) continue;
    const conformingCode = (ar & (AR.Code | AR.DC)) === (AR.Code | AR.DC);
    if (!conformingCode && dplOf(ar) < c.cpl) c.setSegCache(s, 0, 0, 0, 0);
  }
}

/** Far RET with `imm` bytes of parameters to release (SDM 2A RET). */
export function retFar(c: Cpu, w: number, imm: number): void {
  const off = c.peek(w, 0);
  const sel = c.peek(w, w) & 0xffff;
  if (!c.protectedMode || c.v86) {
    if (off >>> 0 > c.segLimit[Seg.CS] >>> 0 && c.protectedMode) c.gp(0);
    c.addSp(2 * w + imm);
    realFar(c, sel, off);
    return;
  }
  if ((sel & 0xfffc) === 0) c.gp(0);
  const rpl = sel & 3;
  if (rpl < c.cpl) c.gp(sel & 0xfffc);
  const addr = readDesc(c, sel, Vec.GP);
  const ar = descAr(dHi);
  const dpl = dplOf(ar);
  if ((ar & (AR.S | AR.Code)) !== (AR.S | AR.Code)) c.gp(sel & 0xfffc);
  if (ar & AR.DC ? dpl > rpl : dpl !== rpl) c.gp(sel & 0xfffc);
  if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
  const cLo = dLo;
  const cHi = dHi;
  if (rpl === c.cpl) {
    if (off >>> 0 > descLimit(dLo, dHi) >>> 0) c.gp(0);
    c.addSp(2 * w + imm);
    setAccessed(c, addr);
    loadCs(c, sel, rpl);
    c.eip = off;
    return;
  }
  // Return to an outer privilege level: the outer SS:ESP follows the parameters.
  const newEsp = c.peek(w, 2 * w + imm);
  const newSs = c.peek(w, 3 * w + imm) & 0xffff;
  returnToOuter(c, sel, rpl, addr, cLo, cHi, off, newSs, (newEsp + imm) | 0);
}

/**
 * The common tail of RET and IRET to an outer privilege level (SDM 2A RET/IRET, "return to outer
 * privilege level"): check the outer SS, then commit CS:EIP and SS:ESP and null the data segment
 * registers the outer ring may not use. The CS descriptor (cLo/cHi at `addr`) was checked by the caller.
 */
function returnToOuter(
  c: Cpu,
  sel: number,
  rpl: number,
  addr: number,
  cLo: number,
  cHi: number,
  off: number,
  newSs: number,
  newEsp: number,
): void {
  if ((newSs & 0xfffc) === 0) c.gp(0);
  const saddr = readDesc(c, newSs, Vec.GP);
  const sar = descAr(dHi);
  if ((newSs & 3) !== rpl || dplOf(sar) !== rpl || (sar & (AR.S | AR.Code | AR.RW)) !== (AR.S | AR.RW)) {
    c.gp(newSs & 0xfffc);
  }
  if ((sar & AR.P) === 0) c.raise(Vec.SS, newSs & 0xfffc);
  const sLo = dLo;
  const sHi = dHi;
  if (off >>> 0 > descLimit(cLo, cHi) >>> 0) c.gp(0);
  dLo = cLo;
  dHi = cHi;
  setAccessed(c, addr);
  loadCs(c, sel, rpl);
  dLo = sLo;
  dHi = sHi;
  setAccessed(c, saddr);
  c.setSegCache(Seg.SS, newSs, descBase(sLo, sHi), descLimit(sLo, sHi), descAr(sHi));
  c.regs[Reg.ESP] = c.stack32 ? newEsp : (c.regs[Reg.ESP] & ~0xffff) | (newEsp & 0xffff);
  c.eip = off;
  nullInvalidSegs(c);
}

/** IRET/IRETD (SDM 2A IRET): real mode, V86, same ring, outer ring, to V86, and task return. */
export function iret(c: Cpu, w: number): void {
  if (!c.protectedMode) {
    const ip = c.peek(w, 0);
    const cs = c.peek(w, w) & 0xffff;
    const fl = c.peek(w, 2 * w);
    c.addSp(3 * w);
    realFar(c, cs, w === 2 ? ip & 0xffff : ip);
    const keep = w === 2 ? ~0xffff : F.VM | F.VIF | F.VIP;
    c.setEflags((c.getEflags() & keep) | (fl & ~keep));
    return;
  }
  if (c.v86) {
    // V86: IRET is IOPL-sensitive; IOPL itself is not changed (SDM 3A §20.2.7).
    if ((c.eflags & F.IOPL) !== F.IOPL) c.gp(0);
    const ip = c.peek(w, 0);
    const cs = c.peek(w, w) & 0xffff;
    const fl = c.peek(w, 2 * w);
    c.addSp(3 * w);
    realFar(c, cs, w === 2 ? ip & 0xffff : ip);
    const keep = (w === 2 ? ~0xffff : F.VM | F.VIF | F.VIP) | F.IOPL;
    c.setEflags((c.getEflags() & keep) | (fl & ~keep));
    return;
  }
  if (c.eflags & F.NT) {
    // Return from a nested task through the back link of the current TSS.
    const link = c.readLin16(c.trBase, false);
    taskSwitch(c, link, TaskSrc.Iret, -1);
    return;
  }
  const off = c.peek(w, 0);
  const sel = c.peek(w, w) & 0xffff;
  const fl = c.peek(w, 2 * w);
  if (w === 4 && fl & F.VM && c.cpl === 0) {
    iretToV86(c, off, sel, fl);
    return;
  }
  if ((sel & 0xfffc) === 0) c.gp(0);
  const rpl = sel & 3;
  if (rpl < c.cpl) c.gp(sel & 0xfffc);
  const addr = readDesc(c, sel, Vec.GP);
  const ar = descAr(dHi);
  const dpl = dplOf(ar);
  if ((ar & (AR.S | AR.Code)) !== (AR.S | AR.Code)) c.gp(sel & 0xfffc);
  if (ar & AR.DC ? dpl > rpl : dpl !== rpl) c.gp(sel & 0xfffc);
  if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
  const cLo = dLo;
  const cHi = dHi;
  const oldCpl = c.cpl;
  const newFlags = iretFlags(c, fl, w, oldCpl);
  if (rpl === c.cpl) {
    if (off >>> 0 > descLimit(dLo, dHi) >>> 0) c.gp(0);
    c.addSp(3 * w);
    setAccessed(c, addr);
    loadCs(c, sel, rpl);
    c.eip = off;
    c.setEflags(newFlags);
    return;
  }
  const newEsp = c.peek(w, 3 * w);
  const newSs = c.peek(w, 4 * w) & 0xffff;
  returnToOuter(c, sel, rpl, addr, cLo, cHi, off, newSs, newEsp);
  c.setEflags(newFlags);
}

/** EFLAGS image IRET may load at privilege `cpl` (IOPL only at CPL 0, IF only when CPL <= IOPL). */
function iretFlags(c: Cpu, fl: number, w: number, cpl: number): number {
  const cur = c.getEflags();
  let changeable = F.Arith | F.TF | F.DF | F.NT | F.RF | F.IF | F.IOPL;
  if (w === 4) changeable |= F.AC | F.ID | F.VIF | F.VIP;
  if (cpl > 0) changeable &= ~(F.IOPL | F.VIF | F.VIP);
  if (cpl > ((cur >>> 12) & 3)) changeable &= ~F.IF;
  return (cur & ~changeable) | (fl & changeable);
}

function iretToV86(c: Cpu, off: number, sel: number, fl: number): void {
  const esp = c.peek(4, 12);
  const ss = c.peek(4, 16) & 0xffff;
  const es = c.peek(4, 20) & 0xffff;
  const ds = c.peek(4, 24) & 0xffff;
  const fs = c.peek(4, 28) & 0xffff;
  const gs = c.peek(4, 32) & 0xffff;
  c.setEflags(fl | F.VM);
  for (const [s, v] of [
    [Seg.CS, sel],
    [Seg.SS, ss],
    [Seg.ES, es],
    [Seg.DS, ds],
    [Seg.FS, fs],
    [Seg.GS, gs],
  ]) {
    c.setSegReal(s, v);
  }
  c.regs[Reg.ESP] = esp;
  c.eip = off & 0xffff;
  c.updateMode();
}

/**
 * Deliver interrupt/exception `vector` through the IDT (SDM 3A §6.12).
 * `code` >= 0 is pushed as the error code; `soft` is INT n/INT3/INTO (gate DPL checked).
 */
export function deliverInterruptPM(c: Cpu, vector: number, code: number, soft: boolean): void {
  const ext = soft ? 0 : 1;
  const idtErr = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > c.idtLimit >>> 0) c.gp(idtErr);
  const gLo = c.readLin32((c.idtBase + vector * 8) | 0, false);
  const gHi = c.readLin32((c.idtBase + vector * 8 + 4) | 0, false);
  const gar = descAr(gHi);
  const type = gar & 0xf;
  const gdpl = dplOf(gar);
  if (type !== 5 && type !== 6 && type !== 7 && type !== 0xe && type !== 0xf) c.gp(idtErr);
  if ((gar & AR.S) !== 0) c.gp(idtErr);
  if (soft && gdpl < c.cpl) c.gp(vector * 8 + 2);
  if ((gar & AR.P) === 0) c.raise(Vec.NP, idtErr);
  if (type === 5) {
    taskSwitch(c, (gLo >>> 16) & 0xffff, TaskSrc.Int, code);
    return;
  }
  const gate32 = (type & 8) !== 0;
  const trap = (type & 1) !== 0;
  const target = (gLo >>> 16) & 0xffff;
  const off = gate32 ? (gHi & 0xffff0000) | (gLo & 0xffff) : gLo & 0xffff;
  if ((target & 0xfffc) === 0) c.gp(ext);
  const taddr = descAddr(c, target);
  if (taddr === -1) c.gp((target & 0xfffc) + ext);
  dLo = c.readLin32(taddr, false);
  dHi = c.readLin32((taddr + 4) | 0, false);
  const tar = descAr(dHi);
  const tdpl = dplOf(tar);
  if ((tar & (AR.S | AR.Code)) !== (AR.S | AR.Code) || tdpl > c.cpl) c.gp((target & 0xfffc) + ext);
  if ((tar & AR.P) === 0) c.raise(Vec.NP, (target & 0xfffc) + ext);
  if (off >>> 0 > descLimit(dLo, dHi) >>> 0) c.gp(ext);
  const tLo = dLo;
  const tHi = dHi;
  const gw = gate32 ? 4 : 2;
  const flags = c.getEflags();
  const wasV86 = (flags & F.VM) !== 0;
  if ((tar & AR.DC) === 0 && tdpl < c.cpl) {
    if (wasV86 && tdpl !== 0) c.gp((target & 0xfffc) + ext);
    const stack = innerStack(c, tdpl);
    const ss32 = (stack.ar & AR.DB) !== 0;
    let sp = stack.esp;
    const push = (v: number): void => {
      sp = ss32 ? (sp - gw) | 0 : (sp - gw) & 0xffff;
      writeStack(c, stack.base, sp, v, gw);
    };
    if (wasV86) {
      push(c.segSel[Seg.GS]);
      push(c.segSel[Seg.FS]);
      push(c.segSel[Seg.DS]);
      push(c.segSel[Seg.ES]);
    }
    push(c.segSel[Seg.SS]);
    push(c.regs[Reg.ESP]);
    push(flags);
    push(c.segSel[Seg.CS]);
    push(c.eip);
    if (code >= 0) push(code);
    // Commit: nothing above faulted.
    if (wasV86) {
      for (const s of [Seg.GS, Seg.FS, Seg.DS, Seg.ES]) c.setSegCache(s, 0, 0, 0, 0);
    }
    c.eflags &= ~(F.TF | F.NT | F.RF | F.VM | (trap ? 0 : F.IF));
    c.setSegCache(Seg.SS, stack.sel, stack.base, stack.limit, stack.ar);
    c.regs[Reg.ESP] = ss32 ? sp : (c.regs[Reg.ESP] & ~0xffff) | sp;
    dLo = tLo;
    dHi = tHi;
    setAccessed(c, taddr);
    loadCs(c, target, tdpl);
    c.eip = off;
    return;
  }
  if (wasV86) c.gp((target & 0xfffc) + ext);
  // Same privilege level.
  const newCpl = c.cpl;
  const sp0 = c.regs[Reg.ESP];
  try {
    c.push(flags, gw);
    c.push(c.segSel[Seg.CS], gw);
    c.push(c.eip, gw);
    if (code >= 0) c.push(code, gw);
  } catch (e) {
    c.regs[Reg.ESP] = sp0;
    throw e;
  }
  c.eflags &= ~(F.TF | F.NT | F.RF | F.VM | (trap ? 0 : F.IF));
  dLo = tLo;
  dHi = tHi;
  setAccessed(c, taddr);
  loadCs(c, target, newCpl);
  c.eip = off;
}

// ------------------------------------------------------------------ task switching

const enum TaskSrc {
  Jmp = 0,
  Call = 1,
  Int = 2,
  Iret = 3,
}

/**
 * Hardware task switch to the TSS selected by `sel` (SDM 3A §7.3). The current
 * state is saved in the current TSS and the new state loaded from the new one.
 */
function taskSwitch(c: Cpu, sel: number, src: TaskSrc, errCode: number): void {
  if (sel & 4) c.raise(Vec.TS, sel & 0xfffc);
  const addr = readDesc(c, sel, Vec.GP);
  const ar = descAr(dHi);
  const type = ar & 0xf;
  const busy = (type & 2) !== 0;
  if ((ar & AR.S) !== 0 || (type !== 1 && type !== 3 && type !== 9 && type !== 0xb)) c.gp(sel & 0xfffc);
  if (src === TaskSrc.Iret ? !busy : busy) c.gp(sel & 0xfffc);
  if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
  const newBase = descBase(dLo, dHi);
  const newLimit = descLimit(dLo, dHi);
  const new32 = (type & 8) !== 0;
  if (newLimit >>> 0 < (new32 ? 0x67 : 0x2b)) c.raise(Vec.TS, sel & 0xfffc);
  const newDescAddr = addr;
  const newDescHi = dHi;

  // Save the outgoing state into the current TSS.
  const oldBase = c.trBase;
  const old32 = (c.trAr & 8) !== 0;
  let flags = c.getEflags();
  if (src === TaskSrc.Iret) flags &= ~F.NT;
  const regs = c.regs;
  if (old32) {
    c.writeLin32((oldBase + 0x20) | 0, c.eip, false);
    c.writeLin32((oldBase + 0x24) | 0, flags, false);
    for (let r = 0; r < 8; r++) c.writeLin32((oldBase + 0x28 + r * 4) | 0, regs[r], false);
    for (let s = 0; s < 6; s++) c.writeLin16((oldBase + 0x48 + s * 4) | 0, c.segSel[s], false);
  } else {
    c.writeLin16((oldBase + 0x0e) | 0, c.eip, false);
    c.writeLin16((oldBase + 0x10) | 0, flags, false);
    for (let r = 0; r < 8; r++) c.writeLin16((oldBase + 0x12 + r * 2) | 0, regs[r], false);
    for (let s = 0; s < 4; s++) c.writeLin16((oldBase + 0x22 + s * 2) | 0, c.segSel[s], false);
  }
  // Busy bits: JMP and IRET free the old task; CALL/INT leave it busy and link back.
  if (src === TaskSrc.Jmp || src === TaskSrc.Iret) {
    const oa = descAddr(c, c.trSel);
    if (oa !== -1) {
      const b5 = c.readLin8((oa + 5) | 0, false);
      c.writeLin8((oa + 5) | 0, b5 & ~2, false);
    }
  }
  if (src === TaskSrc.Call || src === TaskSrc.Int) c.writeLin16(newBase, c.trSel, false);
  if (src !== TaskSrc.Iret) c.writeLin8((newDescAddr + 5) | 0, ((newDescHi >>> 8) & 0xff) | 2, false);

  // Read the incoming state.
  let nEip: number;
  let nFlags: number;
  const nRegs = [0, 0, 0, 0, 0, 0, 0, 0];
  const nSegs = [0, 0, 0, 0, 0, 0];
  let nLdt: number;
  let nCr3 = c.cr3;
  if (new32) {
    nCr3 = c.readLin32((newBase + 0x1c) | 0, false);
    nEip = c.readLin32((newBase + 0x20) | 0, false);
    nFlags = c.readLin32((newBase + 0x24) | 0, false);
    for (let r = 0; r < 8; r++) nRegs[r] = c.readLin32((newBase + 0x28 + r * 4) | 0, false);
    for (let s = 0; s < 6; s++) nSegs[s] = c.readLin16((newBase + 0x48 + s * 4) | 0, false);
    nLdt = c.readLin16((newBase + 0x60) | 0, false);
  } else {
    nEip = c.readLin16((newBase + 0x0e) | 0, false);
    nFlags = c.readLin16((newBase + 0x10) | 0, false);
    for (let r = 0; r < 8; r++) nRegs[r] = c.readLin16((newBase + 0x12 + r * 2) | 0, false) | 0xffff0000;
    for (let s = 0; s < 4; s++) nSegs[s] = c.readLin16((newBase + 0x22 + s * 2) | 0, false);
    nLdt = c.readLin16((newBase + 0x2a) | 0, false);
  }
  if (src === TaskSrc.Call || src === TaskSrc.Int) nFlags |= F.NT;

  c.trSel = sel;
  c.trBase = newBase;
  c.trLimit = newLimit;
  c.trAr = (ar & ~0xf) | (type | 2);
  c.cr0 |= CR0.TS;
  if (new32 && c.cr0 & CR0.PG && nCr3 !== c.cr3) {
    c.cr3 = nCr3;
    c.flushTlb();
  }
  for (let r = 0; r < 8; r++) regs[r] = new32 ? nRegs[r] : (regs[r] & ~0xffff) | (nRegs[r] & 0xffff);
  c.setEflags(new32 ? nFlags : (c.getEflags() & ~0xffff) | (nFlags & 0xffff));
  c.eip = nEip;
  // The switch has committed: faults from here on are taken in the new task, at its first instruction
  // (SDM 3A §6.15, interrupt 10, "after the commit point").
  c.curEip = nEip;
  // LDT, then segment registers, each checked; faults here are #TS in the new task's context.
  c.ldtSel = nLdt;
  if ((nLdt & 0xfffc) !== 0) {
    if (nLdt & 4) c.raise(Vec.TS, nLdt & 0xfffc);
    const la = descAddr(c, nLdt);
    if (la === -1) c.raise(Vec.TS, nLdt & 0xfffc);
    dLo = c.readLin32(la, false);
    dHi = c.readLin32((la + 4) | 0, false);
    if ((descAr(dHi) & 0x1f) !== 2) c.raise(Vec.TS, nLdt & 0xfffc);
    c.ldtBase = descBase(dLo, dHi);
    c.ldtLimit = descLimit(dLo, dHi);
  } else {
    c.ldtBase = 0;
    c.ldtLimit = 0;
  }
  if (c.v86) {
    for (let s = 0; s < 6; s++) c.setSegReal(s, nSegs[s]);
  } else {
    // CS first: it fixes the CPL used to check the others.
    const cs = nSegs[Seg.CS];
    const ca = descAddr(c, cs);
    if ((cs & 0xfffc) === 0 || ca === -1) c.raise(Vec.TS, cs & 0xfffc);
    dLo = c.readLin32(ca, false);
    dHi = c.readLin32((ca + 4) | 0, false);
    const car = descAr(dHi);
    if ((car & (AR.S | AR.Code)) !== (AR.S | AR.Code)) c.raise(Vec.TS, cs & 0xfffc);
    if ((car & AR.P) === 0) c.raise(Vec.NP, cs & 0xfffc);
    c.setSegCache(Seg.CS, cs, descBase(dLo, dHi), descLimit(dLo, dHi), car);
    for (const s of [Seg.SS, Seg.ES, Seg.DS, Seg.FS, Seg.GS]) {
      try {
        loadSegPM(c, s, nSegs[s]);
      } catch (e) {
        if (c.excVector === Vec.GP) c.excVector = Vec.TS;
        throw e;
      }
    }
  }
  c.updateMode();
  if (errCode >= 0) c.push(errCode, new32 ? 4 : 2);
}

// ------------------------------------------------------------------ system instructions

function requirePM(c: Cpu): void {
  if (!c.protectedMode || c.v86) c.raise(Vec.UD, -1);
}

/** 0F 00 /r: SLDT STR LLDT LTR VERR VERW. */
export function grp6(c: Cpu, i: Insn): void {
  requirePM(c);
  switch (i.sub) {
    case 0:
    case 1: {
      const v = i.sub === 0 ? c.ldtSel : c.trSel;
      if (i.mod === 3) c.setReg(i.w, i.rm, v);
      else c.wr16(i.seg, c.ea(i), v);
      return;
    }
    case 2: {
      if (c.cpl !== 0) c.gp(0);
      const sel = c.readE(i, 2);
      if ((sel & 0xfffc) === 0) {
        c.ldtSel = sel;
        c.ldtBase = 0;
        c.ldtLimit = 0;
        return;
      }
      if (sel & 4) c.gp(sel & 0xfffc);
      readDesc(c, sel, Vec.GP);
      if ((descAr(dHi) & 0x1f) !== 2) c.gp(sel & 0xfffc);
      if ((descAr(dHi) & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
      c.ldtSel = sel;
      c.ldtBase = descBase(dLo, dHi);
      c.ldtLimit = descLimit(dLo, dHi);
      return;
    }
    case 3: {
      if (c.cpl !== 0) c.gp(0);
      const sel = c.readE(i, 2);
      if ((sel & 0xfffc) === 0) c.gp(0);
      if (sel & 4) c.gp(sel & 0xfffc);
      const addr = readDesc(c, sel, Vec.GP);
      const ar = descAr(dHi);
      const type = ar & 0x1f;
      if (type !== 1 && type !== 9) c.gp(sel & 0xfffc);
      if ((ar & AR.P) === 0) c.raise(Vec.NP, sel & 0xfffc);
      c.writeLin8((addr + 5) | 0, ((dHi >>> 8) & 0xff) | 2, false);
      c.trSel = sel;
      c.trBase = descBase(dLo, dHi);
      c.trLimit = descLimit(dLo, dHi);
      c.trAr = ar | 2;
      return;
    }
    default: {
      const sel = c.readE(i, 2);
      c.setArith(F.ZF, verify(c, sel, i.sub === 5) ? F.ZF : 0);
    }
  }
}

/** VERR/VERW: is the segment readable/writable at CPL and RPL? (SDM 2B VERR/VERW) */
function verify(c: Cpu, sel: number, write: boolean): boolean {
  if ((sel & 0xfffc) === 0) return false;
  const addr = descAddr(c, sel);
  if (addr === -1) return false;
  dHi = c.readLin32((addr + 4) | 0, false);
  const ar = descAr(dHi);
  if ((ar & AR.S) === 0) return false;
  const conforming = (ar & (AR.Code | AR.DC)) === (AR.Code | AR.DC);
  if (!conforming && (c.cpl > dplOf(ar) || (sel & 3) > dplOf(ar))) return false;
  if (write) return (ar & (AR.Code | AR.RW)) === AR.RW;
  return (ar & AR.Code) === 0 || (ar & AR.RW) !== 0;
}

/** 0F 01 /r: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG. */
export function grp7(c: Cpu, i: Insn): void {
  const sub = i.sub;
  if (sub <= 3 && i.mod === 3) c.raise(Vec.UD, -1);
  if (sub === 7 && i.mod === 3) c.raise(Vec.UD, -1);
  switch (sub) {
    case 0:
    case 1: {
      const ea = c.ea(i);
      const limit = sub === 0 ? c.gdtLimit : c.idtLimit;
      const base = sub === 0 ? c.gdtBase : c.idtBase;
      c.wr16(i.seg, ea, limit);
      // 16-bit operand size stores a 24-bit base and a zero sixth byte (SDM 2B SGDT).
      c.wr32(i.seg, (ea + 2) & (i.a16 ? 0xffff : -1), i.w === 2 ? base & 0xffffff : base);
      return;
    }
    case 2:
    case 3: {
      if (c.protectedMode && c.cpl !== 0) c.gp(0);
      if (c.v86) c.gp(0);
      const ea = c.ea(i);
      const limit = c.rd16(i.seg, ea);
      let base = c.rd32(i.seg, (ea + 2) & (i.a16 ? 0xffff : -1));
      if (i.w === 2) base &= 0xffffff;
      if (sub === 2) {
        c.gdtLimit = limit;
        c.gdtBase = base;
      } else {
        c.idtLimit = limit;
        c.idtBase = base;
      }
      return;
    }
    case 4:
      // SMSW: a register destination with 32-bit operand size receives all of CR0 (P6).
      if (i.mod === 3) c.setReg(i.w, i.rm, i.w === 4 ? c.cr0 : c.cr0 & 0xffff);
      else c.wr16(i.seg, c.ea(i), c.cr0 & 0xffff);
      return;
    case 6: {
      if (c.protectedMode && (c.cpl !== 0 || c.v86)) c.gp(0);
      const v = c.readE(i, 2);
      // LMSW loads PE, MP, EM, TS and cannot clear PE (SDM 2B LMSW).
      const next = (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & CR0.PE);
      setCr0(c, next);
      return;
    }
    case 7:
      if (c.protectedMode && (c.cpl !== 0 || c.v86)) c.gp(0);
      c.invlpg(c.lin(i.seg, c.ea(i), 1, false));
      return;
    default:
      c.raise(Vec.UD, -1);
  }
}

/** LAR: access rights of a descriptor visible at CPL/RPL (SDM 2A LAR). */
export function lar(c: Cpu, i: Insn): void {
  requirePM(c);
  const sel = c.readE(i, 2);
  if (!loadableForLarLsl(c, sel, true)) {
    c.setArith(F.ZF, 0);
    return;
  }
  c.setReg(i.w, i.reg, dHi & (i.w === 4 ? 0x00f0ff00 : 0xff00));
  c.setArith(F.ZF, F.ZF);
}

/** LSL: the byte-granular segment limit (SDM 2A LSL). */
export function lsl(c: Cpu, i: Insn): void {
  requirePM(c);
  const sel = c.readE(i, 2);
  if (!loadableForLarLsl(c, sel, false)) {
    c.setArith(F.ZF, 0);
    return;
  }
  c.setReg(i.w, i.reg, descLimit(dLo, dHi));
  c.setArith(F.ZF, F.ZF);
}

function loadableForLarLsl(c: Cpu, sel: number, isLar: boolean): boolean {
  if ((sel & 0xfffc) === 0) return false;
  const addr = descAddr(c, sel);
  if (addr === -1) return false;
  dLo = c.readLin32(addr, false);
  dHi = c.readLin32((addr + 4) | 0, false);
  const ar = descAr(dHi);
  if ((ar & AR.S) === 0) {
    const type = ar & 0xf;
    // LSL: TSS and LDT types; LAR also accepts call and task gates.
    const okLsl = type === 1 || type === 2 || type === 3 || type === 9 || type === 0xb;
    const okLar = okLsl || type === 4 || type === 5 || type === 0xc;
    if (!(isLar ? okLar : okLsl)) return false;
  } else if ((ar & (AR.Code | AR.DC)) === (AR.Code | AR.DC)) {
    return true; // conforming code: no privilege check
  }
  const dpl = dplOf(ar);
  return c.cpl <= dpl && (sel & 3) <= dpl;
}

/** ARPL (SDM 2A ARPL): raise the RPL of the destination selector to the source's. */
export function arpl(c: Cpu, i: Insn): void {
  requirePM(c);
  const src = c.getReg(2, i.reg);
  if (i.mod === 3) {
    const d = c.getReg(2, i.rm);
    if ((d & 3) < (src & 3)) {
      c.setReg(2, i.rm, (d & ~3) | (src & 3));
      c.setArith(F.ZF, F.ZF);
    } else c.setArith(F.ZF, 0);
    return;
  }
  const lin = c.lin(i.seg, c.ea(i), 2, true);
  c.probeWrite(lin, 2);
  const d = c.readLin16(lin);
  if ((d & 3) < (src & 3)) {
    c.writeLin16(lin, (d & ~3) | (src & 3));
    c.setArith(F.ZF, F.ZF);
  } else c.setArith(F.ZF, 0);
}

export function clts(c: Cpu): void {
  if (c.protectedMode && (c.cpl !== 0 || c.v86)) c.gp(0);
  c.cr0 &= ~CR0.TS;
}

function requireCpl0(c: Cpu): void {
  if (c.protectedMode && (c.cpl !== 0 || c.v86)) c.gp(0);
}

/** CR0 write with its side effects (SDM 3A §2.5): TLB flush on PG/WP/PE changes, mode update. */
export function setCr0(c: Cpu, v: number): void {
  v |= CR0.ET; // hardwired to 1 since the 486
  if (v & CR0.PG && (v & CR0.PE) === 0) c.gp(0);
  if (v & CR0.NW && (v & CR0.CD) === 0) c.gp(0);
  const changed = c.cr0 ^ v;
  c.cr0 = v | 0;
  if (changed & (CR0.PG | CR0.WP | CR0.PE)) c.flushTlb();
  c.updateMode();
}

/** CR4 bits we accept: TSD, DE, PSE, MCE, PCE (VME, PVI, PAE and PGE are not implemented: #GP). */
const CR4_OK = CR4.TSD | CR4.DE | CR4.PSE | CR4.MCE | CR4.PCE;

export function movRCr(c: Cpu, i: Insn): void {
  requireCpl0(c);
  let v: number;
  switch (i.reg) {
    case 0:
      v = c.cr0;
      break;
    case 2:
      v = c.cr2;
      break;
    case 3:
      v = c.cr3;
      break;
    case 4:
      v = c.cr4;
      break;
    default:
      c.raise(Vec.UD, -1);
  }
  c.regs[i.rm] = v;
}

export function movCrR(c: Cpu, i: Insn): void {
  requireCpl0(c);
  const v = c.regs[i.rm];
  switch (i.reg) {
    case 0:
      setCr0(c, v);
      return;
    case 2:
      c.cr2 = v;
      return;
    case 3:
      c.cr3 = v & ~0xfe7;
      c.flushTlb();
      return;
    case 4: {
      if (v & ~CR4_OK) c.gp(0);
      const changed = c.cr4 ^ v;
      c.cr4 = v;
      if (changed & CR4.PSE) c.flushTlb();
      return;
    }
    default:
      c.raise(Vec.UD, -1);
  }
}

function drIndex(c: Cpu, n: number): number {
  if (n === 4 || n === 5) {
    if (c.cr4 & CR4.DE) c.raise(Vec.UD, -1);
    return n + 2;
  }
  return n;
}

export function movRDr(c: Cpu, i: Insn): void {
  requireCpl0(c);
  c.regs[i.rm] = c.dr[drIndex(c, i.reg)];
}

export function movDrR(c: Cpu, i: Insn): void {
  requireCpl0(c);
  const n = drIndex(c, i.reg);
  let v = c.regs[i.rm];
  if (n === 6) v = (v & 0xe00f) | (0xffff0ff0 | 0);
  if (n === 7) v = (v & ~0xd800) | 0x400;
  c.dr[n] = v;
}
