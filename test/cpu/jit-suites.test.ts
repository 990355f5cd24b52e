/**
 * The CPU's reference suites again with every block compiled (Cpu.defaultJitThreshold = 0,
 * partial blocks at the end of a run slice included): the SingleStepTests 80286 vectors,
 * the host-differential suite, the system-test images, and capture/replay of the demo with
 * the compiler on one side and off on the other. Each uses the suite's own helpers.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PortBus } from "../../src/bus/ports.ts";
import { Cpu } from "../../src/cpu/cpu.ts";
import { jitStats } from "../../src/cpu/jit/compile.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";
import { cli, ROOT, tempDir } from "../cli/helpers.ts";
import { formatSummary, runConformance } from "../conformance/moo-runner.ts";
import { runDifferential, summarize } from "../differential/compare.ts";
import { generate, userForms } from "../differential/gen.ts";
import { probeHost } from "../differential/native.ts";
import { unmarkedNonzeroPages } from "../machine/written-pages.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const VECTORS = resolve(HERE, "../../../shared/cpu-tests/80286");
const SYSTESTS = resolve(HERE, "../../fixtures/systests");
const SLOW = 900_000;

const saved = Cpu.defaultJitThreshold;
beforeAll(() => {
  Cpu.defaultJitThreshold = 0;
});
afterAll(() => {
  Cpu.defaultJitThreshold = saved;
});

describe.skipIf(!existsSync(VECTORS))("SingleStepTests 80286 vectors, every block compiled", () => {
  // Per leading hex digit of the opcode file: no single test holds the vitest worker for a minute.
  let total = 0;
  let regions = 0;
  for (const digit of "0123456789ABCDEF") {
    it(
      `conformance_opcodes${digit}xCompiled_passExceptDocumentedDifferences`,
      () => {
        const before = jitStats.regions;
        const s = runConformance({ dir: VECTORS, filter: [digit] });
        total += s.passed + s.failed + s.skipped + s.revoked;
        regions += jitStats.regions - before;
        expect(s.failed, formatSummary(s).join("\n")).toBe(0);
      },
      SLOW,
    );
  }
  it("conformance_allFilesCompiled_over300000VectorsRanCompiled", () => {
    expect(total).toBeGreaterThan(300_000);
    expect(regions).toBeGreaterThan(300_000); // the vectors really ran compiled
  });
});

const host = probeHost();
describe.skipIf(typeof host === "string")("host differential, every block compiled", () => {
  // In quarters of the form list: no single test holds the vitest worker for a minute.
  const forms = userForms();
  const quarter = Math.ceil(forms.length / 4);
  for (let q = 0; q < 4; q++) {
    it(
      `differential_userFormsQuarter${q + 1}Times128CasesSeed1Compiled_matchesTheHostCpu`,
      () => {
        const lowOk = typeof host !== "string" && host.low;
        const cases = generate(forms.slice(q * quarter, (q + 1) * quarter), 1, 128, lowOk);
        const before = jitStats.regions + jitStats.cacheHits;
        const res = runDifferential(cases);
        expect(res.mismatches.length, summarize(res.mismatches, 2)).toBe(0);
        expect(jitStats.regions + jitStats.cacheHits - before).toBeGreaterThan(cases.length / 2);
      },
      SLOW,
    );
  }
});

interface SysRun {
  out: string;
  insns: number;
  halted: boolean;
  regs: number[];
  eflags: number;
  ram: Uint8Array;
  /** RAM pages holding data that PhysicalMemory.written does not cover (must be none). */
  unmarked: number[];
}

/** Boot a system-test image as test/cpu/systests.test.ts does. */
function runImage(name: string, threshold: number): SysRun {
  const mem = new PhysicalMemory({ ramBytes: 16 << 20 });
  mem.loadRom(new Uint8Array(readFileSync(join(SYSTESTS, `${name}.bin`))));
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
  cpu.jitThreshold = threshold;
  let shutdown = false;
  cpu.onShutdown = () => {
    shutdown = true;
  };
  cpu.reset();
  let insns = 0;
  while (insns < 5_000_000 && !cpu.halted && !shutdown) {
    const n = cpu.run(100_000);
    insns += n;
    if (n === 0) break;
  }
  return {
    out: Buffer.from(out).toString("latin1"),
    insns,
    halted: cpu.halted,
    regs: Array.from(cpu.regs),
    eflags: cpu.getEflags(),
    ram: mem.ram.slice(0, 1 << 20),
    unmarked: unmarkedNonzeroPages(mem),
  };
}

describe("system-test images, every block compiled", () => {
  for (const name of ["pmode", "priv", "tasks", "v86", "paging", "exc", "triple"]) {
    it(`${name}_compiledFromTheFirstExecution_runsExactlyAsInterpreted`, () => {
      const want = runImage(name, -1);
      const got = runImage(name, 0);
      expect(got.out).toBe(want.out);
      if (name !== "triple") expect(got.out).toBe(readFileSync(join(SYSTESTS, `${name}.expected`), "latin1"));
      expect({ insns: got.insns, halted: got.halted, regs: got.regs, eflags: got.eflags }).toEqual({
        insns: want.insns,
        halted: want.halted,
        regs: want.regs,
        eflags: want.eflags,
      });
      expect(Buffer.compare(got.ram, want.ram)).toBe(0);
      // Checkpoints hash unmarked pages as zeros: paging, task switches and v86 writes must mark.
      expect({ compiled: got.unmarked, interpreted: want.unmarked }).toEqual({ compiled: [], interpreted: [] });
    });
  }
});

describe.skipIf(!existsSync(join(ROOT, "src/firmware/bios.bin")))("capture and replay across the compiler", () => {
  const dir = tempDir("jit");
  const log = (n: string): string => join(dir, n);

  it(
    "captureVirtualClock_compilerOnOffOrWarm_writesBitIdenticalLogs",
    async () => {
      for (const t of ["0", "-1", "200"]) {
        const r = await cli(["capture", "--jit-threshold", t, "--clock", "virtual", "-q", "-o", log(`v${t}.log`)]);
        expect(r.code, r.stderr).toBe(0);
      }
      const a = readFileSync(log("v0.log"));
      expect(Buffer.compare(a, readFileSync(log("v-1.log")))).toBe(0);
      expect(Buffer.compare(a, readFileSync(log("v200.log")))).toBe(0);
    },
    SLOW,
  );

  it(
    "captureHostClockCompiled_replayInterpreted_andTheReverse_match",
    async () => {
      for (const [cap, rep] of [
        ["0", "-1"],
        ["-1", "0"],
      ]) {
        const r = await cli(["capture", "--jit-threshold", cap, "-q", "-o", log(`h${cap}.log`)]);
        expect(r.code, r.stderr).toBe(0);
        const p = await cli(["replay", "--jit-threshold", rep, log(`h${cap}.log`)]);
        expect(p.code, p.stderr).toBe(0);
        expect(p.stdout + p.stderr).toContain("replay matches");
      }
    },
    SLOW,
  );
});
