/**
 * Software 80-bit extended-precision arithmetic for the x87 (SDM Vol.1 ch.4 and ch.8), without
 * BigInt and without letting a 64-bit double stand in for an 80-bit value.
 *
 * A value is three int32 words: `se` (sign in bit 15, biased exponent in bits 0-14), `hi` and `lo`
 * (the 64-bit significand, explicit integer bit J = bit 31 of `hi`). Computations unpack operands
 * into normalized significands with an unbounded int exponent, produce an exact 96-bit significand
 * plus a sticky bit (`wH:wL:wX`), and round it once to the precision control (24/53/64 bits) and
 * rounding control of the control word, or to a memory format's precision and exponent range.
 *
 * Everything works on one `X87Math` object: operands, the work value and the result live in its
 * fields, so nothing is allocated per operation. `exc` collects exception flags (status-word bit
 * positions), `up` is the "rounded up" indication the FPU copies to C1.
 */

/** Exception flags, as in the status word (SDM Vol.1 §8.1.3). */
export const enum Ex {
  IE = 1,
  DE = 2,
  ZE = 4,
  OE = 8,
  UE = 16,
  PE = 32,
  SF = 64,
}

/** Rounding control (control word bits 10-11). */
export const enum Rc {
  Nearest = 0,
  Down = 1,
  Up = 2,
  Zero = 3,
}

/** Operand classes. Unsupported: unnormals, pseudo-infinities, pseudo-NaNs (SDM Vol.1 §8.2.2). */
export const enum Cls {
  Zero = 0,
  Normal = 1,
  Denormal = 2,
  Inf = 3,
  QNaN = 4,
  SNaN = 5,
  Unsupported = 6,
}

/** Exponent bias adjustment for unmasked overflow/underflow on a register destination (SDM Vol.1 §8.5.4). */
const BIAS_ADJUST = 24576;
/** Real indefinite (SDM Vol.1 §4.8.3.7): negative QNaN with significand C000...0. */
export const INDEF_SE = 0xffff;
export const INDEF_HI = 0xc0000000 | 0;

/** Exponent ranges of the memory formats, in 80-bit bias (16383). */
export const F32_EMIN = 16383 - 126;
export const F32_EMAX = 16383 + 127;
export const F64_EMIN = 16383 - 1022;
export const F64_EMAX = 16383 + 1023;
export const F80_EMIN = 1;
export const F80_EMAX = 0x7ffe;

export function classify(se: number, hi: number, lo: number): Cls {
  const e = se & 0x7fff;
  if (e === 0) return (hi | lo) === 0 ? Cls.Zero : Cls.Denormal; // J = 1 here is a pseudo-denormal
  if (hi >= 0) return Cls.Unsupported; // J clear with a nonzero exponent
  if (e === 0x7fff) {
    if ((hi & 0x7fffffff) === 0 && lo === 0) return Cls.Inf;
    return hi & 0x40000000 ? Cls.QNaN : Cls.SNaN;
  }
  return Cls.Normal;
}

export function isNaNCls(k: Cls): boolean {
  return k === Cls.QNaN || k === Cls.SNaN;
}

/** Exact 32x32 -> 64-bit unsigned product, high and low words into `MUL_HI`/`MUL_LO`. */
let MUL_HI = 0;
let MUL_LO = 0;
function mul32(a: number, b: number): void {
  a >>>= 0;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const p0 = a * bl; // < 2^48
  const p1 = a * bh; // < 2^48
  const t = p0 + (p1 % 65536) * 65536; // < 2^49
  MUL_LO = (t >>> 0) | 0; // ToUint32 is exact modulo 2^32 for integers below 2^53
  MUL_HI = (Math.floor(p1 / 65536) + Math.floor(t / 4294967296)) | 0;
}

const TWO32 = 4294967296;

/**
 * N of a partial remainder for an exponent difference d >= 64 (SDM Vol.2A FPREM: "an
 * implementation-dependent number between 32 and 63"): 32 + (d mod 32), which is what Intel hosts
 * do (measured by the differential suite) and what AMD documents.
 */
function premN(d: number): number {
  return 32 + (d & 31);
}

export class X87Math {
  /** Rounding control and the control word's exception masks. */
  rc = 0;
  masks = 0x3f;
  /** Exception flags raised by the operations since the caller cleared it. */
  exc = 0;
  /** 1 when the last rounding increased the magnitude (C1). */
  up = 0;

  // Unpacked operands: sign, unbounded exponent (biased), normalized significand.
  aS = 0;
  aE = 0;
  aH = 0;
  aL = 0;
  bS = 0;
  bE = 0;
  bH = 0;
  bL = 0;

  // Work value: sign, exponent, 96-bit significand (sticky in bit 0 of wX).
  wS = 0;
  wE = 0;
  wH = 0;
  wL = 0;
  wX = 0;

  // Packed result.
  zSe = 0;
  zHi = 0;
  zLo = 0;

  // ------------------------------------------------------------------ helpers

  setResult(se: number, hi: number, lo: number): void {
    this.zSe = se & 0xffff;
    this.zHi = hi | 0;
    this.zLo = lo | 0;
  }

  setIndefinite(): void {
    this.zSe = INDEF_SE;
    this.zHi = INDEF_HI;
    this.zLo = 0;
  }

  setZero(sign: number): void {
    this.zSe = sign << 15;
    this.zHi = 0;
    this.zLo = 0;
  }

  setInf(sign: number): void {
    this.zSe = (sign << 15) | 0x7fff;
    this.zHi = 0x80000000 | 0;
    this.zLo = 0;
  }

  /** Unpack into a (`which` 0) or b (1), normalizing denormals; the value must be finite and nonzero. */
  unpack(which: number, se: number, hi: number, lo: number): void {
    let e = se & 0x7fff;
    const s = (se >>> 15) & 1;
    if (e === 0) e = 1; // denormals and pseudo-denormals have the exponent of 2^-16382
    if (hi === 0) {
      hi = lo;
      lo = 0;
      e -= 32;
    }
    const n = Math.clz32(hi);
    if (n !== 0) {
      hi = (hi << n) | (lo >>> (32 - n));
      lo <<= n;
      e -= n;
    }
    if (which === 0) {
      this.aS = s;
      this.aE = e;
      this.aH = hi | 0;
      this.aL = lo | 0;
    } else {
      this.bS = s;
      this.bE = e;
      this.bH = hi | 0;
      this.bL = lo | 0;
    }
  }

  /** Quiet NaN result from one NaN operand. */
  private quietOf(se: number, hi: number, lo: number): void {
    this.zSe = se & 0xffff;
    this.zHi = hi | 0x40000000;
    this.zLo = lo | 0;
  }

