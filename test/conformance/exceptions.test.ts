import { describe, expect, it } from "vitest";
import { differencesFor, ssOverrun, type TestView } from "./exceptions.ts";
import { type CpuState, decode16, type MooTest, R16 } from "./moo.ts";

function state(): CpuState {
  return {
    regs: null,
    regs32: null,
    regMask: null,
    regMask32: null,
    ramAddr: new Uint32Array(0),
    ramValue: new Uint8Array(0),
    queue: null,
    ea32: null,
  };
}

/** A test view for `bytes` (HLT appended) with the given INIT registers and 286 exception. */
function view(key: string, bytes: number[], regs: Partial<Record<number, number>>, vector = -1): TestView {
  const values = new Array(14).fill(0);
  for (const [k, v] of Object.entries(regs)) values[Number(k)] = v;
  const test: MooTest = {
    index: 0,
    name: "",
    bytes: Uint8Array.from([...bytes, 0xf4]),
    init: state(),
    final: state(),
    exception: vector < 0 ? null : { vector, flagsAddress: 0 },
    hash: "",
    offset: 0,
  };
  return { key, test, d: decode16(test.bytes), regs: values };
}

const ids = (v: TestView): string[] => differencesFor(v).map((d) => d.id);

describe("ssOverrun", () => {
  it("ssOverrun_popEsWithSpAtFFFF_isSS", () => {
    expect(ssOverrun(view("07", [0x07], { [R16.SP]: 0xffff }, 13))).toBe(true);
  });

  it("ssOverrun_dsWordOperandAtFFFF_isNotSS", () => {
    expect(ssOverrun(view("01", [0x01, 0x04], { [R16.SI]: 0xffff, [R16.SP]: 0x100 }, 13))).toBe(false);
  });

  it("ssOverrun_bpSiOperandWrapsToFFFF_isSS", () => {
    expect(ssOverrun(view("01", [0x01, 0x02], { [R16.BP]: 0, [R16.SI]: 0xffff }, 13))).toBe(true);
  });

  it("ssOverrun_bpOperandWithDsOverride_isNotSS", () => {
    expect(ssOverrun(view("01", [0x3e, 0x01, 0x46, 0xff], { [R16.BP]: 0 }, 13))).toBe(false);
  });

  it("ssOverrun_ssMovswReachingFFFFAfterIterations_isSS", () => {
    const v = view("A5", [0xf3, 0x36, 0xa5], { [R16.SI]: 0xfff9, [R16.DI]: 0x100, [R16.CX]: 5 }, 13);
    expect(ssOverrun(v)).toBe(true);
  });

  it("ssOverrun_movswWhoseDestinationOverruns_isNotSS", () => {
    expect(ssOverrun(view("A5", [0x36, 0xa5], { [R16.SI]: 0x10, [R16.DI]: 0xffff }, 13))).toBe(false);
  });

  it("ssOverrun_int0Dh_isNotAnOverrun", () => {
    expect(ssOverrun(view("CD", [0xcd, 0x0d], { [R16.SP]: 0x100 }, 13))).toBe(false);
  });

  it("ssOverrun_pushWordFromOverrunningDsOperand_isNotSS", () => {
    expect(ssOverrun(view("FF.6", [0xff, 0x34], { [R16.SI]: 0xffff, [R16.SP]: 0x100 }, 13))).toBe(false);
  });

  it("ssOverrun_leaveWithBpFFFF_isSS", () => {
    expect(ssOverrun(view("C9", [0xc9], { [R16.BP]: 0xffff, [R16.SP]: 0x100 }, 13))).toBe(true);
  });
});

