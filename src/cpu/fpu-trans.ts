/**
 * x87 transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1
 * (SDM Vol.2A; accuracy and argument reduction: SDM Vol.1 §8.3.8 and §8.3.10).
 *
 * The 80-bit operands are converted exactly into double-double values (a pair of doubles, about
 * 106 significant bits) times a separate power of two, evaluated with double-double arithmetic
 * (only IEEE +, -, *, /, which JavaScript specifies exactly: the results are deterministic on
 * every host), and the double-double result is summed exactly into the 80-bit work value and
 * rounded once to 64 bits by `X87Math`. The evaluation error is far below 2^-64 relative, so
 * results are the correctly rounded value of the modelled function except within about 2^-100
 * of a rounding boundary.
 *
 * Against an Intel host (test/fpu, the differential suite) 90-99 % of results are bit-identical
 * and the rest are 1 ulp apart (the hardware is within 1 ulp of the true value, not correctly
 * rounded): the suite tolerates 1 ulp for these instructions and nothing more.
 *
 * Trigonometric arguments are reduced, as the x87 does, modulo the 66-bit internal value of pi
 * (SDM Vol.1 §8.3.8: Pi = 0.C90FDAA2 2168C234 C * 2^2): the reduction is exact (integer long
 * division), so near multiples of pi the results follow the hardware's, not the true sine.
 */
import { Cls, classify, Ex, isNaNCls, type X87Math } from "./fpu-float.ts";

// ------------------------------------------------------------------ double-double kernel

/** Results of the double-double operations (no allocation). */
let RH = 0;
let RL = 0;

const SPLITTER = 134217729; // 2^27 + 1 (Veltkamp split)

function twoSum(a: number, b: number): void {
  const s = a + b;
  const bb = s - a;
  RL = a - (s - bb) + (b - bb);
  RH = s;
}

function quickTwoSum(a: number, b: number): void {
  const s = a + b;
  RL = b - (s - a);
  RH = s;
}

function twoProd(a: number, b: number): void {
  const p = a * b;
  let c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLITTER * b;
  const bh = c - (c - b);
  const bl = b - bh;
  RL = ah * bh - p + ah * bl + al * bh + al * bl;
  RH = p;
}

function ddAdd(ah: number, al: number, bh: number, bl: number): void {
  twoSum(ah, bh);
  const s = RH;
  let e = RL;
  twoSum(al, bl);
  const t = RH;
  const f = RL;
  e += t;
  quickTwoSum(s, e);
  e = RL + f;
  quickTwoSum(RH, e);
}

function ddMul(ah: number, al: number, bh: number, bl: number): void {
  twoProd(ah, bh);
  const p = RH;
  const e = RL + (ah * bl + al * bh);
  quickTwoSum(p, e);
}

function ddMulD(ah: number, al: number, b: number): void {
  twoProd(ah, b);
  const p = RH;
  const e = RL + al * b;
  quickTwoSum(p, e);
}

function ddDiv(ah: number, al: number, bh: number, bl: number): void {
  const q1 = ah / bh;
  ddMulD(bh, bl, q1);
  ddAdd(ah, al, -RH, -RL);
  const rh = RH;
  const rl = RL;
  const q2 = rh / bh;
  ddMulD(bh, bl, q2);
  ddAdd(rh, rl, -RH, -RL);
  const q3 = RH / bh;
  quickTwoSum(q1, q2);
  ddAdd(RH, RL, q3, 0);
}

// Exact powers of two and double decomposition through one scratch buffer.
const SCRATCH = new DataView(new ArrayBuffer(8));

/** 2^k for -1022 <= k <= 1023, exactly. */
function pow2(k: number): number {
  SCRATCH.setUint32(4, ((k + 1023) << 20) >>> 0, true);
  SCRATCH.setUint32(0, 0, true);
  return SCRATCH.getFloat64(0, true);
}

// Double-double constants (value = hi + lo), computed offline to 300 bits and rounded.
const LN2_H = Math.LN2;
const LN2_L = 2.3190468138462996e-17;
const LOG2E_H = Math.LOG2E;
const LOG2E_L = 2.0355273740931033e-17;
const PI_H = Math.PI;
const PI_L = 1.2246467991473532e-16;
const PI2_H = Math.PI / 2;
const PI2_L = 6.123233995736766e-17;
/** atan(k/8), k = 0..8. */
const ATAN_H = [
  0.0, 0.12435499454676144, 0.24497866312686414, 0.35877067027057225, 0.4636476090008061, 0.5585993153435624,
  0.6435011087932844, 0.7188299996216245, 0.7853981633974483,
];
const ATAN_L = [
  0.0, -3.1253241424539383e-18, 1.0698755618734451e-17, -2.4623815582638635e-17, 2.2698777452961687e-17,
  -5.4556305485916264e-18, 1.5834785051444286e-17, -2.1478388444456983e-17, 3.061616997868383e-17,
];

