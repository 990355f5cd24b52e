// 8254 tests, programmed through ports 0x40-0x43 and 0x61 as guest code does.
// References: Intel 8254 datasheet (231164): control word format, counter latch
// command, read-back command and status byte, mode 0-5 waveforms, gate rules.
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { PIT_HZ, Pit, pitTicksAt, pitTickToNs } from "../../src/devices/pit.ts";
import { FakeContext } from "./fake-context.ts";

let ctx: FakeContext;
let pit: Pit;

/** Put the clock exactly at input-clock tick `t`. */
const atTick = (t: number) => ctx.advanceTo(pitTickToNs(t));
const out2 = () => (ctx.in8(0x61) & 0x20) !== 0;
const readCount16 = (port: number) => {
  const lo = ctx.in8(port);
  return lo | (ctx.in8(port) << 8);
};
const latchAndRead = (ch: number) => {
  ctx.out8(0x43, ch << 6); // counter latch command
  return readCount16(0x40 + ch);
};
const readBackStatus = (ch: number) => {
  ctx.out8(0x43, 0xc0 | 0x20 | (2 << ch)); // read-back: status only
  return ctx.in8(0x40 + ch);
};

beforeEach(() => {
  ctx = new FakeContext();
  pit = new Pit();
  pit.attach(ctx);
});

describe("8254 input clock from guest time", () => {
  it("pitTicks_oneSecond_is1193182Ticks", () => {
    expect(pitTicksAt(1e9)).toBe(PIT_HZ);
    expect(pitTicksAt(1e9 - 1)).toBe(PIT_HZ - 1);
    expect(pitTicksAt(838)).toBe(0);
    expect(pitTicksAt(839)).toBe(1); // 1 tick = 838.095... ns
  });

  it("pitTicks_tickToNs_isFirstNsOfThatTick", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 43 }) /* up to 2^53 ns */, (t) => {
        const ns = pitTickToNs(t);
        return pitTicksAt(ns) === t && pitTicksAt(ns - 1) === t - 1;
      }),
      { seed: 8254, numRuns: 2000 },
    );
  });

  it("pitTicks_hugeGuestTimes_areExactIntegerArithmetic", () => {
    // 10^15 ns (11.6 days): a naive ns * 1193182 would exceed 2^53 and lose precision.
    expect(pitTicksAt(1e15)).toBe(1e6 * PIT_HZ);
    expect(pitTicksAt(1e15 + 1e9 - 1)).toBe(1e6 * PIT_HZ + PIT_HZ - 1);
  });
});

describe("8254 mode 2 (rate generator) on channel 0 / IRQ 0", () => {
  function programMode2(n: number): number {
    atTick(100);
    ctx.out8(0x43, 0x34); // counter 0, LSB then MSB, mode 2, binary
    ctx.out8(0x40, n & 0xff);
    ctx.out8(0x40, n >>> 8);
    return 101; // datasheet: the count is loaded on the next CLK pulse
  }

  it("pitMode2_irq0RisesOncePerPeriod_atExactTicks", () => {
    const n = 1193;
    const start = programMode2(n);
    const from = ctx.irqLog.length;
    atTick(start + 5 * n + 10);
    const ev = ctx.edges(0, from);
    // Each period: OUT low for one clock when the count reaches 1, then high (the IRQ edge).
    const rises = ev.filter((e) => e.level).map((e) => e.atNs);
    const falls = ev.filter((e) => !e.level).map((e) => e.atNs);
    expect(rises).toEqual([1, 2, 3, 4, 5].map((k) => pitTickToNs(start + k * n)));
    expect(falls).toEqual([1, 2, 3, 4, 5].map((k) => pitTickToNs(start + k * n - 1)));
  });

  it("pitMode2_tasksRunLate_stillProduceEveryPulse", () => {
    const n = 100;
    const start = programMode2(n);
    const from = ctx.irqLog.length;
    ctx.jumpTo(pitTickToNs(start + 10 * n + 5)); // one late scheduler run covering ten periods
    const levels = ctx.edges(0, from).map((e) => e.level);
    expect(levels).toEqual(Array.from({ length: 10 }, () => [false, true]).flat());
  });

  it("pitMode2_countReadsDownFromNAndReloads", () => {
    const start = programMode2(1000);
    atTick(start);
    expect(latchAndRead(0)).toBe(1000);
    atTick(start + 999);
    expect(latchAndRead(0)).toBe(1);
    atTick(start + 1000);
    expect(latchAndRead(0)).toBe(1000);
    atTick(start + 1250);
    expect(latchAndRead(0)).toBe(750);
  });

  it("pitMode2_newCountWhileCounting_takesEffectAtEndOfPeriod", () => {
    const start = programMode2(1000);
    atTick(start + 300);
    ctx.out8(0x40, 500 & 0xff);
    ctx.out8(0x40, 500 >>> 8);
    expect(readBackStatus(0) & 0x40).toBe(0x40); // NULL COUNT until the reload
    atTick(start + 999);
    expect(latchAndRead(0)).toBe(1);
    atTick(start + 1000);
    expect(latchAndRead(0)).toBe(500);
    expect(readBackStatus(0) & 0x40).toBe(0);
    atTick(start + 1499);
    expect(latchAndRead(0)).toBe(1);
  });

  it("pitMode2_countZero_means65536", () => {
    const start = programMode2(0);
    atTick(start + 1);
    expect(latchAndRead(0)).toBe(0xffff);
    const from = ctx.irqLog.length;
    atTick(start + 65536);
    expect(ctx.edges(0, from).map((e) => e.level)).toEqual([false, true]);
  });
});

