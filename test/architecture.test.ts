/**
 * The module boundaries of STYLE.md and the determinism contract of DESIGN.md §2, checked by
 * parsing the sources: a change that makes the CPU import a device, or reads host time inside
 * the machine, fails here.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./cli/helpers.ts";

const SRC = join(ROOT, "src");

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

const sources = files(SRC).map((p) => ({ path: relative(SRC, p), text: readFileSync(p, "utf8") }));
const stripComments = (t: string): string => t.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
const moduleOf = (path: string): string => path.split("/")[0];

/** src modules each module's files import (relative imports only). */
function importsOf(path: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gm)) {
    const target = relative(SRC, join(SRC, path, "..", m[1]));
    out.push(moduleOf(target));
  }
  return out;
}

const FORBIDDEN: Record<string, string[]> = {
  isa: ["cpu", "machine", "devices", "log", "trace", "host", "cli", "nondet"],
  cpu: ["devices", "log", "trace", "host", "cli", "machine", "nondet"],
  devices: ["cpu", "host", "cli", "log", "trace", "machine", "nondet"],
  log: ["cpu", "devices", "host", "cli", "machine", "trace"],
  machine: ["cli", "host"],
  trace: ["host", "cli"],
  nondet: ["cli"],
};

describe("module boundaries (STYLE.md)", () => {
  it.each(Object.entries(FORBIDDEN))("%s_importsNothingItMustNot", (mod, forbidden) => {
    const bad: string[] = [];
    for (const s of sources.filter((f) => moduleOf(f.path) === mod)) {
      for (const target of importsOf(s.path, s.text))
        if (forbidden.includes(target)) bad.push(`${s.path} -> ${target}`);
    }
    expect(bad).toEqual([]);
  });

  it("importParser_seesRealImports", () => {
    // Guards the checks above against passing vacuously.
    const cpu = sources.find((s) => s.path === "cpu/cpu.ts")!;
    expect(importsOf(cpu.path, cpu.text)).toContain("isa");
  });

  it("library_neverImportsTheCli", () => {
    const bad = sources
      .filter((s) => moduleOf(s.path) !== "cli")
      .filter((s) => importsOf(s.path, s.text).includes("cli"))
      .map((s) => s.path);
    expect(bad).toEqual([]);
  });
});

describe("determinism contract (DESIGN.md §2)", () => {
  it("hostTimeAndRandomness_onlyAtTheBoundary", () => {
    const allowed = new Set(["host", "nondet", "cli"]);
    const bad: string[] = [];
    for (const s of sources) {
      if (allowed.has(moduleOf(s.path))) continue;
      const code = stripComments(s.text);
      if (/\bDate\.now\b|\bnew Date\(|\bperformance\.now\b|\bMath\.random\b|process\.hrtime/.test(code))
        bad.push(s.path);
    }
    expect(bad).toEqual([]);
  });

  it("cpuCore_usesNoBigInt", () => {
    const bad = sources
      .filter((s) => moduleOf(s.path) === "cpu")
      .filter((s) => /\bBigInt\b|\b\d+n\b/.test(stripComments(s.text)))
      .map((s) => s.path);
    expect(bad).toEqual([]);
  });
});
