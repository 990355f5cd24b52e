/**
 * x87 instruction forms and case generation for the differential suite. Every form gets cases
 * from its own generator seeded by (seed, form name), so a case never depends on the filter.
 */
import { DATA_WIN, type FpuCase, WIN } from "./host.ts";

/** How a form's results may be compared (see compare.ts). */
export const enum Tol {
  /** Bit-exact. */
  Exact = 0,
  /** Transcendental: result registers within ULP_TOL units in the last place; C1 and PE not compared. */
  Trans = 1,
}

export type MemKind = "f32" | "f64" | "f80" | "i16" | "i32" | "i64" | "bcd" | "cw" | "env" | "none";
/** Operand domains for the register values. */
export type Domain =
  | "general"
  | "int"
  | "f2xm1"
  | "trig"
  | "yl2x"
  | "yl2xp1"
  | "atan"
  | "prem"
  | "scale"
  | "rndint"
  | "bcd";

export interface Form {
  readonly name: string;
  readonly mnem: string;
  /** Opcode (D8-DF) and ModRM reg field. */
  readonly op: number;
  readonly reg: number;
  /** Register form: fixed rm (0-7) or -1 for a random ST(i); memory form: rm = -2. */
  readonly rm: number;
  readonly mem: MemKind;
  /** Memory operand size in bytes. */
  readonly size: number;
  /** 0x66 prefix (16-bit environment formats). */
  readonly o16: boolean;
  readonly domain: Domain;
  readonly tol: Tol;
  /** The instruction sets EFLAGS (FCOMI) or reads them (FCMOV). */
  readonly flags: boolean;
  /** Expected #UD on both sides. */
  readonly ud: boolean;
}

function form(
  mnem: string,
  op: number,
  reg: number,
  rm: number,
  mem: MemKind,
  size: number,
  opts: Partial<Pick<Form, "o16" | "domain" | "tol" | "flags" | "ud">> = {},
): Form {
  const enc =
    rm === -2
      ? `${op.toString(16).toUpperCase()} /${reg}`
      : rm === -1
        ? `${op.toString(16).toUpperCase()} ${(0xc0 | (reg << 3)).toString(16).toUpperCase()}+i`
        : `${op.toString(16).toUpperCase()} ${(0xc0 | (reg << 3) | rm).toString(16).toUpperCase()}`;
  const name = `${mnem}${opts.o16 ? "16" : ""} [${enc}]`;
  return {
    name,
    mnem,
    op,
    reg,
    rm,
    mem,
    size,
    o16: opts.o16 ?? false,
    domain: opts.domain ?? "general",
    tol: opts.tol ?? Tol.Exact,
    flags: opts.flags ?? false,
    ud: opts.ud ?? false,
  };
}

const ARITH = ["fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr"];

