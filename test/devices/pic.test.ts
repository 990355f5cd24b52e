// 8259A tests, programmed through ports 0x20/0x21/0xA0/0xA1 as a BIOS or Linux does.
// References: Intel 8259A datasheet (231468), sections on ICW1-4, OCW1-3, EOI,
// AEOI, special mask mode, poll command and "default IR7" on a vanished request.
import { beforeEach, describe, expect, it } from "vitest";
import { Pic } from "../../src/devices/pic.ts";
import { FakeContext } from "./fake-context.ts";

let ctx: FakeContext;
let pic: Pic;
let intrLog: boolean[];

/** The PC/AT initialization: ICW1 edge+ICW4, ICW2 vector base, ICW3 cascade, ICW4 8086 mode. */
function initPc(masterBase = 0x20, slaveBase = 0x28, icw4 = 0x01): void {
  ctx.out8(0x20, 0x11);
  ctx.out8(0x21, masterBase);
  ctx.out8(0x21, 0x04); // slave on IR2
  ctx.out8(0x21, icw4);
  ctx.out8(0xa0, 0x11);
  ctx.out8(0xa1, slaveBase);
  ctx.out8(0xa1, 0x02); // slave ID 2
  ctx.out8(0xa1, icw4 & ~0x10);
  ctx.out8(0x21, 0x00);
  ctx.out8(0xa1, 0x00);
}

const readIrr = (port: number) => {
  ctx.out8(port, 0x0a); // OCW3: read IRR
  return ctx.in8(port);
};
const readIsr = (port: number) => {
  ctx.out8(port, 0x0b); // OCW3: read ISR
  return ctx.in8(port);
};
const pulse = (irq: number) => {
  pic.setLine(irq, true);
  pic.setLine(irq, false);
};

beforeEach(() => {
  ctx = new FakeContext();
  pic = new Pic();
  pic.attach(ctx);
  intrLog = [];
  pic.onIntr = (l) => intrLog.push(l);
});

