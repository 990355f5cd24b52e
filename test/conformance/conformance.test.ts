import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { formatSummary, main, RunnerError, runConformance } from "./moo-runner.ts";
import { R16 } from "./moo.ts";

/** <repo>/../shared/cpu-tests/80286, found from this file rather than the working directory. */
const VECTORS = resolve(dirname(fileURLToPath(import.meta.url)), "../../../shared/cpu-tests/80286");

// ---- a hand-built one-test MOO file: INC AX; HLT at 1000:0100 -------------------------------
const le = (v: number, n: number): number[] => Array.from({ length: n }, (_, i) => (v >>> (8 * i)) & 0xff);
const chunk = (tag: string, p: number[]): number[] => [
  ...[...tag].map((c) => c.charCodeAt(0)),
  ...le(p.length, 4),
  ...p,
];
function regs(v: Partial<Record<number, number>>): number[] {
  let mask = 0;
  const out: number[] = [];
  for (let i = 0; i < 14; i++) {
    if (v[i] !== undefined) {
      mask |= 1 << i;
      out.push(...le(v[i]!, 2));
    }
  }
  return [...le(mask, 2), ...out];
}
const ram = (e: [number, number][]): number[] => [...le(e.length, 4), ...e.flatMap(([a, b]) => [...le(a, 4), b])];

function incAxFile(finalAx: number, finalFlags: number, hashByte = 1): Uint8Array {
  const init = regs({
    [R16.AX]: 0x00ff,
    [R16.BX]: 0,
    [R16.CX]: 0,
    [R16.DX]: 0,
    [R16.CS]: 0x1000,
    [R16.SS]: 0x2000,
    [R16.DS]: 0x3000,
    [R16.ES]: 0x4000,
    [R16.SP]: 0x100,
    [R16.BP]: 0,
    [R16.SI]: 0,
    [R16.DI]: 0,
    [R16.IP]: 0x100,
    [R16.FLAGS]: 0xf002, // top nibble set: the 286 cannot hold it in real mode
  });
  const test = chunk("TEST", [
    ...le(0, 4),
    ...chunk("NAME", [...le(6, 4), ...[..."inc ax"].map((c) => c.charCodeAt(0))]),
    ...chunk("BYTS", [...le(2, 4), 0x40, 0xf4]),
    ...chunk("INIT", [
      ...chunk("REGS", init),
      ...chunk(
        "RAM ",
        ram([
          [0x10100, 0x40],
          [0x10101, 0xf4],
        ]),
      ),
    ]),
    ...chunk("FINA", [
      ...chunk("REGS", regs({ [R16.AX]: finalAx, [R16.IP]: 0x102, [R16.FLAGS]: finalFlags })),
      ...chunk("RAM ", ram([])),
    ]),
    ...chunk(
      "HASH",
      Array.from({ length: 20 }, () => hashByte),
    ),
  ]);
  return Uint8Array.from([
    ...chunk("MOO ", [1, 0, 0, 0, ...le(1, 4), ...[..."C286"].map((c) => c.charCodeAt(0))]),
    ...chunk("META", [
      1,
      0,
      6,
      ...le(0x40, 4),
      ...[..."inc     "].map((c) => c.charCodeAt(0)),
      ...le(1, 4),
      ...le(0, 8),
      0,
    ]),
    ...test,
  ]);
}

const dirs: string[] = [];
function tempDir(files: Record<string, Uint8Array | string>): string {
  const d = mkdtempSync(join(tmpdir(), "conformance-"));
  dirs.push(d);
  for (const [n, c] of Object.entries(files)) writeFileSync(join(d, n), c);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true });
});

// INC AX from 0x00FF: AX = 0x0100, AF set, PF set (low byte 0x00), ZF/SF clear.
const GOOD_FLAGS = 0x0002 | 0x0010 | 0x0004;

describe("moo-runner on hand-built files", () => {
  it("runConformance_correctExpectation_passes", () => {
    const s = runConformance({ dir: tempDir({ "40.MOO.gz": gzipSync(incAxFile(0x0100, GOOD_FLAGS)) }) });
    expect({ passed: s.passed, failed: s.failed }).toEqual({ passed: 1, failed: 0 });
    expect(formatSummary(s).at(-1)).toBe("1 passed, 0 failed");
  });

  it("runConformance_wrongRegisterAndFlag_failsWithOneLineDiff", () => {
    const s = runConformance({ dir: tempDir({ "40.MOO": incAxFile(0x0101, GOOD_FLAGS | 1) }) });
    expect(s.failed).toBe(1);
    const diff = s.opcodes[0].failures[0].diff;
    expect(diff).toContain("ax exp 0x0101 got 0x0100");
    expect(diff).toContain("flags exp 0x0017 got 0x0016 (CF-)");
    expect(formatSummary(s).at(-1)).toBe("0 passed, 1 failed");
  });

  it("runConformance_flagsMaskFromMetadata_hidesUndefinedFlag", () => {
    const meta = JSON.stringify({ opcodes: { "40": { status: "normal", "flags-mask": 0xfffe } } });
    const s = runConformance({ dir: tempDir({ "40.MOO": incAxFile(0x0100, GOOD_FLAGS | 1), "metadata.json": meta }) });
    expect(s.failed).toBe(0);
  });

  it("runConformance_revokedHash_isNotRun", () => {
    const s = runConformance({
      dir: tempDir({ "40.MOO": incAxFile(0x9999, 0), "revocation_list.txt": `# bad\n${"07".repeat(20)}\n` }),
    });
    expect(s.failed).toBe(1); // not revoked: hash differs
    const r = runConformance({
      dir: tempDir({ "40.MOO": incAxFile(0x9999, 0, 7), "revocation_list.txt": `${"07".repeat(20)}\n` }),
    });
    expect({ failed: r.failed, revoked: r.revoked }).toEqual({ failed: 0, revoked: 1 });
  });

  it("runConformance_truncatedFile_throwsRunnerErrorNamingIt", () => {
    const bad = incAxFile(0x0100, GOOD_FLAGS).subarray(0, 60);
    expect(() => runConformance({ dir: tempDir({ "40.MOO": bad }) })).toThrow(RunnerError);
    expect(() => runConformance({ dir: tempDir({ "40.MOO": bad }) })).toThrow(/40\.MOO: byte offset \d+/);
  });

  it("main_missingDirectoryOrNoFiles_returns2", () => {
    expect(main(["/nonexistent/dir"])).toBe(2);
    expect(main([tempDir({ "notes.txt": "x" })])).toBe(2);
    expect(main([])).toBe(2);
  });
});

describe("SingleStepTests 80286 vectors", () => {
  if (!existsSync(VECTORS)) {
    it.skip(`80286 vectors absent: ${VECTORS} does not exist`, () => {});
    return;
  }
  // One test per leading hex digit of the opcode file: no single test holds the worker for a minute
  // (vitest's worker RPC times out behind a long synchronous test).
  let total = 0;
  for (const digit of "0123456789ABCDEF") {
    it(`conformance_opcodes${digit}x_passExceptDocumentedDifferences`, () => {
      const s = runConformance({ dir: VECTORS, filter: [digit] });
      total += s.passed + s.failed + s.skipped + s.revoked;
      expect(s.failed, formatSummary(s).join("\n")).toBe(0);
    });
  }
  it("conformance_allFiles_holdOver300000Vectors", () => {
    expect(total).toBeGreaterThan(300_000);
  });
});
