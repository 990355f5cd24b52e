// 8042 keyboard controller tests through ports 0x60/0x64.
// References: IBM PC/AT Technical Reference (keyboard controller commands,
// status register, output port bit 0 reset / bit 1 A20), IBM PS/2 Technical
// Reference (A7h-A9h, D2h-D4h, command byte bits), MF-II keyboard commands.
import { beforeEach, describe, expect, it } from "vitest";
import { I8042 } from "../../src/devices/i8042.ts";
import { FakeContext } from "./fake-context.ts";

let ctx: FakeContext;
let kbc: I8042;

const status = () => ctx.in8(0x64);
const cmd = (v: number) => ctx.out8(0x64, v);
const data = (v: number) => ctx.out8(0x60, v);
/** Read every byte the controller has for us, as a polling driver does. */
const drain = () => {
  const out: number[] = [];
  while (status() & 0x01) out.push(ctx.in8(0x60));
  return out;
};
const irq1Rises = (from = 0) => ctx.edges(1, from).filter((e) => e.level).length;

beforeEach(() => {
  ctx = new FakeContext();
  kbc = new I8042();
  kbc.attach(ctx);
});

describe("8042 controller commands", () => {
  it("kbc_selfTest_answers55AndSetsSystemFlag", () => {
    expect(status() & 0x04).toBe(0);
    cmd(0xaa);
    expect(status() & 0x01).toBe(0x01);
    expect(ctx.in8(0x60)).toBe(0x55);
    expect(status() & 0x01).toBe(0);
    expect(status() & 0x04).toBe(0x04);
  });

  it("kbc_commandByte_writeThenReadBack", () => {
    cmd(0x60);
    data(0x47);
    cmd(0x20);
    expect(drain()).toEqual([0x47]);
    cmd(0x60);
    data(0x00);
    expect(status() & 0x04).toBe(0); // SYS follows command byte bit 2
  });

  it("kbc_statusA2_tellsWhichPortWasWrittenLast", () => {
    cmd(0xa7);
    expect(status() & 0x08).toBe(0x08);
    data(0xf4);
    expect(status() & 0x08).toBe(0);
  });

  it("kbc_statusInh_reportsKeyboardNotInhibited_andIbfClear", () => {
    expect(status() & 0x12).toBe(0x10);
  });

  it("kbc_interfaceTests_answerZero", () => {
    cmd(0xab);
    expect(drain()).toEqual([0x00]);
    cmd(0xa9);
    expect(drain()).toEqual([0x00]);
  });

  it("kbc_disableEnableCommands_toggleCommandByteBits", () => {
    cmd(0xad);
    cmd(0xa7);
    cmd(0x20);
    expect(drain()[0] & 0x30).toBe(0x30);
    cmd(0xae);
    cmd(0xa8);
    cmd(0x20);
    expect(drain()[0] & 0x30).toBe(0x00);
  });

  it("kbc_controllerReply_overtakesQueuedKeyboardBytes", () => {
    cmd(0x60);
    data(0x00); // no IRQs
    kbc.keyPress([0x1e, 0x9e]);
    cmd(0x20); // the 1Eh is already in the output buffer; the reply comes next
    expect(drain()).toEqual([0x1e, 0x00, 0x9e]);
  });
});

describe("8042 output port: A20 and reset", () => {
  it("kbc_writeOutputPort_bit1SetsA20_bit0KeepsRunning", () => {
    cmd(0xd1);
    data(0xdf);
    expect(ctx.a20).toBe(true);
    expect(ctx.resets).toEqual([]);
    cmd(0xd0);
    expect(drain()[0] & 0x03).toBe(0x03);
    cmd(0xd1);
    data(0xdd);
    expect(ctx.a20).toBe(false);
    cmd(0xd0);
    expect(drain()[0] & 0x02).toBe(0);
  });

  it("kbc_writeOutputPort_bit0Clear_requestsReset", () => {
    cmd(0xd1);
    data(0xfe);
    expect(ctx.resets.length).toBe(1);
  });

  it("kbc_a20ShortcutCommands_DDandDF", () => {
    cmd(0xdf);
    expect(ctx.a20Log).toEqual([true]);
    cmd(0xdd);
    expect(ctx.a20Log).toEqual([true, false]);
  });

  it.each([
    { c: 0xfe, resets: 1 },
    { c: 0xf0, resets: 1 },
    { c: 0xfc, resets: 1 },
    { c: 0xff, resets: 0 },
    { c: 0xfd, resets: 0 },
  ])("kbc_pulseOutputPort$c_resetsOnlyWhenBit0Pulsed", ({ c, resets }) => {
    cmd(c);
    expect(ctx.resets.length).toBe(resets);
  });
});