/** Taylor coefficients as double-doubles: SIN_C[k] = (-1)^k/(2k+1)!, COS_C[k] = (-1)^k/(2k)!, EXP_C[n] = 1/n!. */
const TERMS = 16;
const SIN_H = new Float64Array(TERMS);
const SIN_L = new Float64Array(TERMS);
const COS_H = new Float64Array(TERMS);
const COS_L = new Float64Array(TERMS);
const EXP_H = new Float64Array(TERMS);
const EXP_L = new Float64Array(TERMS);
{
  // 1/n! by repeated double-double division (deterministic, error far below 2^-100).
  let fh = 1;
  let fl = 0;
  const invH = new Float64Array(2 * TERMS + 2);
  const invL = new Float64Array(2 * TERMS + 2);
  invH[0] = 1;
  for (let n = 1; n < 2 * TERMS + 2; n++) {
    ddDiv(fh, fl, n, 0);
    fh = RH;
    fl = RL;
    invH[n] = fh;
    invL[n] = fl;
  }
  for (let k = 0; k < TERMS; k++) {
    const sg = (k & 1) === 0 ? 1 : -1;
    SIN_H[k] = sg * invH[2 * k + 1];
    SIN_L[k] = sg * invL[2 * k + 1];
    COS_H[k] = sg * invH[2 * k];
    COS_L[k] = sg * invL[2 * k];
    EXP_H[k] = invH[k];
    EXP_L[k] = invL[k];
  }
}

/** 1/(2n+1) as double-doubles, n = 0..49. */
const ODD = 50;
const INV_ODD_H = new Float64Array(ODD);
const INV_ODD_L = new Float64Array(ODD);
for (let n = 0; n < ODD; n++) {
  ddDiv(1, 0, 2 * n + 1, 0);
  INV_ODD_H[n] = RH;
  INV_ODD_L[n] = RL;
}

// ------------------------------------------------------------------ 80-bit <-> double-double

/** Significand of an unpacked operand as a double-double in [1, 2): into RH/RL. */
function sigToDD(h: number, l: number): void {
  const top = (h >>> 0) * 2097152 + (l >>> 11); // 53 bits
  RH = top * 2.220446049250313e-16; // * 2^-52
  RL = (l & 0x7ff) * 1.0842021724855044e-19; // * 2^-63
}

/**
 * Sum hi + lo (a double-double, hi != 0) times 2^k exactly into the work value, nudged by
 * `nudge` (-1/+1: the true magnitude is a hair below/above; 0: exact) and round it to 64 bits.
 */
function ddToWork(m: X87Math, hi: number, lo: number, k: number, nudge: number): void {
  loadDouble(m, 0, hi, k);
  if (lo !== 0) {
    loadDouble(m, 1, lo, k);
    if (!m.addWork(0)) {
      m.setZero(0);
      return;
    }
  } else m.loadWork();
  if (nudge !== 0) nudgeWork(m, nudge);
  m.roundWork64();
  // An approximation is never known to be exact: the x87 reports PE even when the value is
  // representable (F2XM1(1), FYL2X of a power of two), and so do we.
  m.exc |= Ex.PE;
}

/** Unpack a double (nonzero) times 2^k into operand a (0) or b (1) of the math object. */
function loadDouble(m: X87Math, which: number, v: number, k: number): void {
  SCRATCH.setFloat64(0, v, true);
  const hw = SCRATCH.getUint32(4, true);
  const lw = SCRATCH.getUint32(0, true);
  const s = hw >>> 31;
  let e = (hw >>> 20) & 0x7ff;
  let fh = (hw & 0xfffff) | (e !== 0 ? 0x100000 : 0);
  let fl = lw;
  if (e === 0) e = 1; // subnormal double
  // 53-bit integer fh:fl -> 64-bit significand (shift left 11), exponent of bit 63.
  let h = ((fh << 11) | (fl >>> 21)) >>> 0;
  let l = (fl << 11) >>> 0;
  let ex = e - 1023 + 16383 + k;
  if (h === 0) {
    h = l;
    l = 0;
    ex -= 32;
  }
  const n = Math.clz32(h);
  if (n !== 0) {
    h = ((h << n) | (l >>> (32 - n))) >>> 0;
    l = (l << n) >>> 0;
    ex -= n;
  }
  fh = 0;
  fl = 0;
  if (which === 0) {
    m.aS = s;
    m.aE = ex;
    m.aH = h | 0;
    m.aL = l | 0;
  } else {
    m.bS = s;
    m.bE = ex;
    m.bH = h | 0;
    m.bL = l | 0;
  }
}