describe("8254 mode 3 (square wave) on channel 2 via port 0x61", () => {
  function programCh2Mode3(n: number): number {
    ctx.out8(0x61, 0x01); // gate 2 on, speaker off
    atTick(50);
    ctx.out8(0x43, 0xb6); // counter 2, LSB/MSB, mode 3, binary
    ctx.out8(0x42, n & 0xff);
    ctx.out8(0x42, n >>> 8);
    return 51;
  }

  it("pitMode3_evenCount_halfPeriodsHighAndLow", () => {
    const start = programCh2Mode3(8);
    const seen: boolean[] = [];
    for (let t = start; t < start + 16; t++) {
      atTick(t);
      seen.push(out2());
    }
    expect(seen).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
  });

  it("pitMode3_oddCount_highOneClockLonger", () => {
    const start = programCh2Mode3(5);
    const seen: boolean[] = [];
    for (let t = start; t < start + 10; t++) {
      atTick(t);
      seen.push(out2());
    }
    // Datasheet: odd N gives (N+1)/2 clocks high, (N-1)/2 low.
    expect(seen).toEqual([true, true, true, false, false, true, true, true, false, false]);
  });

  it("pitMode3_evenCount_decrementsByTwo", () => {
    const start = programCh2Mode3(8);
    const counts: number[] = [];
    for (let t = start; t < start + 5; t++) {
      atTick(t);
      counts.push(latchAndRead(2));
    }
    expect(counts).toEqual([8, 6, 4, 2, 8]);
  });

  it("pitMode3_gateLow_forcesOutHighAndStops", () => {
    const start = programCh2Mode3(8);
    atTick(start + 5); // in the low half
    expect(out2()).toBe(false);
    ctx.out8(0x61, 0x00);
    expect(out2()).toBe(true);
    atTick(start + 100);
    expect(out2()).toBe(true);
  });

  it("pitPortB_speakerDataAndGateBitsReadBack", () => {
    ctx.out8(0x61, 0x03);
    expect(ctx.in8(0x61) & 0x0f).toBe(0x03);
    expect(pit.speakerOn).toBe(true);
    ctx.out8(0x61, 0x01);
    expect(pit.speakerOn).toBe(false);
  });
});