/** Every x87 form the P6 defines (FISTTP, SSE3, left out: #UD here, valid on the host). */
export function allForms(): Form[] {
  const f: Form[] = [];
  // Memory arithmetic.
  for (let r = 0; r < 8; r++) {
    f.push(form(`${ARITH[r]} m32`, 0xd8, r, -2, "f32", 4));
    f.push(form(`${ARITH[r]} m64`, 0xdc, r, -2, "f64", 8));
    f.push(form(`${ARITH[r].replace("f", "fi")} m32`, 0xda, r, -2, "i32", 4));
    f.push(form(`${ARITH[r].replace("f", "fi")} m16`, 0xde, r, -2, "i16", 2));
  }
  // Loads, stores, control.
  f.push(form("fld m32", 0xd9, 0, -2, "f32", 4));
  f.push(form("fst m32", 0xd9, 2, -2, "none", 4));
  f.push(form("fstp m32", 0xd9, 3, -2, "none", 4));
  f.push(form("fldenv", 0xd9, 4, -2, "env", 28));
  f.push(form("fldenv", 0xd9, 4, -2, "env", 14, { o16: true }));
  f.push(form("fldcw", 0xd9, 5, -2, "cw", 2));
  f.push(form("fnstenv", 0xd9, 6, -2, "none", 28));
  f.push(form("fnstenv", 0xd9, 6, -2, "none", 14, { o16: true }));
  f.push(form("fnstcw", 0xd9, 7, -2, "none", 2));
  f.push(form("fild m32", 0xdb, 0, -2, "i32", 4));
  f.push(form("fist m32", 0xdb, 2, -2, "none", 4, { domain: "int" }));
  f.push(form("fistp m32", 0xdb, 3, -2, "none", 4, { domain: "int" }));
  f.push(form("fld m80", 0xdb, 5, -2, "f80", 10));
  f.push(form("fstp m80", 0xdb, 7, -2, "none", 10));
  f.push(form("fld m64", 0xdd, 0, -2, "f64", 8));
  f.push(form("fst m64", 0xdd, 2, -2, "none", 8));
  f.push(form("fstp m64", 0xdd, 3, -2, "none", 8));
  f.push(form("frstor", 0xdd, 4, -2, "env", 108));
  f.push(form("frstor", 0xdd, 4, -2, "env", 94, { o16: true }));
  f.push(form("fnsave", 0xdd, 6, -2, "none", 108));
  f.push(form("fnsave", 0xdd, 6, -2, "none", 94, { o16: true }));
  f.push(form("fnstsw m16", 0xdd, 7, -2, "none", 2));
  f.push(form("fild m16", 0xdf, 0, -2, "i16", 2));
  f.push(form("fist m16", 0xdf, 2, -2, "none", 2, { domain: "int" }));
  f.push(form("fistp m16", 0xdf, 3, -2, "none", 2, { domain: "int" }));
  f.push(form("fbld", 0xdf, 4, -2, "bcd", 10));
  f.push(form("fild m64", 0xdf, 5, -2, "i64", 8));
  f.push(form("fbstp", 0xdf, 6, -2, "none", 10, { domain: "bcd" }));
  f.push(form("fistp m64", 0xdf, 7, -2, "none", 8, { domain: "int" }));
  // Register arithmetic.
  for (let r = 0; r < 8; r++) {
    f.push(form(`${ARITH[r]} st,st(i)`, 0xd8, r, -1, "none", 0));
    const dc = ["fadd", "fmul", "fcom2", "fcomp3", "fsubr", "fsub", "fdivr", "fdiv"][r];
    f.push(form(`${dc} st(i),st`, 0xdc, r, -1, "none", 0));
    if (r !== 3) {
      const de = ["faddp", "fmulp", "fcomp5", "", "fsubrp", "fsubp", "fdivrp", "fdivp"][r];
      f.push(form(`${de} st(i),st`, 0xde, r, -1, "none", 0));
    }
  }
  f.push(form("fcompp", 0xde, 3, 1, "none", 0));
  f.push(form("fld st(i)", 0xd9, 0, -1, "none", 0));
  f.push(form("fxch", 0xd9, 1, -1, "none", 0));
  f.push(form("fnop", 0xd9, 2, 0, "none", 0));
  f.push(form("fstp1", 0xd9, 3, -1, "none", 0));
  f.push(form("fchs", 0xd9, 4, 0, "none", 0));
  f.push(form("fabs", 0xd9, 4, 1, "none", 0));
  f.push(form("ftst", 0xd9, 4, 4, "none", 0));
  f.push(form("fxam", 0xd9, 4, 5, "none", 0));
  const consts = ["fld1", "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz"];
  for (let k = 0; k < 7; k++) f.push(form(consts[k], 0xd9, 5, k, "none", 0));
  f.push(form("f2xm1", 0xd9, 6, 0, "none", 0, { domain: "f2xm1", tol: Tol.Trans }));
  f.push(form("fyl2x", 0xd9, 6, 1, "none", 0, { domain: "yl2x", tol: Tol.Trans }));
  f.push(form("fptan", 0xd9, 6, 2, "none", 0, { domain: "trig", tol: Tol.Trans }));
  f.push(form("fpatan", 0xd9, 6, 3, "none", 0, { domain: "atan", tol: Tol.Trans }));
  f.push(form("fxtract", 0xd9, 6, 4, "none", 0));
  f.push(form("fprem1", 0xd9, 6, 5, "none", 0, { domain: "prem" }));
  f.push(form("fdecstp", 0xd9, 6, 6, "none", 0));
  f.push(form("fincstp", 0xd9, 6, 7, "none", 0));
  f.push(form("fprem", 0xd9, 7, 0, "none", 0, { domain: "prem" }));
  f.push(form("fyl2xp1", 0xd9, 7, 1, "none", 0, { domain: "yl2xp1", tol: Tol.Trans }));
  f.push(form("fsqrt", 0xd9, 7, 2, "none", 0));
  f.push(form("fsincos", 0xd9, 7, 3, "none", 0, { domain: "trig", tol: Tol.Trans }));
  f.push(form("frndint", 0xd9, 7, 4, "none", 0, { domain: "rndint" }));
  f.push(form("fscale", 0xd9, 7, 5, "none", 0, { domain: "scale" }));
  f.push(form("fsin", 0xd9, 7, 6, "none", 0, { domain: "trig", tol: Tol.Trans }));
  f.push(form("fcos", 0xd9, 7, 7, "none", 0, { domain: "trig", tol: Tol.Trans }));
  const cmovs = ["fcmovb", "fcmove", "fcmovbe", "fcmovu"];
  for (let r = 0; r < 4; r++) {
    f.push(form(cmovs[r], 0xda, r, -1, "none", 0, { flags: true }));
    f.push(form(cmovs[r].replace("fcmov", "fcmovn"), 0xdb, r, -1, "none", 0, { flags: true }));
  }
  f.push(form("fucompp", 0xda, 5, 1, "none", 0));
  f.push(form("fneni", 0xdb, 4, 0, "none", 0));
  f.push(form("fndisi", 0xdb, 4, 1, "none", 0));
  f.push(form("fnclex", 0xdb, 4, 2, "none", 0));
  f.push(form("fninit", 0xdb, 4, 3, "none", 0));
  f.push(form("fnsetpm", 0xdb, 4, 4, "none", 0));
  f.push(form("fucomi", 0xdb, 5, -1, "none", 0, { flags: true }));
  f.push(form("fcomi", 0xdb, 6, -1, "none", 0, { flags: true }));
  f.push(form("ffree", 0xdd, 0, -1, "none", 0));
  f.push(form("fxch4", 0xdd, 1, -1, "none", 0));
  f.push(form("fst st(i)", 0xdd, 2, -1, "none", 0));
  f.push(form("fstp st(i)", 0xdd, 3, -1, "none", 0));
  f.push(form("fucom", 0xdd, 4, -1, "none", 0));
  f.push(form("fucomp", 0xdd, 5, -1, "none", 0));
  f.push(form("ffreep", 0xdf, 0, -1, "none", 0));
  f.push(form("fxch7", 0xdf, 1, -1, "none", 0));
  f.push(form("fstp8", 0xdf, 2, -1, "none", 0));
  f.push(form("fstp9", 0xdf, 3, -1, "none", 0));
  f.push(form("fnstsw ax", 0xdf, 4, 0, "none", 0));
  f.push(form("fucomip", 0xdf, 5, -1, "none", 0, { flags: true }));
  f.push(form("fcomip", 0xdf, 6, -1, "none", 0, { flags: true }));
  // Reserved encodings: #UD on both sides.
  const ud: [number, number, number][] = [
    [0xd9, 2, 1],
    [0xd9, 2, 7],
    [0xd9, 4, 2],
    [0xd9, 4, 3],
    [0xd9, 4, 6],
    [0xd9, 4, 7],
    [0xd9, 5, 7],
    [0xda, 4, 0],
    [0xda, 5, 0],
    [0xda, 5, 2],
    [0xda, 6, 3],
    [0xda, 7, 5],
    [0xdb, 4, 5],
    [0xdb, 4, 7],
    [0xdb, 7, 0],
    [0xdd, 6, 0],
    [0xdd, 7, 3],
    [0xde, 3, 0],
    [0xde, 3, 5],
    [0xdf, 4, 1],
    [0xdf, 4, 7],
    [0xdf, 7, 2],
  ];
  for (const [op, reg, rm] of ud) f.push(form("(bad)", op, reg, rm, "none", 0, { ud: true }));
  f.push(form("(bad) m", 0xd9, 1, -2, "none", 4, { ud: true }));
  f.push(form("(bad) m", 0xdb, 4, -2, "none", 4, { ud: true }));
  f.push(form("(bad) m", 0xdb, 6, -2, "none", 4, { ud: true }));
  f.push(form("(bad) m", 0xdd, 5, -2, "none", 4, { ud: true }));
  return f;
}

