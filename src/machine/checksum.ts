/**
 * State checksums for divergence detection (DESIGN.md §2): a hash of the
 * register file and a cheap memory digest. Periodic checks hash a rotating
 * 1/64 window of RAM (all of RAM every 64 checks); the final check hashes
 * all of it. FNV-1a over 32-bit words, int32 arithmetic.
 */
import type { Cpu } from "../cpu/cpu.ts";

export interface StateSums {
  eip: number;
  regs: number;
  mem: number;
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;

function mix(h: number, v: number): number {
  return Math.imul(h ^ v, FNV_PRIME);
}

/** Hash of everything the CPU's architectural state holds that replay must reproduce. */
export function regsHash(c: Cpu): number {
  let h = FNV_OFFSET;
  for (let r = 0; r < 8; r++) h = mix(h, c.regs[r]);
  h = mix(h, c.eip);
  h = mix(h, c.getEflags());
  for (let s = 0; s < 6; s++) {
    h = mix(h, c.segSel[s]);
    h = mix(h, c.segBase[s]);
  }
  h = mix(h, c.cr0);
  h = mix(h, c.cr3);
  h = mix(h, c.cr4);
  return h >>> 0;
}

export const MEM_WINDOWS = 64;

/**
 * Words hashed per call of fnvWords. Once a region is compiled, retrace turns V8's on-stack
 * replacement off (src/cpu/jit/compile.ts), so a loop only runs optimised in a call that starts
 * after V8 optimised its function: one call over all of RAM would run in baseline code throughout
 * (0.8 s for 128 MiB instead of 0.07 s). Slices of 256 KiB make the calls that get it optimised.
 */
const SLICE_WORDS = 1 << 16;

/** FNV-1a steps over words[from, to), starting from `h`. */
function fnvWords(h: number, words: Int32Array, from: number, to: number): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ words[i], FNV_PRIME);
  return h;
}

/** FNV_PRIME^1024 (mod 2^32): FNV-1a over a page of zero words multiplies the hash by it. */
const ZERO_PAGE = ((): number => {
  let f = 1;
  for (let i = 0; i < 1024; i++) f = Math.imul(f, FNV_PRIME);
  return f;
})();

/**
 * FNV-1a over the 32-bit words of ram[start, end). With `written` (PhysicalMemory.written: one byte
 * per 4 KiB page, 0 = still zero) and a page-aligned range, pages never written are not read: each
 * multiplies the hash by ZERO_PAGE, which gives the same value as hashing its zeros.
 */
export function hashRam(ram: Uint8Array, start: number, end: number, written?: Uint8Array): number {
  const words = new Int32Array(ram.buffer, ram.byteOffset + start, (end - start) >>> 2);
  let h = FNV_OFFSET;
  if (written !== undefined && (start & 0xfff) === 0 && (end & 0xfff) === 0) {
    const first = start >>> 12;
    const pages = (end - start) >>> 12;
    let p = 0;
    while (p < pages) {
      if (written[first + p] === 0) {
        h = Math.imul(h, ZERO_PAGE);
        p++;
        continue;
      }
      let q = p + 1;
      while (q < pages && q - p < SLICE_WORDS >>> 10 && written[first + q] !== 0) q++;
      h = fnvWords(h, words, p << 10, q << 10);
      p = q;
    }
    return h >>> 0;
  }
  for (let i = 0; i < words.length; i += SLICE_WORDS)
    h = fnvWords(h, words, i, Math.min(i + SLICE_WORDS, words.length));
  return h >>> 0;
}

/** Digest of window `k` (of MEM_WINDOWS) of RAM; `k` = -1 digests all of RAM. `written`: see hashRam. */
export function memDigest(ram: Uint8Array, k: number, written?: Uint8Array): number {
  if (k < 0) return hashRam(ram, 0, ram.length, written);
  const size = Math.floor(ram.length / MEM_WINDOWS / 4096) * 4096;
  const start = (k % MEM_WINDOWS) * size;
  return hashRam(ram, start, start + size, written);
}

/** Checksums at a checkpoint; `seq` = the checkpoint's ordinal (chooses the RAM window), -1 = final. */
export function stateSums(c: Cpu, seq: number): StateSums {
  return { eip: c.eip >>> 0, regs: regsHash(c), mem: memDigest(c.ram, seq, c.mem.written) };
}
