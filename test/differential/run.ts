/**
 * Long mode of the host-differential suite:
 *   npm run differential -- --seed N --cases M [--filter mnemonic[,mnemonic...]] [--show K]
 * Prints per-form pass/fail counts, the first mismatches, and ends with
 * "N cases, M mismatches"; exits 1 on any mismatch, 2 when the host cannot run the runner.
 */
import { Command } from "commander";
import { runDifferential, summarize } from "./compare.ts";
import { generate, userForms } from "./gen.ts";
import { probeHost } from "./native.ts";

const program = new Command()
  .name("differential")
  .description("run random instruction cases natively and in retrace, compare the results")
  .option("--seed <n>", "random seed (default: a fresh one, printed)")
  .option("--cases <n>", "cases per instruction form", "200")
  .option("--filter <mnemonics>", "only these mnemonics, comma-separated (e.g. add,shld)")
  .option("--show <n>", "example cases to print per kind of mismatch", "3")
  .option("--failing-only", "list only forms with mismatches")
  .parse();

const opts = program.opts<{ seed?: string; cases: string; filter?: string; show: string; failingOnly?: boolean }>();
const toInt = (s: string, what: string): number => {
  const v = Number(s);
  if (!Number.isInteger(v)) {
    console.error(`differential: --${what} must be an integer, not '${s}'`);
    process.exit(2);
  }
  return v;
};

const host = probeHost();
if (typeof host === "string") {
  console.error(`differential: the host cannot be the oracle: ${host}`);
  process.exit(2);
}
if (!host.low)
  console.log("note: the host cannot map the low data window (vm.mmap_min_addr): 16-bit addressing cases skipped");
const seed = opts.seed !== undefined ? toInt(opts.seed, "seed") : (Math.random() * 0x7fffffff) | 0;
const perForm = toInt(opts.cases, "cases");
const wanted = opts.filter?.split(",").map((s) => s.trim().toLowerCase());
const forms = userForms().filter((f) => wanted === undefined || wanted.includes(f.mnem));
if (forms.length === 0) {
  console.error(`differential: no user-mode form matches --filter ${opts.filter}`);
  process.exit(2);
}

const t0 = Date.now();
const cases = generate(forms, seed, perForm, host.low);
const res = runDifferential(cases);
const secs = (Date.now() - t0) / 1000;

console.log(`seed ${seed}, ${forms.length} forms x ${perForm} cases, ${secs.toFixed(1)} s`);
for (const s of res.perForm.values()) {
  if (opts.failingOnly && s.mismatches === 0) continue;
  const status = s.mismatches === 0 ? "pass" : "FAIL";
  console.log(
    `${status} ${String(s.cases - s.mismatches).padStart(6)} ok ${String(s.mismatches).padStart(6)} bad  ${s.form.name}`,
  );
}
const show = toInt(opts.show, "show");
if (res.mismatches.length > 0) console.log(`\n${summarize(res.mismatches, show)}\n`);
console.log(`${res.cases} cases, ${res.mismatches.length} mismatches`);
process.exit(res.mismatches.length > 0 ? 1 : 0);