// ------------------------------------------------------------------ kernels (double-double in RH/RL)

/** sin(r) for |r| <= ~0.8. */
function ddSin(rh: number, rl: number): void {
  ddMul(rh, rl, rh, rl);
  const zh = RH;
  const zl = RL;
  let ph = SIN_H[TERMS - 1];
  let pl = SIN_L[TERMS - 1];
  for (let k = TERMS - 2; k >= 0; k--) {
    ddMul(ph, pl, zh, zl);
    ddAdd(RH, RL, SIN_H[k], SIN_L[k]);
    ph = RH;
    pl = RL;
  }
  ddMul(ph, pl, rh, rl);
}

/** cos(r) for |r| <= ~0.8. */
function ddCos(rh: number, rl: number): void {
  ddMul(rh, rl, rh, rl);
  const zh = RH;
  const zl = RL;
  let ph = COS_H[TERMS - 1];
  let pl = COS_L[TERMS - 1];
  for (let k = TERMS - 2; k >= 0; k--) {
    ddMul(ph, pl, zh, zl);
    ddAdd(RH, RL, COS_H[k], COS_L[k]);
    ph = RH;
    pl = RL;
  }
}

/** e^t - 1 for |t| <= ~12 (argument halved 12 times, series, then e(2u) - 1 = E(E + 2) back up). */
function ddExpm1(th: number, tl: number): void {
  const HALVINGS = 12;
  const sc = pow2(-HALVINGS);
  const uh = th * sc;
  const ul = tl * sc;
  // u + u^2/2! + ... + u^15/15! = u * (1 + u * (1/2 + u * (...)))
  let ph = EXP_H[TERMS - 1];
  let pl = EXP_L[TERMS - 1];
  for (let n = TERMS - 2; n >= 1; n--) {
    ddMul(ph, pl, uh, ul);
    ddAdd(RH, RL, EXP_H[n], EXP_L[n]);
    ph = RH;
    pl = RL;
  }
  ddMul(ph, pl, uh, ul);
  let eh = RH;
  let el = RL;
  for (let k = 0; k < HALVINGS; k++) {
    ddAdd(eh, el, 2, 0);
    ddMul(eh, el, RH, RL);
    eh = RH;
    el = RL;
  }
  RH = eh;
  RL = el;
}

/** 2 * atanh(s) = ln((1 + s) / (1 - s)) for |s| <= ~0.2. */
function ddAtanh2(sh: number, sl: number): void {
  ddMul(sh, sl, sh, sl);
  const zh = RH;
  const zl = RL;
  // s * (1 + z/3 + z^2/5 + ...): 24 terms reach below 2^-110 for |s| <= 0.2.
  let ph = INV_ODD_H[24];
  let pl = INV_ODD_L[24];
  for (let n = 23; n >= 0; n--) {
    ddMul(ph, pl, zh, zl);
    ddAdd(RH, RL, INV_ODD_H[n], INV_ODD_L[n]);
    ph = RH;
    pl = RL;
  }
  ddMul(ph, pl, sh, sl);
  RH *= 2;
  RL *= 2;
}

/** atan(z) for 0 <= z <= 1: atan(k/8) + atan((z - k/8) / (1 + z k/8)). */
function ddAtan01(zh: number, zl: number): void {
  let k = Math.floor(zh * 8 + 0.5);
  if (k > 8) k = 8;
  const c = k / 8;
  ddAdd(zh, zl, -c, 0);
  const nh = RH;
  const nl = RL;
  ddMulD(zh, zl, c);
  ddAdd(RH, RL, 1, 0);
  ddDiv(nh, nl, RH, RL);
  const wh = RH;
  const wl = RL;
  ddMul(wh, wl, wh, wl);
  const qh = RH;
  const ql = RL;
  // w - w^3/3 + w^5/5 - ...: |w| <= 1/16, 16 terms.
  let ph = INV_ODD_H[16];
  let pl = INV_ODD_L[16];
  for (let n = 15; n >= 0; n--) {
    ddMul(ph, pl, -qh, -ql);
    ddAdd(RH, RL, INV_ODD_H[n], INV_ODD_L[n]);
    ph = RH;
    pl = RL;
  }
  ddMul(ph, pl, wh, wl);
  ddAdd(RH, RL, ATAN_H[k], ATAN_L[k]);
}

// ------------------------------------------------------------------ argument reduction

