import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32, crc32Table, crc32Update } from "../../src/log/crc32.ts";

/** Bit-at-a-time reference straight from the definition (no table). */
function slowCrc(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const ascii = (s: string) => new TextEncoder().encode(s);

describe("crc32", () => {
  it.each([
    ["", 0x00000000],
    ["a", 0xe8b7be43],
    ["123456789", 0xcbf43926],
    ["The quick brown fox jumps over the lazy dog", 0x414fa339],
  ])("crc32_of_%j_isTheStandardCheckValue", (text, want) => {
    expect(crc32(ascii(text))).toBe(want);
  });

  it("crc32_anyBytes_matchesBitwiseReference", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => crc32(b) === slowCrc(b)));
  });

  it("crc32_nativeAndTablePaths_bothMatchTheReference", () => {
    // crc32 uses zlib.crc32 from 64 bytes on (where Node has it) and the table below that.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 60, maxLength: 600 }), fc.nat(), (b, seed) => {
        const crc = seed >>> 0;
        return crc32(b) === slowCrc(b) && crc32Table(0, b) === slowCrc(b) && crc32Update(crc, b) === crc32Table(crc, b);
      }),
    );
  });

  it("crc32Update_splitAnywhere_equalsCrcOfWhole", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (b, cut) => {
        const at = b.length === 0 ? 0 : cut % (b.length + 1);
        return crc32Update(crc32(b, 0, at), b, at) === crc32(b);
      }),
    );
  });

  it("crc32_range_coversOnlyThatRange", () => {
    const b = ascii("xx123456789yy");
    expect(crc32(b, 2, 11)).toBe(0xcbf43926);
  });
});