describe("8042 keyboard device commands", () => {
  it("kbd_reset_answersAckThenBatOk_eachWithIrq1", () => {
    data(0xff);
    expect(ctx.in8(0x60)).toBe(0xfa);
    expect(ctx.in8(0x60)).toBe(0xaa);
    expect(irq1Rises()).toBe(2);
  });

  it("kbd_identify_answersAckAbB83", () => {
    data(0xf2);
    expect(drain()).toEqual([0xfa, 0xab, 0x83]);
  });

  it("kbd_setLeds_acksCommandAndParameter", () => {
    data(0xed);
    expect(drain()).toEqual([0xfa]);
    data(0x07);
    expect(drain()).toEqual([0xfa]);
  });

  it("kbd_getScanSet_translatedReports41_untranslated02", () => {
    data(0xf0);
    data(0x00);
    expect(drain()).toEqual([0xfa, 0xfa, 0x41]); // ACK F0h, ACK 00h, then the set
    cmd(0x60);
    data(0x01); // translation off
    data(0xf0);
    data(0x00);
    expect(drain()).toEqual([0xfa, 0xfa, 0x02]);
  });

  it("kbd_typematic_acksBothBytes", () => {
    data(0xf3);
    data(0x20);
    expect(drain()).toEqual([0xfa, 0xfa]);
  });

  it("kbd_echoAndUnknown_answerEeAndResend", () => {
    data(0xee);
    data(0x42);
    expect(drain()).toEqual([0xee, 0xfe]);
  });

  it("kbd_commandWhereParameterExpected_runsAsNewCommand", () => {
    data(0xed);
    data(0xf2);
    expect(drain()).toEqual([0xfa, 0xfa, 0xab, 0x83]);
  });
});

describe("8042 scancode delivery", () => {
  it("kbd_keyPress_deliversBytesInOrderWithIrq1Each", () => {
    kbc.keyPress([0x1e, 0x9e]);
    expect(irq1Rises()).toBe(1);
    expect(ctx.in8(0x60)).toBe(0x1e);
    expect(irq1Rises()).toBe(2); // the next byte entered the buffer: a new edge
    expect(ctx.in8(0x60)).toBe(0x9e);
    expect(ctx.irq[1]).toBe(false);
  });

  it("kbd_interruptBitClear_noIrq1ButObfSet", () => {
    cmd(0x60);
    data(0x40);
    kbc.keyPress([0x1c]);
    expect(status() & 0x01).toBe(0x01);
    expect(ctx.irq[1]).toBe(false);
  });

  it("kbd_interfaceDisabled_holdsBytesUntilEnabled", () => {
    cmd(0xad);
    kbc.keyPress([0x39]);
    expect(status() & 0x01).toBe(0);
    cmd(0xae);
    expect(drain()).toEqual([0x39]);
  });

  it("kbd_scanningDisabledByF5_dropsKeys_F4Resumes", () => {
    data(0xf5);
    drain();
    kbc.keyPress([0x10]);
    expect(drain()).toEqual([]);
    data(0xf4);
    drain();
    kbc.keyPress([0x11]);
    expect(drain()).toEqual([0x11]);
  });
});

describe("8042 output buffer writes and the absent mouse", () => {
  it("kbc_writeKeyboardBuffer_D2_appearsAsKeyboardData", () => {
    cmd(0xd2);
    data(0x5b);
    expect(status() & 0x21).toBe(0x01);
    expect(ctx.irq[1]).toBe(true);
    expect(ctx.in8(0x60)).toBe(0x5b);
  });

  it("kbc_writeAuxBuffer_D3_appearsAsAuxDataWithIrq12", () => {
    cmd(0x60);
    data(0x03); // keyboard and aux interrupts on
    cmd(0xd3);
    data(0x5a);
    expect(status() & 0x21).toBe(0x21);
    expect(ctx.irq[12]).toBe(true);
    expect(ctx.irq[1]).toBe(false);
    expect(ctx.in8(0x60)).toBe(0x5a);
    expect(ctx.irq[12]).toBe(false);
  });

  it("kbc_byteToAuxDevice_D4_answersResendWithTimeout", () => {
    cmd(0xd4);
    data(0xf2);
    expect(status() & 0x61).toBe(0x61); // OBF, AUX, timeout
    expect(ctx.in8(0x60)).toBe(0xfe);
    expect(status() & 0x40).toBe(0);
  });
});

describe("8042 state", () => {
  it("kbc_saveLoad_keepsQueuedBytes", () => {
    kbc.keyPress([1, 2, 3]);
    const saved = JSON.parse(JSON.stringify(kbc.saveState()));
    const c = new FakeContext();
    const k = new I8042();
    k.attach(c);
    k.loadState(k.stateSchema.parse(saved));
    const out: number[] = [];
    while (c.in8(0x64) & 1) out.push(c.in8(0x60));
    expect(out).toEqual([1, 2, 3]);
  });
});