// ---------------------------------------------------------------------- random numbers

/** Small deterministic PRNG (xorshift128+ on 32-bit words). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number, name: string) {
    let h = (seed ^ 0x9e3779b9) | 0;
    for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193);
    this.a = h | 1;
    this.b = Math.imul(h, 0x2545f491) | 0 || 7;
    this.c = Math.imul(h ^ 0x5bd1e995, 0x27d4eb2d) | 0 || 11;
    this.d = (seed * 2654435761) | 0 || 13;
    for (let k = 0; k < 12; k++) this.u32();
  }
  u32(): number {
    let t = this.a ^ (this.a << 11);
    this.a = this.b;
    this.b = this.c;
    this.c = this.d;
    this.d = this.d ^ (this.d >>> 19) ^ (t ^ (t >>> 8));
    t = this.d;
    return t >>> 0;
  }
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** An 80-bit value: sign+exponent, significand high and low words (int32). */
export type F80 = [number, number, number];

function sig(rng: Rng, j: boolean): [number, number] {
  let hi = rng.u32();
  let lo = rng.u32();
  switch (rng.int(8)) {
    case 0:
      // Only 24 significant bits, maybe a tie at the next bit.
      hi &= 0xffffff00;
      if (rng.chance(0.5)) hi |= 0x80;
      lo = rng.chance(0.5) ? 0 : lo & 1;
      break;
    case 1:
      // 53 bits, maybe a tie.
      lo &= 0xfffff800;
      if (rng.chance(0.5)) lo |= 0x400;
      break;
    case 2:
      hi = 0x80000000;
      lo = rng.chance(0.5) ? 0 : rng.pick([1, 0x7ff, 0x800, 0xffffffff]);
      break;
    case 3:
      hi = 0xffffffff;
      lo = rng.pick([0xffffffff, 0xfffff800, 0xfffffc00, lo]);
      break;
    default:
      break;
  }
  hi = j ? hi | 0x80000000 : hi & 0x7fffffff;
  return [hi | 0, lo | 0];
}