/** 0xC90FDAA22168C234C: the x87's pi/2 * 2^67, in three words (68 bits). */
const P2 = 0xc;
const P1 = 0x90fdaa22;
const P0 = 0x168c234c;
/** P/2, for choosing the nearest multiple. */
const H2 = P2 >>> 1;
const H1 = ((P2 & 1) << 31) | (P1 >>> 1);
const H0 = ((P1 & 1) << 31) | (P0 >>> 1);

/** Quadrant (mod 4) of the last reduction. */
let QUAD = 0;

/**
 * Reduce |x| (unpacked in m.a, exponent E = aE - 16383 with -1 <= E <= 62) modulo the x87's pi/2:
 * the remainder, with |r| <= pi/4, as a double-double in RH/RL; the quadrant in QUAD.
 */
function reduce(m: X87Math): void {
  const E = m.aE - 16383;
  // X = sig * 2^(E + 4) in units of 2^-67; long division by P bit by bit.
  let r2 = 0;
  let r1 = 0;
  let r0 = 0;
  let q = 0;
  let sh = m.aH >>> 0;
  let sl = m.aL >>> 0;
  const bits = 64 + E + 4;
  for (let k = 0; k < bits; k++) {
    const bit = k < 64 ? sh >>> 31 : 0;
    if (k < 64) {
      sh = ((sh << 1) | (sl >>> 31)) >>> 0;
      sl = (sl << 1) >>> 0;
    }
    r2 = ((r2 << 1) | (r1 >>> 31)) >>> 0;
    r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0;
    r0 = ((r0 << 1) | bit) >>> 0;
    q = (q << 1) & 3;
    if (r2 > P2 || (r2 === P2 && (r1 > P1 >>> 0 || (r1 === P1 >>> 0 && r0 >= P0 >>> 0)))) {
      let d0 = r0 - (P0 >>> 0);
      let b = 0;
      if (d0 < 0) {
        d0 += 4294967296;
        b = 1;
      }
      let d1 = r1 - (P1 >>> 0) - b;
      b = 0;
      if (d1 < 0) {
        d1 += 4294967296;
        b = 1;
      }
      r2 = r2 - P2 - b;
      r1 = d1;
      r0 = d0;
      q |= 1;
    }
  }
  // Nearest multiple: if r > P/2 use r - P (negative) and the next quadrant.
  let neg = false;
  if (r2 > H2 || (r2 === H2 && (r1 > H1 >>> 0 || (r1 === H1 >>> 0 && r0 > H0 >>> 0)))) {
    let d0 = (P0 >>> 0) - r0;
    let b = 0;
    if (d0 < 0) {
      d0 += 4294967296;
      b = 1;
    }
    let d1 = (P1 >>> 0) - r1 - b;
    b = 0;
    if (d1 < 0) {
      d1 += 4294967296;
      b = 1;
    }
    r2 = P2 - r2 - b;
    r1 = d1;
    r0 = d0;
    q = (q + 1) & 3;
    neg = true;
  }
  QUAD = q;
  // r = (r2:r1:r0) * 2^-67 as a double-double: the top 53 bits and the remaining 15 exactly.
  const hiPart = r2 * 4294967296 * 4294967296 + r1 * 4294967296 + (r0 - (r0 % 32768)); // < 2^68, low 15 bits clear
  // hiPart is exact only if it has <= 53 significant bits: r2 < 16, so r2:r1:r0 without its low 15 bits fits.
  const loPart = r0 % 32768;
  const sc = pow2(-67);
  let h = hiPart * sc;
  let l = loPart * sc;
  quickTwoSum(h, l);
  h = RH;
  l = RL;
  if (neg) {
    h = -h;
    l = -l;
  }
  RH = h;
  RL = l;
}

// ------------------------------------------------------------------ instructions

export const enum TrigOp {
  Sin = 0,
  Cos = 1,
  Tan = 2,
}

/** |x| >= 2^63: out of range for FSIN/FCOS/FSINCOS/FPTAN (C2 = 1, nothing changes). */
export function trigOutOfRange(se: number, hi: number, lo: number): boolean {
  return classify(se, hi, lo) === Cls.Normal && (se & 0x7fff) >= 16383 + 63;
}

/**
 * FSIN, FCOS, FPTAN's tangent (FSINCOS is a sine and a cosine) of a value that is not out of
 * range. Result in z; false when an unmasked exception suppresses it.
 */
