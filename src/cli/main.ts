/**
 * The retrace command line: commander parses, zod validates, the library does
 * the work. Every failure the user can cause prints one line, `retrace: ...`,
 * and exits non-zero (codes in README.md); only a bug in retrace itself shows
 * a stack trace, and then under a clear "internal error" heading.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { Cpu } from "../cpu/cpu.ts";
import { UserError } from "../host/files.ts";
import { captureCommand } from "./capture.ts";
import { dumpCommand } from "./dump.ts";
import { expandCommand, parseFormat, parseOnly } from "./expand.ts";
import { infoCommand } from "./info.ts";
import { replayCommand } from "./replay.ts";
import { runCommand } from "./run.ts";

export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  reset: 3,
  limit: 4,
  timeout: 5,
  divergence: 6,
  badLog: 7,
  interrupted: 130,
} as const;

export function parseIntArg(name: string, min: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v.replace(/_/g, ""))) throw new InvalidArgumentError(`${name} must be a whole number`);
    const n = Number(v.replace(/_/g, ""));
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be at least ${min}`);
    return n;
  };
}

export function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number of seconds");
  return n;
}

export function parseClock(v: string): "host" | "virtual" {
  if (v !== "host" && v !== "virtual") throw new InvalidArgumentError("must be 'host' or 'virtual'");
  return v;
}

export function parseTime(v: string): number {
  const t = Date.parse(v);
  if (!Number.isFinite(t) || t < 0)
    throw new InvalidArgumentError("must be a date and time, e.g. 2024-05-01T12:00:00Z");
  return t;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command("retrace")
    .description("IA-32 PC emulator: capture a whole-system run cheaply, expand it into a full trace by replay")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith("error:") ? `retrace: ${s.slice(7)}` : s) })
    .showHelpAfterError(false)
    // The block compiler's hotness threshold (src/cpu/jit): 0 compiles every block, -1 never.
    .option("--jit-threshold <n>", "compile blocks to JavaScript after N executions (0: all, -1: never)", (v) => {
      if (!/^(-1|\d+)$/.test(v)) throw new InvalidArgumentError("--jit-threshold must be -1 or a whole number");
      return Number(v);
    })
    .hook("preAction", (cmd) => {
      const t = cmd.opts().jitThreshold;
      if (t !== undefined) Cpu.defaultJitThreshold = t;
    });

  const machineOptions = (cmd: Command): Command =>
    cmd
      .argument("[disk]", "raw disk image (never modified; default: the bundled demo)")
      .option("--memory <MiB>", "guest RAM in MiB", parseIntArg("--memory", 2), 128)
      .option("--bios <file>", "firmware ROM image (64-256 KiB) instead of retrace's BIOS")
      .option(
        "--clock <mode>",
        "guest time: host (follows the host clock) or virtual (from the instruction count)",
        parseClock,
        "host",
      )
      .option("--serial-out <file>", "also write the serial output to FILE")
      .option("--debugcon <file>", "write bytes sent to port 0xE9 to FILE")
      .option("--postcodes <file>", "write each POST code (port 0x80) to FILE, one hex byte per line")
      .option("--max-instructions <n>", "stop after N instructions", parseIntArg("--max-instructions", 1))
      .option("--until <text>", "stop when the serial output contains TEXT")
      .option("--timeout <seconds>", "stop after this many seconds of host time", parseSeconds)
      .option("--save-disk <file>", "write the final disk (image + guest writes) to a new file")
      .option(
        "--kernel <bzImage>",
        "boot this Linux kernel directly (Linux/x86 boot protocol); no disk unless one is given",
      )
      .option("--initrd <file>", "initrd/initramfs for --kernel")
      .option("--append <cmdline>", "kernel command line for --kernel")
      .option(
        "--start-time <iso>",
        "guest RTC time at power-on (default: now; 2000-01-01 with --clock virtual)",
        parseTime,
      )
      .option("-q, --quiet", "no summary on stderr");

  machineOptions(program.command("run").description("boot a disk image; serial console on stdin/stdout")).action(
    async (disk: string | undefined, opts) => {
      code = await runCommand(disk, opts);
    },
  );

  machineOptions(
    program.command("capture").description("run like `run` and record every non-deterministic input to a log"),
  )
    .requiredOption("-o, --out <log>", "the capture log to write")
    .option(
      "--check-every <n>",
      "state checkpoint every N instructions (0: none)",
      parseIntArg("--check-every", 0),
      // Each checkpoint hashes 1/64 of RAM (src/machine/checksum.ts): on the 128 MiB Linux guest,
      // every 10M instructions cost 2.2 % of the run, every 20M 1.5 % (all of capture's own work).
      20_000_000,
    )
    .action(async (disk: string | undefined, opts) => {
      code = await captureCommand(disk, opts);
    });

  program
    .command("replay")
    .description("re-execute a capture from its log and verify it; report the first divergence")
    .argument("<log>", "capture log")
    .option("--disk <img>", "the disk image (default: the path recorded in the log); its SHA-256 must match")
    .option("--bios <file>", "the firmware (default: the path recorded in the log); its SHA-256 must match")
    .option("--kernel <bzImage>", "the directly booted kernel (default: the recorded path); its SHA-256 must match")
    .option("--initrd <file>", "the directly booted initrd (default: the recorded path); its SHA-256 must match")
    .option("--json", "machine-readable result on stdout")
    .action(async (log: string, opts) => {
      code = await replayCommand(log, opts);
    });

  program
    .command("info")
    .description("describe a capture log")
    .argument("<file>", "capture log")
    .option("--json", "machine-readable output")
    .action(async (file: string, opts) => {
      code = await infoCommand(file, opts);
    });

  program
    .command("expand")
    .description("replay a capture with tracing on and write every instruction and memory access")
    .argument("<log>", "capture log")
    .requiredOption("-o, --out <file>", "trace to write (ChampSim, text, BBV: .gz or .xz compresses)")
    .option("-f, --format <format>", "native, champsim, text or bbv", parseFormat, "native")
    .option(
      "--from <n>",
      "first instruction count to trace (the replay up to it runs untraced and compiled)",
      parseIntArg("--from", 0),
    )
    .option("--to <n>", "trace instructions before this count", parseIntArg("--to", 1))
    .option("--only <level>", "user (CPL 3) or kernel (CPL 0-2) instructions only", parseOnly)
    .option("--interval <n>", "BBV interval in instructions (default 100,000,000)", parseIntArg("--interval", 1))
    .option("--disk <img>", "the disk image (default: the path recorded in the log); its SHA-256 must match")
    .option("--bios <file>", "the firmware (default: the path recorded in the log); its SHA-256 must match")
    .option("-q, --quiet", "no progress bar or summary on stderr")
    .action(async (log: string, opts) => {
      code = await expandCommand(log, opts);
    });

  program
    .command("dump")
    .description("print a native trace, one line per instruction with disassembly and memory accesses")
    .argument("<trace>", "native trace (from expand)")
    .option("--from <n>", "first instruction count", parseIntArg("--from", 0))
    .option("--to <n>", "stop before this instruction count", parseIntArg("--to", 1))
    .option("--json", "one JSON object per line")
    .action(async (trace: string, opts) => {
      code = await dumpCommand(trace, opts);
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help")
        return 0;
      return EXIT.usage;
    }
    if (e instanceof UserError) {
      process.stderr.write(`retrace: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`retrace: internal error (please report): ${(e as Error).stack ?? e}\n`);
    return EXIT.internal;
  }
  return code;
}
