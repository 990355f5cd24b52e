/** `retrace info FILE`: what a capture log holds (trace files: see the expansion issue). */
import { statSync } from "node:fs";
import { EVENT_KINDS } from "../log/index.ts";
import { loadLog } from "./replay.ts";
import { isTraceFile, traceInfoCommand } from "./trace-info.ts";

export async function infoCommand(path: string, opts: { json?: boolean }): Promise<number> {
  if (isTraceFile(path)) return traceInfoCommand(path, opts);
  const log = loadLog(path);
  const logBytes = statSync(path).size;
  const instructions = log.trailer?.instructions ?? log.events[log.events.length - 1]?.icount ?? 0;
  const counts: Record<string, number> = {};
  for (const k of EVENT_KINDS) counts[k] = 0;
  for (const e of log.events) counts[e.kind]++;
  const perK = instructions > 0 ? (logBytes * 1000) / instructions : 0;
  const info = {
    file: path,
    formatVersion: log.header.formatVersion,
    retraceVersion: log.header.retraceVersion,
    complete: log.complete,
    clock: log.header.clock,
    startTime: new Date(log.header.startEpochMs).toISOString(),
    machine: log.header.machine,
    disk: log.header.disk,
    checkpointInterval: log.header.checkpointInterval,
    instructions,
    logBytes,
    bytesPerKiloInstruction: perK,
    events: counts,
    chunks: log.chunks.length,
    durationSeconds: log.trailer !== null ? log.trailer.durationMs / 1000 : null,
    endReason: log.trailer?.endReason ?? null,
    serialBytes: log.trailer?.serial.bytes ?? null,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `${path}: retrace capture log, format ${info.formatVersion} (written by retrace ${info.retraceVersion})${info.complete ? "" : ", INCOMPLETE (capture was killed)"}`,
    `  machine       ${info.machine.cpu}, ${info.machine.ramBytes / 1048576} MiB RAM, firmware ${info.machine.firmwareSha256.slice(0, 16)}...`,
    `  disk          ${info.disk === null ? "none" : `${info.disk.bytes.toLocaleString("en-US")} bytes, sha256 ${info.disk.sha256.slice(0, 16)}...`}`,
    `  clock         ${info.clock}, started ${info.startTime}`,
    `  instructions  ${instructions.toLocaleString("en-US")}`,
    `  log           ${logBytes.toLocaleString("en-US")} bytes in ${info.chunks} chunks, ${perK.toFixed(4)} bytes per thousand instructions`,
    `  events        ${EVENT_KINDS.map((k) => `${k} ${counts[k]}`).join(", ")}`,
    `  checkpoints   every ${info.checkpointInterval.toLocaleString("en-US")} instructions`,
    `  duration      ${info.durationSeconds === null ? "unknown" : `${info.durationSeconds.toFixed(2)} s`}`,
    `  end           ${info.endReason ?? "unknown (no trailer)"}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}
