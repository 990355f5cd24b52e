/**
 * The WebAssembly back end of the block compiler: a region's generated JavaScript (gen.ts,
 * emit.ts: a small, regular subset of the language) translated into one WebAssembly function.
 *
 * Why: V8 runs a new JavaScript region in its baseline tier, slower than retrace's interpreter,
 * until TurboFan has optimised it, and TurboFan's one background thread is the bottleneck of
 * the Linux kernel phase (README, "Where the time goes"). A WebAssembly module is compiled by
 * Liftoff in well under a millisecond into code close to optimised code, needs no type feedback
 * and never deoptimises; hot functions are tiered up to TurboFan in the background.
 *
 * The translator reads the same source the JavaScript back end compiles, so there is one
 * emitter and one set of semantics. It accepts only what it can translate exactly (JavaScript
 * number semantics where they differ from 32-bit integers: unsigned compares through `>>> 0`,
 * the `*` of IMUL's overflow test in float64) and returns null for anything else: that region
 * then stays JavaScript.
 *
 * Shared state lives in the WebAssembly memory of the machine (PhysicalMemory.wasm): guest RAM,
 * the TLB and the general registers are the Cpu's own typed arrays over it (their views), and
 * the scalar state a region reads or writes (lazy flags, EIP, icount, the memory access masks,
 * segment bases) passes through a small state block at address 0 (wasm-layout.ts St), copied by the
 * JavaScript glue (runWasm) around each call and each interpreter fallback.
 */
import type { Insn } from "../../isa/decode.ts";
import type { Cpu } from "../cpu.ts";
import { execute } from "../exec.ts";
import { PURE_FALLBACK } from "./emit.ts";
import { bitsOf, type Gen } from "./gen.ts";
import { ICOUNT_F64, St, WA, WasmLayout } from "./wasm-layout.ts";

// ------------------------------------------------------------------ source parser

type Expr = (
  | { t: "num"; v: number }
  | { t: "id"; n: string }
  | { t: "idx"; a: string; i: Expr }
  | { t: "field"; f: string }
  | { t: "bin"; op: string; l: Expr; r: Expr }
  | { t: "un"; op: string; e: Expr }
  | { t: "tern"; c: Expr; a: Expr; b: Expr }
  | { t: "call"; f: string; args: Expr[] }
) & {
  /** Its kind (Fn.kindOf), once asked: every node is translated once, at one point of the source. */
  kd?: K;
};

type Stmt =
  | { t: "assign"; op: string; lhs: Expr; e: Expr }
  | { t: "if"; c: Expr; a: Stmt[]; b: Stmt[] | null }
  | { t: "break" }
  | { t: "continue" }
  | { t: "expr"; e: Expr }
  | { t: "case"; n: number; body: Stmt[] }
  | { t: "block"; body: Stmt[] };

class Unsupported extends Error {}
function no(what: string): never {
  throw new Unsupported(what);
}

/** Operators of two or three characters, by their first character. */
const LONG_OPS: Record<string, string[]> = {
  ">": [">>>", ">>", ">="],
  "=": ["==="],
  "!": ["!=="],
  "<": ["<<", "<="],
  "&": ["&&", "&="],
  "|": ["||", "|="],
  "+": ["+="],
};
/** Single-character tokens. */
const SINGLE = new Set("-+*&|^~!<>=?:;,.(){}[]");

/** Character classes of the tokenizer: 1 digit, 2 identifier start, 3 space. */
const CLASS = new Uint8Array(128);
for (let ch = 48; ch <= 57; ch++) CLASS[ch] = 1;
for (let ch = 65; ch <= 90; ch++) CLASS[ch] = CLASS[ch + 32] = 2;
CLASS[95] = CLASS[36] = 2; // _ $
for (const ch of [32, 9, 10, 13]) CLASS[ch] = 3;

/** Split the emitter's source into tokens (numbers, names, operators); a character outside the subset is Unsupported. */
function tokenize(src: string): string[] {
  const toks: string[] = [];
  const n = src.length;
  let p = 0;
  while (p < n) {
    const ch = src.charCodeAt(p);
    const k = ch < 128 ? CLASS[ch] : 0;
    if (k === 3) {
      p++;
      continue;
    }
    const start = p;
    if (k === 1) {
      while (p < n && CLASS[src.charCodeAt(p)] === 1) p++;
    } else if (k === 2) {
      p++;
      for (;;) {
        const c2 = src.charCodeAt(p);
        if (p < n && c2 < 128 && (CLASS[c2] === 1 || CLASS[c2] === 2)) p++;
        else break;
      }
    } else {
      const c = src[p];
      const long = LONG_OPS[c]?.find((op) => src.startsWith(op, p));
      if (long !== undefined) p += long.length;
      else if (SINGLE.has(c)) p++;
      else no(`token at ${src.slice(p, p + 20)}`);
    }
    toks.push(src.slice(start, p));
  }
  return toks;
}

