/**
 * Region merging (src/cpu/jit/compile.ts mergeRegions): two regions that pass control to each
 * other often become one. A loop calls a function 48 KiB away, outside the span one region takes
 * (SPAN_PAGES), so each is compiled into its own region; past MERGE_AFTER round trips they are
 * merged. The result must be the interpreter's, whole or in slices, and a pair too far apart for
 * one region's dispatch table must stay two regions.
 */
import { describe, expect, it } from "vitest";
import { PortBus } from "../../src/bus/ports.ts";
import { Cpu, Reg } from "../../src/cpu/cpu.ts";
import { jitStats, MERGE_AFTER } from "../../src/cpu/jit/compile.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";

const CODE = 0x10000;
const STACK = 0x9f000;
const ROUNDS = MERGE_AFTER + 5000;

/** mov ecx, ROUNDS; l: call f; add eax, ecx; dec ecx; jnz l; hlt -- f (at CODE + gap): imul ebx, eax, 3; xor eax, ebx; ret */
function program(gap: number): { at: number; bytes: number[] }[] {
  const main = [0xb9, ROUNDS & 0xff, (ROUNDS >>> 8) & 0xff, ROUNDS >>> 16, 0];
  const call = CODE + main.length;
  const rel = gap - (call + 5 - CODE);
  main.push(0xe8, rel & 0xff, (rel >>> 8) & 0xff, (rel >>> 16) & 0xff, (rel >>> 24) & 0xff);
  main.push(0x01, 0xc8, 0x49, 0x75, (call - (CODE + main.length + 5)) & 0xff, 0xf4);
  return [
    { at: CODE, bytes: main },
    { at: CODE + gap, bytes: [0x6b, 0xd8, 0x03, 0x31, 0xd8, 0xc3] },
  ];
}

function run(gap: number, threshold: number, slice: number) {
  const mem = new PhysicalMemory({ ramBytes: 4 << 20 });
  const cpu = new Cpu(mem, new PortBus());
  cpu.jitThreshold = threshold;
  cpu.enterFlat32(0);
  cpu.onException = () => true;
  for (const p of program(gap)) mem.ram.set(p.bytes, p.at);
  cpu.regs[Reg.EAX] = 0x12345;
  cpu.regs[Reg.ESP] = STACK;
  cpu.eip = CODE;
  const merged = jitStats.merged;
  while (!cpu.halted && cpu.stopVector < 0 && cpu.icount < 10 * ROUNDS) cpu.run(slice);
  // After a merge the loop's blocks and the function's block are held by one region.
  const regionAt = (lin: number) => cpu.blocksOnPage(lin >>> 12).find((b) => b.lin === lin)?.region ?? null;
  const loopRegion = regionAt(CODE + 5);
  return {
    shared: loopRegion !== null && loopRegion === regionAt(CODE + gap),
    state: { regs: Array.from(cpu.regs), eflags: cpu.getEflags(), eip: cpu.eip, icount: cpu.icount },
    merges: jitStats.merged - merged,
  };
}

describe("region merging", () => {
  it("merge_loopAndFarFunction_becomeOneRegionWithTheInterpretersResult", () => {
    const want = run(0xc000, -1, 1 << 20);
    expect(want.state.icount).toBe(2 + ROUNDS * 7); // mov, 7 per round, hlt
    for (const slice of [1 << 20, 997]) {
      const got = run(0xc000, 50, slice);
      expect(got.state, `slices of ${slice}`).toEqual(want.state);
      expect(got.merges, `slices of ${slice}`).toBe(1);
      expect(got.shared, `slices of ${slice}`).toBe(true);
    }
  });

  it("merge_pairFartherApartThanOneRegionSpans_staysTwoRegions", () => {
    const want = run(0x20000, -1, 1 << 20);
    const got = run(0x20000, 50, 1 << 20);
    expect(got.state).toEqual(want.state);
    expect(got.merges).toBe(0);
    expect(got.shared).toBe(false);
  });
});
