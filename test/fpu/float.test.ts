/**
 * The software 80-bit float (src/cpu/fpu-float.ts) on its edge cases, as tables: rounding modes
 * x precisions, overflow and underflow (masked and unmasked), denormals, infinities, NaNs, signed
 * zeros, unsupported formats, conversions. Expected values follow the SDM; the boundary cases
 * (ties, tininess, bias adjustment) were also checked on an Intel host through
 * fixtures/hostfpu/runner.elf.
 */
import { describe, expect, it } from "vitest";
import { Ex, Rc, X87Math } from "../../src/cpu/fpu-float.ts";

type V = [number, number, number];

/** "seee:hhhhhhhhllllllll" -> [se, hi, lo]. */
function v(s: string): V {
  const [e, sig] = s.split(":");
  return [Number.parseInt(e, 16), Number.parseInt(sig.slice(0, 8), 16) | 0, Number.parseInt(sig.slice(8), 16) | 0];
}

function text(m: X87Math): string {
  const h = (x: number, n: number): string => (x >>> 0).toString(16).padStart(n, "0");
  return `${h(m.zSe, 4)}:${h(m.zHi, 8)}${h(m.zLo, 8)}`;
}

function math(rc: number, masks = 0x3f): X87Math {
  const m = new X87Math();
  m.rc = rc;
  m.masks = masks;
  m.exc = 0;
  return m;
}

const N = Rc.Nearest;
const D = Rc.Down;
const U = Rc.Up;
const Z = Rc.Zero;

const ONE = "3fff:8000000000000000";
const MAX = "7ffe:ffffffffffffffff";

const OPS = { add: 0, sub: 1, mul: 2, div: 3 } as const;

interface Row {
  name: string;
  op: keyof typeof OPS;
  a: string;
  b: string;
  prec: number;
  rc: number;
  masks?: number;
  out: string;
  exc: number;
  up?: number;
}

