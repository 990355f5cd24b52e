/**
 * Reader for SingleStepTests MOO files (the container described in
 * ../shared/cpu-tests/README.md), plus the side files that come with a set:
 * metadata.json (undefined-flag masks per opcode) and revocation_list.txt.
 *
 * The reader is strict: a chunk that runs past its parent, a fixed-layout
 * sub-chunk whose length disagrees with its contents, or a TEST without its
 * required parts throws an Error naming the file and the byte offset (in the
 * decompressed stream) where the problem starts. Unknown tags are skipped.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { gunzipSync } from "node:zlib";

/** REGS bit order (16-bit CPUs). */
export const REG16_NAMES = [
  "ax",
  "bx",
  "cx",
  "dx",
  "cs",
  "ss",
  "ds",
  "es",
  "sp",
  "bp",
  "si",
  "di",
  "ip",
  "flags",
] as const;
export type Reg16Name = (typeof REG16_NAMES)[number];
export const enum R16 {
  AX = 0,
  BX = 1,
  CX = 2,
  DX = 3,
  CS = 4,
  SS = 5,
  DS = 6,
  ES = 7,
  SP = 8,
  BP = 9,
  SI = 10,
  DI = 11,
  IP = 12,
  FLAGS = 13,
}

/** RG32 bit order (80386 files). */
export const REG32_NAMES = [
  "cr0",
  "cr3",
  "eax",
  "ebx",
  "ecx",
  "edx",
  "esi",
  "edi",
  "ebp",
  "esp",
  "cs",
  "ds",
  "es",
  "fs",
  "gs",
  "ss",
  "eip",
  "eflags",
  "dr6",
  "dr7",
] as const;
export type Reg32Name = (typeof REG32_NAMES)[number];

/** A register block: `mask` bit i set means `values[i]` is present (unsigned). */
export interface RegBlock {
  readonly mask: number;
  readonly values: readonly number[];
}

export interface CpuState {
  regs: RegBlock | null; // REGS
  regs32: RegBlock | null; // RG32
  regMask: RegBlock | null; // RMSK: bits that are undefined
  regMask32: RegBlock | null; // RM32
  /** Physical addresses and byte values, in file order. */
  ramAddr: Uint32Array;
  ramValue: Uint8Array;
  queue: Uint8Array | null; // QUEU (prefetch queue, informational)
  ea32: Uint8Array | null; // EA32 payload, raw
}

export interface MooException {
  vector: number;
  /** Physical address at which FLAGS was pushed. */
  flagsAddress: number;
}

export interface MooTest {
  index: number;
  name: string;
  /** Instruction bytes including the trailing HLT. */
  bytes: Uint8Array;
  init: CpuState;
  final: CpuState;
  exception: MooException | null;
  /** SHA-1, lower-case hex (40 chars). */
  hash: string;
  /** Offset of the TEST chunk in the decompressed file, for error reports. */
  offset: number;
}

export interface MooMeta {
  major: number;
  minor: number;
  cpuType: number;
  opcode: number;
  mnemonic: string;
  testCount: number;
  seed: bigint;
  cpuMode: number;
}

export interface MooFile {
  file: string;
  major: number;
  minor: number;
  testCount: number;
  cpuId: string;
  meta: MooMeta | null;
  tests: MooTest[];
}

class Reader {
  constructor(
    readonly file: string,
    readonly buf: Uint8Array,
    readonly view: DataView,
  ) {}

  fail(offset: number, what: string): never {
    throw new Error(`${this.file}: byte offset ${offset} (0x${offset.toString(16)}): ${what}`);
  }

  need(offset: number, n: number, end: number, what: string): void {
    if (offset + n > end) this.fail(offset, `${what}: needs ${n} bytes, only ${Math.max(0, end - offset)} left`);
  }

