/**
 * Comparing a native result with an emulated one, and the compact report of a
 * mismatch: form, bytes, inputs, then native vs emulated for what differs.
 */
import { Emulator } from "./emu.ts";
import { CMP_MASK, Fixup, type Form, type GenCase } from "./gen.ts";
import { type CaseResult, INSN_ADDR, runNative, STACK_WIN, WIN } from "./native.ts";

const REG_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const FLAG_NAMES: [number, string][] = [
  [1 << 0, "CF"],
  [1 << 2, "PF"],
  [1 << 4, "AF"],
  [1 << 6, "ZF"],
  [1 << 7, "SF"],
  [1 << 8, "TF"],
  [1 << 9, "IF"],
  [1 << 10, "DF"],
  [1 << 11, "OF"],
  [1 << 14, "NT"],
  [1 << 16, "RF"],
  [1 << 17, "VM"],
  [1 << 18, "AC"],
  [1 << 19, "VIF"],
  [1 << 20, "VIP"],
  [1 << 21, "ID"],
];

export function flagText(v: number, mask = -1): string {
  const on = FLAG_NAMES.filter(([bit]) => (mask & bit) !== 0 && (v & bit) !== 0).map(([, n]) => n);
  const iopl = (v >>> 12) & 3;
  if (iopl !== 0 && (mask & 0x3000) !== 0) on.push(`IOPL${iopl}`);
  const other = v & mask & ~FLAG_NAMES.reduce((a, [bit]) => a | bit, 0x3002);
  if (other !== 0) on.push(`?${(other >>> 0).toString(16)}`);
  return `[${on.join(" ")}]`;
}

/** Exceptions that push an error code (SDM 3A table 6-1) reachable here: #GP, #SS, #NP, #TS, #PF, #AC. */
const ERROR_CODE_VECTORS = new Set([10, 11, 12, 13, 14, 17]);

const h32 = (v: number): string => (v >>> 0).toString(16).padStart(8, "0");
export const hexBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
const excText = (e: number): string => (e < 0 ? "none" : `#${e}`);

/** Apply the case's stack fixup (gen.ts Fixup) to a result, in place. `esp`: ESP after, from the native side. */
function applyFixup(c: GenCase, r: CaseResult, esp: number): void {
  if (c.fixup === Fixup.None || r.exc >= 0) return;
  const o = (esp - STACK_WIN) | 0;
  if (o < 0 || o + 4 > WIN) return;
  if (c.fixup === Fixup.PushfTF) r.stack[o + 1] &= ~1;
  else if (c.fixup === Fixup.PushSegHigh) {
    r.stack[o + 2] = 0;
    r.stack[o + 3] = 0;
  }
}

/** Differences between native and emulated results, as "what: native vs emulated" lines; [] when equal. */
export function compareResults(c: GenCase, n: CaseResult, e: CaseResult): string[] {
  const out: string[] = [];
  applyFixup(c, n, n.regs[4]);
  applyFixup(c, e, n.regs[4]);
  if (n.exc !== e.exc) out.push(`exception: ${excText(n.exc)} vs ${excText(e.exc)}`);
  else if (ERROR_CODE_VECTORS.has(n.exc) && n.errCode !== e.errCode) {
    out.push(`error code: ${n.errCode.toString(16)} vs ${e.errCode.toString(16)}`);
  }
  if (n.eip !== e.eip) out.push(`eip: ${h32(n.eip)} vs ${h32(e.eip)}`);
  for (let r = 0; r < 8; r++) {
    if (n.regs[r] !== e.regs[r]) out.push(`${REG_NAMES[r]}: ${h32(n.regs[r])} vs ${h32(e.regs[r])}`);
  }
  const fm = n.exc < 0 && e.exc < 0 ? c.flagMask : CMP_MASK;
  if (((n.eflags ^ e.eflags) & fm) !== 0) {
    out.push(
      `eflags: ${flagText(n.eflags, fm)} vs ${flagText(e.eflags, fm)} (differ ${flagText(n.eflags ^ e.eflags, fm)})`,
    );
  }
  const memDiff = (name: string, base: number, a: Uint8Array, b: Uint8Array): void => {
    const at: string[] = [];
    for (let k = 0; k < WIN; k++) {
      if (a[k] !== b[k]) at.push(`${h32(base + k).replace(/^0+/, "")}: ${a[k].toString(16)} vs ${b[k].toString(16)}`);
    }
    if (at.length > 0)
      out.push(`${name} memory (${at.length} bytes): ${at.slice(0, 8).join(", ")}${at.length > 8 ? ", ..." : ""}`);
  };
  memDiff("data", 0x00500f80, n.data, e.data);
  memDiff("stack", STACK_WIN, n.stack, e.stack);
  return out;
}