class Parser {
  private toks: string[] = [];
  private p = 0;
  constructor(src: string) {
    this.toks = tokenize(src);
  }
  private peek(): string {
    return this.toks[this.p] ?? "";
  }
  private next(): string {
    return this.toks[this.p++] ?? "";
  }
  private eat(s: string): void {
    const t = this.next();
    if (t !== s) no(`expected ${s}, got ${t}`);
  }
  stmts(end: string): Stmt[] {
    const out: Stmt[] = [];
    while (this.p < this.toks.length && this.peek() !== end) out.push(this.stmt());
    return out;
  }
  private stmt(): Stmt {
    const t = this.peek();
    if (t === ";") {
      this.next();
      return { t: "block", body: [] };
    }
    if (t === "{") {
      this.next();
      const body = this.stmts("}");
      this.eat("}");
      return { t: "block", body };
    }
    if (t === "case") {
      this.next();
      const n = Number(this.next());
      this.eat(":");
      this.eat("{");
      const body = this.stmts("}");
      this.eat("}");
      return { t: "case", n, body };
    }
    if (t === "if") {
      this.next();
      this.eat("(");
      const c = this.expr();
      this.eat(")");
      const a = this.body();
      let b: Stmt[] | null = null;
      if (this.peek() === "else") {
        this.next();
        b = this.body();
      }
      return { t: "if", c, a, b };
    }
    if (t === "break" || t === "continue") {
      this.next();
      if (this.peek() === "loop") this.next();
      else no(`unlabelled ${t}`);
      this.eat(";");
      return { t: t === "break" ? "break" : "continue" };
    }
    const lhs = this.expr();
    const op = this.peek();
    if (op === "=" || op === "+=" || op === "&=" || op === "|=") {
      this.next();
      const e = this.expr();
      this.eat(";");
      return { t: "assign", op, lhs, e };
    }
    this.eat(";");
    return { t: "expr", e: lhs };
  }
  private body(): Stmt[] {
    const s = this.stmt();
    return s.t === "block" ? s.body : [s];
  }
  expr(): Expr {
    const c = this.binary(0);
    if (this.peek() !== "?") return c;
    this.next();
    const a = this.expr();
    this.eat(":");
    const b = this.expr();
    return { t: "tern", c, a, b };
  }
  private static readonly PREC: Record<string, number> = {
    "||": 1,
    "&&": 2,
    "|": 3,
    "^": 4,
    "&": 5,
    "===": 6,
    "!==": 6,
    "<": 7,
    "<=": 7,
    ">": 7,
    ">=": 7,
    "<<": 8,
    ">>": 8,
    ">>>": 8,
    "+": 9,
    "-": 9,
    "*": 10,
  };
  private binary(min: number): Expr {
    let l = this.unary();
    for (;;) {
      const op = this.peek();
      const pr = Parser.PREC[op];
      if (pr === undefined || pr <= min) return l;
      this.next();
      const r = this.binary(pr);
      l = { t: "bin", op, l, r };
    }
  }
  private unary(): Expr {
    const t = this.peek();
    if (t === "!" || t === "~" || t === "-") {
      this.next();
      const e = this.unary();
      if (t === "-" && e.t === "num") return { t: "num", v: -e.v };
      return { t: "un", op: t, e };
    }
    return this.primary();
  }
  private primary(): Expr {
    const t = this.next();
    if (t === "(") {
      const e = this.expr();
      if (this.peek() === "=" && e.t === "id") {
        // (name = value): an assignment used as a value (the TLB entry `e` in memory accesses).
        this.next();
        const v = this.expr();
        this.eat(")");
        return { t: "call", f: "$TEE", args: [e, v] };
      }
      this.eat(")");
      return e;
    }
    if (/^\d+$/.test(t)) return { t: "num", v: Number(t) };
    if (t === "true" || t === "false") return { t: "num", v: t === "true" ? 1 : 0 };
    if (!/^[A-Za-z_$]/.test(t)) no(`token ${t}`);
    let name = t;
    while (this.peek() === ".") {
      this.next();
      name += `.${this.next()}`;
    }
    if (this.peek() === "(") {
      this.next();
      const args: Expr[] = [];
      while (this.peek() !== ")") {
        args.push(this.expr());
        if (this.peek() === ",") this.next();
      }
      this.eat(")");
      return { t: "call", f: name, args };
    }
    if (this.peek() === "[") {
      this.next();
      const i = this.expr();
      this.eat("]");
      return { t: "idx", a: name, i };
    }
    if (name.startsWith("c.")) return { t: "field", f: name.slice(2) };
    return { t: "id", n: name };
  }
}

// ------------------------------------------------------------------ binary encoding

const enum Ty {
  I32 = 0x7f,
  F64 = 0x7c,
}

/** A growing byte buffer. */
class Bytes {
  private buf = new Uint8Array(256);
  /** Bytes written so far. */
  n = 0;
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  /** One byte, or two. */
  u8(a: number, b?: number): void {
    this.room(2);
    this.buf[this.n++] = a;
    if (b !== undefined) this.buf[this.n++] = b;
  }
  raw(x: ArrayLike<number>): void {
    this.room(x.length);
    this.buf.set(x, this.n);
    this.n += x.length;
  }
  uleb(v: number): void {
    this.room(5);
    let x = v >>> 0;
    for (;;) {
      const byte = x & 0x7f;
      x >>>= 7;
      if (x === 0) {
        this.buf[this.n++] = byte;
        return;
      }
      this.buf[this.n++] = byte | 0x80;
    }
  }
  sleb(v: number): void {
    this.room(5);
    let x = v | 0;
    for (;;) {
      const byte = x & 0x7f;
      x >>= 7;
      if ((x === 0 && (byte & 0x40) === 0) || (x === -1 && (byte & 0x40) !== 0)) {
        this.buf[this.n++] = byte;
        return;
      }
      this.buf[this.n++] = byte | 0x80;
    }
  }
  f64(v: number): void {
    F64_SCRATCH[0] = v;
    this.raw(F64_BYTES);
  }
  str(s: string): void {
    this.uleb(s.length);
    for (let i = 0; i < s.length; i++) this.u8(s.charCodeAt(i));
  }
  vec(parts: Bytes[]): void {
    this.uleb(parts.length);
    for (const p of parts) this.raw(p.bytes());
  }
  section(id: number, body: Bytes): void {
    this.u8(id);
    this.uleb(body.n);
    this.raw(body.bytes());
  }
  /** Overwrite the byte at `at` (a placeholder written earlier). */
  put(at: number, v: number): void {
    this.buf[at] = v;
  }
  /** The bytes written (a view, valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }
}
const F64_SCRATCH = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64_SCRATCH.buffer);

const enum W {
  Block = 0x02,
  Loop = 0x03,
  If = 0x04,
  Else = 0x05,
  Try = 0x06,
  CatchAll = 0x19,
  Rethrow = 0x09,
  End = 0x0b,
  Br = 0x0c,
  BrIf = 0x0d,
  BrTable = 0x0e,
  Return = 0x0f,
  Call = 0x10,
  Drop = 0x1a,
  Select = 0x1b,
  LocalGet = 0x20,
  LocalSet = 0x21,
  LocalTee = 0x22,
  I32Load = 0x28,
  F64Load = 0x2b,
  I32Load8U = 0x2d,
  I32Load16U = 0x2f,
  I32Store = 0x36,
  F64Store = 0x39,
  I32Store8 = 0x3a,
  I32Store16 = 0x3b,
  I32Const = 0x41,
  F64Const = 0x44,
  I32Eqz = 0x45,
  I32Eq = 0x46,
  I32Ne = 0x47,
  I32LtS = 0x48,
  I32LtU = 0x49,
  I32GtS = 0x4a,
  I32GtU = 0x4b,
  I32LeS = 0x4c,
  I32LeU = 0x4d,
  I32GeS = 0x4e,
  I32GeU = 0x4f,
  F64Eq = 0x61,
  F64Ne = 0x62,
  F64Lt = 0x63,
  F64Gt = 0x64,
  F64Le = 0x65,
  F64Ge = 0x66,
  I32Add = 0x6a,
  I32Sub = 0x6b,
  I32Mul = 0x6c,
  I32And = 0x71,
  I32Or = 0x72,
  I32Xor = 0x73,
  I32Shl = 0x74,
  I32ShrS = 0x75,
  I32ShrU = 0x76,
  F64Add = 0xa0,
  F64Sub = 0xa1,
  F64Mul = 0xa2,
  F64ConvertI32S = 0xb7,
  F64ConvertI32U = 0xb8,
  BlockVoid = 0x40,
}

// ------------------------------------------------------------------ code generation

/** What an expression's value is, for the places where JavaScript numbers and int32 differ. */
const enum K {
  /** An int32 (possibly negative). */
  Int = 0,
  /** A non-negative int32 (a literal, a shift right by at least 1, a 0/1 boolean). */
  Nat = 1,
  /** A uint32 (`x >>> 0`, `x >>> n` for a variable n, a literal above 2^31 - 1): compares unsigned. */
  Uns = 2,
  /** An unwrapped sum or difference: exact in JavaScript, wrapped here; only ToInt32 uses are allowed. */
  Sum = 3,
  /** A float64 (icount, the limit, IMUL's exact product). */
  F64 = 4,
}

const REG_LOCAL = /^r([0-7])$/;
const SEG_LOCAL = /^[sf]([0-5])$/;
/** The region function's fixed int32 locals (gen.ts names them; `d` and `xs` are the translator's own). */
const FIXED_I32 = [
  "eip",
  "e",
  "k",
  "ke",
  "x",
  "rdm",
  "wrm",
  "pe",
  "fres",
  "fcv",
  "ftop",
  "fovr",
  "fbits",
  "pg",
  "d",
  "xs",
];
const I32_NAMES = new Set(FIXED_I32);
/** Names checkName accepted (a cache: the same few hundred names recur in every region). */
const KNOWN_LOCALS = new Set<string>();

/** What the translator needs of the region besides its body. */
export interface WasmRegionInfo {
  g: Gen;
  body: string;
  winEip: number;
  slots: Int32Array;
  multiPage: boolean;
  csBase: number;
}

/** A local index placeholder: five bytes of LEB128, patched by finishLocals. */
const PLACEHOLDER = [0x80, 0x80, 0x80, 0x80, 0];

class Fn {
  readonly code = new Bytes();
  private readonly i32 = new Map<string, number>();
  private readonly f64 = new Map<string, number>();
  /** Kind of the value each local holds (set at its assignments, in text order). */
  private readonly kinds = new Map<string, K>();
  /** Label stack: "exit", "top", a case or bucket name, or "" (an if or plain block). */
  private readonly labels: string[] = [];
  /** The stack index of each open named label (names are unique), so a branch finds it at once. */
  private readonly named = new Map<string, number>();
  private nI32 = 0;
  private nF64 = 0;
  /** Param 0: limit (f64). Locals: i32 from 1, f64 after (numbered at the end). */
  constructor(private readonly info: WasmRegionInfo) {}