  u8(o: number): number {
    return this.buf[o];
  }
  u16(o: number): number {
    return this.view.getUint16(o, true);
  }
  u32(o: number): number {
    return this.view.getUint32(o, true);
  }
  tag(o: number): string {
    return String.fromCharCode(this.buf[o], this.buf[o + 1], this.buf[o + 2], this.buf[o + 3]);
  }
  ascii(o: number, n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.buf[o + i]);
    return s;
  }
}

interface Chunk {
  tag: string;
  /** Offset of the tag. */
  at: number;
  /** Payload start and end (exclusive). */
  start: number;
  end: number;
}

/** The chunks of [start, end), each checked to fit. */
function chunks(r: Reader, start: number, end: number, where: string): Chunk[] {
  const out: Chunk[] = [];
  let o = start;
  while (o < end) {
    r.need(o, 8, end, `chunk header in ${where}`);
    const tag = r.tag(o);
    const len = r.u32(o + 4);
    if (len > end - (o + 8)) {
      r.fail(o, `chunk '${tag}' in ${where} claims ${len} bytes but only ${end - (o + 8)} remain`);
    }
    out.push({ tag, at: o, start: o + 8, end: o + 8 + len });
    o += 8 + len;
  }
  return out;
}

function popcount(x: number): number {
  let n = 0;
  while (x !== 0) {
    n += x & 1;
    x >>>= 1;
  }
  return n;
}

function regBlock(r: Reader, c: Chunk, wide: boolean, count: number): RegBlock {
  const w = wide ? 4 : 2;
  r.need(c.start, w, c.end, c.tag);
  const mask = wide ? r.u32(c.start) : r.u16(c.start);
  if (mask >>> count !== 0) r.fail(c.at, `${c.tag} mask 0x${mask.toString(16)} has bits beyond the ${count} registers`);
  const n = popcount(mask);
  if (c.end - c.start !== w + n * w) {
    r.fail(c.at, `${c.tag} is ${c.end - c.start} bytes, expected ${w + n * w} for mask 0x${mask.toString(16)}`);
  }
  const values: number[] = new Array(count).fill(0);
  let o = c.start + w;
  for (let i = 0; i < count; i++) {
    if ((mask >>> i) & 1) {
      values[i] = wide ? r.u32(o) : r.u16(o);
      o += w;
    }
  }
  return { mask, values };
}

/** u32 length + bytes, the whole payload. */
function lengthPrefixed(r: Reader, c: Chunk): Uint8Array {
  r.need(c.start, 4, c.end, c.tag);
  const n = r.u32(c.start);
  if (n !== c.end - c.start - 4) r.fail(c.at, `${c.tag} says ${n} bytes but its payload holds ${c.end - c.start - 4}`);
  return r.buf.subarray(c.start + 4, c.end);
}

function parseState(r: Reader, c: Chunk): CpuState {
  const s: CpuState = {
    regs: null,
    regs32: null,
    regMask: null,
    regMask32: null,
    ramAddr: new Uint32Array(0),
    ramValue: new Uint8Array(0),
    queue: null,
    ea32: null,
  };
  let haveRam = false;
  for (const sub of chunks(r, c.start, c.end, c.tag)) {
    switch (sub.tag) {
      case "REGS":
        s.regs = regBlock(r, sub, false, REG16_NAMES.length);
        break;
      case "RG32":
        s.regs32 = regBlock(r, sub, true, REG32_NAMES.length);
        break;
      case "RMSK":
        s.regMask = regBlock(r, sub, false, REG16_NAMES.length);
        break;
      case "RM32":
        s.regMask32 = regBlock(r, sub, true, REG32_NAMES.length);
        break;
      case "RAM ": {
        r.need(sub.start, 4, sub.end, "RAM");
        const n = r.u32(sub.start);
        if (sub.end - sub.start !== 4 + 5 * n) {
          r.fail(sub.at, `RAM lists ${n} entries (${4 + 5 * n} bytes) but is ${sub.end - sub.start} bytes`);
        }
        s.ramAddr = new Uint32Array(n);
        s.ramValue = new Uint8Array(n);
        for (let i = 0, o = sub.start + 4; i < n; i++, o += 5) {
          s.ramAddr[i] = r.u32(o);
          s.ramValue[i] = r.u8(o + 4);
        }
        haveRam = true;
        break;
      }
      case "QUEU":
        s.queue = lengthPrefixed(r, sub);
        break;
      case "EA32":
        s.ea32 = r.buf.subarray(sub.start, sub.end);
        break;
      default:
        break; // unknown: skipped by length
    }
  }
  if (s.regs === null && s.regs32 === null) r.fail(c.at, `${c.tag} has no REGS or RG32`);
  if (!haveRam) r.fail(c.at, `${c.tag} has no RAM chunk`);
  return s;
}

