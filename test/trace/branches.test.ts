/**
 * Every kind of x86 control transfer, run on a bare CPU (flat 32-bit, ring 0)
 * with the recorder attached: the native branch records and the ChampSim
 * records must say what each instruction is. The demo guest has no indirect
 * calls; this program has all of them.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PortBus } from "../../src/bus/ports.ts";
import { BbvWriter } from "../../src/trace/bbv.ts";
import { ChampSimWriter } from "../../src/trace/champsim.ts";
import { decodeChunk, type TraceInsn } from "../../src/trace/records.ts";
import { type RawChunk, TraceRecorder } from "../../src/trace/recorder.ts";
import { tempDir } from "../cli/helpers.ts";
import { champsimKind, flatCpu, haveNasm, parseChampSim, x86Kind } from "./helpers.ts";

const ORG = 0x10000;
const PROGRAM = `
bits 32
org ${ORG}
start:
  xor eax, eax
  mov ecx, 3
again:
  inc eax
  loop again              ; conditional: taken, taken, not taken
  cmp eax, 3
  je equal                ; conditional, taken
  hlt
equal:
  jmp short near_target   ; direct jump
near_target:
  call func               ; direct call
  mov ebx, func
  call ebx                ; indirect call through a register
  call [fptr]             ; indirect call through memory, no register
  push dword func
  call [esp]              ; indirect call through memory addressed by ESP
  add esp, 4
  mov edx, after_reg
  jmp edx                 ; indirect jump through a register
after_reg:
  jmp [jptr]              ; indirect jump through memory
after_mem:
  mov esi, table
  mov edi, table + 16
  mov ecx, 4
  rep movsd               ; many accesses, one instruction
  jecxz done              ; conditional on ECX, taken
  hlt
done:
  hlt
func:
  ret                     ; return (x4)
align 4
fptr: dd func
jptr: dd after_mem
table: dd 1, 2, 3, 4, 0, 0, 0, 0
`;

function sinkOf(): { chunks: Uint8Array[]; write: (b: Uint8Array) => void; all: () => Uint8Array } {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    write: (b) => chunks.push(b.slice()),
    all: () => new Uint8Array(Buffer.concat(chunks)),
  };
}

describe.skipIf(!haveNasm())("branches on a bare CPU", () => {
  const dir = tempDir("branches");
  const src = join(dir, "branches.asm");
  const bin = join(dir, "branches.bin");
  writeFileSync(src, PROGRAM);
  const asm = spawnSync("nasm", ["-f", "bin", "-o", bin, src]);

  function run(): { insns: TraceInsn[]; champsim: Uint8Array; bbv: string } {
    expect(asm.status, asm.stderr?.toString()).toBe(0);
    const { cpu, mem } = flatCpu(bin, ORG);
    const raw: RawChunk[] = [];
    const cs = sinkOf();
    const bbvOut = sinkOf();
    const bbv = new BbvWriter(bbvOut, 10);
    const rec = new TraceRecorder(
      [{ chunk: (c) => raw.push({ ...c, bytes: c.bytes.slice() }) }, new ChampSimWriter(cs), bbv],
      { chunkBytes: 256 }, // tiny chunks: records must not depend on where chunks are cut
    );
    rec.attach({ cpu, ports: new PortBus(), mem });
    cpu.run(1000);
    rec.finish();
    bbv.finish();
    expect(cpu.halted).toBe(true);
    const insns = raw
      .flatMap((c) => decodeChunk(c.bytes, c.firstIcount))
      .filter((r): r is TraceInsn => r.type === "insn");
    expect(raw.length).toBeGreaterThan(3);
    return { insns, champsim: cs.all(), bbv: new TextDecoder().decode(bbvOut.all()) };
  }

  it("recorder_everyBranchKind_nativeKindAndOutcomeMatchTheProgram", () => {
    const { insns } = run();
    const branches = insns
      .filter((r) => r.branch !== null)
      .map((r) => `${r.branch!.kind}:${r.branch!.taken ? "T" : "N"}`);
    expect(branches).toEqual([
      "cond:T",
      "cond:T",
      "cond:N", // loop x3
      "cond:T", // je
      "jump:T",
      "call:T",
      "ret:T",
      "call-ind:T",
      "ret:T",
      "call-ind:T",
      "ret:T",
      "call-ind:T",
      "ret:T",
      "jump-ind:T",
      "jump-ind:T",
      "cond:T", // jecxz
    ]);
    // A taken branch's target is the next instruction; a not-taken one's is the encoded target.
    for (let k = 0; k + 1 < insns.length; k++) {
      const b = insns[k].branch;
      if (b?.taken) expect(b.target).toBe(insns[k + 1].lin);
      if (b && !b.taken) expect(insns[k + 1].lin).toBe(insns[k].lin + insns[k].bytes.length);
    }
    // REP MOVSD: 4 reads and 4 writes in one instruction.
    const movs = insns.find((r) => r.bytes[0] === 0xf3 && r.bytes[1] === 0xa5)!;
    expect(movs.mem.map((a) => a.kind)).toEqual(["read", "write", "read", "write", "read", "write", "read", "write"]);
    expect(movs.mem.filter((a) => a.kind === "write").map((a) => a.value)).toEqual([1, 2, 3, 4]);
  });

  it("champsim_everyBranchKind_classifiedByChampSimRulesAsTheX86Kind", () => {
    const { insns, champsim } = run();
    const cs = parseChampSim(champsim);
    expect(cs.length).toBe(insns.length);
    const kinds = cs.map((r) => champsimKind(r));
    expect(kinds).toEqual(insns.map((r) => x86Kind(r.bytes)));
    for (const k of [
      "BRANCH_CONDITIONAL",
      "BRANCH_DIRECT_JUMP",
      "BRANCH_INDIRECT",
      "BRANCH_DIRECT_CALL",
      "BRANCH_INDIRECT_CALL",
      "BRANCH_RETURN",
    ]) {
      expect(kinds).toContain(k);
    }
    cs.forEach((r, k) => {
      expect(r.ip).toBe(insns[k].lin);
      expect(r.isBranch).toBe(kinds[k] === "NOT_BRANCH" ? 0 : 1);
      if (kinds[k] === "BRANCH_CONDITIONAL") expect(r.taken).toBe(insns[k].branch!.taken ? 1 : 0);
    });
    // call [fptr] reads the pointer: a source memory operand at fptr; call pushes: a destination at ESP-4.
    const callMem = cs.find((_r, k) => insns[k].bytes[0] === 0xff && insns[k].bytes[1] === 0x15)!;
    expect(callMem.smem[0]).toBeGreaterThan(ORG);
    expect(callMem.dmem[0]).toBe(0x8000 - 4);
  });

  it("bbv_smallProgram_blocksSplitAtBranchesAndCountInstructions", () => {
    const { insns, bbv } = run();
    const lines = bbv.trim().split("\n");
    expect(lines.length).toBe(Math.ceil(insns.length / 10));
    const counts = new Map<number, number>();
    for (const l of lines) {
      for (const p of l.slice(1).split(" ")) {
        const [, id, c] = p.split(":").map(Number);
        counts.set(id, (counts.get(id) ?? 0) + c);
      }
    }
    // Ids in order of first execution: the entry falls through into the loop (xor, mov, inc, loop);
    // the loop re-entered at `again` is another block (inc, loop, twice); then cmp+je; jmp; call; func's RET x4.
    expect([1, 2, 3, 4, 5, 6].map((id) => counts.get(id))).toEqual([4, 4, 2, 1, 1, 4]);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(insns.length);
  });
});