/** A general 80-bit operand with every class represented. */
export function rand80(rng: Rng): F80 {
  const s = rng.chance(0.5) ? 0x8000 : 0;
  const k = rng.int(100);
  if (k < 30) {
    const [h, l] = sig(rng, true);
    return [s | (16383 - 20 + rng.int(41)), h, l];
  }
  if (k < 40) {
    const [h, l] = sig(rng, true);
    return [s | (1 + rng.int(0x7ffe)), h, l];
  }
  if (k < 48) return [s, 0, 0];
  if (k < 53) return [s | 0x7fff, 0x80000000 | 0, 0];
  if (k < 58) {
    const [h, l] = sig(rng, true);
    return [s | 0x7fff, h | 0x40000000, l];
  }
  if (k < 62) {
    const [h, l] = sig(rng, true);
    const hh = h & ~0x40000000;
    return [s | 0x7fff, (hh & 0x3fffffff) === 0 && l === 0 ? hh | 1 : hh, l];
  }
  if (k < 64) return [0xffff, 0xc0000000 | 0, 0];
  if (k < 69) {
    const [h, l] = sig(rng, false);
    return [s, h, (h | l) === 0 ? 1 : l];
  }
  if (k < 71) {
    const [h, l] = sig(rng, true);
    return [s, h, l]; // pseudo-denormal
  }
  if (k < 73) {
    const [h, l] = sig(rng, false);
    return [s | (1 + rng.int(0x7ffe)), h, l]; // unnormal (or pseudo-zero)
  }
  if (k < 74) {
    const [h, l] = sig(rng, false);
    return [s | 0x7fff, h, l]; // pseudo-infinity / pseudo-NaN
  }
  if (k < 80) {
    const [h, l] = sig(rng, true);
    return [s | (1 + rng.int(70)), h, l];
  }
  if (k < 85) {
    const [h, l] = sig(rng, true);
    return [s | (0x7ffe - rng.int(70)), h, l];
  }
  if (k < 88) {
    // Powers of two and the edges of the exponent range (products land on the boundaries).
    const e = rng.pick([1, 2, 3, 16383 - 1, 16383, 16383 + 1, 0x7ffc, 0x7ffd, 0x7ffe, 1 + rng.int(0x7ffe)]);
    const h = rng.pick([0x80000000, 0xffffffff, 0x80000000]);
    const l = h === 0x80000000 ? rng.pick([0, 0, 1]) : 0xffffffff;
    return [s | e, h | 0, l | 0];
  }
  // Small integers and simple fractions.
  const v = rng.int(2000) - 1000;
  if (v === 0) return [s, 0, 0];
  return fromNumber(v / rng.pick([1, 1, 2, 4, 8, 3]));
}

