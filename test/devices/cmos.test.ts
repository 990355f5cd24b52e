// MC146818 RTC/CMOS tests through ports 0x70/0x71.
// References: Motorola MC146818A datasheet (registers 0-9 and A-D, DM and
// 24/12 bits, SET, UIP timing, PF/AF/UF/IRQF, periodic rate table) and the
// IBM PC/AT CMOS map (15h-18h, 30h/31h, 34h/35h, 2Eh/2Fh checksum, 32h).
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { Cmos, civilFromDays, daysFromCivil } from "../../src/devices/cmos.ts";
import { FakeContext } from "./fake-context.ts";

// 2024-02-29 23:59:58.500 UTC: a leap day, half a second before a second boundary.
const EPOCH = Date.UTC(2024, 1, 29, 23, 59, 58, 500);
/** Guest time of the first wall-clock second boundary after power-on. */
const FIRST_SECOND_NS = 500_000_000;

let ctx: FakeContext;
let rtc: Cmos;

const rd = (i: number) => {
  ctx.out8(0x70, i);
  return ctx.in8(0x71);
};
const wr = (i: number, v: number) => {
  ctx.out8(0x70, i);
  ctx.out8(0x71, v);
};
const timeRegs = () => [0, 2, 4, 6, 7, 8, 9, 0x32].map(rd);

beforeEach(() => {
  ctx = new FakeContext(EPOCH);
  rtc = new Cmos({ ramBytes: 32 << 20 });
  rtc.attach(ctx);
});

describe("MC146818 time registers", () => {
  it("rtc_powerOn_readsWallTimeInBcd24h", () => {
    // sec, min, hour, day of week (Thursday = 5), day, month, year, century
    expect(timeRegs()).toEqual([0x58, 0x59, 0x23, 0x05, 0x29, 0x02, 0x24, 0x20]);
  });

  it("rtc_guestTimePasses_rollsOverLeapDayIntoMarch", () => {
    ctx.advanceTo(FIRST_SECOND_NS + 1e9); // 2024-03-01 00:00:00
    expect(timeRegs()).toEqual([0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x24, 0x20]);
  });

  it("rtc_dmBinary_readsBinaryValues", () => {
    wr(0x0b, 0x06); // 24h, binary
    expect(timeRegs()).toEqual([58, 59, 23, 5, 29, 2, 24, 20]);
  });

  it("rtc_12HourMode_setsPmBitAndShowsMidnightAs12", () => {
    wr(0x0b, 0x00); // 12h, BCD
    expect(rd(4)).toBe(0x91); // 11 PM
    ctx.advanceTo(FIRST_SECOND_NS + 1e9);
    expect(rd(4)).toBe(0x12); // 12 AM
    wr(0x0b, 0x04); // 12h, binary
    expect(rd(4)).toBe(12);
  });

  it("rtc_setBitHeld_guestSetsTimeAndClockResumesFromIt", () => {
    wr(0x0b, 0x82); // SET, 24h, BCD
    wr(0x00, 0x30);
    wr(0x02, 0x15);
    wr(0x04, 0x08);
    wr(0x07, 0x04);
    wr(0x08, 0x07);
    wr(0x09, 0x99);
    wr(0x32, 0x19);
    ctx.advanceBy(5e9); // frozen while SET = 1
    // Frozen values as written; the day of week (5) is the one latched when SET was raised.
    expect(timeRegs()).toEqual([0x30, 0x15, 0x08, 0x05, 0x04, 0x07, 0x99, 0x19]);
  });

  it("rtc_setBitCleared_clockRunsFromWrittenTime", () => {
    wr(0x0b, 0x82);
    wr(0x00, 0x30);
    wr(0x02, 0x15);
    wr(0x04, 0x08);
    wr(0x07, 0x04);
    wr(0x08, 0x07);
    wr(0x09, 0x99);
    wr(0x32, 0x19);
    wr(0x0b, 0x02);
    expect(rd(6)).toBe(0x01); // 1999-07-04 was a Sunday
    ctx.advanceBy(2e9);
    expect(timeRegs()).toEqual([0x32, 0x15, 0x08, 0x01, 0x04, 0x07, 0x99, 0x19]);
  });

  it("rtc_writeMinutesWithoutSet_adjustsOnlyMinutes", () => {
    wr(0x02, 0x10);
    expect(timeRegs().slice(0, 3)).toEqual([0x58, 0x10, 0x23]);
    ctx.advanceTo(FIRST_SECOND_NS);
    expect(timeRegs().slice(0, 3)).toEqual([0x59, 0x10, 0x23]);
  });
});

