/** `retrace capture`: run like `run`, logging every non-deterministic input (DESIGN.md §2-3). */
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, writeSync } from "node:fs";
import { basename, resolve } from "node:path";
import { writeOutputAtomic } from "../host/files.ts";
import { runMachine } from "../host/runner.ts";
import { attachConsole } from "../host/console.ts";
import { LogWriter } from "../log/index.ts";
import { type EndReason, Machine } from "../machine/machine.ts";
import { CaptureSession } from "../nondet/session.ts";
import { exitCodeFor, formatSummary, loadMachineInputs, openOut, type RunCliOptions } from "./run.ts";

export interface CaptureCliOptions extends RunCliOptions {
  out: string;
  checkEvery: number;
}

/** Guest wall-clock start under the virtual clock unless --start-time is given: 2000-01-01T00:00:00Z. */
export const VIRTUAL_EPOCH_MS = 946_684_800_000;

export const RETRACE_VERSION = "0.1.0";
export const CPU_MODEL = "retrace P6 (family 6 model 3)";

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The capture's second summary line: log size and the time spent on capture's own work. */
export function formatLogSummary(bytes: number, instructions: number, ownSeconds: number, seconds: number): string {
  const perK = instructions > 0 ? (bytes * 1000) / instructions : 0;
  const share = seconds > 0 ? (ownSeconds / seconds) * 100 : 0;
  return `retrace: log ${bytes.toLocaleString("en-US")} bytes (${perK.toFixed(4)} bytes per 1000 instructions); logging and checkpoints took ${ownSeconds.toFixed(3)} s (${share.toFixed(2)} % of the run)\n`;
}

export async function captureCommand(disk: string | undefined, opts: CaptureCliOptions): Promise<number> {
  const { bios, biosPath, image, diskPath, directBoot, kernelPath, initrdPath } = loadMachineInputs(disk, opts);
  // The virtual clock makes the whole run a function of its inputs, so the RTC starts at a fixed time too.
  const epochMs = opts.clock === "virtual" ? (opts.startTime ?? VIRTUAL_EPOCH_MS) : (opts.startTime ?? Date.now());
  const m = new Machine({ ramBytes: opts.memory * 1024 * 1024, bios, disk: image, epochMs, directBoot });
  const fd = openOut(opts.out);
  let logBytes = 0;
  const writer = new LogWriter(
    {
      retraceVersion: RETRACE_VERSION,
      machine: {
        cpu: CPU_MODEL,
        ramBytes: m.config.ramBytes,
        devices: ["pic", "pit", "cmos", "uart", "i8042", "ata", "port92", "post80", "debugcon", "vga"],
        firmwareSha256: sha256(bios),
      },
      disk: image === null ? null : { sha256: sha256(image), bytes: image.length },
      clock: opts.clock,
      startEpochMs: epochMs,
      checkpointInterval: opts.checkEvery,
      extra: {
        psPerInsn: m.psPerInsn,
        biosPath: resolve(biosPath),
        ...(diskPath === null ? {} : { diskPath: resolve(diskPath), diskName: basename(diskPath) }),
        // A direct kernel boot: what was loaded, so replay can verify and load the same.
        ...(directBoot === null || kernelPath === null
          ? {}
          : {
              kernel: { path: resolve(kernelPath), sha256: sha256(directBoot.kernel), bytes: directBoot.kernel.length },
              initrd:
                directBoot.initrd === null || initrdPath === null
                  ? null
                  : { path: resolve(initrdPath), sha256: sha256(directBoot.initrd), bytes: directBoot.initrd.length },
              append: directBoot.cmdline,
            }),
      },
    },
    (bytes) => {
      writeSync(fd, bytes);
      logBytes += bytes.length;
    },
  );
  fsyncSync(fd);
  const session = new CaptureSession(opts.clock, writer, opts.checkEvery, m);
  if (opts.until !== undefined) m.stopAtSerial(opts.until);
  const stop: { requested: EndReason | null } = { requested: null };
  const console = attachConsole(m, stop);
  let result: Awaited<ReturnType<typeof runMachine>>;
  try {
    result = await runMachine(
      m,
      session,
      { maxInstructions: opts.maxInstructions ?? null, timeoutSeconds: opts.timeout ?? null },
      stop,
    );
    session.finish(m, result.reason, result.seconds * 1000);
    fsyncSync(fd);
  } finally {
    console.detach();
    closeSync(fd);
  }
  if (opts.saveDisk !== undefined) {
    const img = m.diskImage();
    if (img !== null) writeOutputAtomic(opts.saveDisk, img);
  }
  if (!opts.quiet) {
    process.stderr.write(formatSummary(result.instructions, result.seconds, result.reason));
    process.stderr.write(formatLogSummary(logBytes, result.instructions, session.ownNs / 1e9, result.seconds));
  }
  return exitCodeFor(result.reason);
}
