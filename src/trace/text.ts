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
import { type TraceAccess, type TraceInsn, type TraceRecord, visitChunk } from "./records.ts";

const HEX2: string[] = Array.from({ length: 256 }, (_, k) => k.toString(16).padStart(2, "0"));

/** `v` as `digits` (2, 4 or 8) lowercase hex digits. */
function h(v: number, digits: number): string {
  const lo = HEX2[(v >>> 8) & 0xff] + HEX2[v & 0xff];
  if (digits === 4) return lo;
  if (digits === 2) return HEX2[v & 0xff];
  return HEX2[v >>> 24] + HEX2[(v >>> 16) & 0xff] + lo;
}

function bytesHex(b: Uint8Array): string {
  let s = "";
  for (let k = 0; k < b.length; k++) s += HEX2[b[k]];
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

/** Disassembly of the last instruction seen at each linear address (loops repeat the same few). */
const disCache = new Map<number, { hex: string; code32: boolean; eip: number; text: string }>();

function disasmCached(r: TraceInsn, hex: string): string {
  const c = disCache.get(r.lin);
  if (c !== undefined && c.hex === hex && c.code32 === r.code32 && c.eip === r.eip) return c.text;
  const text = disassembleBytes(r.bytes, r.code32, r.eip).padEnd(34);
  if (disCache.size >= 1 << 16) disCache.clear();
  disCache.set(r.lin, { hex, code32: r.code32, eip: r.eip, text });
  return text;
}

/** One record as one line (no newline). */
export function formatRecord(r: TraceRecord): string {
  let s = String(r.icount).padStart(10);
  if (r.type === "interrupt") {
    s += ` INT ${h(r.vector, 2)} ${r.source}`;
    if (r.errorCode !== null) s += ` err=${h(r.errorCode, 4)}`;
    s += ` ret=${h(r.cs, 4)}:${h(r.eip, 8)}`;
  } else {
    const hex = bytesHex(r.bytes);
    s += ` ${h(r.cs, 4)}:${h(r.eip, 8)} ${modeTag(r)} ${hex.padEnd(30)} ${disasmCached(r, hex)}`;
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

  private parts: string[] = [];

  chunk(c: RawChunk): void {
    visitChunk(c.bytes, c.firstIcount, (r) => {
      this.parts.push(formatRecord(r));
      if (this.parts.length === 4096) this.flush();
    });
    this.flush();
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    this.lines += this.parts.length;
    this.out.write(Buffer.from(`${this.parts.join("\n")}\n`, "latin1"));
    this.parts.length = 0;
  }
}
