/**
 * System-level CPU tests: the firmware images in fixtures/systests/ (nasm
 * sources and assembled binaries, see the README there) boot from the reset
 * vector in real mode, switch to protected mode and exercise segmentation,
 * privilege transitions, task switches, V86 mode, paging and exceptions. Each
 * prints one line per check to port 0xE9 and writes a result block at 0x500.
 *
 * The expected output was produced by QEMU (fixtures/systests/qemu-golden.sh),
 * except for the few checks where QEMU's TCG departs from the SDM, listed with
 * reasons in fixtures/systests/qemu-deviations.txt; there the SDM value is
 * expected. The checks themselves carry the SDM's values, so an `ok` line means
 * the CPU matched both the manual and the reference.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PortBus } from "../../src/bus/ports.ts";
import { Cpu } from "../../src/cpu/cpu.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../fixtures/systests");

/** Result block written by the report (fixtures/systests/lib.inc): magic, pass count, fail count. */
const RESULT = 0x500;
const MAGIC_DONE = 0x454e4f44; // 'DONE' as a little-endian dword
const MAGIC_TRIP = 0x50495254; // 'TRIP': the triple-fault test got as far as the fault
/** Far more than any test needs (the longest retires about 35 000 instructions). */
const MAX_INSNS = 5_000_000;

interface SysRun {
  out: string;
  halted: boolean;
  shutdown: boolean;
  insns: number;
  magic: number;
  pass: number;
  fail: number;
}

/** Boot one image the way a PC does: ROM at 0xF0000 and under 4 GiB, CPU at F000:FFF0. */
function runImage(name: string): SysRun {
  const image = new Uint8Array(readFileSync(resolve(DIR, `${name}.bin`)));
  const mem = new PhysicalMemory({ ramBytes: 16 << 20 });
  mem.loadRom(image);
  const ports = new PortBus();
  const out: number[] = [];
  ports.register(
    0xe9,
    1,
    "debugcon",
    1,
    () => 0xe9,
    (_p, v) => {
      out.push(v & 0xff);
    },
  );
  const cpu = new Cpu(mem, ports);
  let shutdown = false;
  cpu.onShutdown = () => {
    shutdown = true;
  };
  cpu.reset();
  let insns = 0;
  while (insns < MAX_INSNS && !cpu.halted && !shutdown) {
    const n = cpu.run(100_000);
    insns += n;
    if (n === 0) break;
  }
  const dv = new DataView(mem.ram.buffer, mem.ram.byteOffset);
  return {
    out: Buffer.from(out).toString("latin1"),
    halted: cpu.halted,
    shutdown,
    insns,
    magic: dv.getUint32(RESULT, true),
    pass: dv.getUint32(RESULT + 4, true),
    fail: dv.getUint32(RESULT + 8, true),
  };
}

const expected = (name: string): string => readFileSync(resolve(DIR, `${name}.expected`), "latin1");
const okCount = (text: string): number => text.split("\n").filter((l) => l.endsWith(" ok")).length;
const failing = (text: string): string[] => text.split("\n").filter((l) => l.includes(" FAIL want="));
const checkName = (line: string): string => line.slice(0, line.indexOf("="));
const hex8 = (n: number): string => n.toString(16).padStart(8, "0");

/**
 * Checks that retrace currently gets wrong, where QEMU and the SDM agree with the
 * test (or the SDM alone, see qemu-deviations.txt). Each must print FAIL with the
 * expected value; when one starts passing the test fails and asks for its removal,
 * after which it is an ordinary check. Diagnoses are in fixtures/systests/README.md.
 */
const KNOWN_CPU_BUGS: Record<string, readonly string[]> = {
  // (none: the CR2-of-a-page-crossing-write and #TS-after-commit-EIP bugs are fixed)
};