function parseTest(r: Reader, c: Chunk): MooTest {
  r.need(c.start, 4, c.end, "TEST index");
  const index = r.u32(c.start);
  let name: string | null = null;
  let bytes: Uint8Array | null = null;
  let init: CpuState | null = null;
  let final: CpuState | null = null;
  let exception: MooException | null = null;
  let hash: string | null = null;
  for (const sub of chunks(r, c.start + 4, c.end, `TEST ${index}`)) {
    switch (sub.tag) {
      case "NAME": {
        const b = lengthPrefixed(r, sub);
        name = r.ascii(sub.start + 4, b.length);
        break;
      }
      case "BYTS":
        bytes = lengthPrefixed(r, sub);
        break;
      case "INIT":
        init = parseState(r, sub);
        break;
      case "FINA":
        final = parseState(r, sub);
        break;
      case "EXCP":
        if (sub.end - sub.start !== 5) r.fail(sub.at, `EXCP is ${sub.end - sub.start} bytes, expected 5`);
        exception = { vector: r.u8(sub.start), flagsAddress: r.u32(sub.start + 1) };
        break;
      case "HASH": {
        if (sub.end - sub.start !== 20) r.fail(sub.at, `HASH is ${sub.end - sub.start} bytes, expected 20`);
        let h = "";
        for (let i = sub.start; i < sub.end; i++) h += r.buf[i].toString(16).padStart(2, "0");
        hash = h;
        break;
      }
      default:
        break; // CYCL, GMET and anything newer
    }
  }
  const missing = [
    bytes === null ? "BYTS" : "",
    init === null ? "INIT" : "",
    final === null ? "FINA" : "",
    hash === null ? "HASH" : "",
  ].filter((s) => s !== "");
  if (missing.length > 0) r.fail(c.at, `TEST ${index} lacks ${missing.join(", ")}`);
  return {
    index,
    name: name ?? "",
    bytes: bytes!,
    init: init!,
    final: final!,
    exception,
    hash: hash!,
    offset: c.at,
  };
}

/** Parse a decompressed MOO image. `file` only names the source in errors. */
export function parseMoo(data: Uint8Array, file: string): MooFile {
  const r = new Reader(file, data, new DataView(data.buffer, data.byteOffset, data.byteLength));
  const top = chunks(r, 0, data.length, "file");
  if (top.length === 0 || top[0].tag !== "MOO ") r.fail(0, "not a MOO file: it does not start with a 'MOO ' chunk");
  const h = top[0];
  if (h.end - h.start < 12) r.fail(h.at, `'MOO ' header is ${h.end - h.start} bytes, expected at least 12`);
  const out: MooFile = {
    file,
    major: r.u8(h.start),
    minor: r.u8(h.start + 1),
    testCount: r.u32(h.start + 4),
    cpuId: r.ascii(h.start + 8, 4),
    meta: null,
    tests: [],
  };
  for (let i = 1; i < top.length; i++) {
    const c = top[i];
    if (c.tag === "META") {
      if (c.end - c.start < 28) r.fail(c.at, `META is ${c.end - c.start} bytes, expected at least 28`);
      const o = c.start;
      out.meta = {
        major: r.u8(o),
        minor: r.u8(o + 1),
        cpuType: r.u8(o + 2),
        opcode: r.u32(o + 3),
        mnemonic: r.ascii(o + 7, 8).trimEnd(),
        testCount: r.u32(o + 15),
        seed: r.view.getBigUint64(o + 19, true),
        cpuMode: c.end - c.start > 27 ? r.u8(o + 27) : 0,
      };
    } else if (c.tag === "TEST") {
      out.tests.push(parseTest(r, c));
    } else if (c.tag === "MOO ") {
      r.fail(c.at, "a second 'MOO ' header");
    }
  }
  if (out.tests.length !== out.testCount) {
    r.fail(data.length, `header promises ${out.testCount} tests but the file holds ${out.tests.length}`);
  }
  return out;
}

