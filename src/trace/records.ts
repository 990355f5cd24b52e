/**
 * Decoded trace records (what the reader hands out) and the decoder from a
 * chunk's raw payload. The decoder is the reference for how records group:
 *
 * - CONTEXT and ICOUNT set state (CS, CR3; the icount of the next item).
 * - INSN / FAULT / REF / INTERRUPT start an item; READ, WRITE, IMPLICIT and PORT
 *   belong to the current item, PHYS2 to the access just before it, BRANCH
 *   to the last INSN.
 * - An INSN takes the current icount and the next item gets icount + 1; a
 *   FAULT does not advance the count; an INTERRUPT raised inside an
 *   instruction (IntFlag.InInsn) takes that instruction's icount, any other
 *   the current icount.
 * - A retired direct near branch (Jcc, LOOP, JCXZ, JMP rel, CALL rel) that no
 *   BRANCH record follows went where its bytes say (version 4, impliedTarget).
 * - A REF is the INSN record it names (the chunk's n-th INSN/FAULT record),
 *   with its own kind (INSN, or FAULT when its fault bit is set) and its own
 *   branch-taken bit.
 */
import {
  AccFlag,
  BRANCH_NAMES,
  BRANCH_TAKEN,
  BranchKind,
  type BranchName,
  IntFlag,
  impliedTarget,
  Mode,
  Rec,
  RefBit,
  recordSize,
} from "./format.ts";

export interface TraceAccess {
  /** read / write: by an instruction or an interrupt delivery; implicit: page-table A/D bits (physical only). */
  kind: "read" | "write" | "implicit";
  /** Linear address (null for implicit writes). */
  lin: number | null;
  phys: number;
  /** For an access that crosses a page: physical address of its first byte on the next page. */
  phys2: number | null;
  size: number;
  value: number;
}

export interface TracePort {
  port: number;
  size: number;
  dir: "in" | "out";
  value: number;
}

export interface TraceBranch {
  kind: BranchName;
  taken: boolean;
  /** Linear address of the target (not taken: of the encoded target). */
  target: number;
  targetEip: number;
  targetCs: number;
}

export interface TraceInsn {
  /** insn: retired; fault: began, raised an exception and did not retire. */
  type: "insn" | "fault";
  icount: number;
  cs: number;
  eip: number;
  lin: number;
  phys: number;
  cr3: number;
  cpl: number;
  protectedMode: boolean;
  v86: boolean;
  code32: boolean;
  paging: boolean;
  bytes: Uint8Array;
  branch: TraceBranch | null;
  mem: TraceAccess[];
  io: TracePort[];
}

export interface TraceInterrupt {
  type: "interrupt";
  icount: number;
  vector: number;
  errorCode: number | null;
  /** software: INT n/INT3/INTO; exception: raised by an instruction; external: PIC or NMI. */
  source: "software" | "exception" | "external";
  /** EIP and CS at delivery (the return address the handler gets). */
  eip: number;
  cs: number;
  cr3: number;
  mem: TraceAccess[];
}

export type TraceRecord = TraceInsn | TraceInterrupt;

export class TraceFormatError extends Error {}

/** A Uint32Array over `bytes`, copying when the bytes are not 4-byte aligned. */
export function u32Of(bytes: Uint8Array): { b: Uint8Array; u: Uint32Array } {
  let b = bytes;
  if (b.byteOffset % 4 !== 0 || b.byteLength % 4 !== 0) b = b.slice();
  return { b, u: new Uint32Array(b.buffer, b.byteOffset, b.byteLength >> 2) };
}

/**
 * Byte offset of the full INSN/FAULT record a REF record (`word`, at byte `at`) names, given the
 * offsets of the chunk's full records so far.
 */
export function refTarget(full: readonly number[], word: number, at: number, where = "chunk"): number {
  const q = full[word >>> RefBit.IndexShift];
  if (q === undefined) throw new TraceFormatError(`${where}: REF to a missing INSN record at byte ${at}`);
  return q;
}

