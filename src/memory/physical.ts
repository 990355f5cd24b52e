/**
 * Physical address space of the PC: RAM from 0, the firmware ROM mapped so it
 * ends at 0xFFFFF and again at 0xFFFFFFFF, and MMIO ranges. The CPU's fast
 * path indexes `ram` directly for pages whose kind is Ram (reads and writes)
 * or Rom (reads only); everything else goes through read8/write8.
 */

import { WA, WasmLayout, wasmMemoryBytes } from "../cpu/jit/wasm-layout.ts";
export const enum PageKind {
  Ram = 0,
  /** Readable from `ram` (a copy of the ROM lives there); writes are dropped. */
  Rom = 1,
  /** Slow path for every access: MMIO, the high ROM alias, unmapped space. */
  Slow = 2,
}

export interface MmioHandler {
  read8(addr: number): number;
  write8(addr: number, value: number): void;
}

interface MmioRange {
  start: number;
  end: number; // exclusive
  handler: MmioHandler;
}

export interface PhysicalMemoryOptions {
  /** RAM size in bytes; at least 2 MiB, a multiple of 4 KiB. */
  ramBytes: number;
}

export class PhysicalMemory {
  readonly ram: Uint8Array;
  readonly ramBytes: number;
  /**
   * The WebAssembly memory that holds RAM (at WasmLayout.RamBase), the CPU's TLB and registers and
   * the state block of compiled WebAssembly regions (src/cpu/jit/wasm.ts). Fixed size: it never grows.
   */
  readonly wasm: { buffer: ArrayBuffer };
  /** One entry per 4 KiB physical page (all 4 GiB), see PageKind. */
  readonly pageKind = new Uint8Array(1 << 20);
  /**
   * One byte per 4 KiB page of RAM, set to 1 before anything can write the page: a loader, the
   * slow path below, or a CPU TLB entry that lets writes index RAM directly (Cpu.tlbFill). A page
   * still 0 holds the zeros it was created with, so checkpoints hash it without reading it
   * (src/machine/checksum.ts): the host maps memory on first touch, and reading the guest's
   * untouched RAM cost capture a page fault per page. Whatever writes `ram` must mark it here.
   */
  readonly written: Uint8Array;
  private rom: Uint8Array = new Uint8Array(0);
  private romHighBase = 0; // physical address where the high alias starts (0 = none)
  private readonly mmio: MmioRange[] = [];
  /** Called whenever the mapping changes (ROM load, MMIO map) so the CPU can flush its TLB. */
  onMapChange: (() => void) | null = null;

  constructor(opts: PhysicalMemoryOptions) {
    if (opts.ramBytes < 2 << 20 || opts.ramBytes % 4096 !== 0) {
      throw new Error(`RAM size ${opts.ramBytes} must be at least 2 MiB and a multiple of 4 KiB`);
    }
    this.ramBytes = opts.ramBytes;
    const pages = wasmMemoryBytes(opts.ramBytes) / 65536;
    this.wasm =
      WA !== undefined ? new WA.Memory({ initial: pages, maximum: pages }) : { buffer: new ArrayBuffer(pages * 65536) };
    this.ram = new Uint8Array(this.wasm.buffer, WasmLayout.RamBase, opts.ramBytes);
    this.written = new Uint8Array(opts.ramBytes >>> 12);
    this.pageKind.fill(PageKind.Slow);
    this.pageKind.fill(PageKind.Ram, 0, opts.ramBytes >>> 12);
  }

  /**
   * Map a firmware image (64 to 256 KiB, a multiple of 64 KiB) so that it ends
   * at 0xFFFFF and at 0xFFFFFFFF.
   */
  loadRom(image: Uint8Array): void {
    const n = image.length;
    if (n < 0x10000 || n > 0x40000 || n % 0x10000 !== 0) {
      throw new Error(`firmware image is ${n} bytes; it must be 64, 128, 192 or 256 KiB`);
    }
    this.rom = image.slice();
    const lowBase = 0x100000 - n;
    this.ram.set(this.rom, lowBase);
    this.markWritten(lowBase, 0x100000);
    this.pageKind.fill(PageKind.Rom, lowBase >>> 12, 0x100);
    this.romHighBase = 0x100000000 - n;
    this.pageKind.fill(PageKind.Slow, this.romHighBase / 4096, 1 << 20);
    this.onMapChange?.();
  }

  /** Note that RAM bytes [start, end) may have been written (see `written`). */
  markWritten(start: number, end: number): void {
    if (end > start) this.written.fill(1, start >>> 12, Math.min((end + 4095) >>> 12, this.written.length));
  }

  /** Copy `bytes` into RAM at `addr`, marking the pages written. */
  loadRam(bytes: Uint8Array, addr: number): void {
    this.ram.set(bytes, addr);
    this.markWritten(addr, addr + bytes.length);
  }

  /** Claim [start, start+length) for a device. Page granular on the fast path. */
  mapMmio(start: number, length: number, handler: MmioHandler): void {
    this.mmio.push({ start, end: start + length, handler });
    for (let p = Math.floor(start / 4096); p < Math.ceil((start + length) / 4096); p++)
      this.pageKind[p] = PageKind.Slow;
    this.onMapChange?.();
  }

  /** Slow-path byte read at a physical address (unsigned 32-bit number). */
  read8(addr: number): number {
    addr >>>= 0;
    const kind = this.pageKind[addr >>> 12];
    if (kind !== PageKind.Slow) return this.ram[addr];
    for (let i = 0; i < this.mmio.length; i++) {
      const r = this.mmio[i];
      if (addr >= r.start && addr < r.end) return r.handler.read8(addr) & 0xff;
    }
    if (this.romHighBase !== 0 && addr >= this.romHighBase) return this.rom[addr - this.romHighBase];
    if (addr < this.ramBytes) return this.ram[addr];
    return 0xff; // open bus
  }

  write8(addr: number, value: number): void {
    addr >>>= 0;
    const kind = this.pageKind[addr >>> 12];
    if (kind === PageKind.Ram) {
      this.ram[addr] = value;
      this.written[addr >>> 12] = 1;
      return;
    }
    if (kind === PageKind.Rom) return;
    for (let i = 0; i < this.mmio.length; i++) {
      const r = this.mmio[i];
      if (addr >= r.start && addr < r.end) {
        r.handler.write8(addr, value & 0xff);
        return;
      }
    }
    if (addr < this.ramBytes) {
      this.ram[addr] = value;
      this.written[addr >>> 12] = 1;
    }
  }
}