export interface Mismatch {
  c: GenCase;
  native: CaseResult;
  emu: CaseResult;
  diffs: string[];
}

/** One mismatch, a few lines: form and bytes, inputs, native and emulated outcome, differences. */
export function formatMismatch(m: Mismatch): string {
  const { c, native: n, emu: e } = m;
  const regs = (r: Int32Array): string => REG_NAMES.map((name, k) => `${name}=${h32(r[k])}`).join(" ");
  const outcome = (r: CaseResult): string =>
    `exc ${excText(r.exc)}${r.exc >= 0 ? ` (${r.signal !== undefined ? `signal ${r.signal}, ` : ""}error code ${r.errCode})` : ""}, eip ${
      r.eip === INSN_ADDR ? "= insn" : `insn+${((r.eip - INSN_ADDR) | 0).toString()}`
    }, flags ${flagText(r.eflags, CMP_MASK)}`;
  return [
    `${c.form.name}  bytes ${hexBytes(c.bytes)}  ${c.note}`,
    `  in      ${regs(c.regs)} flags ${flagText(c.eflags)}`,
    `  native  ${outcome(n)}`,
    `  retrace ${outcome(e)}`,
    ...m.diffs.map((d) => `  differ  ${d}`),
  ].join("\n");
}

/** What kind of disagreement: the exception pair, or the differing fields. */
export function mismatchKind(m: Mismatch): string {
  if (m.native.exc !== m.emu.exc) return `exception ${excText(m.native.exc)} vs ${excText(m.emu.exc)}`;
  return m.diffs.map((d) => d.split(/[: ]/)[0]).join(", ") + " differ";
}

/**
 * Mismatches grouped by kind, most frequent first: count, forms involved, and `examples`
 * formatted cases per kind (one per form, first forms first).
 */
export function summarize(mismatches: readonly Mismatch[], examples = 3): string {
  const kinds = new Map<string, Mismatch[]>();
  for (const m of mismatches) {
    const k = mismatchKind(m);
    const list = kinds.get(k);
    if (list === undefined) kinds.set(k, [m]);
    else list.push(m);
  }
  const out: string[] = [];
  for (const [k, list] of [...kinds].sort((a, b) => b[1].length - a[1].length)) {
    const forms = [...new Set(list.map((m) => m.c.form.name))];
    const shown =
      forms.length > 12 ? `${forms.slice(0, 12).join("; ")}; ... (${forms.length} forms)` : forms.join("; ");
    out.push(`== ${k}: ${list.length} cases in ${forms.length} forms: ${shown}`);
    const seen = new Set<string>();
    for (const m of list) {
      if (seen.size >= examples) break;
      if (seen.has(m.c.form.name)) continue;
      seen.add(m.c.form.name);
      out.push(formatMismatch(m));
    }
  }
  return out.join("\n");
}

export interface FormStats {
  form: Form;
  cases: number;
  mismatches: number;
}

export interface RunResult {
  cases: number;
  mismatches: Mismatch[];
  perForm: Map<string, FormStats>;
}

/** Run cases on both sides: native in batches (one runner process per batch), then retrace. */
export function runDifferential(cases: readonly GenCase[], batch = 20000): RunResult {
  const mismatches: Mismatch[] = [];
  const perForm = new Map<string, FormStats>();
  let emu: Emulator | null = null;
  for (let start = 0; start < cases.length; start += batch) {
    const chunk = cases.slice(start, start + batch);
    const native = runNative(chunk);
    emu ??= new Emulator(native.selectors);
    for (let k = 0; k < chunk.length; k++) {
      const c = chunk[k];
      const n = native.results[k];
      let e: CaseResult;
      try {
        e = emu.run(c);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n  case: ${c.form.name}  bytes ${hexBytes(c.bytes)}  ${c.note}`);
      }
      const diffs = compareResults(c, n, e);
      let s = perForm.get(c.form.name);
      if (s === undefined) {
        s = { form: c.form, cases: 0, mismatches: 0 };
        perForm.set(c.form.name, s);
      }
      s.cases++;
      if (diffs.length > 0) {
        s.mismatches++;
        mismatches.push({ c, native: n, emu: e, diffs });
      }
    }
  }
  return { cases: cases.length, mismatches, perForm };
}
