/** The native container: chunks through the compression thread come out in order and byte-identical to synchronous compression. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Codec, TraceHeader } from "../../src/trace/format.ts";
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
      const chunkBytes = 16 << 10; // pool slots of 16 KiB + slack: chunk 5 takes the synchronous path
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
