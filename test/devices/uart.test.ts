// 16550A tests through ports 0x3F8-0x3FF, as a BIOS or Linux's 8250 driver programs it.
// References: National Semiconductor PC16550D datasheet: register summary,
// IIR interrupt priority table, FCR trigger levels, FIFO timeout rule, MCR
// loopback wiring; the PC wires the INTRPT pin through OUT2.
import { beforeEach, describe, expect, it } from "vitest";
import { Uart } from "../../src/devices/uart.ts";
import { FakeContext } from "./fake-context.ts";

const COM1 = 0x3f8;
const THR = COM1;
const RBR = COM1;
const IER = COM1 + 1;
const IIR = COM1 + 2;
const FCR = COM1 + 2;
const LCR = COM1 + 3;
const MCR = COM1 + 4;
const LSR = COM1 + 5;
const MSR = COM1 + 6;
const SCR = COM1 + 7;

let ctx: FakeContext;
let uart: Uart;
let sent: number[];

beforeEach(() => {
  ctx = new FakeContext();
  uart = new Uart();
  uart.attach(ctx);
  sent = [];
  uart.onTransmit = (b) => sent.push(b);
});

/** 9600 baud 8N1 with OUT2 (interrupts routed), as a console driver sets it up. */
function setup9600(fcr: number): void {
  ctx.out8(LCR, 0x80);
  ctx.out8(COM1, 12);
  ctx.out8(COM1 + 1, 0);
  ctx.out8(LCR, 0x03);
  ctx.out8(FCR, fcr);
  ctx.out8(MCR, 0x0b); // DTR, RTS, OUT2
}

describe("16550A registers", () => {
  it("uart_dlab_switchesOffsets0And1ToDivisorLatch", () => {
    ctx.out8(LCR, 0x83);
    ctx.out8(COM1, 0x01);
    ctx.out8(COM1 + 1, 0x02);
    expect([ctx.in8(COM1), ctx.in8(COM1 + 1)]).toEqual([0x01, 0x02]);
    ctx.out8(LCR, 0x03);
    expect(ctx.in8(IER)).toBe(0x00);
    expect(ctx.in8(LCR)).toBe(0x03);
    expect(sent).toEqual([]); // the divisor write was not a transmit
  });

  it("uart_ier_onlyLowFourBitsStick", () => {
    ctx.out8(IER, 0xff);
    expect(ctx.in8(IER)).toBe(0x0f);
  });

  it("uart_scratch_readsBack", () => {
    ctx.out8(SCR, 0x5a);
    expect(ctx.in8(SCR)).toBe(0x5a);
  });

  it("uart_iirFifoBits_followFcrEnable_andBits5And4StayZero", () => {
    expect(ctx.in8(IIR)).toBe(0x01);
    ctx.out8(FCR, 0x21); // enable + the 16750 64-byte bit, which a 16550A ignores
    expect(ctx.in8(IIR)).toBe(0xc1);
    ctx.out8(FCR, 0x00);
    expect(ctx.in8(IIR)).toBe(0x01);
  });
});

describe("16550A transmit", () => {
  it("uart_thrWrite_transmitsAtOnceAndLsrShowsEmpty", () => {
    ctx.out8(THR, 0x41);
    ctx.out8(THR, 0x42);
    expect(sent).toEqual([0x41, 0x42]);
    expect(ctx.in8(LSR)).toBe(0x60); // THRE | TEMT, no data
  });

  it("uart_enableEtbei_raisesThreInterrupt_clearedByIirRead", () => {
    setup9600(0x00);
    ctx.out8(IER, 0x02);
    expect(ctx.irq[4]).toBe(true);
    expect(ctx.in8(IIR)).toBe(0x02);
    expect(ctx.irq[4]).toBe(false);
    expect(ctx.in8(IIR)).toBe(0x01);
    ctx.out8(THR, 0x0a); // THR empties again at once: new THRE interrupt
    expect(ctx.irq[4]).toBe(true);
  });

  it("uart_withoutOut2_irqLineStaysLow", () => {
    ctx.out8(MCR, 0x03);
    ctx.out8(IER, 0x02);
    expect(ctx.in8(IIR) & 0x0f).toBe(0x02); // pending inside the UART...
    expect(ctx.irqLog).toEqual([]); // ...but the PC's OUT2 buffer keeps IRQ 4 low
  });
});

