/**
 * Unsigned LEB128 varints for the chunk frame: 7 bits per byte, low group
 * first, high bit set on every byte but the last. Values are JavaScript safe
 * integers (0 .. 2^53-1), so at most 8 bytes. Arithmetic uses multiplication
 * and division, never 32-bit shifts, because values exceed 32 bits.
 *
 * The reader is strict: more than 8 bytes, a value above 2^53-1, or a
 * non-minimal encoding (a final 0x00 after a continuation byte) is malformed.
 */

export const VARINT_MAX_BYTES = 8;
/** `readVarint` result: the data ends before the varint does. */
export const VARINT_TRUNCATED = -1;
/** `readVarint` result: the bytes are not a valid varint. */
export const VARINT_BAD = -2;

/** Bytes needed to encode `v` (a non-negative safe integer). */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** Write `v` at `out[pos]`; returns the position after it. `out` must have room. */
export function writeVarint(out: Uint8Array, pos: number, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint: ${v} is not a non-negative safe integer`);
  while (v >= 0x80) {
    out[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[pos++] = v;
  return pos;
}

/** Reads varints from `bytes[pos, end)`; `pos` advances past each value read. */
export class VarintReader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  /** The value, or VARINT_TRUNCATED / VARINT_BAD (then `pos` is unspecified). */
  read(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_MAX_BYTES; i++) {
      if (this.pos >= this.end) return VARINT_TRUNCATED;
      const b = this.bytes[this.pos++];
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) return VARINT_BAD;
        return value <= Number.MAX_SAFE_INTEGER ? value : VARINT_BAD;
      }
      scale *= 0x80;
    }
    return VARINT_BAD;
  }
}
