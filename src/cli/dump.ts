/** `retrace dump trace.bin`: the trace as text, one line per record (src/trace/text.ts), or JSON lines. */
import { once } from "node:events";
import { UserError } from "../host/files.ts";
import { TraceFormatError, type TraceRecord } from "../trace/records.ts";
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
  const onError = (): void => {
    closed = true; // EPIPE: the reader went away (`| head`); stop quietly
  };
  process.stdout.on("error", onError);
  try {
    let batch = "";
    for await (const r of t.records(from, to)) {
      batch += `${opts.json ? toJson(r) : formatRecord(r)}\n`;
      if (batch.length >= 1 << 20) {
        if (closed) break;
        if (!process.stdout.write(batch)) {
          try {
            await once(process.stdout, "drain");
          } catch {
            closed = true;
          }
        }
        batch = "";
      }
    }
    if (!closed && batch !== "") process.stdout.write(batch);
  } catch (e) {
    if (e instanceof TraceFormatError) throw new UserError(e.message, 7);
    throw e;
  } finally {
    await t.close();
  }
  return 0;
}
