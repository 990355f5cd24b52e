/**
 * The native trace format: the byte layout shared by the recorder
 * (writer side) and the reader. docs/TRACE_FORMAT.md is the description for
 * people; this file is the authority for numbers.
 *
 * A file is: preamble + JSON header, chunks, index, JSON trailer, footer.
 * A chunk's payload (after decompression) is a sequence of records, all
 * little-endian, 4-byte aligned: INSN/FAULT records are 32 bytes, REF
 * records 4, every other record 16. Byte 0 of a record is its kind.
 *
 * Version 2 added REF: an instruction whose INSN record would repeat one
 * already in the same chunk (same bytes, addresses, EIP and mode) is written
 * as a 4-byte reference to that record. Version 1 files (no REF, every record
 * 16-byte aligned) read the same way.
 *
 * Version 3 added READ-SHORT/WRITE-SHORT (no physical address when the chunk
 * already mapped the page); version 4 leaves out the BRANCH record of a direct
 * near branch (Jcc, LOOP, JCXZ, JMP rel, CALL rel) that went where its bytes
 * say: the reader infers it (impliedTarget).
 */

/** File magic: 0x89 "RTRCE" CR LF (like the capture log's, a different word). */
export const TRACE_MAGIC: Uint8Array = Uint8Array.of(0x89, 0x52, 0x54, 0x52, 0x43, 0x45, 0x0d, 0x0a);
/** Last 8 bytes of a complete file. */
export const TRACE_END_MAGIC: Uint8Array = Uint8Array.of(0x52, 0x54, 0x52, 0x43, 0x45, 0x45, 0x4e, 0x44); // "RTRCEEND"
/** Bump when a record or structure changes meaning or layout. */
export const TRACE_VERSION = 4;
/** Oldest version this code still reads. */
export const TRACE_MIN_VERSION = 1;

/** magic(8) version(u16) reserved(u16) headerLength(u32). */
export const PREAMBLE_BYTES = 16;
/** payloadLength, rawLength, firstIcount(f64), instructions, records, payloadCrc, headerCrc. */
export const CHUNK_HEADER_BYTES = 32;
/** firstIcount(f64), offset(f64), instructions, records, rawLength, payloadLength. */
export const INDEX_ENTRY_BYTES = 32;
/** indexOffset(f64), chunkCount, trailerLength, crc(index+trailer), reserved, END magic. */
export const FOOTER_BYTES = 32;

/** Record kinds (byte 0 of every record). */
export const enum Rec {
  /** A retired instruction (32 bytes). */
  Insn = 1,
  /** An instruction that began but did not retire: it raised an exception (32 bytes, INSN layout). */
  Fault = 2,
  /** Branch outcome of the preceding INSN. */
  Branch = 3,
  /** Data read by the current instruction or interrupt delivery. */
  Read = 4,
  /** Data write. */
  Write = 5,
  /** Physical address of the part of the preceding access that lies on the next page. */
  Phys2 = 6,
  /** Port I/O by the current instruction. */
  Port = 7,
  /** Interrupt or exception delivery starts. */
  Interrupt = 8,
  /** A write the processor made by itself (page-table accessed/dirty bits), physical only. */
  Implicit = 9,
  /** CS selector and CR3 from here on; first record of every chunk. */
  Context = 10,
  /** The following items happen at this instruction count (after a gap the reader cannot count). */
  Icount = 11,
  /**
   * An instruction whose INSN record is an earlier full INSN/FAULT record of this chunk (4 bytes,
   * version 2): bits 0-7 kind, bit 8 faulted (read as FAULT), bit 9 branch taken, bits 10-31 the
   * ordinal of that full record among the chunk's INSN/FAULT records (0 = the first).
   */
  Ref = 12,
  /**
   * A READ (ReadShort) or WRITE (WriteShort) without its physical address (12 bytes, version 3):
   * kind, size; linear address; value. Its linear page maps to the physical page of the last full
   * READ/WRITE record of this chunk on that linear page, which every full one sets. Never split.
   */
  ReadShort = 13,
  WriteShort = 14,
}

export const INSN_BYTES = 32;
export const REC_BYTES = 16;
export const REF_BYTES = 4;
export const SHORT_ACC_BYTES = 12;

/** Bits of a REF record's word (Rec.Ref). */
export const enum RefBit {
  Fault = 1 << 8,
  Taken = 1 << 9,
  IndexShift = 10,
}
/** Full INSN records a chunk may hold and still be referenced (22 bits of REF index). */
export const REF_MAX_INDEX = (1 << 22) - 1;

/** Mode byte of INSN/FAULT records. */
export const enum Mode {
  CplMask = 3,
  /** CR0.PE */
  Protected = 1 << 2,
  /** EFLAGS.VM */
  V86 = 1 << 3,
  /** CS.D: 32-bit default operand and address size */
  Code32 = 1 << 4,
  /** CR0.PG */
  Paging = 1 << 5,
}

/** Branch byte of INSN records: kind in bits 0-2, taken in bit 3 (also in the BRANCH record). */
export const enum BranchKind {
  None = 0,
  /** Jcc, LOOPcc, LOOP, JCXZ */
  Cond = 1,
  /** JMP rel, JMP ptr16:32 */
  Jump = 2,
  /** JMP r/m, JMP m16:32 */
  JumpInd = 3,
  /** CALL rel, CALL ptr16:32 */
  Call = 4,
  /** CALL r/m, CALL m16:32 */
  CallInd = 5,
  /** RET, RETF */
  Ret = 6,
  /** INT n, INT3, INTO, INT1, IRET */
  Other = 7,
}
export const BRANCH_TAKEN = 1 << 3;

