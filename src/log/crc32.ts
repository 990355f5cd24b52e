/**
 * CRC-32 as used by zip, PNG and Ethernet (IEEE 802.3): reflected polynomial
 * 0xEDB88320, initial value and final XOR 0xFFFFFFFF. Check value: the CRC of
 * the ASCII bytes "123456789" is 0xCBF43926.
 *
 * Node's zlib.crc32 (Node 20.15 and later; native, about 20 times faster than
 * the table) does ranges longer than a few dozen bytes. Otherwise: table-driven,
 * one byte per step; the table is computed at load time from the polynomial,
 * so there is nothing to mistype.
 */
import * as zlib from "node:zlib";

const POLY = 0xedb88320;
/** Below this many bytes the table loop beats the call into native code. */
const NATIVE_MIN = 64;
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/**
 * Continue a CRC over `bytes[start, end)`. `crc` is a finished CRC of the data
 * before (0 for none), so `crc32Update(crc32(a), b)` equals the CRC of a ++ b.
 * Returns an unsigned 32-bit number.
 */
export function crc32Update(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (nativeCrc32 !== undefined && end - start >= NATIVE_MIN) return nativeCrc32(bytes.subarray(start, end), crc) >>> 0;
  return crc32Table(crc, bytes, start, end);
}

/** The table-driven CRC (exported for the test that checks the native one against it). */
export function crc32Table(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of `bytes[start, end)`, unsigned. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32Update(0, bytes, start, end);
}