export function trig(m: X87Math, op: TrigOp, se: number, hi: number, lo: number): boolean {
  const k = classify(se, hi, lo);
  const s = (se >>> 15) & 1;
  if (k === Cls.Unsupported || k === Cls.Inf) return m.invalid();
  if (isNaNCls(k)) {
    if (k === Cls.SNaN) m.exc |= Ex.IE;
    m.setResult(se, hi | 0x40000000, lo);
    return (m.exc & Ex.IE & ~m.masks) === 0;
  }
  if (!m.denormal(k === Cls.Denormal)) return false;
  m.up = 0;
  if (k === Cls.Zero) {
    // sin(+-0) = +-0, tan(+-0) = +-0, cos(+-0) = 1.
    if (op === TrigOp.Cos) m.setResult(0x3fff, 0x80000000, 0);
    else m.setResult(se, 0, 0);
    return true;
  }
  m.unpack(0, se, hi, lo);
  const E = m.aE - 16383;
  if (E < -68) {
    // Below 2^-68 the x87 returns x for sin and tan and 1 for cos, whatever the rounding control
    // (measured on the host; PE is set, and UE for a denormal x).
    if (op === TrigOp.Cos) m.setResult(0x3fff, 0x80000000, 0);
    else if (k === Cls.Denormal && hi < 0)
      m.setResult(se | 1, hi, lo); // pseudo-denormal: 2^-16382 and up
    else if (k === Cls.Denormal && (m.masks & Ex.UE) === 0) {
      // Unmasked underflow: the denormal comes back normalized with the exponent bias-adjusted.
      m.setResult((s << 15) | (m.aE + 24576), m.aH, m.aL);
      m.exc |= Ex.UE;
    } else {
      m.setResult(se, hi, lo);
      if (k === Cls.Denormal) m.exc |= Ex.UE;
    }
    m.exc |= Ex.PE;
    return true;
  }
  if (E < -33) {
    // sin x = x - x^3/6, tan x = x + x^3/3, cos x = 1 - x^2/2: the second term is below half an ulp
    // (and below what a double-double resolves): only its direction counts.
    if (op === TrigOp.Cos) m.setWork(0, 16383, 0x80000000, 0, 0);
    else m.setWork(s, m.aE, m.aH, m.aL, 0);
    nudgeWork(m, op === TrigOp.Tan ? 1 : -1);
    m.roundWork64();
    return true;
  }
  let rh: number;
  let rl: number;
  let quad = 0;
  if (E < -1) {
    // |x| < 0.5: no reduction.
    sigToDD(m.aH, m.aL);
    const sc = pow2(E);
    rh = RH * sc;
    rl = RL * sc;
  } else {
    reduce(m);
    rh = RH;
    rl = RL;
    quad = QUAD;
  }
  if (s !== 0) {
    rh = -rh;
    rl = -rl;
    quad = (4 - quad) & 3;
  }
  // x = quad * pi/2 + r: sin x and cos x from sin r and cos r.
  ddSin(rh, rl);
  const sh = RH;
  const sl = RL;
  ddCos(rh, rl);
  const ch = RH;
  const cl = RL;
  let sinH = sh;
  let sinL = sl;
  let cosH = ch;
  let cosL = cl;
  if (quad === 1) {
    sinH = ch;
    sinL = cl;
    cosH = -sh;
    cosL = -sl;
  } else if (quad === 2) {
    sinH = -sh;
    sinL = -sl;
    cosH = -ch;
    cosL = -cl;
  } else if (quad === 3) {
    sinH = -ch;
    sinL = -cl;
    cosH = sh;
    cosL = sl;
  }
  if (op === TrigOp.Tan) {
    ddDiv(sinH, sinL, cosH, cosL);
    resultDD(m, RH, RL, 0, s);
  } else if (op === TrigOp.Sin) resultDD(m, sinH, sinL, 0, s);
  else resultDD(m, cosH, cosL, 0, 0);
  return true;
}

/** Round a double-double result (zero gives a zero with sign `zs`). */
function resultDD(m: X87Math, h: number, l: number, k: number, zs: number): void {
  if (h === 0) {
    m.setZero(zs);
    m.up = 0;
    return;
  }
  ddToWork(m, h, l, k, 0);
}

/** Move the work value a hair below (-1) or above (+1) in magnitude. */
function nudgeWork(m: X87Math, dir: number): void {
  if (dir > 0) {
    m.wX |= 1;
    return;
  }
  if (m.wX !== 0) {
    m.wX = (m.wX - 1) | 1;
    return;
  }
  m.wX = -1;
  if (m.wL === 0) m.wH = (m.wH - 1) | 0;
  m.wL = (m.wL - 1) | 0;
  if (m.wH >= 0) m.normWork();
}