/** Compare an output with its reference, allowing exactly the known-bug lines to FAIL (with the right want). */
function compareWithKnownBugs(name: string, out: string, want: string): { output: string; knownFailing: number } {
  const known = new Set(KNOWN_CPU_BUGS[name] ?? []);
  const wantLines = want.split("\n");
  const byName = new Map(wantLines.filter((l) => l.includes("=")).map((l) => [checkName(l), l]));
  let knownFailing = 0;
  const lines = out.split("\n").map((l) => {
    if (!l.includes("=") || !known.has(checkName(l))) return l;
    const ref = byName.get(checkName(l)) ?? "";
    expect(l, `${name}: "${checkName(l)}" passes now: remove it from KNOWN_CPU_BUGS`).toContain(" FAIL want=");
    expect(l.slice(l.indexOf(" FAIL want=") + 11), `${name}: "${checkName(l)}" wants another value`).toBe(
      ref.slice(ref.indexOf("=") + 1, ref.length - 3),
    );
    knownFailing++;
    return ref;
  });
  expect(knownFailing, `${name}: a known-bug check did not run`).toBe(known.size);
  const done = lines.findIndex((l) => l.startsWith("DONE pass="));
  if (done >= 0) {
    const pass = okCount(want) - knownFailing;
    expect(lines[done]).toBe(`DONE pass=${hex8(pass)} fail=${hex8(knownFailing)}`);
    lines[done] = `DONE pass=${hex8(okCount(want))} fail=00000000`;
  }
  return { output: lines.join("\n"), knownFailing };
}

const REPORTING = [
  { name: "pmode", what: "protected-mode entry and exit, limits, types, null and bad selectors, not-present segments" },
  { name: "priv", what: "call gates with parameters and the TSS stack switch, far RET/IRET to ring 3, INT gates" },
  { name: "tasks", what: "JMP/CALL/INT task switches, IRET through the back link, busy bits, an exception task" },
  { name: "v86", what: "IRET into V86, IOPL-sensitive instructions, the I/O bitmap, INT n to a ring-0 handler" },
  { name: "paging", what: "4 KiB and 4 MiB pages, #PF error codes and CR2, A/D bits, INVLPG, CR3 reload, restarts" },
  { name: "exc", what: "#DE #UD #BR INTO INT3 #DB, EXT/IDT error codes, restartable faults, #DF, SMC" },
];

describe("system tests (fixtures/systests, checked against QEMU and the SDM)", () => {
  for (const { name, what } of REPORTING) {
    it(`${name}_bootsToReport_printsTheReferenceOutput (${what})`, () => {
      const r = runImage(name);
      const want = expected(name);
      expect(r.halted, `${name} did not reach CLI;HLT within ${MAX_INSNS} instructions`).toBe(true);
      expect(r.shutdown).toBe(false);
      const { output, knownFailing } = compareWithKnownBugs(name, r.out, want);
      // Failing lines first: they name the check, the value seen and the value wanted.
      expect(failing(output)).toEqual([]);
      expect(output).toBe(want);
      expect({ magic: r.magic, pass: r.pass, fail: r.fail }).toEqual({
        magic: MAGIC_DONE,
        pass: okCount(want) - knownFailing,
        fail: knownFailing,
      });
    });
  }

  it("triple_faultWhileDeliveringDoubleFault_shutsDownAndRunsNothingAfter", () => {
    const r = runImage("triple");
    expect(r.shutdown, "onShutdown was not called").toBe(true);
    expect(r.out).toBe(expected("triple"));
    expect(r.magic).toBe(MAGIC_TRIP);
    expect(r.fail).toBe(0);
  });

  it("expectedOutputs_haveNoFailingLinesAndEndWithTheirCounts", () => {
    for (const { name } of REPORTING) {
      const want = expected(name);
      expect(failing(want), name).toEqual([]);
      const last = want.trimEnd().split("\n").at(-1);
      expect(last, name).toBe(`DONE pass=${hex8(okCount(want))} fail=00000000`);
    }
  });
});