export const BRANCH_NAMES = ["none", "cond", "jump", "jump-ind", "call", "call-ind", "ret", "other"] as const;
export type BranchName = (typeof BRANCH_NAMES)[number];

/** Flags byte (2) of INTERRUPT records. */
export const enum IntFlag {
  /** INT n / INT3 / INTO: raised by an instruction that then retires. */
  Soft = 1,
  /** An error code was pushed. */
  HasCode = 2,
  /** Raised while an instruction executed (an exception; for non-soft, that instruction does not retire). */
  InInsn = 4,
}

/** Flags byte (2) of READ/WRITE records. */
export const enum AccFlag {
  /** The access crosses a 4 KiB page: a PHYS2 record follows. */
  Split = 1,
}

/** Compression of chunk payloads. */
export type Codec = "deflate-raw" | "brotli" | "none";

/** The JSON header of a trace file. Unknown keys are allowed (added later without a version bump). */
export interface TraceHeader {
  format: "retrace-trace";
  version: number;
  retraceVersion: string;
  codec: Codec;
  /** Where the run came from. */
  source: { log: string; logInstructions: number; logSha256: string };
  /** Instructions with icount in [from, to) are in the file (to: null = to the end). */
  window: { from: number; to: number | null };
  /** Privilege filter: every instruction, CPL 3 only, or CPL 0-2 (and interrupt delivery) only. */
  only: "all" | "user" | "kernel";
}

/** The JSON trailer: totals, so `info` need not read the chunks. */
export interface TraceTrailer {
  /** Retired instructions in the file. */
  instructions: number;
  /** Records of every kind. */
  records: number;
  /** Per kind name. */
  counts: Record<string, number>;
  /** Raw (uncompressed) payload bytes. */
  rawBytes: number;
  /** icount of the first and one past the last instruction in the file (null: none). */
  firstIcount: number | null;
  endIcount: number | null;
}

export const REC_NAMES: Record<number, string> = {
  [Rec.Insn]: "insn",
  [Rec.Fault]: "fault",
  [Rec.Branch]: "branch",
  [Rec.Read]: "read",
  [Rec.Write]: "write",
  [Rec.Phys2]: "phys2",
  [Rec.Port]: "port",
  [Rec.Interrupt]: "interrupt",
  [Rec.Implicit]: "implicit",
  [Rec.Context]: "context",
  [Rec.Icount]: "icount",
  [Rec.Ref]: "ref",
};

/**
 * Slot of the recorder's counts (and name in the trailer's) for branch outcomes written without a
 * BRANCH record (version 4): counted under "branch" too, like REFs under "insn".
 */
export const IMPLIED_BRANCH_SLOT = 15;
REC_NAMES[IMPLIED_BRANCH_SLOT] = "implied-branch";

const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/** A direct near branch's encoded displacement and operand size (32-bit: true), as encodedRel reads them. */
export interface EncodedRel {
  rel: number;
  o32: boolean;
}

/**
 * The displacement a direct near branch encodes (Jcc, LOOPcc/LOOP/JCXZ, JMP rel, CALL rel; version
 * 4) and its operand size, read from its `len` bytes as the processor does in 32-bit (`code32`) or
 * 16-bit code; null for any other instruction. The displacement is always the instruction's last bytes.
 */
export function encodedRel(bytes: Uint8Array, len: number, code32: boolean): EncodedRel | null {
  let k = 0;
  let o32 = code32;
  while (k < len && PREFIXES.has(bytes[k])) {
    if (bytes[k] === 0x66) o32 = !code32;
    k++;
  }
  if (k >= len) return null;
  const op = bytes[k];
  let size: number;
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3) || op === 0xeb) size = 1;
  else if (op === 0xe8 || op === 0xe9) size = o32 ? 4 : 2;
  else if (op === 0x0f && k + 1 < len && bytes[k + 1] >= 0x80 && bytes[k + 1] <= 0x8f) {
    k++;
    size = o32 ? 4 : 2;
  } else return null;
  if (k + 1 + size !== len) return null;
  let rel: number;
  if (size === 1) rel = (bytes[k + 1] << 24) >> 24;
  else if (size === 2) rel = ((bytes[k + 1] | (bytes[k + 2] << 8)) << 16) >> 16;
  else rel = bytes[k + 1] | (bytes[k + 2] << 8) | (bytes[k + 3] << 16) | (bytes[k + 4] << 24);
  return { rel, o32 };
}

/**
 * The target EIP a reader infers (version 4) for a retired INSN of branch kind Cond, Jump or Call
 * that no BRANCH record follows: the next instruction's EIP (wrapped at 64 KiB in 16-bit code) plus
 * the displacement, wrapped at 64 KiB for a 16-bit operand size, in the same code segment, taken as
 * the INSN's branch byte says. Null when the bytes encode no near displacement (a BRANCH follows).
 */
export function impliedTarget(bytes: Uint8Array, len: number, eip: number, code32: boolean): number | null {
  const e = encodedRel(bytes, len, code32);
  if (e === null) return null;
  const fall = (eip + len) & (code32 ? -1 : 0xffff);
  return ((fall + e.rel) & (e.o32 ? -1 : 0xffff)) >>> 0;
}

/** Size in bytes of a record of `kind`, or 0 for an unknown kind. */
export function recordSize(kind: number): number {
  if (kind === Rec.Insn || kind === Rec.Fault) return INSN_BYTES;
  if (kind >= Rec.Branch && kind <= Rec.Icount) return REC_BYTES;
  if (kind === Rec.Ref) return REF_BYTES;
  if (kind === Rec.ReadShort || kind === Rec.WriteShort) return SHORT_ACC_BYTES;
  return 0;
}