  local(name: string, f: boolean): number {
    const m = f ? this.f64 : this.i32;
    let i = m.get(name);
    if (i === undefined) {
      i = f ? this.nF64++ : this.nI32++;
      m.set(name, i);
    }
    return f ? -1 - i : i;
  }
  /** Encode a local index: i32 locals at 1 + i, f64 locals after all i32 locals (fixed up in finish). */
  get(name: string, f = false): void {
    this.code.u8(W.LocalGet);
    this.fix(this.local(name, f));
  }
  set(name: string, f = false): void {
    this.code.u8(W.LocalSet);
    this.fix(this.local(name, f));
  }
  /** Local references are emitted as 5-byte placeholders and patched once the i32 count is known. */
  private readonly patches: { at: number; idx: number }[] = [];
  fix(idx: number): void {
    this.patches.push({ at: this.code.n, idx });
    this.code.raw(PLACEHOLDER);
  }
  finishLocals(): { i32: number; f64: number } {
    for (const p of this.patches) {
      const v = p.idx >= 0 ? 1 + p.idx : 1 + this.nI32 + (-1 - p.idx);
      for (let j = 0; j < 5; j++) this.code.put(p.at + j, ((v >>> (7 * j)) & 0x7f) | (j < 4 ? 0x80 : 0));
    }
    return { i32: this.nI32, f64: this.nF64 };
  }

  i32c(v: number): void {
    this.code.u8(W.I32Const);
    this.code.sleb(v);
  }
  loadState(slot: number): void {
    this.i32c(0);
    this.code.u8(W.I32Load, 2);
    this.code.uleb(WasmLayout.State + slot * 4);
  }
  /** Store the i32 on the stack top into state slot (value pushed after the address by `val`). */
  storeState(slot: number, val: () => void): void {
    this.i32c(0);
    val();
    this.code.u8(W.I32Store, 2);
    this.code.uleb(WasmLayout.State + slot * 4);
  }
  storeIcount(val: () => void): void {
    this.i32c(0);
    val();
    this.code.u8(W.F64Store, 3);
    this.code.uleb(ICOUNT_F64 * 8);
  }
  loadIcount(): void {
    this.i32c(0);
    this.code.u8(W.F64Load, 3);
    this.code.uleb(ICOUNT_F64 * 8);
  }
  loadReg(r: number): void {
    this.i32c(0);
    this.code.u8(W.I32Load, 2);
    this.code.uleb(WasmLayout.Regs + r * 4);
    this.set(`r${r}`, false);
  }
  storeReg(r: number): void {
    this.i32c(0);
    this.get(`r${r}`, false);
    this.code.u8(W.I32Store, 2);
    this.code.uleb(WasmLayout.Regs + r * 4);
  }

  // ---------------------------------------------------------------- blocks and labels

  pushLabel(label: string): void {
    if (label !== "") this.named.set(label, this.labels.length);
    this.labels.push(label);
  }
  popLabel(): void {
    const label = this.labels.pop();
    if (label !== undefined && label !== "") this.named.delete(label);
  }
  /** The branch depth of an open named label. */
  depth(label: string): number {
    const i = this.named.get(label);
    if (i === undefined) no(`no label ${label}`);
    return this.labels.length - 1 - i;
  }
  open(op: number, label: string): void {
    this.code.u8(op, W.BlockVoid);
    this.pushLabel(label);
  }
  close(): void {
    this.code.u8(W.End);
    this.popLabel();
  }
  br(label: string): void {
    this.code.u8(W.Br);
    this.code.uleb(this.depth(label));
  }

  // ---------------------------------------------------------------- state sync (gen.ts placeholders)

  sync(): void {
    const g = this.info.g;
    for (const r of bitsOf(g.regsWritten)) this.storeReg(r);
    if (g.flagsWritten) this.storeFlags();
  }
  storeFlags(): void {
    const names = ["fres", "fcv", "ftop", "fovr", "fbits"];
    for (let j = 0; j < 5; j++) this.storeState(St.Fres + j, () => this.get(names[j], false));
  }
  reload(): void {
    const g = this.info.g;
    for (const r of bitsOf(g.regsUsed)) this.loadReg(r);
    if (g.flagsUsed || g.flagsWritten) this.loadFlags();
  }
  loadFlags(): void {
    const names = ["fres", "fcv", "ftop", "fovr", "fbits"];
    for (let j = 0; j < 5; j++) {
      this.loadState(St.Fres + j);
      this.set(names[j], false);
    }
  }
  mode(): void {
    this.loadState(St.RdMask);
    this.set("rdm", false);
    this.loadState(St.WrMask);
    this.set("wrm", false);
    this.loadState(St.Pe);
    this.set("pe", false);
    for (const s of bitsOf(this.info.g.segsUsed)) {
      this.loadState(St.SegBase + s);
      this.set(`s${s}`, false);
      this.loadState(St.SegF + s);
      this.set(`f${s}`, false);
    }
  }

  // ---------------------------------------------------------------- statements

  stmts(list: Stmt[]): void {
    for (const s of list) this.stmt(s);
  }