  /**
   * NaN result of a two-operand operation where at least one operand is a NaN (SDM Vol.1 table 4-7,
   * x87 column): an SNaN raises IE; a QNaN beats an SNaN; otherwise the larger significand wins.
   */
  propagateNaN(ka: Cls, aSe: number, aHi: number, aLo: number, kb: Cls, bSe: number, bHi: number, bLo: number): void {
    if (ka === Cls.SNaN || kb === Cls.SNaN) this.exc |= Ex.IE;
    const an = isNaNCls(ka);
    const bn = isNaNCls(kb);
    if (an && bn) {
      if (ka === Cls.QNaN && kb === Cls.SNaN) {
        this.quietOf(aSe, aHi, aLo);
        return;
      }
      if (kb === Cls.QNaN && ka === Cls.SNaN) {
        this.quietOf(bSe, bHi, bLo);
        return;
      }
      const ah = aHi & 0x3fffffff;
      const bh = bHi & 0x3fffffff;
      let pickA: boolean;
      if (ah !== bh) pickA = ah > bh;
      else if (aLo !== bLo) pickA = aLo >>> 0 > bLo >>> 0;
      else pickA = (aSe & 0x8000) === 0 || (bSe & 0x8000) !== 0; // equal significands: the positive one
      if (pickA) this.quietOf(aSe, aHi, aLo);
      else this.quietOf(bSe, bHi, bLo);
      return;
    }
    if (an) this.quietOf(aSe, aHi, aLo);
    else this.quietOf(bSe, bHi, bLo);
  }

  /** Shift the work significand right by n bits, ORing what falls out into the sticky bit. */
  private shr96(n: number): void {
    if (n <= 0) return;
    let h = this.wH;
    let l = this.wL;
    let x = this.wX;
    if (n >= 96) {
      this.wX = (h | l | x) !== 0 ? 1 : 0;
      this.wH = 0;
      this.wL = 0;
      return;
    }
    let sticky = 0;
    while (n >= 32) {
      sticky |= x;
      x = l;
      l = h;
      h = 0;
      n -= 32;
    }
    if (n > 0) {
      sticky |= x << (32 - n);
      x = (x >>> n) | (l << (32 - n));
      l = (l >>> n) | (h << (32 - n));
      h >>>= n;
    }
    this.wH = h | 0;
    this.wL = l | 0;
    this.wX = x | (sticky !== 0 ? 1 : 0);
  }

  /** Normalize the work significand left (it must be nonzero). */
  private normLeft(): void {
    let h = this.wH;
    let l = this.wL;
    let x = this.wX;
    let e = this.wE;
    while (h === 0) {
      h = l;
      l = x;
      x = 0;
      e -= 32;
    }
    const n = Math.clz32(h);
    if (n !== 0) {
      h = (h << n) | (l >>> (32 - n));
      l = (l << n) | (x >>> (32 - n));
      x <<= n;
      e -= n;
    }
    this.wH = h | 0;
    this.wL = l | 0;
    this.wX = x | 0;
    this.wE = e;
  }

  /** Rounding decision for the work significand at `prec` bits: 1 to increment, 0 not; sets `inexact`. */
  private inexact = false;
  private roundInc(prec: number, sign: number, h: number, l: number, x: number): number {
    let rb: number;
    let half: number;
    let rest: boolean;
    let lsb: number;
    if (prec === 64) {
      rb = x >>> 0;
      half = 0x80000000;
      rest = false;
      lsb = l & 1;
    } else if (prec === 53) {
      rb = l & 0x7ff;
      half = 0x400;
      rest = x !== 0;
      lsb = (l >>> 11) & 1;
    } else {
      rb = h & 0xff;
      half = 0x80;
      rest = (l | x) !== 0;
      lsb = (h >>> 8) & 1;
    }
    this.inexact = rb !== 0 || rest;
    if (!this.inexact) return 0;
    switch (this.rc) {
      case Rc.Nearest:
        return rb > half || (rb === half && (rest || lsb !== 0)) ? 1 : 0;
      case Rc.Down:
        return sign;
      case Rc.Up:
        return sign ^ 1;
      default:
        return 0;
    }
  }

  /**
   * Round the work value (wS, wE, wH:wL:wX; normalized and nonzero) to `prec` significant bits
   * within the exponent range [emin, emax] (80-bit bias) and pack it into zSe/zHi/zLo, setting
   * PE/UE/OE and `up`. `reg`: the destination is a register, so unmasked overflow/underflow
   * deliver the result with the exponent bias-adjusted by 24576 (SDM Vol.1 §8.5.3, §8.5.4); for a
   * memory destination the caller must not store when those exceptions are unmasked.
   */
  roundPack(prec: number, emin: number, emax: number, reg: boolean): void {
    const sign = this.wS;
    let e = this.wE;
    let tiny = false;
    this.up = 0;
    if (e < emin) {
      // Tininess after rounding (SDM Vol.1 §4.9.1.5): the value rounded to `prec` bits with an
      // unbounded exponent is below the smallest normal. Only a value just below it can round up
      // out of the range. (Measured on the host for every precision control and for stores.)
      tiny = true;
      if (e === emin - 1) {
        const inc = this.roundInc(prec, sign, this.wH, this.wL, this.wX);
        if (inc !== 0 && allOnes(prec, this.wH, this.wL)) tiny = false;
      }
      if (tiny && (this.masks & Ex.UE) === 0) {
        this.exc |= Ex.UE;
        if (reg) {
          e += BIAS_ADJUST;
          this.wE = e;
          tiny = false;
          if (e < emin) {
            // Still tiny after the bias adjustment (only FSCALE gets here): a signed zero.
            this.exc |= Ex.PE;
            this.zSe = sign << 15;
            this.zHi = 0;
            this.zLo = 0;
            return;
          }
        }
      }
      if (e < emin) {
        this.shr96(emin - e);
        e = emin;
      }
    }
    let h = this.wH;
    let l = this.wL;
    const inc = this.roundInc(prec, sign, h, l, this.wX);
    const inexact = this.inexact;
    if (prec === 64) {
      if (inc !== 0) {
        l = (l + 1) | 0;
        if (l === 0) {
          h = (h + 1) | 0;
          if (h === 0) {
            h = 0x80000000 | 0;
            e++;
          }
        }
      }
    } else if (prec === 53) {
      l &= ~0x7ff;
      if (inc !== 0) {
        const nl = (l + 0x800) | 0;
        if (nl >>> 0 < l >>> 0) {
          h = (h + 1) | 0;
          if (h === 0) {
            h = 0x80000000 | 0;
            e++;
          }
        }
        l = nl;
      }
    } else {
      h &= ~0xff;
      l = 0;
      if (inc !== 0) {
        const nh = (h + 0x100) | 0;
        if (nh === 0) {
          h = 0x80000000 | 0;
          e++;
        } else h = nh;
      }
    }
    this.up = inc;
    if (e > emax) {
      if (reg && (this.masks & Ex.OE) === 0 && e - BIAS_ADJUST <= emax) {
        this.exc |= Ex.OE;
        e -= BIAS_ADJUST;
      } else if (reg && (this.masks & Ex.OE) === 0) {
        // Beyond even the bias-adjusted range (only FSCALE gets here): infinity whatever RC says.
        this.exc |= Ex.OE | Ex.PE;
        this.zSe = (sign << 15) | 0x7fff;
        this.zHi = 0x80000000 | 0;
        this.zLo = 0;
        this.up = 1;
        return;
      } else {
        this.exc |= Ex.OE | Ex.PE;
        const r = this.rc;
        const toInf = r === Rc.Nearest || (r === Rc.Up && sign === 0) || (r === Rc.Down && sign !== 0);
        if (toInf) {
          this.zSe = (sign << 15) | 0x7fff;
          this.zHi = 0x80000000 | 0;
          this.zLo = 0;
          this.up = 1;
        } else {
          this.zSe = (sign << 15) | emax;
          this.zHi = prec === 24 ? 0xffffff00 | 0 : -1;
          this.zLo = prec === 64 ? -1 : prec === 53 ? ~0x7ff : 0;
          this.up = 0;
        }
        return;
      }
    }
    if (inexact) {
      this.exc |= Ex.PE;
      if (tiny) this.exc |= Ex.UE;
    }
    // A denormal keeps J clear: its exponent field is 0 (in 80-bit terms: emin - 1 for J = 0 at emin = 1).
    if (h >= 0) {
      if ((h | l) === 0) e = 0;
      else if (emin === F80_EMIN) e = 0;
    }
    this.zSe = (sign << 15) | (e & 0x7fff);
    this.zHi = h | 0;
    this.zLo = l | 0;
  }