const ROWS: Row[] = [
  // Ties and near-ties at each precision.
  {
    name: "tie64_nearest_evenStays",
    op: "add",
    a: ONE,
    b: "3fbf:8000000000000000",
    prec: 64,
    rc: N,
    out: ONE,
    exc: Ex.PE,
    up: 0,
  },
  {
    name: "tie64_up_increments",
    op: "add",
    a: ONE,
    b: "3fbf:8000000000000000",
    prec: 64,
    rc: U,
    out: "3fff:8000000000000001",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "tie64_down_truncates",
    op: "add",
    a: ONE,
    b: "3fbf:8000000000000000",
    prec: 64,
    rc: D,
    out: ONE,
    exc: Ex.PE,
    up: 0,
  },
  {
    name: "tie64_chop_truncates",
    op: "add",
    a: ONE,
    b: "3fbf:8000000000000000",
    prec: 64,
    rc: Z,
    out: ONE,
    exc: Ex.PE,
    up: 0,
  },
  {
    name: "aboveHalf64_nearest_rounds up",
    op: "add",
    a: ONE,
    b: "3fbf:c000000000000000",
    prec: 64,
    rc: N,
    out: "3fff:8000000000000001",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "tie64_oddLsb_nearest_roundsToEven",
    op: "add",
    a: "3fff:8000000000000001",
    b: "3fbf:8000000000000000",
    prec: 64,
    rc: N,
    out: "3fff:8000000000000002",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "tie53_nearest_evenStays",
    op: "add",
    a: ONE,
    b: "3fca:8000000000000000",
    prec: 53,
    rc: N,
    out: ONE,
    exc: Ex.PE,
    up: 0,
  },
  {
    name: "tie53_up_incrementsBit11",
    op: "add",
    a: ONE,
    b: "3fca:8000000000000000",
    prec: 53,
    rc: U,
    out: "3fff:8000000000000800",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "aboveHalf53_nearest_roundsUp",
    op: "add",
    a: ONE,
    b: "3fca:c000000000000000",
    prec: 53,
    rc: N,
    out: "3fff:8000000000000800",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "tie24_nearest_evenStays",
    op: "add",
    a: ONE,
    b: "3fe7:8000000000000000",
    prec: 24,
    rc: N,
    out: ONE,
    exc: Ex.PE,
    up: 0,
  },
  {
    name: "tie24_up_incrementsBit40",
    op: "add",
    a: ONE,
    b: "3fe7:8000000000000000",
    prec: 24,
    rc: U,
    out: "3fff:8000010000000000",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "exact24_anyMode_noFlags",
    op: "add",
    a: ONE,
    b: "3ffe:8000000000000000",
    prec: 24,
    rc: U,
    out: "3fff:c000000000000000",
    exc: 0,
    up: 0,
  },
  {
    name: "negative_down_growsMagnitude",
    op: "add",
    a: "bfff:8000000000000000",
    b: "bfbf:8000000000000000",
    prec: 64,
    rc: D,
    out: "bfff:8000000000000001",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "negative_up_truncates",
    op: "add",
    a: "bfff:8000000000000000",
    b: "bfbf:8000000000000000",
    prec: 64,
    rc: U,
    out: "bfff:8000000000000000",
    exc: Ex.PE,
    up: 0,
  },
  // Cancellation and signed zeros.
  {
    name: "xMinusX_nearest_plusZero",
    op: "sub",
    a: ONE,
    b: ONE,
    prec: 64,
    rc: N,
    out: "0000:0000000000000000",
    exc: 0,
  },
  { name: "xMinusX_down_minusZero", op: "sub", a: ONE, b: ONE, prec: 64, rc: D, out: "8000:0000000000000000", exc: 0 },
  {
    name: "plusZeroPlusMinusZero_nearest_plusZero",
    op: "add",
    a: "0000:0000000000000000",
    b: "8000:0000000000000000",
    prec: 64,
    rc: N,
    out: "0000:0000000000000000",
    exc: 0,
  },
  {
    name: "plusZeroPlusMinusZero_down_minusZero",
    op: "add",
    a: "0000:0000000000000000",
    b: "8000:0000000000000000",
    prec: 64,
    rc: D,
    out: "8000:0000000000000000",
    exc: 0,
  },
  {
    name: "minusZeroTimesPositive_minusZero",
    op: "mul",
    a: "8000:0000000000000000",
    b: ONE,
    prec: 64,
    rc: N,
    out: "8000:0000000000000000",
    exc: 0,
  },
  {
    name: "closeSubtraction_exact",
    op: "sub",
    a: "3fff:8000000000000001",
    b: ONE,
    prec: 64,
    rc: N,
    out: "3fc0:8000000000000000",
    exc: 0,
  },
  // Overflow.
  {
    name: "overflow_nearest_infinity",
    op: "add",
    a: MAX,
    b: MAX,
    prec: 64,
    rc: N,
    out: "7fff:8000000000000000",
    exc: Ex.OE | Ex.PE,
    up: 1,
  },
  {
    name: "overflow_chop_largestFinite",
    op: "add",
    a: MAX,
    b: MAX,
    prec: 64,
    rc: Z,
    out: MAX,
    exc: Ex.OE | Ex.PE,
    up: 0,
  },
  {
    name: "overflow_chop53_largestDouble",
    op: "add",
    a: MAX,
    b: MAX,
    prec: 53,
    rc: Z,
    out: "7ffe:fffffffffffff800",
    exc: Ex.OE | Ex.PE,
  },
  {
    name: "overflow_chop24_largestSingle",
    op: "add",
    a: MAX,
    b: MAX,
    prec: 24,
    rc: Z,
    out: "7ffe:ffffff0000000000",
    exc: Ex.OE | Ex.PE,
  },
  {
    name: "overflowNegative_up_largestFinite",
    op: "add",
    a: "fffe:ffffffffffffffff",
    b: "fffe:ffffffffffffffff",
    prec: 64,
    rc: U,
    out: "fffe:ffffffffffffffff",
    exc: Ex.OE | Ex.PE,
  },
  {
    name: "overflowNegative_down_infinity",
    op: "add",
    a: "fffe:ffffffffffffffff",
    b: "fffe:ffffffffffffffff",
    prec: 64,
    rc: D,
    out: "ffff:8000000000000000",
    exc: Ex.OE | Ex.PE,
  },
  {
    name: "overflowUnmasked_biasAdjusted",
    op: "add",
    a: MAX,
    b: MAX,
    prec: 64,
    rc: N,
    masks: 0x37,
    out: "1fff:ffffffffffffffff",
    exc: Ex.OE,
  },
  // Underflow.
  {
    name: "halfMinNormal_exact_denormalNoUE",
    op: "mul",
    a: "0001:8000000000000000",
    b: "3ffe:8000000000000000",
    prec: 64,
    rc: N,
    out: "0000:4000000000000000",
    exc: 0,
  },
  {
    name: "tinyInexact_nearest_UEandPE",
    op: "mul",
    a: "0001:8000000000000001",
    b: "3ffe:8000000000000000",
    prec: 64,
    rc: N,
    out: "0000:4000000000000000",
    exc: Ex.UE | Ex.PE,
    up: 0,
  },
  {
    name: "tinyInexact_up_UEandPE",
    op: "mul",
    a: "0001:8000000000000001",
    b: "3ffe:8000000000000000",
    prec: 64,
    rc: U,
    out: "0000:4000000000000001",
    exc: Ex.UE | Ex.PE,
    up: 1,
  },
  // Tininess after rounding: exactly 2^-16382 * (1 - 2^-64) is tiny at 64 bits but rounds out at 53.
  {
    name: "allOnesBelowMinNormal_tinyAt64_UE",
    op: "mul",
    a: "0001:ffffffffffffffff",
    b: "3ffe:8000000000000000",
    prec: 64,
    rc: N,
    out: "0001:8000000000000000",
    exc: Ex.UE | Ex.PE,
    up: 1,
  },
  {
    name: "allOnesBelowMinNormal_roundsOutAt53_noUE",
    op: "mul",
    a: "0001:ffffffffffffffff",
    b: "3ffe:8000000000000000",
    prec: 53,
    rc: N,
    out: "0001:8000000000000000",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "aboveHalfBelowMinNormal_roundsOutAt64_noUE",
    op: "mul",
    a: "0001:fffffffffffffffe",
    b: "3ffe:8000000000000001",
    prec: 64,
    rc: N,
    out: "0001:8000000000000000",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "denormalRoundedAt24_becomesMinNormal_noUE",
    op: "add",
    a: "0000:7ffffffffffff800",
    b: "0000:0000000000000000",
    prec: 24,
    rc: N,
    out: "0001:8000000000000000",
    exc: Ex.DE | Ex.PE,
    up: 1,
  },
  {
    name: "tinyUnmasked_biasAdjustedExact",
    op: "mul",
    a: "0001:8000000000000001",
    b: "3ffe:8000000000000000",
    prec: 64,
    rc: N,
    masks: 0x2f,
    out: "6000:8000000000000001",
    exc: Ex.UE,
  },
  {
    name: "denormalResult24_roundsAtFieldPosition",
    op: "mul",
    a: "0001:8000018000000000",
    b: "3ffe:8000000000000000",
    prec: 24,
    rc: N,
    out: "0000:4000010000000000",
    exc: Ex.UE | Ex.PE,
    up: 1,
  },
  // Invalid, zero divide, NaNs, unsupported formats, denormal operands.
  {
    name: "infMinusInf_indefinite",
    op: "add",
    a: "7fff:8000000000000000",
    b: "ffff:8000000000000000",
    prec: 64,
    rc: N,
    out: "ffff:c000000000000000",
    exc: Ex.IE,
  },
  {
    name: "zeroTimesInf_indefinite",
    op: "mul",
    a: "0000:0000000000000000",
    b: "7fff:8000000000000000",
    prec: 64,
    rc: N,
    out: "ffff:c000000000000000",
    exc: Ex.IE,
  },
  {
    name: "zeroOverZero_indefinite",
    op: "div",
    a: "0000:0000000000000000",
    b: "8000:0000000000000000",
    prec: 64,
    rc: N,
    out: "ffff:c000000000000000",
    exc: Ex.IE,
  },
  {
    name: "oneOverMinusZero_minusInfZE",
    op: "div",
    a: ONE,
    b: "8000:0000000000000000",
    prec: 64,
    rc: N,
    out: "ffff:8000000000000000",
    exc: Ex.ZE,
  },
  {
    name: "denormalOverZero_ZEOutranksDE",
    op: "div",
    a: "0000:0000000000000001",
    b: "0000:0000000000000000",
    prec: 64,
    rc: N,
    out: "7fff:8000000000000000",
    exc: Ex.ZE,
  },
  {
    name: "snanPlusOne_quietedIE",
    op: "add",
    a: "7fff:a000000000000000",
    b: ONE,
    prec: 64,
    rc: N,
    out: "7fff:e000000000000000",
    exc: Ex.IE,
  },
  {
    name: "qnanPlusSnan_qnanWinsIE",
    op: "add",
    a: "7fff:c000000000000001",
    b: "ffff:b000000000000000",
    prec: 64,
    rc: N,
    out: "7fff:c000000000000001",
    exc: Ex.IE,
  },
  {
    name: "twoQnans_largerSignificand",
    op: "add",
    a: "7fff:c000000000000001",
    b: "ffff:d000000000000000",
    prec: 64,
    rc: N,
    out: "ffff:d000000000000000",
    exc: 0,
  },
  {
    name: "qnanDenormal_noDE",
    op: "mul",
    a: "7fff:c000000000000000",
    b: "0000:0000000000000001",
    prec: 64,
    rc: N,
    out: "7fff:c000000000000000",
    exc: 0,
  },
  {
    name: "unnormal_invalidIndefinite",
    op: "add",
    a: "3fff:4000000000000000",
    b: ONE,
    prec: 64,
    rc: N,
    out: "ffff:c000000000000000",
    exc: Ex.IE,
  },
  {
    name: "pseudoInfinity_invalidIndefinite",
    op: "mul",
    a: "7fff:0000000000000000",
    b: ONE,
    prec: 64,
    rc: N,
    out: "ffff:c000000000000000",
    exc: Ex.IE,
  },
  {
    name: "pseudoNaN_invalidIndefinite",
    op: "add",
    a: "7fff:4000000000000000",
    b: ONE,
    prec: 64,
    rc: N,
    out: "ffff:c000000000000000",
    exc: Ex.IE,
  },
  {
    name: "denormalPlusZero_DE",
    op: "add",
    a: "0000:0000000000000001",
    b: "0000:0000000000000000",
    prec: 64,
    rc: N,
    out: "0000:0000000000000001",
    exc: Ex.DE,
  },
  {
    name: "pseudoDenormalTimesOne_normalizedDE",
    op: "mul",
    a: "0000:8000000000000000",
    b: ONE,
    prec: 64,
    rc: N,
    out: "0001:8000000000000000",
    exc: Ex.DE,
  },
  {
    name: "infTimesDenormal_DE",
    op: "mul",
    a: "7fff:8000000000000000",
    b: "0000:0000000000000001",
    prec: 64,
    rc: N,
    out: "7fff:8000000000000000",
    exc: Ex.DE,
  },
  // Division and multiplication rounding.
  {
    name: "oneThird_nearest",
    op: "div",
    a: ONE,
    b: "4000:c000000000000000",
    prec: 64,
    rc: N,
    out: "3ffd:aaaaaaaaaaaaaaab",
    exc: Ex.PE,
    up: 1,
  },
  {
    name: "oneThird_chop",
    op: "div",
    a: ONE,
    b: "4000:c000000000000000",
    prec: 64,
    rc: Z,
    out: "3ffd:aaaaaaaaaaaaaaaa",
    exc: Ex.PE,
    up: 0,
  },
  {
    name: "oneThird_double",
    op: "div",
    a: ONE,
    b: "4000:c000000000000000",
    prec: 53,
    rc: N,
    out: "3ffd:aaaaaaaaaaaaa800",
    exc: Ex.PE,
    up: 0,
  },
  {
    name: "pentiumFdivCheck_exact",
    op: "div",
    a: "4015:800bf60000000000",
    b: "4014:bffffc0000000000",
    prec: 64,
    rc: N,
    out: "3fff:aabaa0e3e35a14bd",
    exc: Ex.PE,
  },
  {
    name: "allOnesSquared_nearest",
    op: "mul",
    a: "3fff:ffffffffffffffff",
    b: "3fff:ffffffffffffffff",
    prec: 64,
    rc: N,
    out: "4000:fffffffffffffffe",
    exc: Ex.PE,
    up: 0,
  },
];