  private stmt(s: Stmt): void {
    switch (s.t) {
      case "block":
        this.stmts(s.body);
        return;
      case "break":
        this.br("exit");
        return;
      case "continue":
        this.br("top");
        return;
      case "if":
        this.cond(s.c);
        this.open(W.If, "");
        this.stmts(s.a);
        if (s.b !== null) {
          this.code.u8(W.Else);
          this.stmts(s.b);
        }
        this.close();
        return;
      case "expr":
        this.exprStmt(s.e);
        return;
      case "assign":
        this.assign(s.op, s.lhs, s.e);
        return;
      case "case":
        no("nested case");
    }
  }

  private exprStmt(e: Expr): void {
    if (e.t !== "call") no("expression statement");
    switch (e.f) {
      case "$SYNC":
        this.sync();
        return;
      case "$RELOAD":
        this.reload();
        return;
      case "$MODE":
        this.mode();
        return;
      case "X": {
        // X(c, FB[j]): the interpreter's handler; the glue copies the state block to the Cpu and back.
        const fb = e.args[1];
        if (fb?.t !== "idx" || fb.a !== "FB" || fb.i.t !== "num") no("X call");
        this.i32c(fb.i.v);
        this.code.u8(W.Call);
        this.code.uleb(IMPORT_X);
        this.set("xs", false);
        return;
      }
      case "PG":
        no("PG statement");
    }
    no(`call ${e.f}`);
  }

  private assign(op: string, lhs: Expr, e: Expr): void {
    if (lhs.t === "id") {
      const n = lhs.n;
      if (n === "ic") {
        if (op === "=") this.f64expr(e);
        else if (op === "+=") {
          this.get("ic", true);
          this.f64expr(e);
          this.code.u8(W.F64Add);
        } else no("ic op");
        this.set("ic", true);
        return;
      }
      if (n === "eip" && e.t === "field" && e.f === "eip") {
        this.loadState(St.Eip);
        this.set("eip", false);
        return;
      }
      this.checkName(n);
      if (op !== "=") no(`${op} on ${n}`);
      const k = this.kindOf(e);
      if (k === K.F64) {
        this.f64expr(e);
        this.set(n, true);
        this.kinds.set(n, K.F64);
        return;
      }
      if (k === K.Sum) no(`unwrapped sum into ${n}`);
      this.i32expr(e);
      this.set(n, false);
      this.kinds.set(n, k);
      return;
    }
    if (lhs.t === "idx") {
      const a = lhs.a;
      if (op !== "=") no("compound store");
      if (a === "ram" || a === "m16" || a === "m32") {
        // ram[p] / m16[p >> 1] / m32[p >> 2]: p is a physical RAM address.
        this.physAddr(a, lhs.i);
        this.i32expr(e);
        this.code.u8(
          a === "ram" ? W.I32Store8 : a === "m16" ? W.I32Store16 : W.I32Store,
          a === "ram" ? 0 : a === "m16" ? 1 : 2,
        );
        this.code.uleb(WasmLayout.RamBase);
        return;
      }
      no(`store to ${a}`);
    }
    if (lhs.t === "field") {
      const f = lhs.f;
      if (op === "=" && (f === "icount" || f === "curEip" || f === "eip")) {
        if (f === "icount") this.storeIcount(() => this.f64expr(e));
        else this.storeState(f === "eip" ? St.Eip : St.CurEip, () => this.i32expr(e));
        return;
      }
      if (f === "eflags" && (op === "&=" || op === "|=") && e.t === "num") {
        this.i32c(op === "&=" ? e.v : -1);
        this.i32c(op === "|=" ? e.v : 0);
        this.code.u8(W.Call);
        this.code.uleb(IMPORT_EF);
        return;
      }
      no(`c.${f} ${op}`);
    }
    no("assignment target");
  }

  private checkName(n: string): void {
    if (KNOWN_LOCALS.has(n)) return;
    if (/^t\d+$/.test(n) || REG_LOCAL.test(n) || SEG_LOCAL.test(n) || I32_NAMES.has(n) || n === "eip") {
      KNOWN_LOCALS.add(n);
      return;
    }
    no(`local ${n}`);
  }

  /** The byte address of a typed-array element of RAM, without RamBase (the memarg offset adds it). */
  private physAddr(a: string, i: Expr): void {
    if (a === "ram") {
      this.i32expr(i);
      return;
    }
    // m16[p >> 1], m32[p >> 2]: the emitter always indexes with the byte address shifted right.
    const sh = a === "m16" ? 1 : 2;
    if (i.t !== "bin" || i.op !== ">>" || i.r.t !== "num" || i.r.v !== sh) no(`${a} index`);
    this.i32expr(i.l);
    this.i32c(-(1 << sh));
    this.code.u8(W.I32And);
  }

  // ---------------------------------------------------------------- expressions

  kindOf(e: Expr): K {
    let k = e.kd;
    if (k === undefined) e.kd = k = this.kindOfNode(e);
    return k;
  }

  private kindOfNode(e: Expr): K {
    switch (e.t) {
      case "num":
        if (!Number.isInteger(e.v)) no("fraction");
        if (e.v > 2147483647) {
          if (e.v > 4294967295) no("literal");
          return K.Uns;
        }
        return e.v >= 0 ? K.Nat : K.Int;
      case "id":
        if (e.n === "ic" || e.n === "limit") return K.F64;
        if (e.n === "true" || e.n === "false") return K.Nat;
        return this.kinds.get(e.n) ?? K.Int;
      case "idx":
        if (e.a === "ram" || e.a === "m16" || e.a === "PAR" || e.a === "S") return K.Nat;
        return K.Int;
      case "field":
        return e.f === "icount" ? K.F64 : K.Int;
      case "un":
        if (e.op === "!") return K.Nat;
        if (e.op === "-") return this.kindOf(e.e) === K.F64 ? K.F64 : K.Sum;
        return K.Int;
      case "tern": {
        const a = this.kindOf(e.a);
        const b = this.kindOf(e.b);
        if (a === b) return a;
        if ((a === K.F64) !== (b === K.F64)) return K.F64;
        if (a === K.Sum || b === K.Sum) return K.Sum;
        if (a === K.Uns || b === K.Uns) {
          if (a === K.Int || b === K.Int) no("mixed signed/unsigned ternary");
          return K.Uns;
        }
        return a === K.Nat && b === K.Nat ? K.Nat : K.Int;
      }
      case "call":
        if (e.f === "Math.imul" || e.f === "c.segCheck" || e.f === "$TEE") return K.Int;
        if (e.f === "PG" || e.f === "$FLATOK" || e.f === "$DF") return K.Nat;
        return no(`call ${e.f}`);
      case "bin": {
        const op = e.op;
        if (isStopCheck(e)) return K.Nat;
        if (op === "===" || op === "!==" || op === "<" || op === "<=" || op === ">" || op === ">=") return K.Nat;
        if (op === "&&" || op === "||") return K.Nat;
        const l = this.kindOf(e.l);
        const r = this.kindOf(e.r);
        if (op === "+" || op === "-" || op === "*") {
          if (l === K.F64 || r === K.F64 || op === "*") return K.F64;
          return K.Sum;
        }
        if (l === K.F64 || r === K.F64) no("bitwise op on a float64");
        if (op === ">>>") {
          if (e.r.t === "num") return (e.r.v & 31) === 0 ? K.Uns : K.Nat;
          return K.Uns;
        }
        if (op === "&" && (l === K.Nat || r === K.Nat)) return K.Nat;
        return K.Int;
      }
    }
  }