describe("MC146818 update-in-progress", () => {
  it("rtc_uip_setDuringLast244usBeforeEachUpdate", () => {
    ctx.advanceTo(FIRST_SECOND_NS - 244_001);
    expect(rd(0x0a) & 0x80).toBe(0);
    ctx.advanceTo(FIRST_SECOND_NS - 244_000);
    expect(rd(0x0a) & 0x80).toBe(0x80);
    ctx.advanceTo(FIRST_SECOND_NS - 1);
    expect(rd(0x0a) & 0x80).toBe(0x80);
    ctx.advanceTo(FIRST_SECOND_NS);
    expect(rd(0x0a) & 0x80).toBe(0);
    expect(rd(0x0a)).toBe(0x26); // the rest of register A as written at power-on
  });

  it("rtc_uip_neverSetWhileSetBitHeld", () => {
    wr(0x0b, 0x82);
    ctx.advanceTo(FIRST_SECOND_NS - 1000);
    expect(rd(0x0a) & 0x80).toBe(0);
  });
});

describe("MC146818 interrupts and register C", () => {
  it("rtc_updateEndedInterrupt_raisesIrq8EachSecond_clearedByRegC", () => {
    wr(0x0a, 0x20); // periodic rate 0, so PF stays clear
    wr(0x0b, 0x12); // UIE
    ctx.advanceTo(FIRST_SECOND_NS - 1);
    expect(ctx.irq[8]).toBe(false);
    ctx.advanceTo(FIRST_SECOND_NS);
    expect(ctx.irq[8]).toBe(true);
    expect(rd(0x0c)).toBe(0x90); // IRQF | UF
    expect(ctx.irq[8]).toBe(false);
    expect(rd(0x0c)).toBe(0x00); // cleared by the read
    ctx.advanceTo(FIRST_SECOND_NS + 1e9);
    expect(
      ctx
        .edges(8)
        .filter((e) => e.level)
        .map((e) => e.atNs),
    ).toEqual([FIRST_SECOND_NS, FIRST_SECOND_NS + 1e9]);
  });

  it("rtc_periodicInterrupt1024Hz_firesEvery976us", () => {
    wr(0x0b, 0x42); // PIE
    const rises: number[] = [];
    ctx.onIrq = (line, level) => {
      if (line === 8 && level) {
        rises.push(ctx.clock.ns);
        ctx.out8(0x70, 0x0c);
        ctx.in8(0x71); // acknowledge, as an IRQ 8 handler does
      }
    };
    ctx.advanceTo(4_000_000);
    // Register A rate 6: 32768 Hz / 32 = 1024 Hz, period 976562.5 ns.
    expect(rises).toEqual([976563, 1953125, 2929688, 3906250]);
  });

  it("rtc_periodicRate15_is2Hz", () => {
    wr(0x0a, 0x2f);
    wr(0x0b, 0x42);
    ctx.advanceTo(1_100_000_000);
    expect(
      ctx
        .edges(8)
        .filter((e) => e.level)
        .map((e) => e.atNs),
    ).toEqual([500_000_000]);
  });

  it("rtc_periodicFlagWithoutPie_setButNoIrq", () => {
    ctx.advanceTo(2_000_000);
    expect(ctx.irq[8]).toBe(false);
    expect(rd(0x0c)).toBe(0x40); // PF only, IRQF clear
  });

  it("rtc_alarm_firesAtMatchingSecond", () => {
    wr(0x01, 0x03); // alarm 00:00:03
    wr(0x03, 0x00);
    wr(0x05, 0x00);
    wr(0x0a, 0x20); // periodic rate 0
    wr(0x0b, 0x22); // AIE
    // 00:00:03 on March 1st is the 4th second boundary after power-on.
    const due = FIRST_SECOND_NS + 4e9;
    ctx.advanceTo(due - 1);
    expect(ctx.irq[8]).toBe(false);
    ctx.advanceTo(due);
    expect(ctx.irq[8]).toBe(true);
    expect(rd(0x0c)).toBe(0xb0); // IRQF | AF | UF (UF set too, but UIE off)
  });

  it("rtc_alarmDontCareSeconds_matchesEverySecondOfThatMinute", () => {
    wr(0x01, 0xff);
    wr(0x03, 0x00);
    wr(0x05, 0xc0); // any hour, minute 00, any second
    wr(0x0b, 0x22);
    ctx.advanceTo(FIRST_SECOND_NS + 1e9); // 00:00:00 -> first match
    expect(ctx.irq[8]).toBe(true);
    rd(0x0c);
    ctx.advanceTo(FIRST_SECOND_NS + 2e9); // 00:00:01 also matches
    expect(ctx.irq[8]).toBe(true);
  });

  it("rtc_alarmNotMatching_noAlarmFlag", () => {
    wr(0x01, 0x10);
    wr(0x03, 0x10);
    wr(0x05, 0x10);
    ctx.advanceTo(FIRST_SECOND_NS + 3e9);
    expect(rd(0x0c)).toBe(0x50); // PF and UF, not AF
  });

  it("rtc_enablingPieWithPfPending_raisesIrqAtOnce", () => {
    ctx.advanceTo(1_000_000);
    wr(0x0b, 0x42);
    expect(ctx.irq[8]).toBe(true);
  });

  it("rtc_setBit_clearsUieAndStopsUpdateFlags", () => {
    wr(0x0b, 0x92);
    expect(rd(0x0b)).toBe(0x82);
    wr(0x0a, 0x20); // periodic off
    ctx.advanceTo(3e9);
    expect(rd(0x0c)).toBe(0x00);
  });

  it("rtc_regD_reportsValidRam", () => {
    expect(rd(0x0d)).toBe(0x80);
  });
});