/** A value from rand80 that is not a finite normal number beyond 0.25 in magnitude. */
function special(rng: Rng): F80 {
  for (;;) {
    const v = rand80(rng);
    const e = v[0] & 0x7fff;
    if (e === 0 || e === 0x7fff || e < 16381 || v[1] >= 0) return v;
  }
}

/** An exactly representable double to 80 bits (for generation only). */
export function fromNumber(v: number): F80 {
  if (v === 0) return [Object.is(v, -0) ? 0x8000 : 0, 0, 0];
  const s = v < 0 ? 0x8000 : 0;
  let a = Math.abs(v);
  let e = 0;
  while (a >= 2) {
    a /= 2;
    e++;
  }
  while (a < 1) {
    a *= 2;
    e--;
  }
  const hi = Math.floor(a * 2147483648);
  const lo = Math.floor((a * 2147483648 - hi) * 4294967296);
  return [s | (16383 + e), hi | 0, lo | 0];
}

/** A finite value with the exponent in [e0, e1] (unbiased), random sign unless `pos`. */
function ranged(rng: Rng, e0: number, e1: number, pos = false): F80 {
  const [h, l] = sig(rng, true);
  const s = pos || rng.chance(0.5) ? 0 : 0x8000;
  return [s | (16383 + e0 + rng.int(e1 - e0 + 1)), h, l];
}

/** A special or general value with probability p, else `fallback`. */
function mix(rng: Rng, p: number, fallback: () => F80): F80 {
  return rng.chance(p) ? rand80(rng) : fallback();
}

