/**
 * Long mode of the x87 host-differential suite:
 *   npx tsx test/fpu/run.ts --seed N --cases M [--filter name[,name...]] [--show K] [--failing-only]
 * Prints per-form pass/fail counts, examples of mismatches, and ends with "N cases, M mismatches";
 * exits 1 on any mismatch, 2 when the host cannot run the runner.
 */
import { Command } from "commander";
import { runDifferential, summarize, ULP_TOL } from "./compare.ts";
import { allForms } from "./gen.ts";
import { probeHost } from "./host.ts";

const program = new Command()
  .name("fpu-differential")
  .description("run random x87 cases natively and in retrace, compare the results")
  .option("--seed <n>", "random seed (default: a fresh one, printed)")
  .option("--cases <n>", "cases per instruction form", "500")
  .option("--filter <names>", "only forms whose mnemonic is one of these, comma-separated (e.g. fadd,fsin)")
  .option("--show <n>", "example cases to print per failing form", "3")
  .option("--failing-only", "list only forms with mismatches")
  .parse();

const opts = program.opts<{ seed?: string; cases: string; filter?: string; show: string; failingOnly?: boolean }>();
const toInt = (s: string, what: string): number => {
  const v = Number(s);
  if (!Number.isInteger(v)) {
    console.error(`fpu-differential: --${what} must be an integer, not '${s}'`);
    process.exit(2);
  }
  return v;
};

const host = probeHost();
if (typeof host === "string") {
  console.error(`fpu-differential: the host cannot be the oracle: ${host}`);
  process.exit(2);
}
const seed = opts.seed !== undefined ? toInt(opts.seed, "seed") : (Math.random() * 0x7fffffff) | 0;
const perForm = toInt(opts.cases, "cases");
const wanted = opts.filter?.split(",").map((s) => s.trim().toLowerCase());
const forms = allForms().filter(
  (f) => wanted === undefined || wanted.some((w) => f.mnem === w || f.mnem.startsWith(`${w} `)),
);
if (forms.length === 0) {
  console.error(`fpu-differential: no form matches --filter ${opts.filter}`);
  process.exit(2);
}
const t0 = Date.now();
const res = runDifferential(forms, seed, perForm, host);
const secs = (Date.now() - t0) / 1000;
console.log(`seed ${seed}, ${forms.length} forms x ${perForm} cases, ${secs.toFixed(1)} s`);
for (const s of res.perForm.values()) {
  if (opts.failingOnly && s.mismatches === 0) continue;
  const status = s.mismatches === 0 ? "pass" : "FAIL";
  console.log(
    `${status} ${String(s.cases - s.mismatches).padStart(7)} ok ${String(s.mismatches).padStart(6)} bad  ${s.name}${
      s.approx > 0 ? `  (${s.approx} within ${ULP_TOL} ulp)` : ""
    }`,
  );
}
if (res.mismatches.length > 0) console.log(`\n${summarize(res.mismatches, toInt(opts.show, "show"))}\n`);
let bad = 0;
for (const s of res.perForm.values()) bad += s.mismatches;
console.log(`${res.cases} cases, ${bad} mismatches`);
process.exit(bad > 0 ? 1 : 0);