describe("8259A initialization (ICW1-ICW4)", () => {
  it("pic_afterIcwSequence_deliversVectorFromIcw2", () => {
    initPc(0x20, 0x28);
    pic.setLine(1, true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it("pic_icw1_clearsImrAndMakesLevelsNeedNewEdge", () => {
    initPc();
    ctx.out8(0x21, 0xff);
    pic.setLine(3, true); // masked, but latched in IRR
    expect(readIrr(0x20) & 0x08).toBe(0x08);
    initPc(); // datasheet: ICW1 resets the edge sense circuit and clears IMR
    expect(ctx.in8(0x21)).toBe(0x00);
    expect(readIrr(0x20) & 0x08).toBe(0);
    expect(pic.hasInterrupt()).toBe(false); // line still high, but no new edge
    pic.setLine(3, false);
    pic.setLine(3, true);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it("pic_singleModeWithoutIcw3_takesIcw4Next", () => {
    ctx.out8(0x20, 0x13); // ICW1: SNGL, IC4
    ctx.out8(0x21, 0x40); // ICW2
    ctx.out8(0x21, 0x03); // ICW4 (AEOI, 8086), no ICW3 in single mode
    ctx.out8(0x21, 0xfe); // OCW1
    expect(ctx.in8(0x21)).toBe(0xfe);
    pic.setLine(0, true);
    expect(pic.acknowledge()).toBe(0x40);
    expect(readIsr(0x20)).toBe(0); // AEOI
  });

  it("pic_ocw1_masksLines", () => {
    initPc();
    ctx.out8(0x21, 0x02);
    pic.setLine(1, true);
    expect(pic.hasInterrupt()).toBe(false);
    ctx.out8(0x21, 0x00);
    expect(pic.hasInterrupt()).toBe(true);
    expect(intrLog).toEqual([true]);
  });
});

describe("8259A priorities and EOI (OCW2)", () => {
  it("pic_twoRequests_lowerNumberServedFirst", () => {
    initPc();
    pic.setLine(5, true);
    pic.setLine(3, true);
    expect(pic.acknowledge()).toBe(0x23);
    expect(readIsr(0x20)).toBe(0x08);
    expect(readIrr(0x20)).toBe(0x20);
  });

  it("pic_lowerPriorityRequest_waitsUntilNonSpecificEoi", () => {
    initPc();
    pic.setLine(1, true);
    expect(pic.acknowledge()).toBe(0x21);
    pic.setLine(6, true);
    expect(pic.hasInterrupt()).toBe(false); // IR1 in service blocks IR6
    ctx.out8(0x20, 0x20); // non-specific EOI
    expect(readIsr(0x20)).toBe(0);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x26);
  });

  it("pic_higherPriorityRequest_nestsOverInService", () => {
    initPc();
    pic.setLine(4, true);
    expect(pic.acknowledge()).toBe(0x24);
    pic.setLine(0, true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x20);
    expect(readIsr(0x20)).toBe(0x11);
    ctx.out8(0x20, 0x20); // non-specific EOI clears the highest in-service level (IR0)
    expect(readIsr(0x20)).toBe(0x10);
  });

  it("pic_specificEoi_clearsOnlyNamedLevel", () => {
    initPc();
    pic.setLine(4, true);
    pic.acknowledge();
    pic.setLine(0, true);
    pic.acknowledge();
    ctx.out8(0x20, 0x64); // specific EOI, level 4
    expect(readIsr(0x20)).toBe(0x01);
  });

  it("pic_autoEoi_leavesIsrClear", () => {
    initPc(0x20, 0x28, 0x03);
    pic.setLine(5, true);
    expect(pic.acknowledge()).toBe(0x25);
    expect(readIsr(0x20)).toBe(0);
  });

  it("pic_rotateOnNonSpecificEoi_makesServedLevelLowest", () => {
    initPc();
    pic.setLine(1, true);
    pic.acknowledge();
    ctx.out8(0x20, 0xa0); // rotate on non-specific EOI: IR1 becomes lowest, IR2 highest
    pic.setLine(1, false);
    pic.setLine(1, true);
    pic.setLine(3, true);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it("pic_edgeRequest_notRepeatedWhileLineStaysHigh", () => {
    initPc();
    pic.setLine(3, true);
    pic.acknowledge();
    ctx.out8(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(false);
  });
});

describe("8259A cascade", () => {
  it("pic_slaveRequest_deliversSlaveVectorAndSetsBothIsr", () => {
    initPc(0x08, 0x70);
    pic.setLine(14, true);
    expect(readIrr(0x20) & 0x04).toBe(0x04);
    expect(pic.acknowledge()).toBe(0x76);
    expect(readIsr(0x20)).toBe(0x04);
    expect(readIsr(0xa0)).toBe(0x40);
  });

  it("pic_slaveMasked_noInterrupt", () => {
    initPc();
    ctx.out8(0xa1, 0x01);
    pic.setLine(8, true);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("pic_secondSlaveRequest_waitsForBothEois", () => {
    initPc();
    pic.setLine(12, true);
    expect(pic.acknowledge()).toBe(0x2c);
    pic.setLine(10, true); // higher priority than 12 on the slave, but master IR2 is in service
    expect(pic.hasInterrupt()).toBe(false);
    ctx.out8(0xa0, 0x20);
    expect(pic.hasInterrupt()).toBe(false);
    ctx.out8(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x2a);
  });

  it("pic_specialFullyNestedMode_letsHigherSlaveRequestThrough", () => {
    initPc(0x20, 0x28, 0x11); // ICW4 SFNM on the master
    pic.setLine(12, true);
    expect(pic.acknowledge()).toBe(0x2c);
    pic.setLine(9, true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x29);
  });

  it("pic_isaIrq2_isWiredToIrq9", () => {
    initPc();
    pic.setLine(2, true);
    expect(pic.acknowledge()).toBe(0x29);
  });
});

describe("8259A spurious interrupts (default IR7)", () => {
  it("pic_masterRequestVanishes_intrDropsAndInta_returnsIr7WithoutIsr", () => {
    initPc(0x08, 0x70);
    pulse(4);
    expect(pic.hasInterrupt()).toBe(false);
    expect(intrLog).toEqual([true, false]);
    expect(pic.acknowledge()).toBe(0x0f);
    expect(readIsr(0x20)).toBe(0);
  });

  it("pic_slaveRequestVanishes_inta_returnsIrq15AndMasterIr2InService", () => {
    initPc(0x08, 0x70);
    pulse(12);
    expect(pic.hasInterrupt()).toBe(true); // master latched the slave's INT edge
    expect(pic.acknowledge()).toBe(0x77);
    expect(readIsr(0xa0)).toBe(0);
    expect(readIsr(0x20)).toBe(0x04); // so the handler must EOI the master only
    ctx.out8(0x20, 0x20);
    expect(readIsr(0x20)).toBe(0);
  });
});

describe("8259A trigger modes", () => {
  it("pic_ltimLevelMode_requestsAgainAfterEoiWhileHigh", () => {
    ctx.out8(0x20, 0x19); // ICW1 with LTIM
    ctx.out8(0x21, 0x20);
    ctx.out8(0x21, 0x04);
    ctx.out8(0x21, 0x01);
    pic.setLine(3, true);
    expect(pic.acknowledge()).toBe(0x23);
    ctx.out8(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(true);
    pic.setLine(3, false);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it("pic_elcrBit_makesThatLineLevelTriggered", () => {
    initPc();
    ctx.out8(0x4d1, 0x08); // IRQ 11 level triggered
    expect(ctx.in8(0x4d1)).toBe(0x08);
    pic.setLine(11, true);
    expect(pic.acknowledge()).toBe(0x2b);
    ctx.out8(0xa0, 0x20);
    ctx.out8(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(true); // still asserted: requested again
    expect(pic.acknowledge()).toBe(0x2b);
  });

  it("pic_elcrReservedBits_readZero", () => {
    ctx.out8(0x4d0, 0xff);
    ctx.out8(0x4d1, 0xff);
    expect(ctx.in8(0x4d0)).toBe(0xf8); // IRQ 0, 1, 2 always edge
    expect(ctx.in8(0x4d1)).toBe(0xde); // IRQ 8, 13 always edge
  });
});

describe("8259A OCW3 extras", () => {
  it("pic_pollCommand_returnsLevelAndAcknowledges", () => {
    initPc();
    pic.setLine(6, true);
    ctx.out8(0x20, 0x0c); // OCW3 poll
    expect(ctx.in8(0x20)).toBe(0x86);
    expect(readIsr(0x20)).toBe(0x40);
    ctx.out8(0x20, 0x0c);
    expect(ctx.in8(0x20)).toBe(0x00); // nothing pending now
  });

  it("pic_specialMaskMode_allowsLowerLevelWhileHigherInServiceIsMasked", () => {
    initPc();
    pic.setLine(1, true);
    pic.acknowledge();
    pic.setLine(5, true);
    expect(pic.hasInterrupt()).toBe(false);
    ctx.out8(0x21, 0x02); // mask IR1
    ctx.out8(0x20, 0x68); // OCW3: set special mask mode
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x25);
  });
});

describe("8259A state", () => {
  it("pic_saveLoad_roundTripsPendingAndInService", () => {
    initPc();
    pic.setLine(4, true);
    pic.acknowledge();
    pic.setLine(0, true);
    const saved = pic.saveState();
    const other = new Pic();
    other.loadState(pic.stateSchema.parse(JSON.parse(JSON.stringify(saved))));
    expect(other.hasInterrupt()).toBe(true);
    expect(other.acknowledge()).toBe(0x20);
    expect(other.saveState().master.isr).toBe(0x11);
  });
});