describe("X87Math.arith", () => {
  for (const r of ROWS) {
    it(`arith_${r.name}`, () => {
      const m = math(r.rc, r.masks ?? 0x3f);
      const a = v(r.a);
      const b = v(r.b);
      const ok = m.arith(OPS[r.op], a[0], a[1], a[2], false, b[0], b[1], b[2], false, r.prec);
      expect(ok).toBe(true);
      expect(text(m)).toBe(r.out);
      expect(m.exc).toBe(r.exc);
      if (r.up !== undefined) expect(m.up).toBe(r.up);
    });
  }

  it("arith_unmaskedInvalid_suppressesResult", () => {
    const m = math(N, 0x3e);
    expect(m.arith(0, ...v("7fff:8000000000000000"), false, ...v("ffff:8000000000000000"), false, 64)).toBe(false);
    expect(m.exc).toBe(Ex.IE);
  });

  it("arith_unmaskedDenormal_suppressesResult", () => {
    const m = math(N, 0x3d);
    expect(m.arith(0, ...v("0000:0000000000000001"), false, ...v(ONE), false, 64)).toBe(false);
    expect(m.exc).toBe(Ex.DE);
  });

  it("arith_memoryDenormalSource_flagsDE", () => {
    const m = math(N);
    // 2^-149 from a float32 denormal is a normal 80-bit number, but it was denormal in memory.
    m.fromF32(1);
    expect(m.loadDen).toBe(true);
    const [se, hi, lo] = [m.zSe, m.zHi, m.zLo];
    expect(text(m)).toBe("3f6a:8000000000000000");
    m.exc = 0;
    m.arith(0, ...v(ONE), false, se, hi, lo, true, 64);
    expect(m.exc).toBe(Ex.DE | Ex.PE);
  });
});

