/**
 * The checkpoint RAM digest is part of what a log means: every retrace must hash a window the same
 * way, or old logs stop replaying. hashRam works in slices (so V8 optimises it without on-stack
 * replacement); it must equal FNV-1a over the words in one pass, across slice borders.
 */
import { describe, expect, it } from "vitest";
import { hashRam, memDigest } from "../../src/machine/checksum.ts";

/** FNV-1a over 32-bit little-endian words, one pass, as LOG_FORMAT.md defines the digest. */
function reference(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let p = start; p < end; p += 4) {
    const w = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
    h = Math.imul(h ^ w, 16777619);
  }
  return h >>> 0;
}

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe("state checksums", () => {
  it("hashRam_acrossSliceBorders_equalsOnePassFnv1a", () => {
    const b = pattern((3 << 18) + 4096); // three 256 KiB slices and a bit
    for (const [s, e] of [
      [0, b.length],
      [4096, b.length - 8],
      [(1 << 18) - 4, (1 << 18) + 4],
      [0, 0],
      [8, 12],
    ]) {
      expect(hashRam(b, s, e), `${s}..${e}`).toBe(reference(b, s, e));
    }
  });

  it("memDigest_windowsAndWholeRam_keepTheirLoggedValues", () => {
    const ram = pattern(4 << 20);
    // Pinned: a change here changes what every existing log's check events mean.
    expect(memDigest(ram, -1)).toBe(reference(ram, 0, ram.length));
    expect(memDigest(ram, 3)).toBe(reference(ram, 3 * 65536, 4 * 65536));
    expect(memDigest(ram, 67)).toBe(memDigest(ram, 3));
    expect(memDigest(ram, -1)).toBe(PINNED_WHOLE);
  });
});

/** memDigest(pattern(4 MiB), -1) as retrace computed it before hashRam was sliced. */
const PINNED_WHOLE = 3742734604;
