/** The disassembler used by `dump` and the text format: one row per operand form, checked against nasm syntax. */
import { describe, expect, it } from "vitest";
import { disassembleBytes } from "../../src/isa/disasm.ts";

const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .replace(/ /g, "")
      .match(/../g)!
      .map((x) => Number.parseInt(x, 16)),
  );

const cases: { bytes: string; code32: boolean; eip?: number; text: string }[] = [
  { bytes: "8b 45 08", code32: true, text: "mov eax, dword [ebp+0x8]" },
  { bytes: "89 44 24 fc", code32: true, text: "mov dword [esp-0x4], eax" },
  { bytes: "01 d8", code32: true, text: "add eax, ebx" },
  { bytes: "83 ec 08", code32: true, text: "sub esp, 0x8" },
  { bytes: "6b c0 f8", code32: true, text: "imul eax, eax, 0xfffffff8" },
  { bytes: "8d 04 8d 00 10 00 00", code32: true, text: "lea eax, [ecx*4+0x1000]" },
  { bytes: "a1 78 56 34 12", code32: true, text: "mov eax, dword [0x12345678]" },
  { bytes: "e8 fb ff ff ff", code32: true, eip: 0x1000, text: "call 0x1000" },
  { bytes: "74 05", code32: true, eip: 0x1000, text: "je 0x1007" },
  { bytes: "0f 84 00 01 00 00", code32: true, eip: 0x1000, text: "je 0x1106" },
  { bytes: "e2 fe", code32: false, eip: 0xfffe, text: "loop 0xfffe" },
  { bytes: "ff 24 85 40 00 c0 00", code32: true, text: "jmp dword [eax*4+0xc00040]" },
  { bytes: "ff 15 00 20 00 00", code32: true, text: "call dword [0x2000]" },
  { bytes: "ea 00 10 00 00 08 00", code32: true, text: "jmp 0x8:0x1000" },
  { bytes: "cd 80", code32: true, text: "int 0x80" },
  { bytes: "f3 a5", code32: true, text: "rep movsd" },
  { bytes: "66 f3 ab", code32: true, text: "rep stosw" },
  { bytes: "f3 a6", code32: true, text: "repe cmpsb" },
  { bytes: "f2 ae", code32: true, text: "repne scasb" },
  { bytes: "f0 0f b1 0a", code32: true, text: "lock cmpxchg dword [edx], ecx" },
  { bytes: "26 8b 07", code32: false, text: "mov ax, word [es:bx]" },
  { bytes: "8e d8", code32: false, text: "mov ds, ax" },
  { bytes: "0f 20 c0", code32: true, text: "mov eax, cr0" },
  { bytes: "c1 e0 04", code32: true, text: "shl eax, 0x4" },
  { bytes: "d3 e8", code32: true, text: "shr eax, cl" },
  { bytes: "d1 f8", code32: true, text: "sar eax, 1" },
  { bytes: "c8 10 00 01", code32: true, text: "enter 0x10, 0x1" },
  { bytes: "e4 60", code32: true, text: "in al, 0x60" },
  { bytes: "66 ed", code32: true, text: "in ax, dx" },
  { bytes: "ee", code32: false, text: "out dx, al" },
  { bytes: "98", code32: true, text: "cwde" },
  { bytes: "66 99", code32: true, text: "cwd" },
  { bytes: "60", code32: true, text: "pushad" },
  { bytes: "cf", code32: false, text: "iret" },
  { bytes: "0f b6 c1", code32: true, text: "movzx eax, cl" },
  { bytes: "0f be 06", code32: true, text: "movsx eax, byte [esi]" },
  { bytes: "b4 0e", code32: false, text: "mov ah, 0xe" },
  { bytes: "0f c7 0e", code32: true, text: "cmpxchg8b qword [esi]" },
  { bytes: "8b 46 fe", code32: false, text: "mov ax, word [bp-0x2]" },
  { bytes: "d9 45 08", code32: true, text: "fpu d9/0 [ebp+0x8]" },
  { bytes: "0f 0b", code32: true, text: "ud2" },
  { bytes: "0f ff", code32: true, text: "(bad)" },
];

describe("disassembleBytes", () => {
  it.each(cases)("disasm_$bytes_is_$text", ({ bytes, code32, eip, text }) => {
    expect(disassembleBytes(hex(bytes), code32, eip ?? 0)).toBe(text);
  });
});