describe("X87Math.sqrt", () => {
  const rows: [string, number, number, string, number][] = [
    ["4000:8000000000000000", 64, N, "3fff:b504f333f9de6484", Ex.PE],
    ["4000:8000000000000000", 64, U, "3fff:b504f333f9de6485", Ex.PE],
    ["4000:8000000000000000", 24, N, "3fff:b504f30000000000", Ex.PE],
    ["4000:8000000000000000", 53, N, "3fff:b504f333f9de6800", Ex.PE],
    ["4001:8000000000000000", 64, N, "4000:8000000000000000", 0],
    ["4002:c400000000000000", 64, N, "4000:e000000000000000", 0],
    ["8000:0000000000000000", 64, N, "8000:0000000000000000", 0],
    ["bfff:8000000000000000", 64, N, "ffff:c000000000000000", Ex.IE],
    ["7fff:8000000000000000", 64, N, "7fff:8000000000000000", 0],
    ["0000:0000000000000001", 64, N, "1fe0:b504f333f9de6484", Ex.DE | Ex.PE],
  ];
  for (const [a, prec, rc, out, exc] of rows) {
    it(`sqrt_${a}_prec${prec}_rc${rc}_${out}`, () => {
      const m = math(rc);
      expect(m.sqrt(...v(a), prec)).toBe(true);
      expect(text(m)).toBe(out);
      expect(m.exc).toBe(exc);
    });
  }
});

