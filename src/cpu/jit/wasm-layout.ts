/**
 * Layout of a machine's WebAssembly memory (PhysicalMemory.wasm), shared by the memory, the CPU
 * and the WebAssembly back end of the block compiler (wasm.ts). No imports: the memory module
 * needs it before anything of the CPU exists.
 */

/** Byte offsets in the WebAssembly memory. RAM starts at RAM_BASE; the TLB sits below it. */
export const enum WasmLayout {
  /** Int32 slots of the state block (index = byte offset / 4). */
  State = 0,
  Regs = 256,
  Parity = 512,
  Tlb = 0x10000,
  RamBase = 0x10000 + (4 << 20),
}

/** Int32 slots of the state block. */
export const enum St {
  Eip = 0,
  Fres = 1,
  Fcv = 2,
  Ftop = 3,
  Fovr = 4,
  Fbits = 5,
  RdMask = 6,
  WrMask = 7,
  Pe = 8,
  /** Bit s: segment s is flat (base 0, limit 4 GiB, read/write data) in protected mode. */
  FlatOk = 9,
  K = 10,
  Ke = 11,
  CurEip = 12,
  /** EFLAGS.DF (0 or 1): the direction of string instructions. */
  Df = 13,
  /** Segment bases at SegBase + s, "no checks" flags (limit 4 GiB, read/write data, PE) at SegF + s. */
  SegBase = 16,
  SegF = 24,
}

/** The state block's float64 slot (index in a Float64Array) for icount: bytes 128-135, past the int32 slots. */
export const ICOUNT_F64 = 16;

/** Bytes of WebAssembly memory for `ramBytes` of guest RAM (whole 64 KiB pages). */
export function wasmMemoryBytes(ramBytes: number): number {
  return Math.ceil((WasmLayout.RamBase + ramBytes) / 65536) * 65536;
}

/** The minimal WebAssembly API used here (the project's lib setting declares no WebAssembly global). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: { r: (limit: number) => number } };
  Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
}
/** WebAssembly, or undefined where node runs without it (`--jitless`): regions are then JavaScript. */
export const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