  /** Round the work value as a register result: precision `prec`, full 80-bit exponent range. */
  roundReg(prec: number): void {
    this.roundPack(prec, F80_EMIN, F80_EMAX, true);
  }

  // ------------------------------------------------------------------ arithmetic

  /**
   * Exact sum of the unpacked a and b (b negated when `sub`) into the work value. Both finite and
   * nonzero. Returns false when the exact sum is zero (the caller decides the zero's sign).
   */
  addCore(sub: number): boolean {
    let as = this.aS;
    let ae = this.aE;
    let ah = this.aH;
    let al = this.aL;
    let bs = this.bS ^ sub;
    let be = this.bE;
    let bh = this.bH;
    let bl = this.bL;
    // Make |a| >= |b|.
    if (ae < be || (ae === be && (ah >>> 0 < bh >>> 0 || (ah === bh && al >>> 0 < bl >>> 0)))) {
      let t = as;
      as = bs;
      bs = t;
      t = ae;
      ae = be;
      be = t;
      t = ah;
      ah = bh;
      bh = t;
      t = al;
      al = bl;
      bl = t;
    }
    // b aligned into the work registers.
    this.wH = bh;
    this.wL = bl;
    this.wX = 0;
    this.shr96(ae - be);
    const vh = this.wH;
    const vl = this.wL;
    const vx = this.wX;
    this.wS = as;
    this.wE = ae;
    if (as === bs) {
      const x = (vx >>> 0) + 0;
      const l = (al >>> 0) + (vl >>> 0);
      const h = (ah >>> 0) + (vh >>> 0) + (l >= TWO32 ? 1 : 0);
      this.wX = x | 0;
      this.wL = l | 0;
      this.wH = h | 0;
      if (h >= TWO32) {
        // Carry out: shift right by one, the carry becomes the integer bit.
        const sticky = this.wX & 1;
        this.wX = (this.wX >>> 1) | (this.wL << 31) | sticky;
        this.wL = (this.wL >>> 1) | (this.wH << 31);
        this.wH = (this.wH >>> 1) | 0x80000000;
        this.wE = ae + 1;
      }
      return true;
    }
    // Subtract: a - v (a >= v).
    let x = 0 - (vx >>> 0);
    let borrow = x < 0 ? 1 : 0;
    if (x < 0) x += TWO32;
    let l = (al >>> 0) - (vl >>> 0) - borrow;
    borrow = l < 0 ? 1 : 0;
    if (l < 0) l += TWO32;
    const h = (ah >>> 0) - (vh >>> 0) - borrow;
    if ((h | l | x) === 0 && h === 0 && l === 0 && x === 0) return false;
    this.wH = h | 0;
    this.wL = l | 0;
    this.wX = x | 0;
    this.normLeft();
    return true;
  }

  /** Exact product of the unpacked a and b into the work value (96 bits + sticky). */
  mulCore(): void {
    const ah = this.aH;
    const al = this.aL;
    const bh = this.bH;
    const bl = this.bL;
    mul32(al, bl);
    const w0 = MUL_LO >>> 0;
    let w1 = MUL_HI >>> 0;
    mul32(al, bh);
    w1 += MUL_LO >>> 0;
    let w2 = MUL_HI >>> 0;
    mul32(ah, bl);
    w1 += MUL_LO >>> 0;
    w2 += MUL_HI >>> 0;
    mul32(ah, bh);
    w2 += MUL_LO >>> 0;
    let w3 = MUL_HI >>> 0;
    const c1 = Math.floor(w1 / TWO32);
    w1 -= c1 * TWO32;
    w2 += c1;
    const c2 = Math.floor(w2 / TWO32);
    w2 -= c2 * TWO32;
    w3 += c2;
    this.wS = this.aS ^ this.bS;
    this.wE = this.aE + this.bE - 16383 + 1;
    this.wH = w3 | 0;
    this.wL = w2 | 0;
    this.wX = w1 | 0 | (w0 !== 0 ? 1 : 0);
    if (this.wH >= 0) {
      // Product below 2^127: one left shift normalizes it (the sticky bit stays the lowest bit).
      const st = this.wX & 1;
      this.wH = (this.wH << 1) | (this.wL >>> 31);
      this.wL = (this.wL << 1) | (this.wX >>> 31);
      this.wX = (this.wX << 1) | st;
      this.wE--;
    }
  }

  /** Quotient a / b of the unpacked operands into the work value: 66 quotient bits + sticky. */
  divCore(): void {
    // Remainder r (65 bits: rc:rh:rl), divisor d.
    let rh = this.aH >>> 0;
    let rl = this.aL >>> 0;
    let rc = 0;
    const dh = this.bH >>> 0;
    const dl = this.bL >>> 0;
    let e = this.aE - this.bE + 16383;
    if (rh < dh || (rh === dh && rl < dl)) {
      // a < b: take one more bit of a so that the first quotient bit is 1.
      rc = rh >>> 31;
      rh = ((rh << 1) | (rl >>> 31)) >>> 0;
      rl = (rl << 1) >>> 0;
      e--;
    }
    let qh = 0;
    let ql = 0;
    let qx = 0;
    for (let k = 0; k < 66; k++) {
      let bit = 0;
      if (rc !== 0 || rh > dh || (rh === dh && rl >= dl)) {
        let nl = rl - dl;
        let borrow = 0;
        if (nl < 0) {
          nl += TWO32;
          borrow = 1;
        }
        let nh = rh - dh - borrow;
        if (nh < 0) nh += TWO32;
        rh = nh;
        rl = nl;
        rc = 0;
        bit = 1;
      }
      // Shift the quotient left and insert the bit (qh:ql:qx with 66 bits top-aligned at the end).
      qh = ((qh << 1) | (ql >>> 31)) >>> 0;
      ql = ((ql << 1) | (qx >>> 31)) >>> 0;
      qx = ((qx << 1) | bit) >>> 0;
      rc = rh >>> 31;
      rh = ((rh << 1) | (rl >>> 31)) >>> 0;
      rl = (rl << 1) >>> 0;
    }
    // 66 bits now sit in qh(2 bits):ql:qx; align so that the leading bit is bit 31 of wH.
    this.wH = (qh << 30) | (ql >>> 2) | 0;
    this.wL = (ql << 30) | (qx >>> 2) | 0;
    this.wX = (qx << 30) | ((rc | rh | rl) !== 0 ? 1 : 0) | 0;
    this.wS = this.aS ^ this.bS;
    this.wE = e;
  }

