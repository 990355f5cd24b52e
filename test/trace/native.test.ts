/** The native container: chunks through the compression thread come out in order and byte-identical to synchronous compression. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../src/log/crc32.ts";
import { compressPayload } from "../../src/trace/codec.ts";
import { CompressPool } from "../../src/trace/compress-pool.ts";
import { type Codec, TRACE_VERSION, type TraceHeader } from "../../src/trace/format.ts";
import { NativeTraceWriter } from "../../src/trace/native.ts";
import { openTrace } from "../../src/trace/reader.ts";
import type { RawChunk } from "../../src/trace/recorder.ts";
import { tempDir } from "../cli/helpers.ts";

const dir = tempDir("native");

/** Compressible pseudo-random payloads (xorshift, fixed seed); chunk 5 is larger than a pool slot. */
function chunks(n: number, slot: number): RawChunk[] {
  let x = 0x12345678;
  const out: RawChunk[] = [];
  for (let k = 0; k < n; k++) {
    const len = k === 5 ? slot + 4096 : 4096 + ((k * 7919) % 20000);
    const b = new Uint8Array(len & ~15);
    for (let i = 0; i < b.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = (x & 3) === 0 ? x & 0xff : i & 0x0f;
    }
    out.push({ bytes: b, firstIcount: k * 1000, instructions: 1000, records: b.length >> 4 });
  }
  return out;
}

function write(codec: Codec, parallel: boolean, cs: RawChunk[], chunkBytes: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const header: TraceHeader = {
    format: "retrace-trace",
    version: 1,
    retraceVersion: "test",
    codec,
    source: { log: "none", logInstructions: 0, logSha256: "0".repeat(64) },
    window: { from: 0, to: null },
    only: "all",
  };
  const w = new NativeTraceWriter({ write: (b) => parts.push(b.slice()) }, header, { parallel, chunkBytes });
  for (const c of cs) w.chunk(c);
  w.finish({ counts: {}, firstIcount: 0, endIcount: cs.length * 1000 });
  return new Uint8Array(Buffer.concat(parts));
}

describe("native trace container", () => {
  for (const codec of ["brotli", "deflate-raw", "none"] as const) {
    it(`writer_${codec}ParallelAndSynchronous_writeIdenticalFilesThatReadBack`, async () => {
      const chunkBytes = 16 << 10; // pool slots of 16 KiB + slack: chunk 5 is larger than a slot
      const cs = chunks(12, chunkBytes + (256 << 10));
      const par = write(codec, true, cs, chunkBytes);
      const seq = write(codec, false, cs, chunkBytes);
      expect(Buffer.compare(par, seq)).toBe(0);
      const p = join(dir, `${codec}.bin`);
      writeFileSync(p, par);
      const t = await openTrace(p);
      expect(t.chunks.map((c) => c.firstIcount)).toEqual(cs.map((c) => c.firstIcount));
      for (let k = 0; k < cs.length; k++) expect(Buffer.compare(await t.chunkPayload(k), cs[k].bytes)).toBe(0);
      expect(t.trailer.instructions).toBe(12_000);
      await t.close();
    });
  }
});

describe("compression pool", () => {
  it("pool_chunksLargerThanASlot_compressedByTheWorkerInOrder", () => {
    const cap = 32 << 10;
    const cs = chunks(12, cap).map((c, k) => (k % 4 === 1 ? chunks(6, cap * 3 + 4096 * k)[5] : c));
    const got: [number, Uint8Array][] = [];
    const pool = new CompressPool<number>("brotli", cap, (k, p) => got.push([k, p.slice()]), 3);
    for (let k = 0; k < cs.length; k++) pool.submit(cs[k].bytes, k);
    pool.close();
    expect(got.map(([k]) => k)).toEqual(cs.map((_, k) => k));
    for (const [k, p] of got) expect(Buffer.compare(p, compressPayload("brotli", cs[k].bytes)), `chunk ${k}`).toBe(0);
    expect(cs.filter((c) => c.bytes.length > cap).length).toBe(3);
    expect(pool.bigChunks).toBe(3); // not compressed on this thread
  });
});

describe("native trace versions", () => {
  /** The file with its preamble version set to `v` (header CRC recomputed, so only the version differs). */
  function withVersion(file: Uint8Array, v: number): Uint8Array {
    const b = file.slice();
    const dv = new DataView(b.buffer);
    dv.setUint16(8, v, true);
    const hlen = dv.getUint32(12, true);
    dv.setUint32(16 + hlen, crc32(b, 8, 16 + hlen), true);
    return b;
  }

  it("reader_version1File_readsAndTheNextVersionIsRefusedByName", async () => {
    const cs = chunks(3, 1 << 20);
    const file = write("brotli", false, cs, 1 << 20);
    expect(new DataView(file.buffer).getUint16(8, true)).toBe(TRACE_VERSION);
    const v1 = join(dir, "v1.bin");
    writeFileSync(v1, withVersion(file, 1));
    const t = await openTrace(v1);
    expect(Buffer.compare(await t.chunkPayload(2), cs[2].bytes)).toBe(0);
    await t.close();
    const v3 = join(dir, "v3.bin");
    writeFileSync(v3, withVersion(file, TRACE_VERSION + 1));
    await expect(openTrace(v3)).rejects.toThrow(`${v3}: trace format version ${TRACE_VERSION + 1} is not supported`);
  });
});