function domainValue(rng: Rng, d: Domain, which: number): F80 {
  switch (d) {
    case "int":
    case "bcd": {
      if (rng.chance(0.15)) return rand80(rng);
      const lim = d === "bcd" ? 60 : 64;
      if (rng.chance(0.3)) {
        const edge = rng.pick([15, 31, 63, 59]);
        const [h, l] = sig(rng, true);
        return [(rng.chance(0.5) ? 0x8000 : 0) | (16383 + edge), rng.chance(0.5) ? 0x80000000 | 0 : h, l];
      }
      return ranged(rng, -3, lim);
    }
    case "f2xm1":
      // The result is undefined outside [-1, 1]: only specials from rand80 there.
      if (rng.chance(0.1)) return special(rng);
      if (rng.chance(0.1)) return fromNumber(rng.pick([1, -1, 0.5, -0.5, 0.25]));
      return ranged(rng, rng.chance(0.2) ? -16000 : -70, -1);
    case "trig":
      if (rng.chance(0.1)) return rand80(rng);
      if (rng.chance(0.1)) return ranged(rng, 63, 70);
      if (rng.chance(0.15)) {
        // Near a multiple of pi/2.
        const k = 1 + rng.int(40);
        const v = fromNumber((k * Math.PI) / 2);
        v[2] = (v[2] + rng.int(4096) - 2048) | 0;
        return v;
      }
      if (rng.chance(0.1)) return ranged(rng, -75, -28);
      return ranged(rng, rng.chance(0.1) ? -400 : -30, rng.chance(0.2) ? 62 : 8);
    case "yl2x":
      if (which === 0) {
        if (rng.chance(0.15)) return rand80(rng);
        if (rng.chance(0.2)) {
          // Near 1.
          const [h, l] = sig(rng, true);
          return rng.chance(0.5) ? [16383, 0x80000000 | 0, l & 0xffff] : [16382, h | 0x7fff0000 | -0x80000000, l];
        }
        return ranged(rng, -16000, 16000, true);
      }
      return mix(rng, 0.2, () => ranged(rng, -30, 30));
    case "yl2xp1":
      if (which === 0) {
        // The result is undefined for |x| >= 1 - sqrt(2)/2: only specials from rand80 there.
        if (rng.chance(0.1)) return special(rng);
        return ranged(rng, rng.chance(0.2) ? -16000 : -70, -3);
      }
      return mix(rng, 0.2, () => ranged(rng, -30, 30));
    case "atan":
      return mix(rng, 0.2, () => ranged(rng, -40, 40));
    case "prem":
      if (which === 1) return mix(rng, 0.15, () => ranged(rng, -20, 20));
      return mix(rng, 0.15, () => ranged(rng, -25, rng.chance(0.2) ? 400 : 90));
    case "scale":
      if (which === 1) {
        if (rng.chance(0.2)) return rand80(rng);
        return fromNumber((rng.int(200) - 100) * (rng.chance(0.2) ? 170 : 1) + rng.pick([0, 0, 0.5, 0.25]));
      }
      return rand80(rng);
    case "rndint":
      return mix(rng, 0.2, () => ranged(rng, -3, 66));
    default:
      return rand80(rng);
  }
}

// ---------------------------------------------------------------------- memory operands

function f32Bits(rng: Rng): number {
  const s = rng.chance(0.5) ? 0x80000000 : 0;
  switch (rng.int(10)) {
    case 0:
      return s;
    case 1:
      return s | 0x7f800000;
    case 2:
      return s | 0x7fc00000 | rng.int(0x400000);
    case 3:
      return s | 0x7f800000 | (1 + rng.int(0x3fffff)); // SNaN
    case 4:
      return s | (1 + rng.int(0x7fffff)); // denormal
    case 5:
      return s | (rng.pick([1, 2, 0xfe, 0xfd, 127, 128]) << 23) | rng.int(0x800000);
    default:
      return (s | (((rng.int(60) + 97) << 23) | rng.int(0x800000))) >>> 0;
  }
}

function f64Words(rng: Rng): [number, number] {
  const s = rng.chance(0.5) ? 0x80000000 : 0;
  const lo = rng.u32();
  switch (rng.int(10)) {
    case 0:
      return [s, 0];
    case 1:
      return [s | 0x7ff00000, 0];
    case 2:
      return [s | 0x7ff80000 | rng.int(0x80000), lo];
    case 3:
      return [s | 0x7ff00000 | rng.int(0x80000), lo | 1]; // SNaN
    case 4:
      return [s | rng.int(0x100000), lo | 1]; // denormal
    case 5:
      return [s | (rng.pick([1, 2, 0x7fe, 0x7fd, 1023]) << 20) | rng.int(0x100000), lo];
    default:
      return [(s | ((rng.int(200) + 923) << 20) | rng.int(0x100000)) >>> 0, lo];
  }
}

function intBits(rng: Rng, bits: number): number[] {
  const edges = [0, 1, -1, 2, -2, 0x7fff, -0x8000, 0x7fffffff, -0x80000000, 1000, -1000];
  if (bits === 64) {
    if (rng.chance(0.3)) return [rng.pick([0, 0x7fffffff, 0x80000000, 0xffffffff, 0]) | 0, rng.u32() | 0];
    return [rng.u32() | 0, rng.u32() | 0];
  }
  const v = rng.chance(0.4) ? rng.pick(edges) : rng.u32();
  return [v | 0];
}

function writeBytes(data: Uint8Array, off: number, v: number, n: number): void {
  for (let k = 0; k < n; k++) data[off + k] = (v >>> (8 * k)) & 0xff;
}