describe("16550A receive FIFO", () => {
  it.each([
    { fcr: 0x07, level: 1 },
    { fcr: 0x47, level: 4 },
    { fcr: 0x87, level: 8 },
    { fcr: 0xc7, level: 14 },
  ])("uart_triggerLevel$level_dataAvailableOnlyAtLevel", ({ fcr, level }) => {
    setup9600(fcr);
    ctx.out8(IER, 0x01);
    for (let i = 0; i < level - 1; i++) uart.receive(0x30 + i);
    expect(ctx.in8(IIR)).toBe(0xc1);
    expect(ctx.irq[4]).toBe(false);
    uart.receive(0x7a);
    expect(ctx.in8(IIR)).toBe(0xc4);
    expect(ctx.irq[4]).toBe(true);
    const got: number[] = [];
    while (ctx.in8(LSR) & 0x01) got.push(ctx.in8(RBR));
    expect(got.length).toBe(level);
    expect(got[level - 1]).toBe(0x7a);
    expect(ctx.irq[4]).toBe(false);
  });

  it("uart_characterTimeout_afterFourCharTimesBelowTrigger", () => {
    setup9600(0x87); // trigger 8
    ctx.out8(IER, 0x01);
    uart.receive(0x61);
    uart.receive(0x62);
    // 9600 8N1: 10 bits x divisor 12 / 115200 Hz = 1.0417 ms per character; four = 4.1667 ms.
    const timeout = Math.ceil((4 * 10 * 12 * 1e9) / 115200);
    ctx.advanceTo(timeout - 1);
    expect(ctx.in8(IIR)).toBe(0xc1);
    ctx.advanceTo(timeout);
    expect(ctx.in8(IIR)).toBe(0xcc);
    expect(ctx.irq[4]).toBe(true);
    expect(ctx.in8(RBR)).toBe(0x61); // a read clears the timeout and restarts the timer
    expect(ctx.in8(IIR)).toBe(0xc1);
    expect(ctx.irq[4]).toBe(false);
    ctx.advanceTo(2 * timeout);
    expect(ctx.in8(IIR)).toBe(0xcc);
    expect(ctx.in8(RBR)).toBe(0x62);
    ctx.advanceTo(4 * timeout);
    expect(ctx.in8(IIR)).toBe(0xc1); // empty: no timeout
  });

  it("uart_newByte_restartsTimeoutTimer", () => {
    setup9600(0x87);
    ctx.out8(IER, 0x01);
    const timeout = Math.ceil((4 * 10 * 12 * 1e9) / 115200);
    uart.receive(1);
    ctx.advanceTo(timeout - 10);
    uart.receive(2);
    ctx.advanceTo(timeout + 10);
    expect(ctx.in8(IIR)).toBe(0xc1);
    ctx.advanceTo(2 * timeout - 10);
    expect(ctx.in8(IIR)).toBe(0xcc);
  });

  it("uart_rxSpace_tracksFifoAndMode", () => {
    expect(uart.rxSpace()).toBe(1); // FIFO off: the holding register only
    ctx.out8(FCR, 0x01);
    uart.receive(1);
    uart.receive(2);
    expect(uart.rxSpace()).toBe(14);
    ctx.out8(FCR, 0x03); // clear RX FIFO
    expect(uart.rxSpace()).toBe(16);
    expect(ctx.in8(LSR) & 0x01).toBe(0);
    ctx.out8(MCR, 0x10);
    expect(uart.rxSpace()).toBe(0); // loopback disconnects the input
    expect(uart.receive(5)).toBe(false);
  });

  it("uart_fullFifo_overrunSetsOeAndKeepsFifo", () => {
    ctx.out8(FCR, 0x01);
    for (let i = 0; i < 16; i++) expect(uart.receive(i)).toBe(true);
    expect(uart.receive(99)).toBe(false);
    expect(ctx.in8(LSR) & 0x03).toBe(0x03); // DR | OE
    expect(ctx.in8(LSR) & 0x02).toBe(0); // OE cleared by the LSR read
    const got: number[] = [];
    while (ctx.in8(LSR) & 0x01) got.push(ctx.in8(RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });
});

describe("16550A interrupt priority (IIR)", () => {
  it("uart_iirPriority_lineStatusThenDataThenThreThenModem", () => {
    setup9600(0x00);
    uart.receive(0x11);
    uart.receive(0x22); // overrun in non-FIFO mode
    ctx.out8(IER, 0x0f);
    expect(ctx.in8(IIR)).toBe(0x06); // receiver line status first
    expect(ctx.in8(LSR) & 0x02).toBe(0x02);
    expect(ctx.in8(IIR)).toBe(0x04); // then received data
    expect(ctx.in8(RBR)).toBe(0x11);
    expect(ctx.in8(IIR)).toBe(0x02); // then THR empty (reading IIR clears it)
    expect(ctx.in8(IIR)).toBe(0x01);
    ctx.out8(MCR, 0x10); // loopback with outputs off: CTS, DSR, DCD drop -> delta bits
    expect(ctx.in8(IIR)).toBe(0x00); // modem status last
    expect(ctx.in8(MSR)).toBe(0x0b); // DCTS, DDSR, DDCD; no inputs asserted
    expect(ctx.in8(IIR)).toBe(0x01);
  });
});

describe("16550A loopback", () => {
  it("uart_loopback_msrMirrorsMcrAsLinuxProbeExpects", () => {
    ctx.out8(MCR, 0x1a); // LOOP | OUT2 | RTS
    expect(ctx.in8(MSR) & 0xf0).toBe(0x90); // DCD | CTS
    ctx.out8(MCR, 0x15); // LOOP | OUT1 | DTR
    expect(ctx.in8(MSR) & 0xf0).toBe(0x60); // RI | DSR
  });

  it("uart_loopback_transmittedByteIsReceivedNotSent", () => {
    ctx.out8(FCR, 0x01);
    ctx.out8(MCR, 0x10);
    ctx.out8(THR, 0x55);
    expect(sent).toEqual([]);
    expect(ctx.in8(LSR) & 0x01).toBe(0x01);
    expect(ctx.in8(RBR)).toBe(0x55);
  });

  it("uart_loopback_irqLineHeldOffEvenWithOut2", () => {
    ctx.out8(MCR, 0x18);
    ctx.out8(IER, 0x02);
    expect(ctx.in8(IIR) & 0x0f).toBe(0x02);
    expect(ctx.irq[4]).toBe(false);
  });

  it("uart_notLoopback_modemInputsShowCarrierAndClear", () => {
    expect(ctx.in8(MSR)).toBe(0xb0);
  });
});

describe("16550A state", () => {
  it("uart_saveLoad_keepsFifoAndSettings", () => {
    setup9600(0x47);
    uart.receive(7);
    uart.receive(8);
    const saved = JSON.parse(JSON.stringify(uart.saveState()));
    const c = new FakeContext();
    const u = new Uart();
    u.attach(c);
    u.loadState(u.stateSchema.parse(saved));
    expect(c.in8(RBR)).toBe(7);
    expect(c.in8(LSR) & 0x01).toBe(1);
    expect(u.rxSpace()).toBe(15);
  });
});
