/**
 * Implied branch outcomes (trace format version 4): a direct near branch
 * (Jcc, LOOP, JCXZ, JMP rel, CALL rel) that went where its bytes say gets no
 * BRANCH record; the reader infers it from the INSN record. Every consumer
 * must read such a trace exactly as the same trace with every BRANCH record
 * written. The program has each direct form in 32- and 16-bit code, with
 * operand-size and hint prefixes, and the forms that keep their record
 * (RET, far JMP, INT n, IRET).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodedRel, IMPLIED_BRANCH_SLOT, impliedTarget, Rec, recordSize } from "../../src/trace/format.ts";
import { decodeChunk, type TraceInsn } from "../../src/trace/records.ts";
import { tempDir } from "../cli/helpers.ts";
import { flatCpu, haveNasm, type RecordedRun, recordAll } from "./helpers.ts";

// Below 64 KiB, so that a 16-bit operand size's wrap leaves the target where it is.
const ORG = 0x1000;
const PROGRAM = `
bits 32
org ${ORG}
  lgdt [gdtr]
  lidt [idtr]
  mov ecx, 4
top:
  xor eax, eax
  cmp ecx, 2
  jz short s1             ; rel8: taken once, not taken three times
  nop
s1:
  test ecx, 1
  jnz near s2             ; rel32
  inc eax
s2:
  ds jz s3                ; a hinted (prefixed) Jcc
  nop
s3:
  o16 jnz s4              ; 16-bit operand size in 32-bit code
  nop
s4:
  call sub1               ; CALL rel32; its RET keeps a BRANCH record
  jecxz out
  jmp short j1
  nop
j1:
  jmp near j2
  nop
j2:
  int 0x20                ; INT n and IRET keep BRANCH records
  loop top
out:
  jmp 0x18:code16 - ${ORG} ; far jump: keeps its BRANCH record
bits 16
code16:
  mov cx, 3
t16:
  cmp cx, 2
  je t16a                 ; rel8 in 16-bit code
  nop
t16a:
  jne near t16b           ; rel16
  nop
t16b:
  db 0x66, 0x0f, 0x85     ; JNZ rel32 with a 32-bit operand size in 16-bit code
  dd t16c - ($ + 4)
  nop
t16c:
  call word sub16
  loop t16
  jmp dword 0x08:back32
sub16:
  ret
bits 32
back32:
  hlt
sub1:
  ret
handler:
  iret
align 8
gdt:
  dq 0
  dq 0x00CF9A000000FFFF   ; 0x08: flat 32-bit code
  dq 0x00CF92000000FFFF   ; 0x10: flat data
  dq 0x008F9A001000FFFF   ; 0x18: 16-bit code, base ${ORG} (targets' linear addresses differ from EIP)
gdtr:
  dw 31
  dd gdt
idt:
  times 0x20 dq 0
  dw handler
  dw 0x08
  db 0, 0x8E
  dw 0
idtr:
  dw 0x21 * 8 - 1
  dd idt
`;

interface Output extends RecordedRun {
  implied: number;
}

/** BRANCH records in a raw chunk (walking records by size). */
function branchRecords(bytes: Uint8Array): number {
  let n = 0;
  for (let p = 0; p < bytes.length; p += recordSize(bytes[p])) if (bytes[p] === Rec.Branch) n++;
  return n;
}