/** Read a .MOO or .MOO.gz file (gzip is recognised by its magic, not the name). */
export function readMooFile(path: string): MooFile {
  let raw: Uint8Array;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read: ${(e as Error).message}`);
  }
  let data = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      data = gunzipSync(raw);
    } catch (e) {
      throw new Error(`${path}: corrupt gzip stream: ${(e as Error).message}`);
    }
  }
  return parseMoo(data, path);
}

/** True for names the runner picks up: *.MOO and *.MOO.gz, any case. */
export function isMooName(name: string): boolean {
  return /\.moo(\.gz)?$/i.test(name);
}

/** "80.0.MOO.gz" -> "80.0". */
export function mooStem(name: string): string {
  return basename(name).replace(/\.moo(\.gz)?$/i, "");
}

// ---------------------------------------------------------------------------
// metadata.json and revocation_list.txt

export interface OpcodeInfo {
  status: string;
  arch: string;
  /** AND with both flag words before comparing; 0xFFFF when nothing is undefined. */
  flagsMask: number;
}

export interface OpcodeMetadata {
  cpu: string;
  /** Keys are upper-case hex opcodes ("80", "0F01") with ".reg" for group members ("80.7"). */
  opcodes: Map<string, OpcodeInfo>;
}

function info(raw: unknown, where: string): OpcodeInfo {
  if (typeof raw !== "object" || raw === null) throw new Error(`${where}: not an object`);
  const o = raw as Record<string, unknown>;
  const m = o["flags-mask"];
  if (m !== undefined && (typeof m !== "number" || !Number.isInteger(m) || m < 0 || m > 0xffffffff)) {
    throw new Error(`${where}: flags-mask ${String(m)} is not an unsigned integer`);
  }
  return {
    status: typeof o.status === "string" ? o.status : "",
    arch: typeof o.arch === "string" ? o.arch : "",
    flagsMask: typeof m === "number" ? m : 0xffffffff,
  };
}

/** Parse metadata.json text: `{opcodes: {"80": {reg: {"0": {...}}}, "27": {status, flags-mask}}}`. */
export function parseMetadata(text: string, file: string): OpcodeMetadata {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  const root = doc as { cpu?: unknown; opcodes?: unknown };
  if (typeof root !== "object" || root === null || typeof root.opcodes !== "object" || root.opcodes === null) {
    throw new Error(`${file}: no "opcodes" object`);
  }
  const opcodes = new Map<string, OpcodeInfo>();
  for (const [key, raw] of Object.entries(root.opcodes as Record<string, unknown>)) {
    const k = key.toUpperCase();
    const reg = (raw as { reg?: unknown }).reg;
    if (typeof reg === "object" && reg !== null) {
      for (const [r, sub] of Object.entries(reg as Record<string, unknown>)) {
        opcodes.set(`${k}.${r}`, info(sub, `${file}: opcodes.${key}.reg.${r}`));
      }
    } else {
      opcodes.set(k, info(raw, `${file}: opcodes.${key}`));
    }
  }
  return { cpu: typeof root.cpu === "string" ? root.cpu : "", opcodes };
}

/** SHA-1 hex strings, one a line; '#' starts a comment. */
export function parseRevocations(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const s = line.replace(/#.*/, "").trim().toLowerCase();
    if (s !== "") out.add(s);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Just enough decoding of a 16-bit instruction to find its metadata entry and
// classify it (prefixes, opcode, ModRM). The CPU's own decoder lives in src/isa.

export const PREFIXES_286 = new Set([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3]);

export interface Decoded16 {
  /** Prefix bytes in order. */
  prefixes: number[];
  /** Offset of the opcode byte. */
  opAt: number;
  /** 0x00..0xFF, or 0x0F00..0x0FFF for two-byte opcodes. */
  opcode: number;
  /** ModRM byte or -1 when the opcode has none (or the bytes end). */
  modrm: number;
  /** Segment-override prefix in effect (last one wins), or -1. */
  segOverride: number;
  lock: boolean;
  rep: number; // 0, 0xF2 or 0xF3
}

/** One-byte opcodes of the 8086/186/286 that take a ModRM byte. */
const HAS_MODRM = new Uint8Array(256);
for (const op of [
  0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0a, 0x0b, 0x10, 0x11, 0x12, 0x13, 0x18, 0x19, 0x1a, 0x1b, 0x20, 0x21, 0x22,
  0x23, 0x28, 0x29, 0x2a, 0x2b, 0x30, 0x31, 0x32, 0x33, 0x38, 0x39, 0x3a, 0x3b, 0x62, 0x63, 0x69, 0x6b, 0x80, 0x81,
  0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0xc0, 0xc1, 0xc4, 0xc5, 0xc6,
  0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xf6, 0xf7, 0xfe, 0xff,
]) {
  HAS_MODRM[op] = 1;
}

export function decode16(bytes: Uint8Array, prefixes: ReadonlySet<number> = PREFIXES_286): Decoded16 {
  const pre: number[] = [];
  let i = 0;
  let seg = -1;
  let lock = false;
  let rep = 0;
  while (i < bytes.length && prefixes.has(bytes[i])) {
    const b = bytes[i];
    pre.push(b);
    if (b === 0xf0) lock = true;
    else if (b === 0xf2 || b === 0xf3) rep = b;
    else seg = b;
    i++;
  }
  const opAt = i;
  let opcode = i < bytes.length ? bytes[i] : -1;
  let modrm = -1;
  if (opcode === 0x0f && i + 1 < bytes.length) {
    opcode = 0x0f00 | bytes[i + 1];
    // 0F 00 - 0F 03 take ModRM; 0F 05/06 (LOADALL, CLTS) do not.
    if ((opcode & 0xff) <= 3 && i + 2 < bytes.length) modrm = bytes[i + 2];
  } else if (opcode >= 0 && HAS_MODRM[opcode] && i + 1 < bytes.length) {
    modrm = bytes[i + 1];
  }
  return { prefixes: pre, opAt, opcode, modrm, segOverride: seg, lock, rep };
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, "0");
}

/** Metadata key of an opcode: "27", "0F01", with ".reg" when the metadata splits it by ModRM.reg. */
export function metadataKey(d: Decoded16, meta: OpcodeMetadata | null): string {
  const base = d.opcode > 0xff ? `0F${hex2(d.opcode & 0xff)}` : hex2(d.opcode & 0xff);
  if (d.modrm >= 0 && meta !== null) {
    const k = `${base}.${(d.modrm >> 3) & 7}`;
    if (meta.opcodes.has(k)) return k;
  }
  return base;
}

/** Flags mask for one test: the metadata's, or all ones. */
export function flagsMaskFor(d: Decoded16, meta: OpcodeMetadata | null): number {
  if (meta === null) return 0xffffffff;
  const e = meta.opcodes.get(metadataKey(d, meta));
  return e === undefined ? 0xffffffff : e.flagsMask;
}