  /** Square root of the unpacked a (positive, finite, nonzero) into the work value. */
  sqrtCore(): void {
    const E = this.aE - 16383;
    // Radicand N = A * 2^shift with E - 63 - shift even; the root has 65 or 66 bits.
    const shift = (E & 1) !== 0 ? 66 : 67;
    const totalBits = 64 + shift;
    let nh = this.aH >>> 0;
    let nl = this.aL >>> 0;
    // Remainder and root: 3 words each (values stay below 2^70).
    let r2 = 0;
    let r1 = 0;
    let r0 = 0;
    let q2 = 0;
    let q1 = 0;
    let q0 = 0;
    let pairs = totalBits >>> 1;
    let first = -1;
    if ((totalBits & 1) !== 0) {
      // Odd number of bits: the first pair is (0, top bit).
      first = nh >>> 31;
      nh = ((nh << 1) | (nl >>> 31)) >>> 0;
      nl = (nl << 1) >>> 0;
      pairs++;
    }
    for (let k = 0; k < pairs; k++) {
      let p: number;
      if (first >= 0) {
        p = first;
        first = -1;
      } else {
        p = nh >>> 30;
        nh = ((nh << 2) | (nl >>> 30)) >>> 0;
        nl = (nl << 2) >>> 0;
      }
      // r = (r << 2) | p
      r2 = ((r2 << 2) | (r1 >>> 30)) >>> 0;
      r1 = ((r1 << 2) | (r0 >>> 30)) >>> 0;
      r0 = ((r0 << 2) | p) >>> 0;
      // t = (q << 2) | 1
      const t2 = ((q2 << 2) | (q1 >>> 30)) >>> 0;
      const t1 = ((q1 << 2) | (q0 >>> 30)) >>> 0;
      const t0 = ((q0 << 2) | 1) >>> 0;
      const ge = r2 > t2 || (r2 === t2 && (r1 > t1 || (r1 === t1 && r0 >= t0)));
      q2 = ((q2 << 1) | (q1 >>> 31)) >>> 0;
      q1 = ((q1 << 1) | (q0 >>> 31)) >>> 0;
      q0 = ((q0 << 1) | (ge ? 1 : 0)) >>> 0;
      if (ge) {
        let d0 = r0 - t0;
        let b = 0;
        if (d0 < 0) {
          d0 += TWO32;
          b = 1;
        }
        let d1 = r1 - t1 - b;
        b = 0;
        if (d1 < 0) {
          d1 += TWO32;
          b = 1;
        }
        r2 = (r2 - t2 - b) >>> 0;
        r1 = d1;
        r0 = d0;
      }
    }
    // Root q (65 or 66 bits) in q2:q1:q0; normalize to the 96-bit work significand.
    this.wH = q2;
    this.wL = q1;
    this.wX = q0;
    this.wS = 0;
    // Value = q * 2^((E - 63 - shift) / 2); with q's top bit at bit 95 after normalization the
    // exponent is (E - 63 - shift) / 2 + 95 - (number of normalization shifts) ...
    this.wE = 16383 + (E - 63 - shift) / 2 + 95;
    const sticky = (r2 | r1 | r0) !== 0 ? 1 : 0;
    this.normLeft();
    this.wX |= sticky;
  }

  // ------------------------------------------------------------------ operations with special cases

  /**
   * a op b for op 0 add, 1 sub (a - b), 2 mul, 3 div (a / b), rounded to `prec` bits as a
   * register result. `aDen`/`bDen`: the operand came from a memory format in which it was
   * denormal (its 80-bit form is normal). Returns false when an unmasked exception suppresses
   * the result (invalid, zero divide, denormal); the flags are in `exc`.
   */
  arith(
    op: number,
    aSe: number,
    aHi: number,
    aLo: number,
    aDen: boolean,
    bSe: number,
    bHi: number,
    bLo: number,
    bDen: boolean,
    prec: number,
  ): boolean {
    const ka = classify(aSe, aHi, aLo);
    const kb = classify(bSe, bHi, bLo);
    const as = (aSe >>> 15) & 1;
    const bs = (bSe >>> 15) & 1;
    if (ka === Cls.Unsupported || kb === Cls.Unsupported) return this.invalid();
    if (isNaNCls(ka) || isNaNCls(kb)) {
      this.propagateNaN(ka, aSe, aHi, aLo, kb, bSe, bHi, bLo);
      return (this.exc & Ex.IE & ~this.masks) === 0;
    }
    const den = aDen || bDen || ka === Cls.Denormal || kb === Cls.Denormal;
    switch (op) {
      case 0:
      case 1: {
        const sb = bs ^ op;
        if (ka === Cls.Inf || kb === Cls.Inf) {
          if (ka === Cls.Inf && kb === Cls.Inf && as !== sb) return this.invalid();
          if (!this.denormal(den)) return false;
          this.setInf(ka === Cls.Inf ? as : sb);
          return true;
        }
        if (!this.denormal(den)) return false;
        if (ka === Cls.Zero && kb === Cls.Zero) {
          this.setZero(as === sb ? as : this.rc === Rc.Down ? 1 : 0);
          return true;
        }
        if (kb === Cls.Zero) return this.roundCopy(aSe, aHi, aLo, prec);
        if (ka === Cls.Zero) return this.roundCopy(bSe ^ (op << 15), bHi, bLo, prec);
        this.unpack(0, aSe, aHi, aLo);
        this.unpack(1, bSe, bHi, bLo);
        if (!this.addCore(op)) {
          this.setZero(this.rc === Rc.Down ? 1 : 0);
          return true;
        }
        this.roundReg(prec);
        return true;
      }
      case 2: {
        const s = as ^ bs;
        if (ka === Cls.Inf || kb === Cls.Inf) {
          if (ka === Cls.Zero || kb === Cls.Zero) return this.invalid();
          if (!this.denormal(den)) return false;
          this.setInf(s);
          return true;
        }
        if (!this.denormal(den)) return false;
        if (ka === Cls.Zero || kb === Cls.Zero) {
          this.setZero(s);
          return true;
        }
        this.unpack(0, aSe, aHi, aLo);
        this.unpack(1, bSe, bHi, bLo);
        this.mulCore();
        this.roundReg(prec);
        return true;
      }
      default: {
        const s = as ^ bs;
        if (ka === Cls.Inf) {
          if (kb === Cls.Inf) return this.invalid();
          if (!this.denormal(den)) return false;
          this.setInf(s);
          return true;
        }
        if (kb === Cls.Inf) {
          if (!this.denormal(den)) return false;
          this.setZero(s);
          return true;
        }
        if (kb === Cls.Zero) {
          if (ka === Cls.Zero) return this.invalid();
          // Zero divide outranks the denormal operand (SDM Vol.1 §4.9.2).
          this.exc |= Ex.ZE;
          if ((this.masks & Ex.ZE) === 0) return false;
          this.setInf(s);
          return true;
        }
        if (!this.denormal(den)) return false;
        if (ka === Cls.Zero) {
          this.setZero(s);
          return true;
        }
        this.unpack(0, aSe, aHi, aLo);
        this.unpack(1, bSe, bHi, bLo);
        this.divCore();
        this.roundReg(prec);
        return true;
      }
    }
  }

