/**
 * PhysicalMemory.written: the pages checkpoints may skip as zeros. A page whose TLB entry was filled
 * by a read (in real mode, without paging, or under a PTE already dirty) is then written through
 * the fast path without passing physWrite8, so the fill itself must mark it; interpreted, compiled
 * and REP STOS in bulk alike. hashRam over the map must equal FNV-1a over every byte.
 */
import { describe, expect, it } from "vitest";
import { PortBus } from "../../src/bus/ports.ts";
import { Cpu } from "../../src/cpu/cpu.ts";
import { hashRam, memDigest } from "../../src/machine/checksum.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";
import { unmarkedNonzeroPages } from "./written-pages.ts";

const CODE = 0x10000;
// mov al,[0x30000]; mov byte [0x30010],0x5a; mov edi,0x40000; mov al,[edi]; mov ecx,16;
// mov eax,0x11223344; cld; rep stosd; mov esi,0x50000; mov ebx,[esi]; mov [esi+8],esi; hlt
const PROGRAM = [
  0xa0, 0x00, 0x00, 0x03, 0x00, 0xc6, 0x05, 0x10, 0x00, 0x03, 0x00, 0x5a, 0xbf, 0x00, 0x00, 0x04, 0x00, 0x8a, 0x07,
  0xb9, 0x10, 0x00, 0x00, 0x00, 0xb8, 0x44, 0x33, 0x22, 0x11, 0xfc, 0xf3, 0xab, 0xbe, 0x00, 0x00, 0x05, 0x00, 0x8b,
  0x1e, 0x89, 0x76, 0x08, 0xf4,
];

function run(threshold: number, pagedDirty: boolean): PhysicalMemory {
  const mem = new PhysicalMemory({ ramBytes: 4 << 20 });
  const cpu = new Cpu(mem, new PortBus());
  cpu.enterFlat32(0);
  cpu.jitThreshold = threshold;
  cpu.onException = () => true;
  mem.loadRam(Uint8Array.from(PROGRAM), CODE);
  if (pagedDirty) {
    // Identity map with accessed and dirty already set, as Linux maps its kernel: a read's TLB fill
    // grants writes.
    const dir = new Uint8Array(8192);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, 0x201000 | 0x63, true);
    for (let p = 0; p < 1024; p++) dv.setUint32(4096 + p * 4, (p << 12) | 0x63, true);
    mem.loadRam(dir, 0x200000);
    cpu.cr3 = 0x200000;
    cpu.cr0 |= 1 << 31;
    cpu.flushTlb();
  }
  cpu.eip = CODE;
  for (let i = 0; i < 4 && !cpu.halted; i++) {
    cpu.halted = false;
    cpu.eip = CODE;
    cpu.run(1000); // several passes, so that a threshold of 0 runs it compiled
  }
  return mem;
}

describe("pages marked written", () => {
  for (const [threshold, paged] of [
    [-1, false],
    [0, false],
    [-1, true],
    [0, true],
  ] as const) {
    it(`readThenWritten_threshold${threshold}${paged ? "_pagedDirty" : ""}_marksEveryPageThatHoldsData`, () => {
      const mem = run(threshold, paged);
      expect(mem.ram[0x30010]).toBe(0x5a);
      expect(mem.ram[0x40000 + 60]).toBe(0x44);
      expect(mem.ram[0x50008]).toBe(0x00);
      expect(mem.ram[0x5000a]).toBe(0x05);
      expect(unmarkedNonzeroPages(mem)).toEqual([]);
      // Only what was touched: the map is not simply everything.
      expect(mem.written[0x300]).toBe(0);
      expect(mem.written.reduce((a, b) => a + b, 0)).toBeLessThan(16);
    });
  }

  it("hashRam_withTheMap_equalsHashingEveryWord", () => {
    const mem = new PhysicalMemory({ ramBytes: 4 << 20 });
    let x = 0x1234567;
    for (let p = 0; p < mem.written.length; p++) {
      x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) >>> 0;
      if (x % 3 !== 0) continue;
      const page = new Uint8Array(4096);
      for (let i = 0; i < page.length; i += 97) page[i] = (x + i) & 0xff;
      if (x % 7 === 0) page.fill(0); // marked but zero: must hash the same either way
      mem.loadRam(page, p << 12);
    }
    expect(unmarkedNonzeroPages(mem)).toEqual([]);
    for (const k of [-1, 0, 5, 63])
      expect(memDigest(mem.ram, k, mem.written), `window ${k}`).toBe(memDigest(mem.ram, k));
    expect(hashRam(mem.ram, 4096, 3 << 20, mem.written)).toBe(hashRam(mem.ram, 4096, 3 << 20));
    // Unaligned ranges ignore the map.
    expect(hashRam(mem.ram, 4100, 9000, mem.written)).toBe(hashRam(mem.ram, 4100, 9000));
  });
});
