/** Running bin/retrace as a user would, for CLI tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = join(ROOT, "bin", "retrace");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `retrace-${prefix}-`));
}

/** Start bin/retrace; `feed` may write to stdin over time (it must end stdin). */
export function startCli(
  args: string[],
  opts: { cwd?: string } = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString("latin1");
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString("latin1");
  });
  const done = new Promise<CliResult>((res) => {
    child.on("close", (code, signal) => res({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export async function cli(args: string[], input = ""): Promise<CliResult> {
  const { child, done } = startCli(args);
  child.stdin?.end(input);
  return done;
}