  /** Push e as a float64. */
  f64expr(e: Expr): void {
    const k = this.kindOf(e);
    if (e.t === "num") {
      this.code.u8(W.F64Const);
      this.code.f64(e.v);
      return;
    }
    if (e.t === "id" && (e.n === "ic" || e.n === "limit")) {
      if (e.n === "limit") {
        this.code.u8(W.LocalGet, 0);
        return;
      }
      this.get("ic", true);
      return;
    }
    if (e.t === "id" && k === K.F64) {
      this.get(e.n, true);
      return;
    }
    if (e.t === "bin" && (e.op === "+" || e.op === "-" || e.op === "*")) {
      this.f64expr(e.l);
      this.f64expr(e.r);
      this.code.u8(e.op === "+" ? W.F64Add : e.op === "-" ? W.F64Sub : W.F64Mul);
      return;
    }
    if (e.t === "tern") {
      this.ternary(e, Ty.F64, (x) => this.f64expr(x));
      return;
    }
    if (k === K.F64) no("float64 expression");
    // An int32 value as the number JavaScript has for it.
    this.i32expr(e);
    this.code.u8(k === K.Uns ? W.F64ConvertI32U : W.F64ConvertI32S);
  }

  /** `c ? a : b` as an `if` with a result of type ty, each arm pushed by `arm`. */
  private ternary(e: Extract<Expr, { t: "tern" }>, ty: Ty, arm: (x: Expr) => void): void {
    this.cond(e.c);
    this.code.u8(W.If, ty);
    this.pushLabel("");
    arm(e.a);
    this.code.u8(W.Else);
    arm(e.b);
    this.code.u8(W.End);
    this.popLabel();
  }

  /** Push e's truth (i32 0 or non-zero) for a condition. */
  cond(e: Expr): void {
    const k = this.kindOf(e);
    if (k === K.F64) no("float64 condition");
    this.i32expr(e);
  }

  /** Push e as an i32 (its ToInt32 bits). */
  i32expr(e: Expr): void {
    switch (e.t) {
      case "num":
        this.i32c(e.v | 0);
        return;
      case "id":
        if (e.n === "ic" || e.n === "limit") no("float64 as int");
        if (this.kinds.get(e.n) === K.F64) no("float64 local as int");
        this.checkName(e.n);
        this.get(e.n, false);
        return;
      case "field":
        no(`read of c.${e.f}`);
        return;
      case "idx":
        this.load(e);
        return;
      case "un":
        if (e.op === "!") {
          this.cond(e.e);
          this.code.u8(W.I32Eqz);
        } else if (e.op === "~") {
          this.i32expr(e.e);
          this.i32c(-1);
          this.code.u8(W.I32Xor);
        } else {
          this.i32c(0);
          this.i32expr(e.e);
          this.code.u8(W.I32Sub);
        }
        return;
      case "tern":
        this.ternary(e, Ty.I32, (x) => this.i32expr(x));
        return;
      case "call":
        this.call(e);
        return;
      case "bin":
        if (isStopCheck(e)) this.get("xs", false);
        else this.binary(e);
        return;
    }
  }

  private load(e: Extract<Expr, { t: "idx" }>): void {
    const a = e.a;
    if (a === "ram" || a === "m16" || a === "m32") {
      this.physAddr(a, e.i);
      this.code.u8(
        a === "ram" ? W.I32Load8U : a === "m16" ? W.I32Load16U : W.I32Load,
        a === "ram" ? 0 : a === "m16" ? 1 : 2,
      );
      this.code.uleb(WasmLayout.RamBase);
      return;
    }
    if (a === "tlb") {
      this.i32expr(e.i);
      this.i32c(2);
      this.code.u8(W.I32Shl);
      this.code.u8(W.I32Load, 2);
      this.code.uleb(WasmLayout.Tlb);
      return;
    }
    if (a === "PAR") {
      this.i32expr(e.i);
      this.code.u8(W.I32Load8U, 0);
      this.code.uleb(WasmLayout.Parity);
      return;
    }
    no(`load from ${a}`);
  }

  private call(e: Extract<Expr, { t: "call" }>): void {
    if (e.f === "$TEE") {
      const n = e.args[0];
      if (n.t !== "id" || n.n !== "e") no("assignment expression");
      this.i32expr(e.args[1]);
      this.code.u8(W.LocalTee);
      this.fix(this.local("e", false));
      return;
    }
    if (e.f === "Math.imul") {
      this.i32expr(e.args[0]);
      this.i32expr(e.args[1]);
      this.code.u8(W.I32Mul);
      return;
    }
    if (e.f === "c.segCheck") {
      // May fault: the catch handler writes the locals back (k/ke are set before it).
      for (const a of e.args) this.i32expr(a);
      this.code.u8(W.Call);
      this.code.uleb(IMPORT_SC);
      return;
    }
    if (e.f === "PG") {
      // PG(c, lp, phys): tlb[lp] readable and mapping phys.
      const [, lp, phys] = e.args;
      if (lp.t !== "num" || phys.t !== "num") no("PG args");
      this.i32c(lp.v * 4);
      this.code.u8(W.I32Load, 2);
      this.code.uleb(WasmLayout.Tlb);
      this.set("e", false);
      this.get("e", false);
      this.get("rdm", false);
      this.code.u8(W.I32And);
      this.get("rdm", false);
      this.code.u8(W.I32Eq);
      this.get("e", false);
      this.i32c(-4096);
      this.code.u8(W.I32And);
      this.i32c(phys.v | 0);
      this.code.u8(W.I32Eq);
      this.code.u8(W.I32And);
      return;
    }
    if (e.f === "$DF") {
      this.loadState(St.Df);
      return;
    }
    if (e.f === "$FLATOK") {
      const m = this.info.g.flatUsed;
      this.loadState(St.FlatOk);
      this.i32c(m);
      this.code.u8(W.I32And);
      this.i32c(m);
      this.code.u8(W.I32Eq);
      this.loadState(St.Pe);
      this.code.u8(W.I32And);
      return;
    }
    no(`call ${e.f}`);
  }

  private binary(e: Extract<Expr, { t: "bin" }>): void {
    const op = e.op;
    const c = this.code;
    switch (op) {
      case "&&":
      case "||": {
        // Both sides are conditions here; the result is used as a truth value.
        this.cond(e.l);
        c.u8(W.If, Ty.I32);
        this.pushLabel("");
        if (op === "&&") {
          this.cond(e.r);
          c.u8(W.I32Eqz, W.I32Eqz);
          c.u8(W.Else);
          this.i32c(0);
        } else {
          this.i32c(1);
          c.u8(W.Else);
          this.cond(e.r);
          c.u8(W.I32Eqz, W.I32Eqz);
        }
        c.u8(W.End);
        this.popLabel();
        return;
      }
      case "===":
      case "!==":
      case "<":
      case "<=":
      case ">":
      case ">=":
        this.compare(e);
        return;
    }
    const lk = this.kindOf(e.l);
    const rk = this.kindOf(e.r);
    if (lk === K.F64 || rk === K.F64) no(`${op} on a float64`);
    if (op === "*") no("* as an int");
    const code = I32_BINARY[op];
    if (code === undefined) no(`operator ${op}`);
    this.i32expr(e.l);
    this.i32expr(e.r);
    c.u8(code);
  }

