/** `retrace info trace.bin`: what a native trace holds (counts, sizes, bytes per instruction). */
import { closeSync, openSync, readSync } from "node:fs";
import { UserError } from "../host/files.ts";
import { isTraceMagic, openTrace, type TraceFile } from "../trace/reader.ts";
import { TraceFormatError } from "../trace/records.ts";

/** True when `path` is a readable file starting with the native trace magic. */
export function isTraceFile(path: string): boolean {
  let fd = -1;
  try {
    fd = openSync(path, "r");
    const b = new Uint8Array(8);
    return readSync(fd, b, 0, 8, 0) === 8 && isTraceMagic(b);
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** openTrace with its errors as one-line UserErrors (exit code 7, like a bad log). */
export async function openTraceForCli(path: string): Promise<TraceFile> {
  try {
    return await openTrace(path);
  } catch (e) {
    if (e instanceof TraceFormatError) throw new UserError(e.message, 7);
    throw e;
  }
}

export async function traceInfoCommand(path: string, opts: { json?: boolean }): Promise<number> {
  const t = await openTraceForCli(path);
  await t.close();
  const tr = t.trailer;
  const info = {
    file: path,
    kind: "trace",
    formatVersion: t.header.version,
    retraceVersion: t.header.retraceVersion,
    codec: t.header.codec,
    source: t.header.source,
    window: t.header.window,
    only: t.header.only,
    instructions: tr.instructions,
    records: tr.records,
    counts: tr.counts,
    firstIcount: tr.firstIcount,
    endIcount: tr.endIcount,
    chunks: t.chunks.length,
    bytes: t.fileBytes,
    rawBytes: tr.rawBytes,
    bytesPerInstruction: tr.instructions > 0 ? t.fileBytes / tr.instructions : 0,
    compressionRatio: t.fileBytes > 0 ? tr.rawBytes / t.fileBytes : 0,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const n = (v: number): string => v.toLocaleString("en-US");
  const win = `${n(info.window.from)} .. ${info.window.to === null ? "end" : n(info.window.to)}`;
  // REF records are instructions too (counted under insn/fault), and implied branch outcomes are
  // counted under branch: each shown as a share of those.
  const refs = info.counts.ref ?? 0;
  const implied = info.counts["implied-branch"] ?? 0;
  const shares = [
    refs > 0 ? `${n(refs)} of the insn and fault records as 4-byte REFs` : "",
    implied > 0 ? `${n(implied)} branch outcomes implied by their instructions` : "",
  ].filter((x) => x !== "");
  const kinds = Object.entries(info.counts)
    .filter(([k, v]) => v > 0 && k !== "ref" && k !== "implied-branch")
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(", ");
  const lines = [
    `${path}: retrace trace, format ${info.formatVersion} (written by retrace ${info.retraceVersion}), ${info.codec} chunks`,
    `  source        ${info.source.log} (${n(info.source.logInstructions)} instructions, sha256 ${info.source.logSha256.slice(0, 16)}...)`,
    `  window        ${win}, ${info.only === "all" ? "all privilege levels" : `${info.only} only`}`,
    `  instructions  ${n(info.instructions)}${info.firstIcount === null ? "" : ` (icount ${n(info.firstIcount)} .. ${n((info.endIcount ?? 1) - 1)})`}`,
    `  records       ${n(info.records)}: ${kinds}${shares.length > 0 ? ` (${shares.join("; ")})` : ""}`,
    `  bytes         ${n(info.bytes)} in ${info.chunks} chunks, ${info.bytesPerInstruction.toFixed(2)} bytes per instruction (raw ${n(info.rawBytes)}, ${info.compressionRatio.toFixed(1)}x)`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