describe("8254 mode 0 (interrupt on terminal count)", () => {
  it("pitMode0_outGoesHighNPlusOneClocksAfterWrite", () => {
    atTick(10);
    ctx.out8(0x43, 0x30); // counter 0, LSB/MSB, mode 0
    expect(ctx.irq[0]).toBe(false);
    ctx.out8(0x40, 100);
    ctx.out8(0x40, 0);
    const from = ctx.irqLog.length;
    atTick(10 + 100);
    expect(ctx.edges(0, from)).toEqual([]);
    atTick(10 + 101);
    expect(ctx.edges(0, from)).toEqual([{ line: 0, level: true, atNs: pitTickToNs(111) }]);
    atTick(500);
    expect(ctx.irq[0]).toBe(true); // stays high until reprogrammed
    expect(latchAndRead(0)).toBe(0x10000 - (500 - 111)); // wrapped and still counting
  });

  it("pitMode0_firstByteOfTwo_stopsCountingAndDropsOut", () => {
    atTick(0);
    ctx.out8(0x43, 0x30);
    ctx.out8(0x40, 10);
    ctx.out8(0x40, 0);
    atTick(20);
    expect(ctx.irq[0]).toBe(true);
    ctx.out8(0x40, 50); // LSB only: datasheet says OUT goes low at once, counting stops
    expect(ctx.irq[0]).toBe(false);
    atTick(200);
    expect(ctx.irq[0]).toBe(false);
    ctx.out8(0x40, 0); // MSB: count 50 loaded on the next clock
    atTick(200 + 51);
    expect(ctx.irq[0]).toBe(true);
  });

  it("pitMode0_gateLowOnChannel2_suspendsCounting", () => {
    ctx.out8(0x61, 0x01);
    atTick(0);
    ctx.out8(0x43, 0xb0); // counter 2, mode 0
    ctx.out8(0x42, 100);
    ctx.out8(0x42, 0);
    atTick(41); // 40 clocks counted
    ctx.out8(0x61, 0x00);
    atTick(1000);
    expect(latchAndRead(2)).toBe(60);
    ctx.out8(0x61, 0x01);
    atTick(1059);
    expect(out2()).toBe(false);
    atTick(1060);
    expect(out2()).toBe(true);
  });
});

describe("8254 modes 1, 4, 5", () => {
  it("pitMode4_softwareStrobe_lowForOneClock", () => {
    atTick(0);
    ctx.out8(0x43, 0x38); // counter 0, mode 4
    ctx.out8(0x40, 20);
    ctx.out8(0x40, 0);
    const from = ctx.irqLog.length;
    atTick(100);
    expect(ctx.edges(0, from).map((e) => [e.level, e.atNs])).toEqual([
      [false, pitTickToNs(21)],
      [true, pitTickToNs(22)],
    ]);
  });

  it("pitMode1_gateRisingEdge_triggersOneShot", () => {
    atTick(0);
    ctx.out8(0x43, 0xb2); // counter 2, mode 1
    ctx.out8(0x42, 10);
    ctx.out8(0x42, 0);
    atTick(5);
    expect(out2()).toBe(true); // waiting for the trigger
    ctx.out8(0x61, 0x01); // gate rises at tick 5: count loaded on tick 6
    atTick(6);
    expect(out2()).toBe(false);
    atTick(15);
    expect(out2()).toBe(false);
    atTick(16);
    expect(out2()).toBe(true);
  });

  it("pitMode5_gateTrigger_strobesAfterCount", () => {
    atTick(0);
    ctx.out8(0x43, 0xba); // counter 2, mode 5
    ctx.out8(0x42, 4);
    ctx.out8(0x42, 0);
    ctx.out8(0x61, 0x01);
    atTick(4);
    expect(out2()).toBe(true);
    atTick(5);
    expect(out2()).toBe(false);
    atTick(6);
    expect(out2()).toBe(true);
  });
});

