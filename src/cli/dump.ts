/** `retrace dump trace.bin`: the trace as text, one line per record (src/trace/text.ts), or JSON lines. */
import { once } from "node:events";
import { UserError } from "../host/files.ts";
import { TraceFormatError, type TraceRecord, visitChunk } from "../trace/records.ts";
import { formatRecord } from "../trace/text.ts";
import { openTraceForCli } from "./trace-info.ts";

export interface DumpCliOptions {
  from?: number;
  to?: number;
  json?: boolean;
}

function toJson(r: TraceRecord): string {
  if (r.type === "interrupt") return JSON.stringify(r);
  return JSON.stringify({ ...r, bytes: Buffer.from(r.bytes).toString("hex") });
}

export async function dumpCommand(path: string, opts: DumpCliOptions): Promise<number> {
  const from = opts.from ?? 0;
  const to = opts.to ?? Number.POSITIVE_INFINITY;
  if (to <= from) throw new UserError(`--to (${opts.to}) must be greater than --from (${from})`);
  const t = await openTraceForCli(path);
  let closed = false;
  process.stdout.on("error", () => {
    closed = true; // EPIPE: the reader went away (`| head`); stop quietly
  });
  const format = opts.json ? toJson : formatRecord;
  const lines: string[] = [];
  const texts: string[] = [];
  const collect = (r: TraceRecord): void => {
    lines.push(format(r));
    if (lines.length === 4096) {
      texts.push(`${lines.join("\n")}\n`);
      lines.length = 0;
    }
  };
  try {
    const n = t.chunks.length;
    for (let k = 0; k < n && t.chunks[k].firstIcount < to && !closed; k++) {
      if (k + 1 < n && t.chunks[k + 1].firstIcount <= from) continue; // wholly before the window
      visitChunk(await t.chunkPayload(k), t.chunks[k].firstIcount, collect, from, to, `${path}: chunk ${k}`);
      if (lines.length > 0) texts.push(`${lines.join("\n")}\n`);
      lines.length = 0;
      for (const s of texts) {
        if (closed || process.stdout.write(s)) continue;
        try {
          await once(process.stdout, "drain");
        } catch {
          closed = true;
        }
      }
      texts.length = 0;
    }
  } catch (e) {
    if (e instanceof TraceFormatError) throw new UserError(e.message, 7);
    throw e;
  } finally {
    await t.close();
  }
  return 0;
}