describe("differencesFor", () => {
  it("differencesFor_lockedInt3_isSkippedAsLockPrefix", () => {
    expect(ids(view("CC", [0xf0, 0xcc], {}, 3))).toEqual(["lock-prefix"]);
  });

  it("differencesFor_lockedAddToMemory_isComparedNormally", () => {
    expect(ids(view("01", [0xf0, 0x01, 0x07], {}))).toEqual([]);
  });

  it("differencesFor_lockedAddToRegister_isSkipped", () => {
    expect(ids(view("01", [0xf0, 0x01, 0xc0], {}))).toEqual(["lock-prefix"]);
  });

  it("differencesFor_elevenByteInstructionThatFaulted_isSkippedAsLengthLimit", () => {
    const bytes = [0x2e, 0x36, 0x2e, 0x3e, 0x3e, 0x81, 0x84, 0xdf, 0x1d, 0x93, 0x76];
    expect(ids(view("81.0", bytes, {}, 13))).toEqual(["length-limit"]);
    expect(ids(view("81.0", bytes.slice(1), {}, -1))).toEqual([]);
  });

  it("differencesFor_movFromFs_isSkipped_butMovFromDsIsNot", () => {
    expect(ids(view("8C", [0x8c, 0xe0], {}, 6))).toEqual(["fs-gs"]);
    expect(ids(view("8C", [0x8c, 0xd8], {}))).toEqual([]);
  });

  it("differencesFor_rolByteImmediateCountAbove1_masksOverflowOnly", () => {
    expect(ids(view("C0.0", [0xc0, 0xc0, 0x03], {}))).toEqual(["shift-rotate-undefined-of"]);
    expect(ids(view("C0.0", [0xc0, 0xc0, 0x21], {}))).toEqual([]); // count masks to 1
  });

  it("differencesFor_shrByteFromMemoryWithDisp_readsCountAfterDisplacement", () => {
    // C0 /5 with mod=1 (one displacement byte 0x01) then imm8 = 10: count > 1.
    expect(ids(view("C0.5", [0xc0, 0x6f, 0x01, 0x0a], {}))).toEqual(["shift-rotate-undefined-of"]);
    expect(ids(view("C0.5", [0xc0, 0x6f, 0x0a, 0x01], {}))).toEqual([]);
  });

  it("differencesFor_idivByteOverflowWithoutException_isSkipped", () => {
    // AX=81C1h / BL=7Ch: quotient -260 does not fit a byte; the 286 recorded no #DE.
    const v = view("F6.7", [0xf6, 0xfb], { [R16.AX]: 0x81c1, [R16.BX]: 0x007c });
    expect(ids(v)).toEqual(["idiv-overflow-undetected"]);
    // -128 / 1 = -128 fits (IA-32 accepts the most negative quotient).
    expect(ids(view("F6.7", [0xf6, 0xfb], { [R16.AX]: 0xff80, [R16.BX]: 0x0001 }))).toEqual([]);
  });

  it("differencesFor_idivWordInRange_isComparedNormally", () => {
    expect(ids(view("F7.7", [0xf7, 0xfb], { [R16.DX]: 0xffff, [R16.AX]: 0x8000, [R16.BX]: 1 }))).toEqual([]);
  });

  it("differencesFor_popToOverrunningMemory_isSkipped_butStackOverrunIsNot", () => {
    expect(ids(view("8F.0", [0x8f, 0x04], { [R16.SI]: 0xffff, [R16.SP]: 0x100 }, 13))).toEqual([
      "pop-rm-overrun-state",
    ]);
    expect(ids(view("8F.0", [0x8f, 0x04], { [R16.SI]: 0x10, [R16.SP]: 0xffff }, 13))).toEqual(["ss-overrun-vector"]);
  });

  it("differencesFor_aamZeroDivideError_masksSzp", () => {
    const d = differencesFor(view("D4", [0xd4, 0x00], {}, 0));
    expect(d.map((x) => x.action)).toEqual([{ kind: "maskFlags", flags: 0x00c4 }]);
  });

  it("differencesFor_movswOverrun_toleratesStringState", () => {
    expect(ids(view("A5", [0xa5], { [R16.SI]: 0xffff }, 13))).toEqual(["string-overrun-state"]);
    expect(ids(view("A5", [0xa5], { [R16.SI]: 0x10 }))).toEqual([]);
  });

  it("differencesFor_popSsAtFFFF_changesVectorTo12", () => {
    const d = differencesFor(view("17", [0x17], { [R16.SP]: 0xffff }, 13));
    expect(d.map((x) => x.action)).toEqual([{ kind: "vector", ia32: 12 }]);
  });
});
