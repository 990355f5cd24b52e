/**
 * Host file access with one-line errors that name the file (DEVELOPERS: bad
 * input never gets a stack trace).
 */
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** An error the CLI prints as one line, exiting with `exitCode`. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export function readInput(path: string, what: string): Uint8Array {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new UserError(`${path}: cannot read ${what}: no such file`);
  }
  if (st.isDirectory()) throw new UserError(`${path}: cannot read ${what}: is a directory`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UserError(`${path}: cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? "I/O error"}`);
  }
}

/** Write a whole file atomically (temp file + rename), so a reader never sees half of it. */
export function writeOutputAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    throw new UserError(`${path}: cannot write: ${(e as NodeJS.ErrnoException).code ?? "I/O error"}`);
  }
}

/** The repository root (for bundled firmware and the demo disk). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DEFAULT_BIOS = resolve(PROJECT_ROOT, "src/firmware/bios.bin");
export const DEMO_DISK = resolve(PROJECT_ROOT, "fixtures/demo/demo.img");
