/**
 * The text form of a trace: one line per record (instruction, faulted
 * instruction, interrupt), fixed columns, hex without 0x, so two traces
 * diff line by line. `expand --format text` and `dump` print exactly this.
 *
 *   icount     cs:eip        mode bytes                          disassembly                       accesses... branch
 *       1234 0008:c0101234 P0 8b4508                         mov eax, dword [ebp+0x8]           R4 c7f2bff8/07f2bff8=0000002a
 */
import { disassembleBytes } from "../isa/disasm.ts";
import type { ByteSink } from "./native.ts";
import type { ChunkSink, RawChunk } from "./recorder.ts";
import { decodeChunk, type TraceAccess, type TraceInsn, type TraceRecord } from "./records.ts";

const h = (v: number, digits: number): string => (v >>> 0).toString(16).padStart(digits, "0");

function bytesHex(b: Uint8Array): string {
  let s = "";
  for (let k = 0; k < b.length; k++) s += (b[k] < 16 ? "0" : "") + b[k].toString(16);
  return s;
}

/** r0 real mode, v3 virtual-8086, p<cpl> 16-bit protected, P<cpl> 32-bit protected. */
function modeTag(r: TraceInsn): string {
  if (!r.protectedMode) return `r${r.cpl}`;
  if (r.v86) return `v${r.cpl}`;
  return `${r.code32 ? "P" : "p"}${r.cpl}`;
}

function access(a: TraceAccess): string {
  const tag = a.kind === "read" ? "R" : a.kind === "write" ? "W" : "A";
  const lin = a.lin === null ? "-" : h(a.lin, 8);
  const phys = a.phys2 === null ? h(a.phys, 8) : `${h(a.phys, 8)}+${h(a.phys2, 8)}`;
  return ` ${tag}${a.size} ${lin}/${phys}=${h(a.value, a.size * 2)}`;
}

/** One record as one line (no newline). */
export function formatRecord(r: TraceRecord): string {
  let s = String(r.icount).padStart(10);
  if (r.type === "interrupt") {
    s += ` INT ${h(r.vector, 2)} ${r.source}`;
    if (r.errorCode !== null) s += ` err=${h(r.errorCode, 4)}`;
    s += ` ret=${h(r.cs, 4)}:${h(r.eip, 8)}`;
  } else {
    s += ` ${h(r.cs, 4)}:${h(r.eip, 8)} ${modeTag(r)} ${bytesHex(r.bytes).padEnd(30)} `;
    s += disassembleBytes(r.bytes, r.code32, r.eip).padEnd(34);
    if (r.type === "fault") s += " FAULT";
  }
  for (let k = 0; k < r.mem.length; k++) s += access(r.mem[k]);
  if (r.type !== "interrupt") {
    for (let k = 0; k < r.io.length; k++) {
      const p = r.io[k];
      s += ` ${p.dir === "in" ? "IN" : "OUT"}${p.size} ${h(p.port, 4)}=${h(p.value, p.size * 2)}`;
    }
    const b = r.branch;
    if (b !== null) {
      s += ` ${b.taken ? "taken" : "not-taken"} ${h(b.target, 8)}`;
      if (b.targetCs !== r.cs) s += ` cs=${h(b.targetCs, 4)}`;
    }
  }
  return s.trimEnd();
}

/** `expand --format text`: decodes each chunk and writes its lines. */
export class TextTraceWriter implements ChunkSink {
  lines = 0;
  constructor(private readonly out: ByteSink) {}

  chunk(c: RawChunk): void {
    const recs = decodeChunk(c.bytes, c.firstIcount);
    const parts: string[] = new Array(recs.length);
    for (let k = 0; k < recs.length; k++) parts[k] = formatRecord(recs[k]);
    this.lines += recs.length;
    if (parts.length > 0) this.out.write(Buffer.from(`${parts.join("\n")}\n`, "latin1"));
  }
}