describe("X87Math.compare", () => {
  const rows: [string, string, boolean, number, number][] = [
    [ONE, "4000:8000000000000000", false, 1, 0],
    ["4000:8000000000000000", ONE, false, 0, 0],
    ["0000:0000000000000000", "8000:0000000000000000", false, 2, 0],
    ["ffff:8000000000000000", "fffe:ffffffffffffffff", false, 1, 0],
    ["7fff:c000000000000000", ONE, true, 3, 0],
    ["7fff:c000000000000000", ONE, false, 3, Ex.IE],
    ["7fff:a000000000000000", ONE, true, 3, Ex.IE],
    ["0000:0000000000000001", "0000:0000000000000000", false, 0, Ex.DE],
    ["3fff:4000000000000000", ONE, true, 3, Ex.IE],
  ];
  for (const [a, b, quiet, res, exc] of rows) {
    it(`compare_${a}_${b}_${quiet ? "quiet" : "signaling"}_${res}`, () => {
      const m = math(N);
      expect(m.compare(...v(a), false, ...v(b), false, quiet)).toBe(res);
      expect(m.exc).toBe(exc);
    });
  }
});

describe("X87Math conversions", () => {
  const f32: [string, number, number, number][] = [
    [ONE, N, 0x3f800000, 0],
    ["3fff:8000008000000000", N, 0x3f800000, Ex.PE],
    ["3fff:8000008000000000", U, 0x3f800001, Ex.PE],
    ["3fff:8000018000000000", N, 0x3f800002, Ex.PE],
    [MAX, N, 0x7f800000, Ex.OE | Ex.PE],
    [MAX, Z, 0x7f7fffff, Ex.OE | Ex.PE],
    ["3f6a:8000000000000000", N, 0x00000001, 0],
    ["3f69:8000000000000000", N, 0x00000000, Ex.UE | Ex.PE],
    ["3f69:8000000000000001", N, 0x00000001, Ex.UE | Ex.PE],
    ["3f80:ffffffffffffffff", N, 0x00800000, Ex.PE],
    ["0000:0000000000000001", N, 0x00000000, Ex.UE | Ex.PE],
    ["7fff:a000000000000000", N, 0x7fe00000, Ex.IE],
    ["ffff:8000000000000000", N, 0xff800000 | 0, 0],
  ];
  for (const [a, rc, out, exc] of f32) {
    it(`toF32_${a}_rc${rc}_${out.toString(16)}`, () => {
      const m = math(rc);
      expect(m.toF32(...v(a))).toBe(true);
      expect(m.outLo).toBe(out | 0);
      expect(m.exc).toBe(exc);
    });
  }

  it("toF32_unmaskedOverflow_suppressedWithoutPE", () => {
    const m = math(N, 0x37);
    expect(m.toF32(...v(MAX))).toBe(false);
    expect(m.exc).toBe(Ex.OE);
  });

  it("toF64_denormalTie_roundsToEven", () => {
    // 1.5 * 2^-1074: halfway between the two smallest double denormals.
    const m = math(N);
    expect(m.toF64(...v("3bcd:c000000000000000"))).toBe(true);
    expect([m.outHi, m.outLo]).toEqual([0, 2]);
    expect(m.exc).toBe(Ex.UE | Ex.PE);
  });

  it("fromF64_denormalAndNaN_exact", () => {
    const m = math(N);
    m.fromF64(0, 1);
    expect(text(m)).toBe("3bcd:8000000000000000");
    expect(m.loadDen).toBe(true);
    m.fromF64(0x7ff40000, 0x12345678);
    expect(text(m)).toBe("7fff:a0000091a2b3c000");
  });

  const ints: [string, number, number, number, number, number][] = [
    // value, rc, bits, expected hi, lo, exc
    ["4000:a000000000000000", N, 16, 0, 2, Ex.PE],
    ["4000:e000000000000000", N, 16, 0, 4, Ex.PE],
    ["c000:a000000000000000", D, 32, -1, -3, Ex.PE],
    ["c000:a000000000000000", Z, 32, -1, -2, Ex.PE],
    ["400d:ffff000000000000", N, 16, 0, -32768, Ex.IE],
    ["c00e:8000000000000000", N, 16, -1, -32768, 0],
    ["401e:8000000000000000", N, 32, -1, 0x80000000 | 0, Ex.IE],
    ["c03e:8000000000000000", N, 64, 0x80000000 | 0, 0, 0],
    ["403e:8000000000000000", N, 64, 0x80000000 | 0, 0, Ex.IE],
    ["7fff:c000000000000000", N, 32, -1, 0x80000000 | 0, Ex.IE],
    ["0000:0000000000000001", U, 32, 0, 1, Ex.PE],
    ["8000:0000000000000000", N, 32, 0, 0, 0],
  ];
  for (const [a, rc, bits, hi, lo, exc] of ints) {
    it(`toInt_${a}_rc${rc}_int${bits}`, () => {
      const m = math(rc);
      expect(m.toInt(...v(a), bits)).toBe(true);
      if (bits === 64) expect(m.outHi).toBe(hi);
      expect(bits === 16 ? (m.outLo << 16) >> 16 : m.outLo).toBe(lo);
      expect(m.exc).toBe(exc);
    });
  }

  it("fromInt64_extremes_exact", () => {
    const m = math(N);
    m.fromInt64(0x80000000 | 0, 0);
    expect(text(m)).toBe("c03e:8000000000000000");
    m.fromInt64(-1, -1);
    expect(text(m)).toBe("bfff:8000000000000000");
    m.fromInt64(0x7fffffff, -1);
    expect(text(m)).toBe("403d:fffffffffffffffe");
  });

  const rnd: [string, number, string, number][] = [
    ["4000:a000000000000000", N, "4000:8000000000000000", Ex.PE],
    ["bffe:8000000000000000", N, "8000:0000000000000000", Ex.PE],
    ["3ffd:9999999999999999", U, ONE, Ex.PE],
    ["bffd:9999999999999999", U, "8000:0000000000000000", Ex.PE],
    ["403e:8000000000000001", N, "403e:8000000000000001", 0],
  ];
  for (const [a, rc, out, exc] of rnd) {
    it(`roundInt_${a}_rc${rc}_${out}`, () => {
      const m = math(rc);
      expect(m.roundInt(...v(a))).toBe(true);
      expect(text(m)).toBe(out);
      expect(m.exc).toBe(exc);
    });
  }
});