  /** IE with the masked response (real indefinite); false when IE is unmasked. */
  invalid(): boolean {
    this.exc |= Ex.IE;
    this.setIndefinite();
    return (this.masks & Ex.IE) !== 0;
  }

  /** Note a denormal operand; false when DE is unmasked (the instruction is not executed). */
  denormal(den: boolean): boolean {
    if (!den) return true;
    this.exc |= Ex.DE;
    return (this.masks & Ex.DE) !== 0;
  }

  /** A finite nonzero value rounded to `prec` bits as a register result (x + 0, x * 1 ...). */
  roundCopy(se: number, hi: number, lo: number, prec: number): boolean {
    this.unpack(0, se, hi, lo);
    this.wS = this.aS;
    this.wE = this.aE;
    this.wH = this.aH;
    this.wL = this.aL;
    this.wX = 0;
    this.roundReg(prec);
    return true;
  }

  /** FSQRT (SDM Vol.2A FSQRT). */
  sqrt(se: number, hi: number, lo: number, prec: number): boolean {
    const k = classify(se, hi, lo);
    const s = (se >>> 15) & 1;
    if (k === Cls.Unsupported) return this.invalid();
    if (isNaNCls(k)) {
      if (k === Cls.SNaN) this.exc |= Ex.IE;
      this.quietOf(se, hi, lo);
      return (this.exc & Ex.IE & ~this.masks) === 0;
    }
    if (k === Cls.Zero) {
      this.setZero(s);
      return true;
    }
    if (s !== 0) return this.invalid();
    if (k === Cls.Inf) {
      this.setInf(0);
      return true;
    }
    if (!this.denormal(k === Cls.Denormal)) return false;
    this.unpack(0, se, hi, lo);
    this.sqrtCore();
    this.roundReg(prec);
    return true;
  }

  /**
   * Compare a with b: 0 a > b, 1 a < b, 2 equal, 3 unordered. `quiet`: only SNaNs (and
   * unsupported formats) are invalid (FUCOM), otherwise any NaN is (FCOM). Sets IE/DE.
   */
  compare(
    aSe: number,
    aHi: number,
    aLo: number,
    aDen: boolean,
    bSe: number,
    bHi: number,
    bLo: number,
    bDen: boolean,
    quiet: boolean,
  ): number {
    const ka = classify(aSe, aHi, aLo);
    const kb = classify(bSe, bHi, bLo);
    if (ka === Cls.Unsupported || kb === Cls.Unsupported) {
      this.exc |= Ex.IE;
      return 3;
    }
    if (isNaNCls(ka) || isNaNCls(kb)) {
      if (!quiet || ka === Cls.SNaN || kb === Cls.SNaN) this.exc |= Ex.IE;
      return 3;
    }
    if (aDen || bDen || ka === Cls.Denormal || kb === Cls.Denormal) this.exc |= Ex.DE;
    const as = (aSe >>> 15) & 1;
    const bs = (bSe >>> 15) & 1;
    if (ka === Cls.Zero && kb === Cls.Zero) return 2;
    if (ka === Cls.Zero) return bs !== 0 ? 0 : 1;
    if (kb === Cls.Zero) return as !== 0 ? 1 : 0;
    if (as !== bs) return as !== 0 ? 1 : 0;
    // Same sign: compare magnitudes (infinities compare by their encoding too).
    let mag: number;
    if (ka === Cls.Inf || kb === Cls.Inf) {
      mag = ka === kb ? 0 : ka === Cls.Inf ? 1 : -1;
    } else {
      this.unpack(0, aSe, aHi, aLo);
      this.unpack(1, bSe, bHi, bLo);
      if (this.aE !== this.bE) mag = this.aE > this.bE ? 1 : -1;
      else if (this.aH !== this.bH) mag = this.aH >>> 0 > this.bH >>> 0 ? 1 : -1;
      else if (this.aL !== this.bL) mag = this.aL >>> 0 > this.bL >>> 0 ? 1 : -1;
      else mag = 0;
    }
    if (mag === 0) return 2;
    return mag > 0 !== (as !== 0) ? 0 : 1;
  }

  // ------------------------------------------------------------------ conversions

  /** Signed integer (int16/int32 value) to 80-bit, exact. */
  fromInt32(v: number): void {
    if (v === 0) {
      this.setZero(0);
      return;
    }
    const s = v < 0 ? 1 : 0;
    const m = s !== 0 ? -v >>> 0 : v >>> 0;
    const n = Math.clz32(m);
    this.zSe = (s << 15) | (16383 + 31 - n);
    this.zHi = (m << n) | 0;
    this.zLo = 0;
  }

  /** Signed 64-bit integer (hi:lo two's complement) to 80-bit, exact. */
  fromInt64(hi: number, lo: number): void {
    const s = hi < 0 ? 1 : 0;
    if (s !== 0) {
      lo = -lo | 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
    }
    if ((hi | lo) === 0) {
      if (s !== 0) {
        // -2^63
        this.zSe = 0x8000 | (16383 + 63);
        this.zHi = 0x80000000 | 0;
        this.zLo = 0;
      } else this.setZero(0);
      return;
    }
    let e = 16383 + 63;
    if (hi === 0) {
      hi = lo;
      lo = 0;
      e -= 32;
    }
    const n = Math.clz32(hi);
    if (n !== 0) {
      hi = (hi << n) | (lo >>> (32 - n));
      lo <<= n;
      e -= n;
    }
    this.zSe = (s << 15) | e;
    this.zHi = hi | 0;
    this.zLo = lo | 0;
  }

  /** Memory-format conversion flag: the last loaded float32/64 was a denormal. */
  loadDen = false;