function write80(data: Uint8Array, off: number, v: F80): void {
  writeBytes(data, off, v[2], 4);
  writeBytes(data, off + 4, v[1], 4);
  writeBytes(data, off + 8, v[0], 2);
}

function randomControl(rng: Rng): number {
  const masks = rng.chance(0.75) ? 0x3f : rng.int(64);
  const pc = rng.chance(0.05) ? 1 : rng.pick([0, 2, 3, 3]);
  const rc = rng.int(4);
  return (masks | 0x40 | (pc << 8) | (rc << 10) | (rng.chance(0.1) ? 0x1000 : 0)) & 0xffff;
}

/** Exception flags consistent with the masks most of the time; sometimes one unmasked pending (#MF). */
function randomStatusFlags(rng: Rng, cw: number, pendingOk: boolean): number {
  let flags = rng.chance(0.3) ? rng.int(128) : 0;
  if (!(pendingOk && rng.chance(0.05))) flags &= ~(~cw & 0x3f);
  const cc = rng.int(16);
  const ccBits = ((cc & 7) << 8) | ((cc & 8) << 11);
  return flags | ccBits;
}

function writeEnv(rng: Rng, data: Uint8Array, off: number, o16: boolean, withRegs: boolean): void {
  const cw = randomControl(rng);
  const top = rng.int(8);
  const sw = randomStatusFlags(rng, cw, true) | (top << 11);
  let tw = 0;
  for (let r = 0; r < 8; r++) tw |= (rng.chance(0.3) ? 3 : rng.int(3)) << (2 * r);
  const words = [cw, sw, tw, rng.u32(), rng.u32(), rng.u32(), rng.u32()];
  if (o16) {
    for (let k = 0; k < 7; k++) writeBytes(data, off + k * 2, words[k], 2);
  } else {
    for (let k = 0; k < 7; k++)
      writeBytes(data, off + k * 4, k < 3 ? words[k] | (rng.u32() & 0xffff0000) : words[k], 4);
  }
  if (withRegs) {
    const base = off + (o16 ? 14 : 28);
    for (let i = 0; i < 8; i++) write80(data, base + i * 10, rand80(rng));
  }
}

function writeBcd(rng: Rng, data: Uint8Array, off: number): void {
  const ndig = rng.pick([1, 2, 5, 10, 18, 18, 18]);
  for (let k = 0; k < 9; k++) {
    const d0 = 2 * k < ndig ? rng.int(10) : 0;
    const d1 = 2 * k + 1 < ndig ? rng.int(10) : 0;
    data[off + k] = d0 | (d1 << 4);
  }
  data[off + 9] = rng.chance(0.5) ? 0x80 : 0;
}

// ---------------------------------------------------------------------- case generation

export interface GenCase extends FpuCase {
  readonly form: Form;
}

/** The FNSAVE image of a generated register state. */
function makeImage(rng: Rng, fm: Form): Uint8Array {
  const img = new Uint8Array(108);
  const dv = new DataView(img.buffer);
  const cw = randomControl(rng);
  const top = rng.int(8);
  const sw = randomStatusFlags(rng, cw, true) | (top << 11);
  const emptyP = [0.04, 0.06, 0.2, 0.2, 0.25, 0.25, 0.3, 0.85];
  let tw = 0;
  for (let i = 0; i < 8; i++) {
    const phys = (top + i) & 7;
    const empty = rng.chance(emptyP[i]);
    if (empty) tw |= 3 << (2 * phys);
    const v = domainValue(rng, fm.domain, i);
    // Register i = 1 sometimes related to ST(0) (cancellation, equal operands, ties).
    if (i === 1 && rng.chance(0.15)) {
      const o = dv.getUint16(28 + 8, true);
      const h = dv.getInt32(28 + 4, true);
      const l = dv.getInt32(28, true);
      v[0] = rng.chance(0.5) ? o : o ^ 0x8000;
      v[1] = h;
      v[2] = (l + rng.int(16) - 8) | 0;
      if (rng.chance(0.3)) v[0] = (v[0] & 0x8000) | ((v[0] & 0x7fff) + rng.int(130) - 65);
    }
    dv.setInt32(28 + i * 10, v[2], true);
    dv.setInt32(28 + i * 10 + 4, v[1], true);
    dv.setUint16(28 + i * 10 + 8, v[0] & 0xffff, true);
  }
  dv.setUint32(0, (0xffff0000 | cw) >>> 0, true);
  dv.setUint32(4, (0xffff0000 | sw) >>> 0, true);
  dv.setUint32(8, (0xffff0000 | tw) >>> 0, true);
  dv.setUint32(12, rng.u32(), true);
  dv.setUint32(16, rng.u32() & 0x07ff0000, true);
  dv.setUint32(20, rng.u32(), true);
  dv.setUint32(24, 0xffff0000, true);
  return img;
}