describe("X87Math.prem and scale", () => {
  it("prem_tenModThree_remainderOneQuotientThree", () => {
    const m = math(N);
    expect(m.prem(...v("4002:a000000000000000"), ...v("4000:c000000000000000"), false)).toBe(true);
    expect(text(m)).toBe(ONE);
    expect([m.q, m.partial]).toEqual([3, false]);
  });

  it("prem1_elevenModThree_minusOneQuotientFour", () => {
    const m = math(N);
    expect(m.prem(...v("4002:b000000000000000"), ...v("4000:c000000000000000"), true)).toBe(true);
    expect(text(m)).toBe("bfff:8000000000000000");
    expect(m.q).toBe(4);
  });

  it("prem_hugeExponentDifference_partialWithN32PlusDmod32", () => {
    const m = math(N);
    // D = 100: reduced by 2^(100 - 36), so the result stays above 2^32.
    expect(m.prem(...v("4063:c000000000000001"), ...v("3fff:b000000000000000"), false)).toBe(true);
    expect(m.partial).toBe(true);
    expect((m.zSe & 0x7fff) - 16383).toBeGreaterThanOrEqual(32);
  });

  it("scale_powerOfTwo_exactAndOverflow", () => {
    const m = math(N);
    expect(m.scale(...v(ONE), ...v("4002:a000000000000000"))).toBe(true);
    expect(text(m)).toBe("4009:8000000000000000");
    m.exc = 0;
    expect(m.scale(...v(ONE), ...v("400e:8000000000000000"))).toBe(true);
    expect(text(m)).toBe("7fff:8000000000000000");
    expect(m.exc).toBe(Ex.OE | Ex.PE);
  });
});