  private compare(e: Extract<Expr, { t: "bin" }>): void {
    const op = e.op;
    let l = e.l;
    let r = e.r;
    const lk = this.kindOf(l);
    const rk = this.kindOf(r);
    if (lk === K.F64 || rk === K.F64) {
      this.f64expr(l);
      this.f64expr(r);
      const m: Record<string, number> = {
        "===": W.F64Eq,
        "!==": W.F64Ne,
        "<": W.F64Lt,
        "<=": W.F64Le,
        ">": W.F64Gt,
        ">=": W.F64Ge,
      };
      this.code.u8(m[op]);
      return;
    }
    if (lk === K.Sum || rk === K.Sum) no("compare of an unwrapped sum");
    // Unsigned when a side is a uint32 and the other cannot be negative; signed when neither is unsigned.
    let unsigned = false;
    if (lk === K.Uns || rk === K.Uns) {
      if (lk === K.Int || rk === K.Int) {
        // x >>> 0 against a plain int32 (a register local): JavaScript compares the numbers.
        no("unsigned against signed compare");
      }
      unsigned = true;
    }
    // `x >>> 0` compares as x unsigned: drop the no-op shift.
    const strip = (x: Expr): Expr =>
      x.t === "bin" && x.op === ">>>" && x.r.t === "num" && (x.r.v & 31) === 0 ? x.l : x;
    l = strip(l);
    r = strip(r);
    this.i32expr(l);
    this.i32expr(r);
    const s: Record<string, number> = {
      "===": W.I32Eq,
      "!==": W.I32Ne,
      "<": W.I32LtS,
      "<=": W.I32LeS,
      ">": W.I32GtS,
      ">=": W.I32GeS,
    };
    const u: Record<string, number> = {
      "===": W.I32Eq,
      "!==": W.I32Ne,
      "<": W.I32LtU,
      "<=": W.I32LeU,
      ">": W.I32GtU,
      ">=": W.I32GeU,
    };
    this.code.u8((unsigned ? u : s)[op]);
  }
}

/** `c.blockDirty || c.halted || c.stopRequested || c.intr` after an interpreter call: the X import's result. */
function isStopCheck(e: Expr): boolean {
  const fields: string[] = [];
  const walk = (x: Expr): boolean => {
    if (x.t === "field") {
      fields.push(x.f);
      return true;
    }
    return x.t === "bin" && x.op === "||" && walk(x.l) && walk(x.r);
  };
  return walk(e) && fields.join() === "blockDirty,halted,stopRequested,intr";
}

/** The int32 WebAssembly instruction of each JavaScript bitwise or additive operator. */
const I32_BINARY: Record<string, number> = {
  "+": W.I32Add,
  "-": W.I32Sub,
  "&": W.I32And,
  "|": W.I32Or,
  "^": W.I32Xor,
  "<<": W.I32Shl,
  ">>": W.I32ShrS,
  ">>>": W.I32ShrU,
};

/** Function indices of the imports. */
const IMPORT_X = 0;
const IMPORT_SC = 1;
const IMPORT_EF = 2;

/**
 * Translate a region (its generated body and layout) into a WebAssembly module: one exported
 * function `r(limit: f64): i32` returning the Exit code. Returns null when the body uses
 * anything the translator does not handle.
 */
export function translateRegion(info: WasmRegionInfo): Uint8Array | null {
  let cases: Stmt[];
  try {
    const src = info.body
      .replaceAll("@SYNC@", "$SYNC();")
      .replaceAll("@RELOAD@", "$RELOAD();")
      .replaceAll("@MODE@", "$MODE();")
      .replaceAll("@FLATOK@", "$FLATOK()")
      .replaceAll("@DF@", "$DF()");
    cases = new Parser(src).stmts("");
    for (const s of cases) if (s.t !== "case") no("statement outside a case");
    return assembleModule(info, cases as Extract<Stmt, { t: "case" }>[]);
  } catch (e) {
    if (e instanceof Unsupported) {
      if (process.env.RETRACE_WASM_DEBUG) console.error(`wasm: ${e.message}`);
      return null;
    }
    throw e;
  }
}

function assembleModule(info: WasmRegionInfo, cases: Extract<Stmt, { t: "case" }>[]): Uint8Array {
  const f = new Fn(info);
  const g = info.g;
  const c = f.code;
  const regs = bitsOf(g.regsUsed);
  const written = bitsOf(g.regsWritten);
  const flags = g.flagsUsed || g.flagsWritten;
  // Locals that must exist with fixed meanings.
  f.local("ic", true);
  for (const n of FIXED_I32) f.local(n, false);
  const get = (n: string, fl = false) => f.get(n, fl);
  const set = (n: string, fl = false) => f.set(n, fl);
  // Prologue: icount, EIP, mode, registers, flags.
  f.loadIcount();
  set("ic", true);
  f.loadState(St.Eip);
  set("eip");
  f.i32c(1);
  set("x");
  f.mode();
  for (const r of regs) f.loadReg(r);
  if (flags) f.loadFlags();
  else {
    f.i32c(31);
    set("ftop");
  }
  if (info.multiPage) {
    get("eip");
    f.i32c(info.csBase);
    c.u8(W.I32Add);
    f.i32c(12);
    c.u8(W.I32ShrU);
    set("pg");
  }
  // try { block $exit { loop $top { dispatch; cases } } } catch_all { write back; rethrow }
  f.open(W.Try, "");
  f.open(W.Block, "exit");
  f.open(W.Loop, "top");
  // d = (eip - winEip) >>> 0; out of the window: Left.
  const n = cases.length;
  const size = info.slots.length;
  get("eip");
  f.i32c(info.winEip);
  c.u8(W.I32Sub);
  set("d");
  get("d");
  f.i32c(size);
  c.u8(W.I32GeU);
  c.u8(W.If, W.BlockVoid);
  f.pushLabel("");
  f.i32c(2);
  set("x");
  f.br("exit");
  c.u8(W.End);
  f.popLabel();
  // Two-level dispatch, so that no block of the function has thousands of predecessors (V8's
  // optimising wasm compiler is quadratic in them): a br_table on d >> shift picks a bucket of at
  // most a few blocks, which compares d with each of its blocks' offsets.
  // block $default { block $c_n ... { block $c_1 { block $b_m ... { block $b_1 { br_table } bucket 1 } ... } case 1 } ... } default
  let shift = 0;
  while (((size - 1) >> shift) + 1 > Math.max(16, 4 * n)) shift++;
  const nb = ((size - 1) >> shift) + 1;
  const buckets = new Map<number, [number, number][]>();
  for (let o = 0; o < size; o++) {
    const j = info.slots[o];
    if (j === 0) continue;
    const b = o >> shift;
    let list = buckets.get(b);
    if (list === undefined) buckets.set(b, (list = []));
    list.push([o, j]);
  }
  const used = [...buckets.keys()].sort((a, b) => a - b);
  f.open(W.Block, "default");
  for (let j = n; j >= 1; j--) f.open(W.Block, `c${j}`);
  for (let q = used.length; q >= 1; q--) f.open(W.Block, `b${q}`);
  get("d");
  if (shift > 0) {
    f.i32c(shift);
    c.u8(W.I32ShrU);
  }
  c.u8(W.BrTable);
  c.uleb(nb);
  const bucketOf = new Map<number, number>();
  for (let q = 0; q < used.length; q++) bucketOf.set(used[q], q + 1);
  for (let b = 0; b < nb; b++) {
    const q = bucketOf.get(b);
    c.uleb(q === undefined ? f.depth("default") : f.depth(`b${q}`));
  }
  c.uleb(f.depth("default"));
  for (let q = 1; q <= used.length; q++) {
    f.close(); // end of bucket q's block: its compares follow
    const list = buckets.get(used[q - 1]) as [number, number][];
    if (shift === 0 && list.length === 1) {
      c.u8(W.Br);
      c.uleb(f.depth(`c${list[0][1]}`));
      continue;
    }
    for (const [o, j] of list) {
      get("d");
      f.i32c(o);
      c.u8(W.I32Eq);
      c.u8(W.BrIf);
      c.uleb(f.depth(`c${j}`));
    }
    c.u8(W.Br);
    c.uleb(f.depth("default"));
  }
  for (let j = 1; j <= n; j++) {
    f.close(); // end of case j's block: its code follows
    const cs = cases[j - 1];
    if (cs.n !== j) no("case order");
    f.stmts(cs.body);
    // The emitter ends every case with continue or break; never fall into the next one.
    c.u8(0x00); // unreachable
  }
  f.close(); // $default
  f.i32c(2);
  set("x");
  f.br("exit");
  f.close(); // loop
  f.close(); // $exit
  // catch_all: a fault (segCheck, an interpreter call): write the state back unless the Cpu holds it (k < 0).
  c.u8(W.CatchAll);
  get("k");
  f.i32c(0);
  c.u8(W.I32GeS);
  c.u8(W.If, W.BlockVoid);
  f.pushLabel("");
  for (const r of written) f.storeReg(r);
  if (g.flagsWritten) f.storeFlags();
  f.storeIcount(() => {
    get("ic", true);
    get("k");
    c.u8(W.F64ConvertI32S, W.F64Add);
  });
  f.storeState(St.CurEip, () => get("ke"));
  c.u8(W.End);
  f.popLabel();
  f.storeState(St.K, () => get("k"));
  c.u8(W.Rethrow, 0);
  c.u8(W.End); // try
  f.popLabel();
  // Epilogue.
  for (const r of written) f.storeReg(r);
  if (g.flagsWritten) f.storeFlags();
  f.storeIcount(() => get("ic", true));
  f.storeState(St.Eip, () => get("eip"));
  get("x");
  c.u8(W.End);
  const locals = f.finishLocals();

  // Module: the fixed sections, then the code section with the one function body.
  const decl = new Bytes();
  const groups: [number, number][] = [];
  if (locals.i32 > 0) groups.push([locals.i32, Ty.I32]);
  if (locals.f64 > 0) groups.push([locals.f64, Ty.F64]);
  decl.uleb(groups.length);
  for (const [cnt, ty] of groups) {
    decl.uleb(cnt);
    decl.u8(ty);
  }
  const code = new Bytes();
  code.uleb(1);
  code.uleb(decl.n + c.n);
  code.raw(decl.bytes());
  code.raw(c.bytes());
  const m = new Bytes();
  m.raw(MODULE_HEAD);
  m.section(10, code);
  return m.bytes().slice();
}

/** The sections every region module shares: types, imports, the one function and its export. */
const MODULE_HEAD = ((): Uint8Array => {
  const m = new Bytes();
  m.raw([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  const type = (params: Ty[], results: Ty[]) => {
    const t = new Bytes();
    t.u8(0x60);
    t.uleb(params.length);
    t.raw(params);
    t.uleb(results.length);
    t.raw(results);
    return t;
  };
  const types = new Bytes();
  types.vec([
    type([Ty.F64], [Ty.I32]), // 0: the region (limit) -> exit
    type([Ty.I32], [Ty.I32]), // 1: x (handler index) -> stop
    type([Ty.I32, Ty.I32, Ty.I32, Ty.I32], [Ty.I32]), // 2: sc
    type([Ty.I32, Ty.I32], []), // 3: ef (and mask, or mask)
  ]);
  m.section(1, types);
  const imports = new Bytes();
  const imp = (name: string, kind: number, desc: number[]) => {
    const b = new Bytes();
    b.str("e");
    b.str(name);
    b.u8(kind);
    b.raw(desc);
    return b;
  };
  imports.vec([imp("x", 0, [1]), imp("sc", 0, [2]), imp("ef", 0, [3]), imp("m", 2, [0, 0])]);
  m.section(2, imports);
  const funcs = new Bytes();
  funcs.uleb(1);
  funcs.uleb(0);
  m.section(3, funcs);
  const exps = new Bytes();
  exps.uleb(1);
  exps.str("r");
  exps.u8(0);
  exps.uleb(3);
  m.section(7, exps);
  return m.bytes().slice();
})();

// ------------------------------------------------------------------ glue

/** What a WebAssembly region's entry guard checks (the JavaScript back end's guard, as data). */
export interface WasmGuard {
  csBase: number;
  csLimit: number;
  /** -1: the region does not use the stack; else the stack size (1: 32-bit) it was compiled for. */
  stack32: number;
  /** Segments the region assumes flat. */
  flat: number;
  /** Segments with base and "no checks" locals (Gen.segsUsed). */
  segs: number;
}

const modules = new Map<string, { mod: object; size: number }>();
/** Bytes of WebAssembly translated (all modules) and held by live regions (the bench and tests read them). */
export const wasmBytes = { total: 0, live: 0, liveRegions: 0 };
/**
 * Past this many live WebAssembly regions, or bytes of them, new regions stay JavaScript. V8 maps
 * a code space of its own for each module (about 1.6 memory mappings per region), and a run that
 * compiles every block (threshold 0, the tests) makes tens of thousands of regions that stay alive
 * with their blocks: the Linux boot died at about 35,000 ("Commit wasm code space allocation
 * failed", near Linux's 65,530 mappings per process). The default threshold makes 669 regions
 * (5.9 MB) on the Linux boot. Regions are counted out when V8 collects them, so the share of
 * WebAssembly regions depends on the garbage collector's timing; both back ends are exact, so
 * that changes speed only, never the guest's run.
 */
const MAX_LIVE_BYTES = 48 << 20;
/** The engine rejected a module: every region is JavaScript from then on. */
let unusable = false;
const MAX_LIVE_REGIONS = 10_000;
const collected = new FinalizationRegistry<number>((n) => {
  wasmBytes.live -= n;
  wasmBytes.liveRegions--;
});
/** Cached modules keep their code alive: V8 gives each module a code space, and the total is bounded. */
const MAX_MODULES = 1000;

/** Is segment s flat (base 0, limit 4 GiB, read/write data)? */
function flatSeg(c: Cpu, s: number): boolean {
  return c.segBase[s] === 0 && c.segLimit[s] === -1 && (c.segAr[s] & 14) === 2;
}

/** Copy the mode a region reads (access masks, PE, segment state) into the state block. */
function writeMode(c: Cpu, st: Int32Array, segs: number, all: boolean): void {
  st[St.RdMask] = c.rdMask;
  st[St.WrMask] = c.wrMask;
  const pe = c.cr0 & 1;
  st[St.Pe] = pe;
  if (segs === 0 && !all) return;
  let ok = 0;
  for (let s = 0; s < 6; s++) {
    if (!all && (segs & (1 << s)) === 0) continue;
    st[St.SegBase + s] = c.segBase[s];
    st[St.SegF + s] = pe !== 0 && c.segLimit[s] === -1 && (c.segAr[s] & 14) === 2 ? 1 : 0;
    if (flatSeg(c, s)) ok |= 1 << s;
  }
  st[St.FlatOk] = ok;
}

/**
 * A WebAssembly region's function for the run loop (RegionFn's contract), or null when the source
 * uses something the translator does not handle. Modules are shared by identical sources; each
 * region gets its own instance, whose imports call this Cpu's interpreter.
 */
export function buildWasmRegion(
  c: Cpu,
  info: WasmRegionInfo,
  fallbacks: readonly Insn[],
  d: WasmGuard,
): ((c: Cpu, limit: number) => number) | null {
  const key = `${info.winEip} ${info.multiPage} ${info.csBase} ${info.slots.join()}\n${info.body}`;
  if (WA === undefined || unusable || wasmBytes.liveRegions >= MAX_LIVE_REGIONS) return null;
  let entry = modules.get(key);
  if (entry === undefined) {
    const bytes = translateRegion(info);
    if (bytes === null || wasmBytes.live + bytes.length > MAX_LIVE_BYTES) return null;
    let mod: object;
    try {
      mod = new WA.Module(bytes);
    } catch (err) {
      // An engine without the exception-handling instructions (try/catch_all), or a translator bug
      // caught by validation: JavaScript regions from now on, which give the same run.
      if (process.env.RETRACE_WASM_DEBUG) console.error(`wasm: module rejected: ${(err as Error).message}`);
      unusable = true;
      return null;
    }
    entry = { mod, size: bytes.length };
    wasmBytes.total += bytes.length;
    if (modules.size >= MAX_MODULES) modules.clear();
    modules.set(key, entry);
  } else if (wasmBytes.live + entry.size > MAX_LIVE_BYTES) return null;
  const mod = entry.mod;
  const st = c.wasmI32;
  const f64 = c.wasmF64;
  const pure = fallbacks.map((i) => PURE_FALLBACK.has(i.op));
  const x = (j: number): number => {
    flagsToCpu(c, st);
    c.icount = f64[ICOUNT_F64];
    c.curEip = st[St.CurEip];
    c.eip = st[St.Eip];
    try {
      execute(c, fallbacks[j]);
    } catch (err) {
      // A fault (or anything else) leaves the region as a stop, and runWasm throws it there: an
      // exception unwinding through WebAssembly frames costs V8 a stack walk. The Cpu holds the
      // state here (the region's k is -1), and runWasm does not copy the state block back.
      pending = err;
      return 1;
    }
    flagsToState(c, st);
    st[St.Eip] = c.eip;
    if (!pure[j]) writeMode(c, st, d.segs, true);
    return c.blockDirty || c.halted || c.stopRequested || c.intr ? 1 : 0;
  };
  const sc = (s: number, off: number, w: number, write: number): number => c.segCheck(s, off, w, write !== 0);
  const ef = (and: number, or: number): void => {
    c.eflags = (c.eflags & and) | or;
    st[St.Df] = (c.eflags >>> 10) & 1;
  };
  const run = new WA.Instance(mod, { e: { x, sc, ef, m: c.mem.wasm } }).exports.r;
  const fn = (c: Cpu, limit: number): number => runWasm(c, limit, run, d);
  wasmBytes.live += entry.size;
  wasmBytes.liveRegions++;
  collected.register(fn, entry.size);
  return fn;
}

/** The lazy-flag state from the state block into the Cpu. */
function flagsToCpu(c: Cpu, st: Int32Array): void {
  c.fres = st[St.Fres];
  c.fcv = st[St.Fcv];
  c.ftop = st[St.Ftop];
  c.fovr = st[St.Fovr];
  c.fbits = st[St.Fbits];
}

/** The lazy-flag state and DF from the Cpu into the state block. */
function flagsToState(c: Cpu, st: Int32Array): void {
  st[St.Df] = (c.eflags >>> 10) & 1;
  st[St.Fres] = c.fres;
  st[St.Fcv] = c.fcv;
  st[St.Ftop] = c.ftop;
  st[St.Fovr] = c.fovr;
  st[St.Fbits] = c.fbits;
}

const NONE = {};
/** An exception an interpreter fallback threw, rethrown by runWasm once the region has left. */
let pending: unknown = NONE;

/** Enter a WebAssembly region: its guard, the state block in, the call, the state block out. */
function runWasm(c: Cpu, limit: number, run: (limit: number) => number, d: WasmGuard): number {
  if (
    c.segBase[1] !== d.csBase ||
    c.segLimit[1] !== d.csLimit ||
    c.alignCheck ||
    (d.stack32 >= 0 && c.stack32 !== (d.stack32 === 1)) ||
    (d.flat !== 0 && !flatOk(c, d.flat))
  )
    return 0;
  const st = c.wasmI32;
  const f64 = c.wasmF64;
  st[St.Eip] = c.eip;
  flagsToState(c, st);
  st[St.K] = -1;
  f64[ICOUNT_F64] = c.icount;
  writeMode(c, st, d.segs, false);
  c.blockDirty = false;
  let x: number;
  try {
    x = run(limit);
  } catch (err) {
    if (st[St.K] >= 0) {
      flagsToCpu(c, st);
      c.icount = f64[ICOUNT_F64];
      c.curEip = st[St.CurEip];
    }
    throw err;
  }
  if (pending !== NONE) {
    const err = pending;
    pending = NONE;
    throw err;
  }
  flagsToCpu(c, st);
  c.icount = f64[ICOUNT_F64];
  c.eip = st[St.Eip];
  return x;
}

function flatOk(c: Cpu, mask: number): boolean {
  if ((c.cr0 & 1) === 0) return false;
  for (let s = 0; s < 6; s++) if ((mask & (1 << s)) !== 0 && !flatSeg(c, s)) return false;
  return true;
}