/**
 * Decode a chunk's payload. Items with icount outside [from, to) are dropped
 * (the window rule: a record belongs to the icount at which it happened).
 */
export function decodeChunk(
  bytes: Uint8Array,
  firstIcount: number,
  from = 0,
  to = Number.POSITIVE_INFINITY,
  where = "chunk",
): TraceRecord[] {
  const out: TraceRecord[] = [];
  visitChunk(bytes, firstIcount, (r) => out.push(r), from, to, where);
  return out;
}

/**
 * Decode a chunk's payload and hand each record to `visit` as soon as it is
 * complete (an instruction when the next instruction starts; its BRANCH may
 * follow an interrupt it raised), so a caller that does not keep them makes
 * only short-lived garbage.
 */
export function visitChunk(
  bytes: Uint8Array,
  firstIcount: number,
  visit: (r: TraceRecord) => void,
  from = 0,
  to = Number.POSITIVE_INFINITY,
  where = "chunk",
): void {
  const { b, u } = u32Of(bytes);
  const out: TraceRecord[] = [];
  const flush = (): void => {
    for (let k = 0; k < out.length; k++) visit(out[k]);
    out.length = 0;
  };
  let icount = firstIcount;
  let last = firstIcount;
  let cs = 0;
  let csBase = 0;
  let cr3 = 0;
  let item: TraceRecord | null = null;
  let insn: TraceInsn | null = null;
  let insnBranch = 0;
  let acc: TraceAccess | null = null;
  /** Byte offsets of the chunk's full INSN/FAULT records (what REF records name). */
  const full: number[] = [];
  /** Linear page -> physical page of the chunk's last full READ/WRITE on it (what short ones use). */
  const pages = new Map<number, number>();
  let p = 0;
  const n = b.length;
  while (p < n) {
    let kind = b[p];
    const size = recordSize(kind);
    if (size === 0 || p + size > n) throw new TraceFormatError(`${where}: bad record kind ${kind} at byte ${p}`);
    // The INSN record's fields: here, or (REF) at the full record it names.
    let q = p;
    let branchByte = 0;
    if (kind === Rec.Ref) {
      const word = u[p >> 2];
      q = refTarget(full, word, p, where);
      kind = (word & RefBit.Fault) !== 0 ? Rec.Fault : Rec.Insn;
      branchByte = (b[q + 3] & ~BRANCH_TAKEN) | ((word & RefBit.Taken) !== 0 ? BRANCH_TAKEN : 0);
    } else if (kind === Rec.Insn || kind === Rec.Fault) {
      full.push(p);
      branchByte = b[p + 3];
    }
    const w = q >> 2;
    switch (kind) {
      case Rec.Context:
        cs = b[p + 2] | (b[p + 3] << 8);
        cr3 = u[w + 1];
        csBase = u[w + 2];
        break;
      case Rec.Icount:
        icount = u[w + 1] + u[w + 2] * 0x100000000;
        last = icount;
        break;
      case Rec.Insn:
      case Rec.Fault: {
        const len = b[q + 1];
        const mode = b[q + 2];
        const rec: TraceInsn = {
          type: kind === Rec.Insn ? "insn" : "fault",
          icount,
          cs,
          eip: u[w + 1],
          lin: u[w + 2],
          phys: u[w + 3],
          cr3,
          cpl: mode & Mode.CplMask,
          protectedMode: (mode & Mode.Protected) !== 0,
          v86: (mode & Mode.V86) !== 0,
          code32: (mode & Mode.Code32) !== 0,
          paging: (mode & Mode.Paging) !== 0,
          bytes: b.slice(q + 16, q + 16 + Math.min(len, 15)),
          branch: null,
          mem: [],
          io: [],
        };
        const bk = branchByte & 7;
        if (kind === Rec.Insn && (bk === BranchKind.Cond || bk === BranchKind.Jump || bk === BranchKind.Call)) {
          // Overwritten by a BRANCH record if one follows (always, before version 4).
          const t = impliedTarget(rec.bytes, len, rec.eip, rec.code32);
          if (t !== null) {
            rec.branch = {
              kind: BRANCH_NAMES[bk],
              taken: (branchByte & BRANCH_TAKEN) !== 0,
              target: (csBase + t) >>> 0,
              targetEip: t,
              targetCs: cs,
            };
          }
        }
        last = icount;
        if (kind === Rec.Insn) icount++;
        flush();
        insn = rec;
        insnBranch = branchByte;
        item = rec;
        acc = null;
        if (rec.icount >= from && rec.icount < to) out.push(rec);
        break;
      }
      case Rec.Interrupt: {
        const flags = b[p + 2];
        const rec: TraceInterrupt = {
          type: "interrupt",
          icount: (flags & IntFlag.InInsn) !== 0 ? last : icount,
          vector: b[p + 1],
          errorCode: (flags & IntFlag.HasCode) !== 0 ? u[w + 1] : null,
          source: (flags & IntFlag.Soft) !== 0 ? "software" : (flags & IntFlag.InInsn) !== 0 ? "exception" : "external",
          eip: u[w + 2],
          cs: u[w + 3] & 0xffff,
          cr3,
          mem: [],
        };
        item = rec;
        acc = null;
        if (rec.icount >= from && rec.icount < to) out.push(rec);
        break;
      }
      case Rec.Read:
      case Rec.Write:
      case Rec.Implicit: {
        const a: TraceAccess = {
          kind: kind === Rec.Read ? "read" : kind === Rec.Write ? "write" : "implicit",
          lin: kind === Rec.Implicit ? null : u[w + 1],
          phys: u[w + 2],
          phys2: null,
          size: b[p + 1],
          value: u[w + 3],
        };
        if (item === null) throw new TraceFormatError(`${where}: access record before any item at byte ${p}`);
        item.mem.push(a);
        acc = (b[p + 2] & AccFlag.Split) !== 0 ? a : null;
        if (kind !== Rec.Implicit) pages.set(u[w + 1] >>> 12, u[w + 2] >>> 12);
        break;
      }
      case Rec.ReadShort:
      case Rec.WriteShort: {
        const lin = u[w + 1];
        const page = pages.get(lin >>> 12);
        if (page === undefined) throw new TraceFormatError(`${where}: short access to an unmapped page at byte ${p}`);
        if (item === null) throw new TraceFormatError(`${where}: access record before any item at byte ${p}`);
        item.mem.push({
          kind: kind === Rec.ReadShort ? "read" : "write",
          lin,
          phys: ((page << 12) | (lin & 0xfff)) >>> 0,
          phys2: null,
          size: b[p + 1],
          value: u[w + 2],
        });
        acc = null;
        break;
      }
      case Rec.Phys2:
        if (acc === null) throw new TraceFormatError(`${where}: PHYS2 record without a split access at byte ${p}`);
        acc.phys2 = u[w + 2];
        acc = null;
        break;
      case Rec.Port:
        if (item === null || item.type === "interrupt") {
          throw new TraceFormatError(`${where}: port record outside an instruction at byte ${p}`);
        }
        item.io.push({ port: u[w + 1] & 0xffff, size: b[p + 1], dir: b[p + 2] !== 0 ? "out" : "in", value: u[w + 2] });
        break;
      case Rec.Branch:
        if (insn === null) throw new TraceFormatError(`${where}: BRANCH record before any instruction at byte ${p}`);
        insn.branch = {
          kind: BRANCH_NAMES[insnBranch & 7],
          taken: b[p + 1] !== 0,
          target: u[w + 1],
          targetEip: u[w + 2],
          targetCs: b[p + 2] | (b[p + 3] << 8),
        };
        break;
    }
    p += size;
  }
  flush();
}