describe("encodedRel", () => {
  const rel = (bytes: number[], code32: boolean) => encodedRel(Uint8Array.from(bytes), bytes.length, code32);
  it("readsEachDirectForm_andNothingElse", () => {
    expect(rel([0x74, 0xfe], true)).toEqual({ rel: -2, o32: true });
    expect(rel([0x3e, 0x66, 0x75, 0x10], true)).toEqual({ rel: 16, o32: false });
    expect(rel([0x0f, 0x84, 0x00, 0x80], false)).toEqual({ rel: -32768, o32: false });
    expect(rel([0x66, 0x0f, 0x84, 1, 0, 0, 0x80], false)).toEqual({ rel: 0x80000001 | 0, o32: true });
    expect(rel([0xe8, 0xfb, 0xff, 0xff, 0xff], true)).toEqual({ rel: -5, o32: true });
    expect(rel([0xe9, 0x34, 0x12], false)).toEqual({ rel: 0x1234, o32: false });
    expect(rel([0x67, 0xe3, 0x02], true)).toEqual({ rel: 2, o32: true });
    expect(rel([0xea, 0, 0, 0, 0, 8, 0], true)).toBeNull(); // far
    expect(rel([0xff, 0xd0], true)).toBeNull(); // CALL EAX
    expect(rel([0xc3], true)).toBeNull();
    expect(rel([0x74], true)).toBeNull(); // truncated
    expect(rel([0xe8, 1, 0], true)).toBeNull(); // rel16 bytes for a 32-bit operand size
  });
  it("impliedTarget_wrapsAt64KiB_forTheCodeAndTheOperandSize", () => {
    expect(impliedTarget(Uint8Array.from([0xeb, 0x10]), 2, 0xfff8, false)).toBe(0x000a);
    expect(impliedTarget(Uint8Array.from([0xeb, 0x10]), 2, 0xfff8, true)).toBe(0x1000a);
    expect(impliedTarget(Uint8Array.from([0x66, 0xeb, 0x10]), 3, 0xfff8, true)).toBe(0x000b);
    expect(impliedTarget(Uint8Array.from([0xeb, 0xf0]), 2, 0x2, true)).toBe(0xfffffff4);
  });
});

describe.skipIf(!haveNasm())("implied branch outcomes", () => {
  const dir = tempDir("implied");
  const src = join(dir, "implied.asm");
  const bin = join(dir, "implied.bin");
  writeFileSync(src, PROGRAM);
  const asm = spawnSync("nasm", ["-f", "bin", "-o", bin, src]);

  function run(implied: boolean): Output {
    expect(asm.status, asm.stderr?.toString()).toBe(0);
    const { cpu, mem } = flatCpu(bin, ORG);
    const out = recordAll(cpu, mem, { implied });
    expect(cpu.halted).toBe(true);
    return { ...out, implied: out.recorder.counts[IMPLIED_BRANCH_SLOT] };
  }

  it("impliedBranches_everyDirectForm_decodeExactlyAsWrittenRecords", () => {
    const on = run(true);
    const off = run(false);
    const decOn = on.raw.flatMap((c) => decodeChunk(c.bytes, c.firstIcount));
    const decOff = off.raw.flatMap((c) => decodeChunk(c.bytes, c.firstIcount));
    expect(decOn).toEqual(decOff);
    expect(Buffer.compare(on.champsim, off.champsim)).toBe(0);
    expect(on.bbv).toBe(off.bbv);

    const insns = decOn.filter((r): r is TraceInsn => r.type === "insn");
    const branches = insns.filter((r) => r.branch !== null);
    const far = (r: TraceInsn): boolean => encodedRel(r.bytes, r.bytes.length, r.code32) === null;
    const kept = branches.filter((r) => !["cond", "jump", "call"].includes(r.branch!.kind) || far(r));
    const direct = branches.length - kept.length;
    // 4 x (Jcc x4, CALL, JECXZ, JMP x2, LOOP) and 3 x (Jcc x3, CALL, LOOP).
    expect(direct).toBe(4 * 9 + 3 * 5);
    expect(on.implied).toBe(direct);
    expect(off.implied).toBe(0);
    const records = (o: Output): number => o.raw.reduce((s, c) => s + branchRecords(c.bytes), 0);
    expect(records(off)).toBe(branches.length);
    expect(records(on)).toBe(kept.length); // RET, INT, IRET and the far JMPs
    expect(kept.length).toBe(4 * 3 + 3 + 2);

    // Each taken branch's target is where the next instruction ran (the interrupt handler aside).
    for (let k = 0; k + 1 < insns.length; k++) {
      const b = insns[k].branch;
      if (b === null || b.kind === "other") continue;
      if (b.taken) expect(insns[k + 1].eip, `branch at ${insns[k].eip.toString(16)}`).toBe(b.targetEip);
      else expect(insns[k + 1].eip).toBe(insns[k].eip + insns[k].bytes.length);
    }
    // Both sizes in both kinds of code were seen, taken and not.
    const code16 = branches.filter((r) => !r.code32 && r.branch!.kind === "cond");
    expect(code16.some((r) => r.branch!.taken) && code16.some((r) => !r.branch!.taken)).toBe(true);
    const o16 = branches.filter((r) => r.code32 && r.bytes[0] === 0x66);
    expect(o16.length).toBe(4);
    const based = code16.filter((r) => r.branch!.taken);
    expect(based.every((r) => r.branch!.target === r.branch!.targetEip + ORG)).toBe(true);
  });
});
