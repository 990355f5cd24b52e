/**
 * Chunk payload compression: brotli quality 2 by default, chosen by measurement
 * (MB/s of raw input, one core, Intel Xeon; trace format 2, 4 MiB chunks):
 *
 *                 demo (159 chunks)   Linux decompressor   Linux kernel start-up
 *   brotli q1     12.6x  914 MB/s      7.9x  462 MB/s      33.5x  1303 MB/s
 *   brotli q2     19.5x  578 MB/s      9.6x  309 MB/s      40.3x   730 MB/s  <- default
 *   brotli q3     19.5x  480 MB/s      9.5x  261 MB/s      40.4x   635 MB/s
 *   brotli q4     18.5x  233 MB/s      9.4x  152 MB/s      41.4x   354 MB/s
 *
 * q2 compresses as well as q3 (the demo 0.4 % larger, the decompressor 1 % smaller)
 * with 13-20 % less CPU; expansion's compressor thread was 89-92 % busy at q3 on the
 * decompressor. (Format 1, before REF records: q3 22.1x, q1 12.6x, q5 23.6x, deflate-raw
 * level 1 11.7x and level 6 14.2x on the demo.) Decompression: ~530 MB/s of output.
 */
import { brotliCompressSync, brotliDecompressSync, deflateRawSync, inflateRawSync, constants as zc } from "node:zlib";
import type { Codec } from "./format.ts";

export const BROTLI_QUALITY = 2;

export function compressPayload(codec: Codec, raw: Uint8Array): Uint8Array {
  if (codec === "brotli") {
    return brotliCompressSync(raw, {
      params: { [zc.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zc.BROTLI_PARAM_SIZE_HINT]: raw.length },
    });
  }
  if (codec === "deflate-raw") return deflateRawSync(raw, { level: 6 });
  return raw;
}

export function decompressPayload(codec: Codec, payload: Uint8Array): Uint8Array {
  if (codec === "brotli") return brotliDecompressSync(payload);
  if (codec === "deflate-raw") return inflateRawSync(payload);
  return payload;
}