describe("MC146818 index port and CMOS RAM", () => {
  it("rtc_indexBit7_isNmiMask", () => {
    ctx.out8(0x70, 0x8f);
    expect(rtc.nmiMasked).toBe(true);
    ctx.out8(0x71, 0x5a);
    ctx.out8(0x70, 0x0f);
    expect(rtc.nmiMasked).toBe(false);
    expect(ctx.in8(0x71)).toBe(0x5a);
  });

  it("rtc_nvram_32MiB_memorySizesAndChecksum", () => {
    expect([rd(0x15), rd(0x16)]).toEqual([0x80, 0x02]); // 640 KiB
    expect([rd(0x17), rd(0x18)]).toEqual([0x00, 0x7c]); // 31744 KiB above 1 MiB
    expect([rd(0x30), rd(0x31)]).toEqual([0x00, 0x7c]);
    expect([rd(0x34), rd(0x35)]).toEqual([0x00, 0x01]); // 256 x 64 KiB above 16 MiB
    expect(rd(0x12)).toBe(0xf0);
    expect(rd(0x19)).toBe(47);
    expect(rd(0x14)).toBe(0x02);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += rd(i);
    expect((rd(0x2e) << 8) | rd(0x2f)).toBe(sum);
  });

  it("rtc_nvram_largeRam_capsExtendedAt63MiB", () => {
    const big = new Cmos({ ramBytes: 256 << 20 });
    const c = new FakeContext(EPOCH);
    big.attach(c);
    const r = (i: number) => {
      c.out8(0x70, i);
      return c.in8(0x71);
    };
    expect([r(0x17), r(0x18)]).toEqual([0x00, 0xfc]);
    expect([r(0x34), r(0x35)]).toEqual([0x00, 0x0f]); // 240 MiB / 64 KiB = 3840
  });

  it("rtc_nvram_generalBytesReadBack", () => {
    wr(0x40, 0xa5);
    wr(0x7f, 0x11);
    expect([rd(0x40), rd(0x7f)]).toEqual([0xa5, 0x11]);
  });

  it("rtc_reset_clearsInterruptEnablesButKeepsTimeAndRam", () => {
    wr(0x0b, 0x72);
    wr(0x40, 0x77);
    rtc.reset();
    expect(rd(0x0b)).toBe(0x02);
    expect(rd(0x40)).toBe(0x77);
    expect(rd(0)).toBe(0x58);
  });

  it("rtc_saveLoad_keepsGuestSetOffset", () => {
    wr(0x04, 0x05); // hour 05
    const saved = JSON.parse(JSON.stringify(rtc.saveState()));
    const c = new FakeContext(EPOCH);
    const other = new Cmos({ ramBytes: 32 << 20 });
    other.attach(c);
    other.loadState(other.stateSchema.parse(saved));
    c.out8(0x70, 0x04);
    expect(c.in8(0x71)).toBe(0x05);
  });
});

describe("calendar arithmetic", () => {
  it("calendar_daysRoundTrip_matchesUtcDates", () => {
    fc.assert(
      fc.property(fc.integer({ min: -200_000, max: 200_000 }), (days) => {
        const d = new Date(days * 86400_000);
        const c = civilFromDays(days);
        return (
          c.y === d.getUTCFullYear() &&
          c.m === d.getUTCMonth() + 1 &&
          c.d === d.getUTCDate() &&
          daysFromCivil(c.y, c.m, c.d) === days
        );
      }),
      { seed: 146818, numRuns: 3000 },
    );
  });
});
