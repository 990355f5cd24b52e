/**
 * Direct kernel boot, as a boot loader does it (Linux Documentation/arch/x86/boot.rst,
 * "The Linux/x86 Boot Protocol"): the real-mode setup goes to 0x90000 with its header
 * fields filled in, the protected-mode kernel to 0x100000, the initrd as high as the
 * kernel allows, the command line below the setup heap. retrace's BIOS then enters the
 * setup code at 9020:0000 instead of reading the disk's MBR (CMOS byte 3Fh = 'K').
 */

export interface DirectBoot {
  /** The bzImage file content. */
  kernel: Uint8Array;
  /** The initrd/initramfs content, or null. */
  initrd: Uint8Array | null;
  /** The kernel command line. */
  cmdline: string;
}

/** A kernel image the protocol cannot load; the message names what is wrong (the caller adds the file). */
export class KernelImageError extends Error {}

const SETUP_BASE = 0x90000;
const KERNEL_BASE = 0x100000;
const HEAP_END = 0x9800; // setup-relative; the stack grows down from here
const CMDLINE_ADDR = 0x99000;
const CMDLINE_MAX = 0x0fff;

/** Where things went: recorded in the capture log. */
export interface KernelLayout {
  protocol: number;
  setupBytes: number;
  kernelBytes: number;
  initrdAddr: number;
  initrdBytes: number;
}

/** The RAM ranges [start, end) that loadDirectBoot wrote for `layout`. */
export function loadedRanges(layout: KernelLayout): Array<[number, number]> {
  const r: Array<[number, number]> = [
    [SETUP_BASE, CMDLINE_ADDR + CMDLINE_MAX + 1], // setup code, its header, heap and the command line
    [KERNEL_BASE, KERNEL_BASE + layout.kernelBytes],
  ];
  if (layout.initrdBytes > 0) r.push([layout.initrdAddr, layout.initrdAddr + layout.initrdBytes]);
  return r;
}

/** Load `boot` into `ram` (physical memory of `ramBytes`). Throws KernelImageError. */
export function loadDirectBoot(ram: Uint8Array, boot: DirectBoot): KernelLayout {
  const k = boot.kernel;
  if (k.length < 0x250) throw new KernelImageError(`not a Linux kernel image (${k.length} bytes)`);
  const u16 = (o: number): number => k[o] | (k[o + 1] << 8);
  const u32 = (o: number): number => (k[o] | (k[o + 1] << 8) | (k[o + 2] << 16) | (k[o + 3] << 24)) >>> 0;
  if (u32(0x202) !== 0x53726448) throw new KernelImageError("not a Linux bzImage (no 'HdrS' boot protocol header)");
  const protocol = u16(0x206);
  if (protocol < 0x0204) {
    throw new KernelImageError(`boot protocol ${protocol >> 8}.${protocol & 0xff} is too old (2.04 or later needed)`);
  }
  const loadflags = k[0x211];
  if ((loadflags & 1) === 0) throw new KernelImageError("not a bzImage (zImage kernels loaded low are not supported)");
  const setupSects = k[0x1f1] === 0 ? 4 : k[0x1f1];
  const setupBytes = (setupSects + 1) * 512;
  if (setupBytes >= k.length) throw new KernelImageError("truncated kernel image (no protected-mode part)");
  const kernelBytes = k.length - setupBytes;
  if (KERNEL_BASE + kernelBytes > ram.length) throw new KernelImageError("kernel does not fit in guest RAM");
  if (setupBytes > HEAP_END) throw new KernelImageError(`real-mode setup of ${setupBytes} bytes is too large`);
  const cmd = new TextEncoder().encode(boot.cmdline);
  const cmdMax = protocol >= 0x0206 ? Math.min(u32(0x238), CMDLINE_MAX) : 255;
  if (cmd.length > cmdMax)
    throw new KernelImageError(`command line of ${cmd.length} bytes exceeds the kernel's ${cmdMax}`);

  ram.set(k.subarray(0, setupBytes), SETUP_BASE);
  ram.set(k.subarray(setupBytes), KERNEL_BASE);
  ram.set(cmd, CMDLINE_ADDR);
  ram[CMDLINE_ADDR + cmd.length] = 0;

  const hdr = SETUP_BASE;
  const put16 = (o: number, v: number): void => {
    ram[hdr + o] = v & 0xff;
    ram[hdr + o + 1] = (v >>> 8) & 0xff;
  };
  const put32 = (o: number, v: number): void => {
    for (let i = 0; i < 4; i++) ram[hdr + o + i] = (v >>> (8 * i)) & 0xff;
  };
  ram[hdr + 0x210] = 0xff; // type_of_loader: undefined loader
  ram[hdr + 0x211] = loadflags | 0x80; // CAN_USE_HEAP
  put16(0x224, HEAP_END - 0x200); // heap_end_ptr
  put32(0x228, CMDLINE_ADDR); // cmd_line_ptr

  let initrdAddr = 0;
  let initrdBytes = 0;
  if (boot.initrd !== null) {
    initrdBytes = boot.initrd.length;
    const max = protocol >= 0x0203 ? u32(0x22c) : 0x37ffffff;
    const top = Math.min(ram.length, max + 1);
    initrdAddr = Math.floor((top - initrdBytes) / 4096) * 4096;
    if (initrdAddr < KERNEL_BASE + kernelBytes)
      throw new KernelImageError("initrd does not fit in guest RAM above the kernel");
    ram.set(boot.initrd, initrdAddr);
    put32(0x218, initrdAddr);
    put32(0x21c, initrdBytes);
  }
  return { protocol, setupBytes, kernelBytes, initrdAddr, initrdBytes };
}