/** F2XM1: 2^x - 1 (SDM Vol.2A F2XM1; -1 <= x <= 1, outside that the result is undefined). */
export function f2xm1(m: X87Math, se: number, hi: number, lo: number): boolean {
  const k = classify(se, hi, lo);
  const s = (se >>> 15) & 1;
  if (k === Cls.Unsupported) return m.invalid();
  if (isNaNCls(k)) {
    if (k === Cls.SNaN) m.exc |= Ex.IE;
    m.setResult(se, hi | 0x40000000, lo);
    return (m.exc & Ex.IE & ~m.masks) === 0;
  }
  if (k === Cls.Zero) {
    m.setResult(se, 0, 0);
    return true;
  }
  if (k === Cls.Inf) {
    // 2^+inf - 1 = +inf, 2^-inf - 1 = -1.
    if (s === 0) m.setInf(0);
    else m.setResult(0xbfff, 0x80000000, 0);
    return true;
  }
  if (!m.denormal(k === Cls.Denormal)) return false;
  m.unpack(0, se, hi, lo);
  const E = m.aE - 16383;
  sigToDD(m.aH, m.aL);
  let xh = RH;
  let xl = RL;
  if (s !== 0) {
    xh = -xh;
    xl = -xl;
  }
  if (E < -300) {
    // 2^x - 1 = x ln2 (1 + x ln2 / 2 + ...): the second factor only nudges.
    ddMul(xh, xl, LN2_H, LN2_L);
    ddToWork(m, RH, RL, E, s !== 0 ? -1 : 1);
    return true;
  }
  if (E > 9) {
    // Far outside the documented range (|x| >= 1024): 2^x - 1 overflows or is -1 minus a hair.
    if (s !== 0) {
      m.setWork(1, 16383, 0x80000000, 0, 0);
      nudgeWork(m, -1);
    } else m.setWork(0, 0x7fff + 16, 0x80000000, 0, 0);
    m.roundWork64();
    return true;
  }
  const sc = pow2(E);
  ddMul(xh * sc, xl * sc, LN2_H, LN2_L);
  ddExpm1(RH, RL);
  resultDD(m, RH, RL, 0, s);
  return true;
}

/** log2 of a finite positive unpacked value (operand a) as a double-double in RH/RL. */
function ddLog2(m: X87Math): void {
  let E = m.aE - 16383;
  sigToDD(m.aH, m.aL);
  let mh = RH;
  let ml = RL;
  if (mh > 1.3333333333333333) {
    mh *= 0.5;
    ml *= 0.5;
    E += 1;
  }
  // s = (m - 1) / (m + 1); ln m = 2 atanh(s); |s| <= 1/7.
  ddAdd(mh, ml, -1, 0);
  const nh = RH;
  const nl = RL;
  ddAdd(mh, ml, 1, 0);
  ddDiv(nh, nl, RH, RL);
  ddAtanh2(RH, RL);
  ddMul(RH, RL, LOG2E_H, LOG2E_L);
  ddAdd(RH, RL, E, 0);
}

/**
 * FYL2X: y * log2(x) (SDM Vol.2A FYL2X, table 3-?), a = x = ST(0), b = y = ST(1). Result in z.
 */
export function fyl2x(
  m: X87Math,
  xSe: number,
  xHi: number,
  xLo: number,
  ySe: number,
  yHi: number,
  yLo: number,
): boolean {
  const kx = classify(xSe, xHi, xLo);
  const ky = classify(ySe, yHi, yLo);
  const xs = (xSe >>> 15) & 1;
  const ys = (ySe >>> 15) & 1;
  if (kx === Cls.Unsupported || ky === Cls.Unsupported) return m.invalid();
  if (isNaNCls(kx) || isNaNCls(ky)) {
    m.propagateNaN(kx, xSe, xHi, xLo, ky, ySe, yHi, yLo);
    return (m.exc & Ex.IE & ~m.masks) === 0;
  }
  if (xs !== 0 && kx !== Cls.Zero) return m.invalid(); // log of a negative number
  const den = kx === Cls.Denormal || ky === Cls.Denormal;
  // Sign of log2(x): -1 for x < 1, 0 for x = 1, +1 for x > 1.
  let lsign: number;
  if (kx === Cls.Zero) lsign = -2;
  else if (kx === Cls.Inf) lsign = 2;
  else {
    m.unpack(0, xSe, xHi, xLo);
    const E = m.aE - 16383;
    if (E === 0 && m.aH === (0x80000000 | 0) && m.aL === 0) lsign = 0;
    else lsign = E < 0 ? -1 : 1;
  }
  if (kx === Cls.Zero) {
    // log2(0) = -inf: y * -inf; y = 0 is invalid; finite y is a zero divide (which outranks #D).
    if (ky === Cls.Zero) return m.invalid();
    if (ky !== Cls.Inf) {
      m.exc |= Ex.ZE;
      if ((m.masks & Ex.ZE) === 0) return false;
    }
    m.setInf(ys ^ 1);
    return true;
  }
  if (kx === Cls.Inf) {
    if (ky === Cls.Zero) return m.invalid();
    if (!m.denormal(den)) return false;
    m.setInf(ys);
    return true;
  }
  if (ky === Cls.Inf) {
    if (lsign === 0) return m.invalid();
    if (!m.denormal(den)) return false;
    m.setInf(ys ^ (lsign < 0 ? 1 : 0));
    return true;
  }
  if (!m.denormal(den)) return false;
  if (ky === Cls.Zero || lsign === 0) {
    m.setZero(ys ^ (lsign < 0 ? 1 : 0));
    return true;
  }
  ddLog2(m);
  const lh = RH;
  const ll = RL;
  m.unpack(1, ySe, yHi, yLo);
  const ey = m.bE - 16383;
  sigToDD(m.bH, m.bL);
  let yh = RH;
  let yl = RL;
  if (ys !== 0) {
    yh = -yh;
    yl = -yl;
  }
  ddMul(yh, yl, lh, ll);
  resultDD(m, RH, RL, ey, 0);
  return true;
}