  /** float32 bits to 80-bit (exact; an SNaN stays signaling, the caller decides). */
  fromF32(bits: number): void {
    const s = bits >>> 31;
    const e = (bits >>> 23) & 0xff;
    const f = bits & 0x7fffff;
    this.loadDen = false;
    if (e === 0xff) {
      this.zSe = (s << 15) | 0x7fff;
      this.zHi = 0x80000000 | (f << 8) | 0;
      this.zLo = 0;
      return;
    }
    if (e === 0) {
      if (f === 0) {
        this.setZero(s);
        return;
      }
      this.loadDen = true;
      const n = Math.clz32(f); // f < 2^23: n >= 9
      this.zSe = (s << 15) | (16383 - 126 - (n - 8));
      this.zHi = (f << n) | 0;
      this.zLo = 0;
      return;
    }
    this.zSe = (s << 15) | (e - 127 + 16383);
    this.zHi = 0x80000000 | (f << 8) | 0;
    this.zLo = 0;
  }

  /** float64 (hi:lo words) to 80-bit. */
  fromF64(hiw: number, low: number): void {
    const s = hiw >>> 31;
    const e = (hiw >>> 20) & 0x7ff;
    let fh = hiw & 0xfffff;
    const fl = low >>> 0;
    this.loadDen = false;
    if (e === 0x7ff) {
      this.zSe = (s << 15) | 0x7fff;
      this.zHi = 0x80000000 | (fh << 11) | (fl >>> 21) | 0;
      this.zLo = (fl << 11) | 0;
      return;
    }
    if (e === 0) {
      if ((fh | fl) === 0) {
        this.setZero(s);
        return;
      }
      this.loadDen = true;
      // Normalize the 52-bit fraction so its leading 1 lands on bit 63.
      let ex = 16383 - 1022;
      let h = ((fh << 11) | (fl >>> 21)) >>> 0;
      let l = (fl << 11) >>> 0;
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
      this.zSe = (s << 15) | ex;
      this.zHi = h | 0;
      this.zLo = l | 0;
      return;
    }
    fh |= 0;
    this.zSe = (s << 15) | (e - 1023 + 16383);
    this.zHi = 0x80000000 | (fh << 11) | (fl >>> 21) | 0;
    this.zLo = (fl << 11) | 0;
  }

  /**
   * 80-bit to float32 (FST m32): the result bits into `outLo`. Returns false when the store is
   * suppressed (unmasked IE/OE/UE). Stack checks are the caller's.
   */
  outLo = 0;
  outHi = 0;
  toF32(se: number, hi: number, lo: number): boolean {
    const k = classify(se, hi, lo);
    const s = (se >>> 15) & 1;
    switch (k) {
      case Cls.Zero:
        this.outLo = s << 31;
        return true;
      case Cls.Inf:
        this.outLo = (s << 31) | 0x7f800000;
        return true;
      case Cls.SNaN:
      case Cls.QNaN:
        if (k === Cls.SNaN) {
          this.exc |= Ex.IE;
          if ((this.masks & Ex.IE) === 0) return false;
        }
        this.outLo = (s << 31) | 0x7fc00000 | ((hi >>> 8) & 0x3fffff);
        return true;
      case Cls.Unsupported:
        this.exc |= Ex.IE;
        if ((this.masks & Ex.IE) === 0) return false;
        this.outLo = 0xffc00000 | 0;
        return true;
      default:
        break;
    }
    // No #D here: an 80-bit denormal is just tiny for the narrower format (SDM Vol.2A FST).
    this.unpack(0, se, hi, lo);
    this.loadWork();
    this.roundPack(24, F32_EMIN, F32_EMAX, false);
    if (this.storeSuppressed()) return false;
    const e = this.zSe & 0x7fff;
    let bits: number;
    if (e === 0x7fff) bits = 0x7f800000;
    else if (this.zHi < 0) bits = ((e - 16383 + 127) << 23) | ((this.zHi >>> 8) & 0x7fffff);
    else bits = (this.zHi >>> 8) & 0x7fffff;
    this.outLo = (s << 31) | bits;
    return true;
  }

  /** 80-bit to float64 (FST m64): words into outHi/outLo. */
  toF64(se: number, hi: number, lo: number): boolean {
    const k = classify(se, hi, lo);
    const s = (se >>> 15) & 1;
    switch (k) {
      case Cls.Zero:
        this.outHi = s << 31;
        this.outLo = 0;
        return true;
      case Cls.Inf:
        this.outHi = (s << 31) | 0x7ff00000;
        this.outLo = 0;
        return true;
      case Cls.SNaN:
      case Cls.QNaN:
        if (k === Cls.SNaN) {
          this.exc |= Ex.IE;
          if ((this.masks & Ex.IE) === 0) return false;
        }
        this.outHi = (s << 31) | 0x7ff80000 | ((hi >>> 11) & 0x7ffff);
        this.outLo = (hi << 21) | (lo >>> 11);
        return true;
      case Cls.Unsupported:
        this.exc |= Ex.IE;
        if ((this.masks & Ex.IE) === 0) return false;
        this.outHi = 0xfff80000 | 0;
        this.outLo = 0;
        return true;
      default:
        break;
    }
    this.unpack(0, se, hi, lo);
    this.loadWork();
    this.roundPack(53, F64_EMIN, F64_EMAX, false);
    if (this.storeSuppressed()) return false;
    const e = this.zSe & 0x7fff;
    let h: number;
    if (e === 0x7fff) {
      this.outHi = (s << 31) | 0x7ff00000;
      this.outLo = 0;
      return true;
    }
    const fh = (this.zHi >>> 11) & 0xfffff;
    if (this.zHi < 0) h = ((e - 16383 + 1023) << 20) | fh;
    else h = fh;
    this.outHi = (s << 31) | h;
    this.outLo = (this.zHi << 21) | (this.zLo >>> 11);
    return true;
  }

  /**
   * After rounding for a memory store: an unmasked overflow or underflow suppresses the store, and
   * then only OE/UE are reported (no PE, no C1).
   */
  private storeSuppressed(): boolean {
    if ((this.exc & (Ex.OE | Ex.UE) & ~this.masks) === 0) return false;
    this.exc &= ~Ex.PE;
    this.up = 0;
    return true;
  }

  /** Copy unpacked a into the work value. */
  loadWork(): void {
    this.wS = this.aS;
    this.wE = this.aE;
    this.wH = this.aH;
    this.wL = this.aL;
    this.wX = 0;
  }

