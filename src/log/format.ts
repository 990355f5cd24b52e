/**
 * Byte layout constants and the msgpack instance shared by writer and reader.
 * docs/LOG_FORMAT.md is the prose version of this file.
 */
import { Packr } from "msgpackr";

/** File magic: 0x89 "RTLOG" CR LF. The high byte and the CR LF catch 7-bit and newline-mangling copies (as PNG's does). */
export const MAGIC: Uint8Array = Uint8Array.of(0x89, 0x52, 0x54, 0x4c, 0x4f, 0x47, 0x0d, 0x0a);
/** Last 8 bytes of a complete log. */
export const END_MAGIC: Uint8Array = Uint8Array.of(0x52, 0x54, 0x4c, 0x4f, 0x47, 0x45, 0x4e, 0x44); // "RTLOGEND"

/** magic(8) version(u16) reserved(u16) headerLength(u32). */
export const PREAMBLE_BYTES = 16;
export const CRC_BYTES = 4;
/** trailerRecordLength(u32) END_MAGIC(8). */
export const FOOTER_BYTES = 12;
export const MAX_HEADER_BYTES = 1 << 20;

/** Record tags. */
export const TAG_CHUNK = 0x43; // 'C'
export const TAG_TRAILER = 0x54; // 'T'

/**
 * Plain msgpack: arrays stay arrays, objects become maps, Uint8Array becomes
 * bin. No records/structures (they would make a chunk depend on earlier ones).
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** msgpack bytes of `v`, in a fresh buffer (msgpackr reuses its own). */
export function pack(v: unknown): Uint8Array {
  return new Uint8Array(packr.pack(v));
}

/** Decode exactly `bytes` as one msgpack value; throws a plain Error on anything malformed. */
export function unpack(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

export function writeU16(out: Uint8Array, pos: number, v: number): void {
  out[pos] = v & 0xff;
  out[pos + 1] = (v >>> 8) & 0xff;
}

export function writeU32(out: Uint8Array, pos: number, v: number): void {
  out[pos] = v & 0xff;
  out[pos + 1] = (v >>> 8) & 0xff;
  out[pos + 2] = (v >>> 16) & 0xff;
  out[pos + 3] = (v >>> 24) & 0xff;
}

export function readU16(b: Uint8Array, pos: number): number {
  return b[pos] | (b[pos + 1] << 8);
}

export function readU32(b: Uint8Array, pos: number): number {
  return (b[pos] | (b[pos + 1] << 8) | (b[pos + 2] << 16) | (b[pos + 3] << 24)) >>> 0;
}