describe("8254 latch, read-back, access modes, BCD", () => {
  it("pitCounterLatch_holdsValueUntilBothBytesRead", () => {
    atTick(0);
    ctx.out8(0x43, 0x34);
    ctx.out8(0x40, 0x00);
    ctx.out8(0x40, 0x10); // 4096
    atTick(101);
    ctx.out8(0x43, 0x00); // latch counter 0
    atTick(500);
    ctx.out8(0x43, 0x00); // ignored: a latch is already held
    expect(readCount16(0x40)).toBe(4096 - 100);
    expect(latchAndRead(0)).toBe(4096 - 499);
  });

  it("pitReadBack_statusByteReportsOutNullCountAndControl", () => {
    atTick(0);
    ctx.out8(0x43, 0x34);
    expect(readBackStatus(0)).toBe(0x80 | 0x40 | 0x34); // mode 2 OUT high, no count yet
    ctx.out8(0x40, 0x10);
    ctx.out8(0x40, 0x00);
    expect(readBackStatus(0)).toBe(0x80 | 0x40 | 0x34); // written, not loaded until the next clock
    atTick(1);
    expect(readBackStatus(0)).toBe(0x80 | 0x34);
  });

  it("pitReadBack_statusThenCount_statusReadFirst", () => {
    atTick(0);
    ctx.out8(0x43, 0xb0); // counter 2, mode 0
    ctx.out8(0x42, 0x34);
    ctx.out8(0x42, 0x12);
    ctx.out8(0x61, 0x01);
    atTick(0x11);
    ctx.out8(0x43, 0xc8); // read-back: count and status of counter 2
    expect(ctx.in8(0x42)).toBe(0x30); // OUT low, count loaded, RW=3 mode 0 binary
    expect(readCount16(0x42)).toBe(0x1234 - 0x10); // loaded on clock 1, then one per clock
  });

  it("pitReadBack_latchesSeveralCountersAtOnce", () => {
    atTick(0);
    ctx.out8(0x43, 0x34);
    ctx.out8(0x40, 0);
    ctx.out8(0x40, 0x20);
    ctx.out8(0x43, 0x74); // counter 1, mode 2
    ctx.out8(0x41, 0);
    ctx.out8(0x41, 0x30);
    atTick(11);
    ctx.out8(0x43, 0xd6); // read-back: count only, counters 0 and 1
    atTick(900);
    expect(readCount16(0x40)).toBe(0x2000 - 10);
    expect(readCount16(0x41)).toBe(0x3000 - 10);
  });

  it("pitLsbOnlyAndMsbOnly_accessModes", () => {
    atTick(0);
    ctx.out8(0x43, 0x14); // counter 0, LSB only, mode 2
    ctx.out8(0x40, 200);
    atTick(51);
    expect(ctx.in8(0x40)).toBe(150);
    ctx.out8(0x43, 0x24); // MSB only
    ctx.out8(0x40, 0x02); // count 0x200
    atTick(51 + 1 + 0x100);
    expect(ctx.in8(0x40)).toBe(0x01);
  });

  it("pitBcd_countsInDecimal", () => {
    atTick(0);
    ctx.out8(0x43, 0x31); // counter 0, LSB/MSB, mode 0, BCD
    ctx.out8(0x40, 0x00);
    ctx.out8(0x40, 0x10); // 1000 decimal
    atTick(11);
    expect(latchAndRead(0)).toBe(0x0990);
    atTick(1001);
    expect(latchAndRead(0)).toBe(0x0000);
    atTick(1002);
    expect(latchAndRead(0)).toBe(0x9999); // wraps to 9999 in BCD
  });
});

describe("8254 port 0x61 refresh toggle", () => {
  it("pitPortB_refreshBitFlipsEvery18Clocks", () => {
    const bits: number[] = [];
    for (let t = 0; t < 72; t += 9) {
      atTick(t);
      bits.push((ctx.in8(0x61) >> 4) & 1);
    }
    expect(bits).toEqual([0, 0, 1, 1, 0, 0, 1, 1]);
  });
});

describe("8254 state", () => {
  it("pitSaveLoad_restoresCountingAndRearmsIrq", () => {
    atTick(0);
    ctx.out8(0x43, 0x34);
    ctx.out8(0x40, 100);
    ctx.out8(0x40, 0);
    atTick(50);
    const saved = JSON.parse(JSON.stringify(pit.saveState()));
    const ctx2 = new FakeContext();
    const pit2 = new Pit();
    pit2.attach(ctx2);
    ctx2.advanceTo(pitTickToNs(50));
    pit2.loadState(pit2.stateSchema.parse(saved));
    ctx2.out8(0x43, 0x00);
    expect(readCountOn(ctx2)).toBe(51);
    ctx2.advanceTo(pitTickToNs(101));
    expect(ctx2.edges(0).map((e) => e.level)).toEqual([false, true]);
  });
});

function readCountOn(c: FakeContext): number {
  const lo = c.in8(0x40);
  return lo | (c.in8(0x40) << 8);
}