/** FYL2XP1: y * log2(x + 1) (SDM Vol.2A FYL2XP1; |x| < 1 - sqrt(2)/2, outside that undefined). */
export function fyl2xp1(
  m: X87Math,
  xSe: number,
  xHi: number,
  xLo: number,
  ySe: number,
  yHi: number,
  yLo: number,
): boolean {
  const kx = classify(xSe, xHi, xLo);
  const ky = classify(ySe, yHi, yLo);
  const xs = (xSe >>> 15) & 1;
  const ys = (ySe >>> 15) & 1;
  if (kx === Cls.Unsupported || ky === Cls.Unsupported) return m.invalid();
  if (isNaNCls(kx) || isNaNCls(ky)) {
    m.propagateNaN(kx, xSe, xHi, xLo, ky, ySe, yHi, yLo);
    return (m.exc & Ex.IE & ~m.masks) === 0;
  }
  const den = kx === Cls.Denormal || ky === Cls.Denormal;
  if (kx === Cls.Inf) {
    if (xs !== 0 || ky === Cls.Zero) return m.invalid();
    if (!m.denormal(den)) return false;
    m.setInf(ys);
    return true;
  }
  if (kx === Cls.Zero) {
    if (ky === Cls.Inf) return m.invalid();
    if (!m.denormal(den)) return false;
    m.setZero(xs ^ ys);
    return true;
  }
  m.unpack(0, xSe, xHi, xLo);
  const ex = m.aE - 16383;
  // x <= -1: outside the domain.
  if (xs !== 0 && ex >= 0) return m.invalid();
  if (ky === Cls.Inf) {
    if (!m.denormal(den)) return false;
    m.setInf(ys ^ xs);
    return true;
  }
  if (!m.denormal(den)) return false;
  if (ky === Cls.Zero) {
    m.setZero(ys ^ xs);
    return true;
  }
  m.unpack(1, ySe, yHi, yLo);
  const ey = m.bE - 16383;
  sigToDD(m.bH, m.bL);
  let yh = RH;
  let yl = RL;
  if (ys !== 0) {
    yh = -yh;
    yl = -yl;
  }
  sigToDD(m.aH, m.aL);
  let xh = RH;
  let xl = RL;
  if (xs !== 0) {
    xh = -xh;
    xl = -xl;
  }
  if (ex < -300) {
    // log2(1 + x) = x log2(e) (1 - x/2 + ...): the second factor only nudges.
    ddMul(xh, xl, LOG2E_H, LOG2E_L);
    ddMul(RH, RL, yh, yl);
    ddToWork(m, RH, RL, ex + ey, xs !== 0 ? 1 : -1);
    return true;
  }
  if (ex > 60) {
    // Far outside the documented range: log2(1 + x) = log2(x) to far below the rounding.
    m.unpack(0, xSe, xHi, xLo);
    ddLog2(m);
  } else {
    const sc = pow2(ex);
    xh *= sc;
    xl *= sc;
    // s = x / (2 + x); ln(1 + x) = 2 atanh(s).
    ddAdd(xh, xl, 2, 0);
    ddDiv(xh, xl, RH, RL);
    ddAtanh2(RH, RL);
    ddMul(RH, RL, LOG2E_H, LOG2E_L);
  }
  ddMul(RH, RL, yh, yl);
  resultDD(m, RH, RL, ey, 0);
  return true;
}

