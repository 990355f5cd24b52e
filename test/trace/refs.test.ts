/**
 * REF records (trace format version 2): an instruction whose INSN record is
 * already in the chunk is written as a 4-byte reference. Every consumer must
 * read a trace with REFs exactly as the same trace written without them:
 * the decoder, ChampSim, BBV. The program loops over a faulting DIV (#DE,
 * the handler steps over it), a LOOP that is taken and then not, and a
 * handler whose instructions repeat, so REFs carry both the fault and the
 * taken bit.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Reg } from "../../src/cpu/cpu.ts";
import { Rec, RefBit, recordSize } from "../../src/trace/format.ts";
import { decodeChunk, TraceFormatError } from "../../src/trace/records.ts";
import { tempDir } from "../cli/helpers.ts";
import { flatCpu, haveNasm, type RecordedRun, recordAll } from "./helpers.ts";

const ORG = 0x10000;
const LOOPS = 6;
const PROGRAM = `
bits 32
org ${ORG}
  lgdt [gdtr]
  lidt [idtr]
  xor esi, esi
  mov ecx, ${LOOPS}
again:
  xor edx, edx
  mov eax, 7
  xor ebx, ebx
  div ebx                 ; #DE every time: a FAULT, then REFs with the fault bit
  mov [0x20000 + ecx * 4], eax ; data on another page than the code (a write to code re-decodes it)
  loop again              ; taken ${LOOPS - 1} times, then not
  hlt
handler:
  add dword [esp], 2      ; step over the DIV
  inc esi
  iret
align 8
gdt:
  dq 0
  dq 0x00CF9A000000FFFF   ; 0x08: flat code
  dq 0x00CF92000000FFFF   ; 0x10: flat data
gdtr:
  dw 23
  dd gdt
idt:
  dw (handler - $$ + ${ORG}) & 0xFFFF
  dw 0x08
  db 0, 0x8E
  dw (handler - $$ + ${ORG}) >> 16
idtr:
  dw 7
  dd idt
`;

describe.skipIf(!haveNasm())("REF records", () => {
  const dir = tempDir("refs");
  const src = join(dir, "refs.asm");
  const bin = join(dir, "refs.bin");
  writeFileSync(src, PROGRAM);
  const asm = spawnSync("nasm", ["-f", "bin", "-o", bin, src]);

  function run(refs: boolean, short = true): RecordedRun {
    expect(asm.status, asm.stderr?.toString()).toBe(0);
    const { cpu, mem } = flatCpu(bin, ORG);
    const out = recordAll(cpu, mem, { refs, short });
    expect(cpu.halted).toBe(true);
    expect(cpu.regs[Reg.ESI]).toBe(LOOPS); // the handler ran once per DIV
    return out;
  }

  /** The REF words of a raw chunk (walking records by size). */
  function refWords(bytes: Uint8Array): number[] {
    const u = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
    const out: number[] = [];
    for (let p = 0; p < bytes.length; ) {
      const k = bytes[p];
      if (k === Rec.Ref) out.push(u[p >> 2]);
      p += recordSize(k);
    }
    return out;
  }

  /** How many READ/WRITE records of a raw chunk are short (no physical address). */
  function shortAccesses(bytes: Uint8Array): number {
    let n = 0;
    for (let p = 0; p < bytes.length; p += recordSize(bytes[p]))
      if (bytes[p] === Rec.ReadShort || bytes[p] === Rec.WriteShort) n++;
    return n;
  }

  it("shortAccesses_loopWithFaultsAndInterrupts_decodeExactlyAsFullRecords", () => {
    const on = run(true, true);
    const off = run(true, false);
    const decOn = on.raw.flatMap((c) => decodeChunk(c.bytes, c.firstIcount));
    const decOff = off.raw.flatMap((c) => decodeChunk(c.bytes, c.firstIcount));
    expect(decOn).toEqual(decOff);
    const accesses = decOff.flatMap((r) => (r.type === "insn" || r.type === "fault" ? r.mem : [])).length;
    const shorts = on.raw.reduce((s, c) => s + shortAccesses(c.bytes), 0);
    expect(shorts).toBeGreaterThan(accesses / 2); // the loop's stack and data pages repeat
    expect(off.raw.reduce((s, c) => s + shortAccesses(c.bytes), 0)).toBe(0);
    expect(Buffer.compare(on.champsim, off.champsim)).toBe(0);
    expect(on.bbv).toBe(off.bbv);
  });

  it("refs_loopWithFaultsAndBranches_decodeExactlyAsFullRecords", () => {
    const on = run(true);
    const off = run(false);
    const decOn = on.raw.flatMap((c) => decodeChunk(c.bytes, c.firstIcount));
    const decOff = off.raw.flatMap((c) => decodeChunk(c.bytes, c.firstIcount));
    expect(decOn).toEqual(decOff);
    const faults = decOn.filter((r) => r.type === "fault");
    expect(faults.length).toBe(LOOPS);
    const loops = decOn.filter((r) => r.type === "insn" && r.branch?.kind === "cond");
    expect(loops.map((r) => (r.type === "insn" && r.branch?.taken ? 1 : 0))).toEqual([1, 1, 1, 1, 1, 0]);

    // The repeats really were written as REFs, with both bits in use, and nothing as REF without refs.
    const words = on.raw.flatMap((c) => refWords(c.bytes));
    expect(words.length).toBeGreaterThan(LOOPS * 6);
    // The first two DIVs are full records: the first pass runs the block that starts at LGDT, the
    // second the one that starts at `again` (other Insn objects); every later DIV is a REF.
    expect(words.filter((w) => (w & RefBit.Fault) !== 0).length).toBe(LOOPS - 2);
    expect(words.filter((w) => (w & RefBit.Taken) !== 0).length).toBeGreaterThanOrEqual(LOOPS - 2);
    expect(off.raw.flatMap((c) => refWords(c.bytes)).length).toBe(0);
    const size = (o: RecordedRun): number => o.raw.reduce((s, c) => s + c.bytes.length, 0);
    expect(size(on)).toBeLessThan(size(off));

    expect(Buffer.compare(on.champsim, off.champsim)).toBe(0);
    expect(on.champsim.length).toBeGreaterThan(0);
    expect(on.bbv).toBe(off.bbv);
    expect(on.bbv.split("\n").length).toBeGreaterThan(5);
  });

  it("refs_toARecordNotInTheChunk_isAFormatError", () => {
    const { raw } = run(true);
    const bytes = raw[0].bytes.slice();
    const u = new Uint32Array(bytes.buffer);
    let p = 0;
    while (p < bytes.length && bytes[p] !== Rec.Ref) p += recordSize(bytes[p]);
    expect(p).toBeLessThan(bytes.length);
    u[p >> 2] = Rec.Ref | (5000 << RefBit.IndexShift);
    expect(() => decodeChunk(bytes, raw[0].firstIcount, 0, Infinity, "t.bin chunk 0")).toThrow(TraceFormatError);
    expect(() => decodeChunk(bytes, raw[0].firstIcount, 0, Infinity, "t.bin chunk 0")).toThrow(
      /REF to a missing INSN record/,
    );
  });

  it("shortAccess_toAPageTheChunkNeverMapped_isAFormatError", () => {
    const { raw } = run(true);
    const bytes = raw[0].bytes.slice();
    const u = new Uint32Array(bytes.buffer);
    let p = 0;
    while (p < bytes.length && bytes[p] !== Rec.ReadShort && bytes[p] !== Rec.WriteShort) p += recordSize(bytes[p]);
    expect(p).toBeLessThan(bytes.length);
    u[(p >> 2) + 1] ^= 0x40000000; // a linear page no full record of the chunk mapped
    expect(() => decodeChunk(bytes, raw[0].firstIcount, 0, Infinity, "t.bin chunk 0")).toThrow(
      /t.bin chunk 0: short access to an unmapped page at byte/,
    );
  });
});
