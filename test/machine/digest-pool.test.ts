/** The checkpoint digest thread gives exactly checksum.ts's hash, in order, with the worker or without. */
import { describe, expect, it } from "vitest";
import { hashRam } from "../../src/machine/checksum.ts";
import { DigestPool } from "../../src/machine/digest-pool.ts";

function windows(n: number, size: number): Uint8Array[] {
  let x = 0x9e3779b9 | 0;
  const out: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const b = new Uint8Array(size - 4 * (k % 3));
    for (let i = 0; i < b.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    out.push(b);
  }
  return out;
}

describe("digest pool", () => {
  for (const useWorker of [true, false]) {
    it(`digestPool_${useWorker ? "worker" : "inline"}_equalsHashRamInSubmissionOrder`, () => {
      const size = 64 << 10;
      const pool = new DigestPool(size, 3, useWorker);
      const ws = windows(10, size);
      const want = ws.map((w) => hashRam(w, 0, w.length));
      expect(new Set(want).size).toBe(ws.length);
      const got: number[] = [];
      const slots: number[] = [];
      for (const w of ws) {
        if (pool.free === 0) got.push(pool.result(slots.shift()!));
        slots.push(pool.submit(w));
        w.fill(0); // the pool hashes its own copy
      }
      while (slots.length > 0) got.push(pool.result(slots.shift()!));
      expect(got).toEqual(want);
      pool.close();
    });
  }

  it("digestPool_fullOrBadWindow_isRefused", () => {
    const pool = new DigestPool(1024, 1, false);
    expect(() => pool.submit(new Uint8Array(1028))).toThrow(RangeError);
    pool.submit(new Uint8Array(1024));
    expect(() => pool.submit(new Uint8Array(1024))).toThrow(/no free slot/);
    pool.close();
  });
});