function encodeMem(rng: Rng, fm: Form, regs: Int32Array, size: number): { bytes: number[]; off: number } {
  const off = rng.int(WIN - Math.max(size, 1) + 1);
  const target = DATA_WIN + off;
  const bytes: number[] = [];
  if (rng.chance(0.03)) bytes.push(rng.pick([0x26, 0x36, 0x3e, 0x64]));
  if (fm.o16) bytes.push(0x66);
  bytes.push(fm.op);
  if (rng.chance(0.5)) {
    bytes.push((fm.reg << 3) | 5);
    for (let k = 0; k < 4; k++) bytes.push((target >>> (8 * k)) & 0xff);
  } else {
    const disp = rng.int(256) - 128;
    bytes.push(0x40 | (fm.reg << 3) | 3);
    bytes.push(disp & 0xff);
    regs[3] = (target - disp) | 0;
  }
  return { bytes, off };
}

export function generateCase(rng: Rng, fm: Form): GenCase {
  const regs = new Int32Array(8);
  for (let r = 0; r < 8; r++) regs[r] = rng.u32() | 0;
  const data = new Uint8Array(WIN);
  for (let k = 0; k < WIN; k++) data[k] = rng.int(256);
  let bytes: number[];
  if (fm.rm === -2) {
    const enc = encodeMem(rng, fm, regs, fm.size);
    bytes = enc.bytes;
    const off = enc.off;
    switch (fm.mem) {
      case "f32":
        writeBytes(data, off, f32Bits(rng), 4);
        break;
      case "f64": {
        const [h, l] = f64Words(rng);
        writeBytes(data, off, l, 4);
        writeBytes(data, off + 4, h, 4);
        break;
      }
      case "f80":
        write80(data, off, rand80(rng));
        break;
      case "i16":
      case "i32":
      case "i64": {
        const bits = fm.mem === "i16" ? 16 : fm.mem === "i32" ? 32 : 64;
        const w = intBits(rng, bits);
        if (bits === 64) {
          writeBytes(data, off, w[1], 4);
          writeBytes(data, off + 4, w[0], 4);
        } else writeBytes(data, off, w[0], bits / 8);
        break;
      }
      case "bcd":
        writeBcd(rng, data, off);
        break;
      case "cw":
        writeBytes(data, off, rng.chance(0.5) ? randomControl(rng) : rng.int(65536), 2);
        break;
      case "env":
        writeEnv(rng, data, off, fm.o16, fm.size > 28);
        break;
      default:
        break;
    }
  } else {
    const rm = fm.rm === -1 ? rng.int(8) : fm.rm;
    bytes = [fm.op, 0xc0 | (fm.reg << 3) | rm];
  }
  const arith = rng.int(64);
  const eflags =
    0x202 |
    (arith & 1) |
    ((arith & 2) << 1) |
    ((arith & 4) << 2) |
    ((arith & 8) << 3) |
    ((arith & 16) << 3) |
    ((arith & 32) << 6);
  return { form: fm, bytes: Uint8Array.from(bytes), regs, eflags, image: makeImage(rng, fm), data };
}

export function generate(forms: readonly Form[], seed: number, perForm: number): GenCase[] {
  const out: GenCase[] = [];
  for (const fm of forms) {
    const rng = new Rng(seed, fm.name);
    for (let k = 0; k < perForm; k++) out.push(generateCase(rng, fm));
  }
  return out;
}