/** A correctly rounded multiple of pi: pi * 2^-2 (k = -2), pi/2 (k = -1), pi (0), 3pi/4 (three = true). */
function piResult(m: X87Math, sign: number, k: number, three: boolean): void {
  const saveExc = m.exc;
  if (three) m.setWork(sign, 16384, 0x96cbe3f9, 0x990e91a7, 0x9394c9e8 | 1);
  else m.setWork(sign, 16383 + 1 + k, 0xc90fdaa2, 0x2168c234, 0xc4c6628b | 1);
  m.roundWork64();
  m.exc = saveExc | (m.exc & Ex.PE);
}

/** FPATAN: atan(y / x) with the quadrant of (x, y) (SDM Vol.2A FPATAN); x = ST(0), y = ST(1). */
export function fpatan(
  m: X87Math,
  xSe: number,
  xHi: number,
  xLo: number,
  ySe: number,
  yHi: number,
  yLo: number,
): boolean {
  const kx = classify(xSe, xHi, xLo);
  const ky = classify(ySe, yHi, yLo);
  const xs = (xSe >>> 15) & 1;
  const ys = (ySe >>> 15) & 1;
  if (kx === Cls.Unsupported || ky === Cls.Unsupported) return m.invalid();
  if (isNaNCls(kx) || isNaNCls(ky)) {
    m.propagateNaN(kx, xSe, xHi, xLo, ky, ySe, yHi, yLo);
    return (m.exc & Ex.IE & ~m.masks) === 0;
  }
  if (!m.denormal(kx === Cls.Denormal || ky === Cls.Denormal)) return false;
  if (ky === Cls.Zero) {
    if (xs === 0) m.setZero(ys);
    else piResult(m, ys, 0, false);
    return true;
  }
  if (ky === Cls.Inf) {
    if (kx === Cls.Inf) piResult(m, ys, xs === 0 ? -2 : 0, xs !== 0);
    else piResult(m, ys, -1, false);
    return true;
  }
  if (kx === Cls.Zero) {
    piResult(m, ys, -1, false);
    return true;
  }
  if (kx === Cls.Inf) {
    if (xs === 0) m.setZero(ys);
    else piResult(m, ys, 0, false);
    return true;
  }
  m.unpack(0, xSe, xHi, xLo);
  m.unpack(1, ySe, yHi, yLo);
  const ex = m.aE - 16383;
  const ey = m.bE - 16383;
  sigToDD(m.aH, m.aL);
  const xh = RH;
  const xl = RL;
  sigToDD(m.bH, m.bL);
  const yh = RH;
  const yl = RL;
  const d = ey - ex;
  if (d < -35 && xs === 0) {
    // |y/x| < 2^-35: atan(y/x) = y/x (1 - (y/x)^2/3 ...): the correction only nudges.
    ddDiv(ys !== 0 ? -yh : yh, ys !== 0 ? -yl : yl, xh, xl);
    ddToWork(m, RH, RL, d, -1);
    return true;
  }
  if (d < -300) {
    // |y/x| tiny and x < 0: pi - |y/x|.
    m.setWork(ys, 16383 + 1, 0xc90fdaa2, 0x2168c234, 0xc4c6628b);
    nudgeWork(m, -1);
    m.roundWork64();
    return true;
  }
  if (d > 300) {
    // |y/x| huge: pi/2 - x/y, the correction only nudges.
    m.setWork(ys, 16383, 0xc90fdaa2, 0x2168c234, 0xc4c6628b);
    nudgeWork(m, xs === 0 ? -1 : 1);
    m.roundWork64();
    return true;
  }
  // |y| and |x| scaled by the same power of two: y' = y_sig * 2^d, x' = x_sig.
  const sc = pow2(d);
  const ah = yh * sc;
  const al = yl * sc;
  let th: number;
  let tl: number;
  if (ah < xh || (ah === xh && al <= xl)) {
    ddDiv(ah, al, xh, xl);
    ddAtan01(RH, RL);
    th = RH;
    tl = RL;
  } else {
    ddDiv(xh, xl, ah, al);
    ddAtan01(RH, RL);
    ddAdd(PI2_H, PI2_L, -RH, -RL);
    th = RH;
    tl = RL;
  }
  if (xs !== 0) {
    ddAdd(PI_H, PI_L, -th, -tl);
    th = RH;
    tl = RL;
  }
  if (ys !== 0) {
    th = -th;
    tl = -tl;
  }
  resultDD(m, th, tl, 0, ys);
  return true;
}
