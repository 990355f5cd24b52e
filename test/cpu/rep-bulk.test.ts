/**
 * REP MOVS/STOS in bulk (src/cpu/exec.ts repBulk) against the element-by-element loop, which the
 * CPU takes whenever a trace hook is attached. Paging maps two adjacent linear pages to physical
 * pages far apart and leaves a third unmapped, so a bulk run that went past a page's end, copied
 * overlapping data like memmove, or lost the progress made before a page fault would differ.
 */
import { describe, expect, it } from "vitest";
import { PortBus } from "../../src/bus/ports.ts";
import { Cpu, Reg } from "../../src/cpu/cpu.ts";
import type { CpuTracer } from "../../src/cpu/trace-hook.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";

const CODE = 0x10000;
/** Linear 0x40000 -> physical 0x50000, 0x41000 -> 0x70000, 0x42000 not present. */
const LIN = 0x40000;
const PD = 0x200000;
const PT = 0x201000;

const NO_HOOK: CpuTracer = { begin() {}, beginNext() {}, mem() {}, retire() {}, interrupt() {} };

const movImm = (op: number, v: number): number[] => [op, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const EAX = 0xb8;
const ECX = 0xb9;
const ESI = 0xbe;
const EDI = 0xbf;

function machine(code: number[], traced: boolean): Cpu {
  const mem = new PhysicalMemory({ ramBytes: 4 << 20 });
  const cpu = new Cpu(mem, new PortBus());
  cpu.enterFlat32(0);
  cpu.onException = () => true;
  const dv = new DataView(mem.ram.buffer, mem.ram.byteOffset);
  dv.setUint32(PD, PT | 3, true);
  for (let p = 0; p < 1024; p++) {
    let phys = p << 12;
    if (p === 0x40) phys = 0x50000;
    if (p === 0x41) phys = 0x70000;
    dv.setUint32(PT + p * 4, p === 0x42 ? 0 : phys | 3, true);
  }
  for (let k = 0; k < 0x1000; k++) {
    mem.ram[0x50000 + k] = (k * 7) & 0xff;
    mem.ram[0x70000 + k] = (k * 13 + 5) & 0xff;
  }
  mem.ram.set([...code, 0xf4], CODE);
  cpu.cr3 = PD;
  cpu.cr0 |= 1 << 31;
  cpu.flushTlb();
  cpu.eip = CODE;
  if (traced) cpu.tracer = NO_HOOK;
  return cpu;
}

function outcome(code: number[], traced: boolean) {
  const cpu = machine(code, traced);
  cpu.run(1000);
  const ram = cpu.mem.ram;
  return {
    regs: Array.from(cpu.regs),
    eip: cpu.eip,
    icount: cpu.icount,
    exc: cpu.stopVector,
    cr2: cpu.cr2,
    pages: [Array.from(ram.subarray(0x50000, 0x51000)), Array.from(ram.subarray(0x70000, 0x71000))],
    code: Array.from(ram.subarray(CODE, CODE + 64)),
  };
}

const cases: [string, number[]][] = [
  [
    "rep stosd across the page break",
    [...movImm(EDI, LIN + 0xff8), ...movImm(ECX, 6), ...movImm(EAX, 0x11223344), 0xf3, 0xab],
  ],
  [
    "rep stosw misaligned across it",
    [...movImm(EDI, LIN + 0xffb), ...movImm(ECX, 700), ...movImm(EAX, 0xa5b6), 0x66, 0xf3, 0xab],
  ],
  ["rep stosb over two pages", [...movImm(EDI, LIN + 0x10), ...movImm(ECX, 0x1ff0), ...movImm(EAX, 0x5a), 0xf3, 0xaa]],
  [
    "rep movsd from one page into the other",
    [...movImm(ESI, LIN + 0x100), ...movImm(EDI, LIN + 0x1f00), ...movImm(ECX, 200), 0xf3, 0xa5],
  ],
  [
    "rep movsb overlapping forwards (a repeated pattern)",
    [...movImm(ESI, LIN + 0xf00), ...movImm(EDI, LIN + 0xf03), ...movImm(ECX, 0x300), 0xf3, 0xa4],
  ],
  [
    "rep movsd overlapping backwards (memmove)",
    [...movImm(ESI, LIN + 0xf10), ...movImm(EDI, LIN + 0xf02), ...movImm(ECX, 0x100), 0xf3, 0xa5],
  ],
  [
    "rep movsd misaligned, both crossing",
    [...movImm(ESI, LIN + 0xffd), ...movImm(EDI, LIN + 0xe01), ...movImm(ECX, 300), 0xf3, 0xa5],
  ],
  [
    "rep stosd into the unmapped page: #PF after the bulk part",
    [...movImm(EDI, LIN + 0x1e00), ...movImm(ECX, 0x400), ...movImm(EAX, -1), 0xf3, 0xab],
  ],
  [
    "rep movsb reading the unmapped page",
    [...movImm(ESI, LIN + 0x1f80), ...movImm(EDI, LIN + 0x100), ...movImm(ECX, 0x200), 0xf3, 0xa4],
  ],
  ["rep stosb over its own code", [...movImm(EDI, CODE + 16), ...movImm(ECX, 32), ...movImm(EAX, 0x90), 0xf3, 0xaa]],
  [
    "std; rep movsd (down: element loop)",
    [0xfd, ...movImm(ESI, LIN + 0x1008), ...movImm(EDI, LIN + 0x800), ...movImm(ECX, 40), 0xf3, 0xa5],
  ],
];

describe("REP MOVS/STOS in bulk", () => {
  for (const [name, code] of cases) {
    it(`repBulk_${name.replaceAll(/[^A-Za-z0-9]+/g, "_")}_equalsTheElementLoop`, () => {
      const bulk = outcome(code, false);
      const loop = outcome(code, true);
      expect(bulk).toEqual(loop);
    });
  }

  it("repBulk_stosdAcrossThePageBreak_writesBothPhysicalPages", () => {
    const r = outcome(cases[0][1], false);
    expect(r.exc).toBe(-1);
    expect(r.regs[Reg.ECX]).toBe(0);
    expect(r.pages[0].slice(0xff8)).toEqual([0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x22, 0x11]);
    expect(r.pages[1].slice(0, 16)).toEqual([
      0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x22, 0x11, 0x44, 0x33, 0x22, 0x11,
    ]);
    expect(r.pages[1][16]).toBe((16 * 13 + 5) & 0xff);
  });

  it("repBulk_faultInTheSecondPage_keepsTheProgressMade", () => {
    const r = outcome(cases[7][1], false);
    expect(r.exc).toBe(14);
    expect(r.cr2 >>> 0).toBe(LIN + 0x2000);
    expect(r.regs[Reg.EDI] >>> 0).toBe(LIN + 0x2000);
    expect(r.regs[Reg.ECX]).toBe(0x400 - 0x200 / 4);
  });
});