  /**
   * 80-bit to a signed integer of `bits` (16, 32, 64) with the rounding control (FIST/FISTP).
   * Result in outHi:outLo (sign-extended). Returns false when an unmasked IE suppresses the store;
   * a masked IE stores the integer indefinite (the most negative value).
   */
  toInt(se: number, hi: number, lo: number, bits: number): boolean {
    const k = classify(se, hi, lo);
    this.up = 0;
    if (k === Cls.Zero) {
      this.outHi = 0;
      this.outLo = 0;
      return true;
    }
    if (k === Cls.Inf || k === Cls.QNaN || k === Cls.SNaN || k === Cls.Unsupported) return this.intIndefinite(bits);
    if (!this.roundToInteger(se, hi, lo)) return this.intIndefinite(bits);
    // Magnitude in wH:wL (exact integer), sign in wS.
    const mh = this.wH >>> 0;
    const ml = this.wL >>> 0;
    const neg = this.wS !== 0;
    let fits: boolean;
    if (bits === 64) fits = mh < 0x80000000 || (neg && mh === 0x80000000 && ml === 0);
    else if (bits === 32) fits = mh === 0 && (ml < 0x80000000 || (neg && ml === 0x80000000));
    else fits = mh === 0 && (ml < 0x8000 || (neg && ml === 0x8000));
    if (!fits) {
      this.up = 0;
      return this.intIndefinite(bits);
    }
    if (this.wX !== 0) this.exc |= Ex.PE;
    if (neg) {
      const l = -ml | 0;
      this.outLo = l;
      this.outHi = (~mh + (l === 0 ? 1 : 0)) | 0;
    } else {
      this.outLo = ml | 0;
      this.outHi = mh | 0;
    }
    return true;
  }

  private intIndefinite(bits: number): boolean {
    this.exc |= Ex.IE;
    this.outHi = bits === 64 ? 0x80000000 | 0 : bits === 32 ? -1 : -1;
    this.outLo = bits === 64 ? 0 : bits === 32 ? 0x80000000 | 0 : 0xffff8000 | 0;
    return (this.masks & Ex.IE) !== 0;
  }

  /**
   * Round a finite nonzero value to an integer with the rounding control. Magnitude into wH:wL
   * (64 bits), sign wS, wX nonzero when inexact, `up` set when rounded away from zero. Returns false
   * when the magnitude does not fit 64 bits.
   */
  roundToInteger(se: number, hi: number, lo: number): boolean {
    this.unpack(0, se, hi, lo);
    const E = this.aE - 16383;
    this.wS = this.aS;
    this.up = 0;
    if (E >= 64) return false;
    this.wH = this.aH;
    this.wL = this.aL;
    this.wX = 0;
    if (E >= 63) return true;
    // Integer part: shift right by 63 - E; the fraction goes to wX (with sticky).
    this.shr96(63 - E);
    const x = this.wX >>> 0;
    const inexact = x !== 0;
    let inc = 0;
    if (inexact) {
      switch (this.rc) {
        case Rc.Nearest:
          inc = x > 0x80000000 || (x === 0x80000000 && (this.wL & 1) !== 0) ? 1 : 0;
          break;
        case Rc.Down:
          inc = this.wS;
          break;
        case Rc.Up:
          inc = this.wS ^ 1;
          break;
        default:
          inc = 0;
      }
    }
    this.wX = inexact ? 1 : 0;
    if (inc !== 0) {
      this.up = 1;
      const l = (this.wL + 1) | 0;
      this.wL = l;
      if (l === 0) {
        this.wH = (this.wH + 1) | 0;
        if (this.wH === 0) return false;
      }
    }
    return true;
  }

  /** FRNDINT: round to an integral value per RC (result 80-bit, exact exponent range). */
  roundInt(se: number, hi: number, lo: number): boolean {
    const k = classify(se, hi, lo);
    this.up = 0;
    if (k === Cls.Unsupported) return this.invalid();
    if (isNaNCls(k)) {
      if (k === Cls.SNaN) this.exc |= Ex.IE;
      this.quietOf(se, hi, lo);
      return (this.exc & Ex.IE & ~this.masks) === 0;
    }
    if (k === Cls.Zero || k === Cls.Inf) {
      this.setResult(se, hi, lo);
      return true;
    }
    if (!this.denormal(k === Cls.Denormal)) return false;
    const s = (se >>> 15) & 1;
    this.roundToInteger(se, hi, lo); // |value| < 2^64 here or it is returned unchanged
    const E = this.aE - 16383;
    if (E >= 63) {
      this.setResult(se, hi, lo);
      return true;
    }
    if (this.wX !== 0) this.exc |= Ex.PE;
    if ((this.wH | this.wL) === 0) {
      this.setZero(s);
      return true;
    }
    this.wE = 16383 + 63;
    this.wX = 0;
    this.normLeft();
    this.zSe = (s << 15) | this.wE;
    this.zHi = this.wH;
    this.zLo = this.wL;
    return true;
  }

  // ------------------------------------------------------------------ FPREM, FSCALE, constants

  /** Low three bits of the quotient of the last `prem` (-1: none), and whether it was partial (C2). */
  q = 0;
  partial = false;

  /**
   * FPREM (`nearest` false: truncating quotient) and FPREM1 (IEEE remainder), SDM Vol.2A. a = ST(0),
   * b = ST(1). The remainder is exact. When the exponents differ by 64 or more the reduction is
   * partial: the quotient is taken at 2^(D - N) granularity (see `premN`), and C2 is set.
   */
  prem(aSe: number, aHi: number, aLo: number, bSe: number, bHi: number, bLo: number, nearest: boolean): boolean {
    const ka = classify(aSe, aHi, aLo);
    const kb = classify(bSe, bHi, bLo);
    this.q = -1; // no quotient: invalid or NaN
    this.partial = false;
    this.up = 0;
    if (ka === Cls.Unsupported || kb === Cls.Unsupported) return this.invalid();
    if (isNaNCls(ka) || isNaNCls(kb)) {
      this.propagateNaN(ka, aSe, aHi, aLo, kb, bSe, bHi, bLo);
      return (this.exc & Ex.IE & ~this.masks) === 0;
    }
    if (ka === Cls.Inf || kb === Cls.Zero) return this.invalid();
    if (!this.denormal(ka === Cls.Denormal || kb === Cls.Denormal)) return false;
    this.q = 0;
    if (ka === Cls.Zero || kb === Cls.Inf) {
      // ST(0) unchanged, but a pseudo-denormal comes back in its canonical form (exponent 1).
      this.setResult(ka === Cls.Denormal && aHi < 0 ? aSe | 1 : aSe, aHi, aLo);
      return true;
    }
    const sign = (aSe >>> 15) & 1;
    this.unpack(0, aSe, aHi, aLo);
    this.unpack(1, bSe, bHi, bLo);
    const d = this.aE - this.bE;
    let flip = 0;
    if (d < 0) {
      if (
        nearest &&
        d === -1 &&
        (this.aH >>> 0 > this.bH >>> 0 || (this.aH === this.bH && this.aL >>> 0 > this.bL >>> 0))
      ) {
        // |a| in (|b|/2, |b|): the nearest quotient is 1 and the remainder is |b| - |a|, negated.
        this.wS = sign;
        this.wE = this.aE;
        this.wH = this.aH;
        this.wL = this.aL;
        this.wX = 0;
        this.shr96(1);
        this.wE = this.bE;
        this.subFromB();
        this.q = 1;
        flip = 1;
      } else {
        this.wS = sign;
        this.wE = this.aE;
        this.wH = this.aH;
        this.wL = this.aL;
        this.wX = 0;
      }
      this.wS = sign ^ flip;
      this.roundPack(64, F80_EMIN, F80_EMAX, true);
      return true;
    }
    const steps = d < 64 ? d : premN(d);
    // r = A; q = (r >= B); then `steps` times: r = 2r, q = 2q + (r >= B).
    let rh = this.aH >>> 0;
    let rl = this.aL >>> 0;
    const bh = this.bH >>> 0;
    const bl = this.bL >>> 0;
    let q = 0;
    let carry = 0;
    for (let k = 0; k <= steps; k++) {
      if (k > 0) {
        carry = rh >>> 31;
        rh = ((rh << 1) | (rl >>> 31)) >>> 0;
        rl = (rl << 1) >>> 0;
      }
      q = (q << 1) & 7;
      if (carry !== 0 || rh > bh || (rh === bh && rl >= bl)) {
        let nl = rl - bl;
        let bw = 0;
        if (nl < 0) {
          nl += TWO32;
          bw = 1;
        }
        let nh = rh - bh - bw;
        if (nh < 0) nh += TWO32;
        rh = nh;
        rl = nl;
        q |= 1;
      }
    }
    // The remainder r is in units of B's last bit, scaled by 2^(D - steps).
    const unitE = this.bE + (d - steps);
    if (d >= 64) this.partial = true;
    else if (nearest) {
      // Round the quotient to nearest (ties to even): compare 2r with B.
      const th = ((rh << 1) | (rl >>> 31)) >>> 0;
      const tl = (rl << 1) >>> 0;
      const top = rh >>> 31;
      const gt = top !== 0 || th > bh || (th === bh && tl > bl);
      const eq = top === 0 && th === bh && tl === bl;
      if (gt || (eq && (q & 1) !== 0)) {
        let nl = bl - rl;
        let bw = 0;
        if (nl < 0) {
          nl += TWO32;
          bw = 1;
        }
        rh = (bh - rh - bw) >>> 0;
        rl = nl;
        q = (q + 1) & 7;
        flip = 1;
      }
    }
    this.q = q;
    if ((rh | rl) === 0) {
      this.setZero(sign ^ flip);
      return true;
    }
    this.wS = sign ^ flip;
    this.wE = unitE;
    this.wH = rh | 0;
    this.wL = rl | 0;
    this.wX = 0;
    this.normLeft();
    this.roundPack(64, F80_EMIN, F80_EMAX, true);
    return true;
  }

