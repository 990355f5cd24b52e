import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VARINT_BAD, VARINT_TRUNCATED, VarintReader, varintSize, writeVarint } from "../../src/log/varint.ts";

function enc(v: number): Uint8Array {
  const out = new Uint8Array(varintSize(v));
  expect(writeVarint(out, 0, v)).toBe(out.length);
  return out;
}

const read = (bytes: number[]) => new VarintReader(Uint8Array.from(bytes), 0, bytes.length).read();

describe("varint", () => {
  it.each([
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [300, [0xac, 0x02]],
    [2 ** 32, [0x80, 0x80, 0x80, 0x80, 0x10]],
    [Number.MAX_SAFE_INTEGER, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
  ])("writeVarint_%d_isLeb128", (v, bytes) => {
    expect([...enc(v)]).toEqual(bytes);
    expect(read(bytes)).toBe(v);
  });

  it("varint_anySafeInteger_roundTripsAndSizeIsExact", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (v) => {
        const b = enc(v);
        const r = new VarintReader(b, 0, b.length);
        return r.read() === v && r.pos === b.length;
      }),
    );
  });

  it("writeVarint_negativeOrUnsafe_throwsRangeError", () => {
    expect(() => writeVarint(new Uint8Array(9), 0, -1)).toThrow(RangeError);
    expect(() => writeVarint(new Uint8Array(9), 0, 2 ** 53)).toThrow(RangeError);
    expect(() => writeVarint(new Uint8Array(9), 0, 1.5)).toThrow(RangeError);
  });

  it("read_endsInsideVarint_isTruncated", () => {
    expect(read([])).toBe(VARINT_TRUNCATED);
    expect(read([0x80])).toBe(VARINT_TRUNCATED);
    expect(read([0xff, 0xff, 0xff])).toBe(VARINT_TRUNCATED);
  });

  it("read_tooLongOrAboveSafeOrNonMinimal_isBad", () => {
    expect(read([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).toBe(VARINT_BAD);
    expect(read([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])).toBe(VARINT_BAD); // 2^53
    expect(read([0x80, 0x00])).toBe(VARINT_BAD);
  });
});
