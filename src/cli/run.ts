/** `retrace run`: boot a disk image with the serial console on the terminal. */
import { closeSync, openSync, writeSync } from "node:fs";
import { DEFAULT_BIOS, DEMO_DISK, readInput, UserError, writeOutputAtomic } from "../host/files.ts";
import { runMachine } from "../host/runner.ts";
import { type ClockMode, LiveSession } from "../nondet/session.ts";
import { attachConsole } from "../host/console.ts";
import { type DirectBoot, KernelImageError, loadDirectBoot } from "../machine/linux-boot.ts";
import { type EndReason, Machine } from "../machine/machine.ts";

export interface RunCliOptions {
  memory: number;
  bios?: string;
  clock: ClockMode;
  serialOut?: string;
  debugcon?: string;
  postcodes?: string;
  maxInstructions?: number;
  until?: string;
  timeout?: number;
  saveDisk?: string;
  quiet?: boolean;
  /** Guest wall-clock time at power-on (ms since the epoch). */
  startTime?: number;
  kernel?: string;
  initrd?: string;
  append?: string;
}

export function exitCodeFor(reason: EndReason): number {
  switch (reason) {
    case "halt":
    case "poweroff":
    case "until":
      return 0;
    case "reset":
      return 3;
    case "limit":
      return 4;
    case "timeout":
      return 5;
    case "interrupted":
      return 130;
    default:
      return 1;
  }
}

/** Open an output file for streaming, with a one-line error. */
export function openOut(path: string): number {
  try {
    return openSync(path, "w");
  } catch (e) {
    throw new UserError(`${path}: cannot write: ${(e as NodeJS.ErrnoException).code ?? "I/O error"}`);
  }
}

export interface MachineInputs {
  bios: Uint8Array;
  biosPath: string;
  image: Uint8Array | null;
  diskPath: string | null;
  directBoot: DirectBoot | null;
  kernelPath: string | null;
  initrdPath: string | null;
}

export function loadMachineInputs(
  disk: string | undefined,
  opts: { memory: number; bios?: string; kernel?: string; initrd?: string; append?: string },
): MachineInputs {
  const biosPath = opts.bios ?? DEFAULT_BIOS;
  const bios = readInput(biosPath, "firmware image");
  if (bios.length < 0x10000 || bios.length > 0x40000 || bios.length % 0x10000 !== 0) {
    throw new UserError(`${biosPath}: firmware image is ${bios.length} bytes; it must be 64, 128, 192 or 256 KiB`);
  }
  if (opts.memory > 3072) throw new UserError(`--memory ${opts.memory}: at most 3072 MiB`);
  if (opts.kernel === undefined && (opts.initrd !== undefined || opts.append !== undefined)) {
    throw new UserError("--initrd and --append need --kernel");
  }
  // With --kernel and no disk, the machine has no disk; otherwise the default disk is the demo.
  const diskPath = disk ?? (opts.kernel === undefined ? DEMO_DISK : null);
  let image: Uint8Array | null = null;
  if (diskPath !== null) {
    image = readInput(diskPath, "disk image");
    if (image.length < 512 || image.length % 512 !== 0) {
      throw new UserError(
        `${diskPath}: not a raw disk image (${image.length} bytes is not a whole number of 512-byte sectors)`,
      );
    }
  }
  let directBoot: DirectBoot | null = null;
  if (opts.kernel !== undefined) {
    const kernel = readInput(opts.kernel, "kernel image");
    const initrd = opts.initrd === undefined ? null : readInput(opts.initrd, "initrd");
    directBoot = { kernel, initrd, cmdline: opts.append ?? "" };
    // Validate now, for a one-line error naming the file (the machine loads it again).
    try {
      loadDirectBoot(new Uint8Array(opts.memory * 1024 * 1024), directBoot);
    } catch (e) {
      if (e instanceof KernelImageError) throw new UserError(`${opts.kernel}: ${e.message}`);
      throw e;
    }
  }
  return {
    bios,
    biosPath,
    image,
    diskPath,
    directBoot,
    kernelPath: opts.kernel ?? null,
    initrdPath: opts.initrd ?? null,
  };
}

export function formatSummary(instructions: number, seconds: number, reason: string): string {
  const mips = seconds > 0 ? instructions / seconds / 1e6 : 0;
  return `retrace: ${instructions.toLocaleString("en-US")} instructions in ${seconds.toFixed(2)} s (${mips.toFixed(1)} M/s), stopped: ${reason}\n`;
}

export async function runCommand(disk: string | undefined, opts: RunCliOptions): Promise<number> {
  const { bios, image, directBoot } = loadMachineInputs(disk, opts);
  const epochMs = opts.startTime ?? (opts.clock === "virtual" ? 946_684_800_000 : Date.now());
  const m = new Machine({ ramBytes: opts.memory * 1024 * 1024, bios, disk: image, epochMs, directBoot });
  const fds: number[] = [];
  const stream = (path: string | undefined, onData: (fd: number) => void): void => {
    if (path === undefined) return;
    const fd = openOut(path);
    fds.push(fd);
    onData(fd);
  };
  stream(opts.serialOut, (fd) => m.serialListeners.push((b) => writeSync(fd, Uint8Array.of(b))));
  stream(opts.debugcon, (fd) => {
    m.debugcon.onByte = (b) => writeSync(fd, Uint8Array.of(b));
  });
  stream(opts.postcodes, (fd) => {
    m.post.onCode = (c) => writeSync(fd, `${c.toString(16).padStart(2, "0")}\n`);
  });
  if (opts.until !== undefined) m.stopAtSerial(opts.until);
  const stop: { requested: EndReason | null } = { requested: null };
  const console = attachConsole(m, stop);
  let result: Awaited<ReturnType<typeof runMachine>>;
  try {
    result = await runMachine(
      m,
      new LiveSession(opts.clock),
      { maxInstructions: opts.maxInstructions ?? null, timeoutSeconds: opts.timeout ?? null },
      stop,
    );
  } finally {
    console.detach();
    for (const fd of fds) closeSync(fd);
  }
  if (opts.saveDisk !== undefined) {
    const img = m.diskImage();
    if (img !== null) writeOutputAtomic(opts.saveDisk, img);
  }
  if (!opts.quiet) process.stderr.write(formatSummary(result.instructions, result.seconds, result.reason));
  return exitCodeFor(result.reason);
}