  /** w = B - w (both at B's exponent, w < B): used by FPREM1 when |a| is just above |b|/2. */
  private subFromB(): void {
    let x = 0 - (this.wX >>> 0);
    let bw = x < 0 ? 1 : 0;
    if (x < 0) x += TWO32;
    let l = (this.bL >>> 0) - (this.wL >>> 0) - bw;
    bw = l < 0 ? 1 : 0;
    if (l < 0) l += TWO32;
    const h = (this.bH >>> 0) - (this.wH >>> 0) - bw;
    this.wH = h | 0;
    this.wL = l | 0;
    this.wX = x | 0;
    this.normLeft();
  }

  /** FSCALE: a * 2^trunc(b) (SDM Vol.2A FSCALE), rounded to 64 bits. */
  scale(aSe: number, aHi: number, aLo: number, bSe: number, bHi: number, bLo: number): boolean {
    const ka = classify(aSe, aHi, aLo);
    const kb = classify(bSe, bHi, bLo);
    this.up = 0;
    if (ka === Cls.Unsupported || kb === Cls.Unsupported) return this.invalid();
    if (isNaNCls(ka) || isNaNCls(kb)) {
      this.propagateNaN(ka, aSe, aHi, aLo, kb, bSe, bHi, bLo);
      return (this.exc & Ex.IE & ~this.masks) === 0;
    }
    const bneg = (bSe & 0x8000) !== 0;
    if (kb === Cls.Inf) {
      if ((ka === Cls.Zero && !bneg) || (ka === Cls.Inf && bneg)) return this.invalid();
      if (!this.denormal(ka === Cls.Denormal)) return false;
      if (ka === Cls.Zero || ka === Cls.Inf) this.setResult(aSe, aHi, aLo);
      else if (bneg) this.setZero((aSe >>> 15) & 1);
      else this.setInf((aSe >>> 15) & 1);
      return true;
    }
    if (!this.denormal(ka === Cls.Denormal || kb === Cls.Denormal)) return false;
    if (ka === Cls.Zero || ka === Cls.Inf) {
      this.setResult(aSe, aHi, aLo);
      return true;
    }
    // trunc(b), clamped well beyond any exponent that can matter.
    let n = 0;
    if (kb !== Cls.Zero) {
      this.unpack(1, bSe, bHi, bLo);
      const E = this.bE - 16383;
      if (E >= 17) n = 1 << 17;
      else if (E >= 0) n = this.bH >>> (31 - E);
      if (bneg) n = -n;
    }
    this.unpack(0, aSe, aHi, aLo);
    this.loadWork();
    this.wE += n;
    this.roundPack(64, F80_EMIN, F80_EMAX, true);
    return true;
  }

  /**
   * Load a constant given as a 96-bit significand (three words) and an exponent, rounded to 64 bits
   * per RC (FLDPI and friends, SDM Vol.2A FLD1/FLDL2T/...). No flags.
   */
  constant(se: number, h: number, l: number, x: number): void {
    const saveExc = this.exc;
    this.wS = (se >>> 15) & 1;
    this.wE = se & 0x7fff;
    this.wH = h | 0;
    this.wL = l | 0;
    this.wX = x | 1; // the constants are irrational: there are more bits below
    this.roundPack(64, F80_EMIN, F80_EMAX, true);
    this.exc = saveExc;
    this.up = 0;
  }

  /** Load the work value from a packed value plus an exponent offset, then round to 64 bits (transcendental results). */
  roundWork64(): void {
    this.roundPack(64, F80_EMIN, F80_EMAX, true);
  }

  /** Set the work value directly (sign, biased exponent, 96-bit significand with sticky). */
  setWork(s: number, e: number, h: number, l: number, x: number): void {
    this.wS = s;
    this.wE = e;
    this.wH = h | 0;
    this.wL = l | 0;
    this.wX = x | 0;
  }

  /** Normalize the work value (nonzero) after setWork. */
  normWork(): void {
    this.normLeft();
  }

  /** Unpacked a, exposed for the transcendental module after `unpack`. */
  addWork(sub: number): boolean {
    return this.addCore(sub);
  }
}

function allOnes(prec: number, h: number, l: number): boolean {
  if (prec === 64) return h === -1 && l === -1;
  if (prec === 53) return h === -1 && (l | 0x7ff) === -1;
  return (h | 0xff) === -1;
}

/** Exact multiply helper for other x87 modules: 32x32 -> hi/lo words. */
export function mulWords(a: number, b: number): number {
  mul32(a, b);
  return MUL_HI;
}
export function mulLow(): number {
  return MUL_LO;
}
