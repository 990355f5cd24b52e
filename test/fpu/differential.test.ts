/**
 * x87 host-differential tests: every x87 form (README.md in this directory) with random and edge
 * operands, every rounding mode and precision, run natively by fixtures/hostfpu/runner.elf and in
 * retrace; the results must agree bit for bit (transcendentals within ULP_TOL).
 */
import { describe, expect, it } from "vitest";
import { runDifferential, summarize, ULP_TOL, ulpDistance } from "./compare.ts";
import { allForms, generate } from "./gen.ts";
import { probeHost } from "./host.ts";

/** Fixed seed and cases per form of the `npm test` run (the long mode is test/fpu/run.ts). */
const SEED = 1;
const CASES_PER_FORM = 1000;

const host = probeHost();
const why = typeof host === "string" ? host : null;

describe("allForms", () => {
  it("allForms_everyEscapeOpcode_hasMemoryAndRegisterForms", () => {
    const forms = allForms();
    for (let op = 0xd8; op <= 0xdf; op++) {
      expect(forms.some((f) => f.op === op && f.rm === -2)).toBe(true);
      expect(forms.some((f) => f.op === op && f.rm !== -2)).toBe(true);
    }
    expect(new Set(forms.map((f) => f.name)).size).toBe(forms.length);
  });

  it("generate_sameSeed_sameCases", () => {
    const forms = allForms().slice(0, 10);
    const a = generate(forms, 9, 4);
    const b = generate(forms, 9, 4);
    expect(a.map((c) => Array.from(c.image))).toEqual(b.map((c) => Array.from(c.image)));
    expect(a.map((c) => Array.from(c.bytes))).toEqual(b.map((c) => Array.from(c.bytes)));
  });

  it("ulpDistance_neighboursAndAcrossBinades_countsUnits", () => {
    const one = { se: 0x3fff, sig: 1n << 63n };
    const below = { se: 0x3ffe, sig: (1n << 64n) - 1n };
    expect(ulpDistance(one, below)).toBe(1);
    expect(ulpDistance(one, { se: 0x3fff, sig: (1n << 63n) + 2n })).toBe(2);
    expect(ulpDistance(one, { se: 0xbfff, sig: 1n << 63n })).toBe(-1);
    expect(ULP_TOL).toBeLessThanOrEqual(1);
  });
});

describe.skipIf(why !== null)(`x87 host differential${why === null ? "" : ` (SKIPPED: ${why})`}`, () => {
  it("differential_everyFormFixedSeed_matchesTheHost", () => {
    if (typeof host === "string") return;
    const res = runDifferential(allForms(), SEED, CASES_PER_FORM, host);
    expect(res.cases).toBe(allForms().length * CASES_PER_FORM);
    expect(res.mismatches.length, summarize(res.mismatches, 2)).toBe(0);
  }, 120_000);
});
