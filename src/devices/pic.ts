/**
 * The PC/AT pair of 8259A programmable interrupt controllers: master at
 * 0x20/0x21 (IRQ 0-7), slave at 0xA0/0xA1 (IRQ 8-15) cascaded on the
 * master's IR2, plus the PIIX edge/level control registers (ELCR) at
 * 0x4D0/0x4D1.
 *
 * Behaviour follows the Intel 8259A datasheet (order no. 231468):
 * initialization words ICW1-ICW4, operation words OCW1-OCW3, IRR/ISR reads,
 * specific and non-specific EOI, automatic EOI, priority rotation, special
 * mask mode, special fully nested mode, poll command, and the "default IR7"
 * (spurious interrupt) returned when a request disappears before INTA.
 *
 * The ISA IRQ 2 pin is wired to IRQ 9 on an AT (the master's IR2 carries the
 * slave), so `setLine(2, ...)` drives line 9.
 *
 * Spurious interrupts: a request on IRQ 0-7 that goes low before INTA is
 * withdrawn (INTR drops; an INTA anyway gets vector base+7 and no ISR bit).
 * A slave request that goes away after the master latched the slave's INT
 * leaves the master's IR2 request standing, and INTA then returns the slave's
 * base+7 with the master's IR2 in service (the PC's spurious IRQ 15).
 */
import { z } from "zod";
import { Width } from "../bus/ports.ts";
import type { Device, DeviceContext } from "./device.ts";

const ChipState = z.object({
  irr: z.number().int(),
  isr: z.number().int(),
  imr: z.number().int(),
  lines: z.number().int(),
  elcr: z.number().int(),
  icw1: z.number().int(),
  icw2: z.number().int(),
  icw3: z.number().int(),
  icw4: z.number().int(),
  initStep: z.number().int(),
  readIsr: z.boolean(),
  poll: z.boolean(),
  specialMask: z.boolean(),
  rotateOnAeoi: z.boolean(),
  lowest: z.number().int(),
});
type ChipState = z.infer<typeof ChipState>;

const PicState = z.object({ v: z.literal(1), master: ChipState, slave: ChipState, intr: z.boolean() });
export type PicState = z.infer<typeof PicState>;

// ICW1 bits (8259A datasheet, "Initialization Command Word 1").
const ICW1_IC4 = 0x01;
const ICW1_SNGL = 0x02;
const ICW1_LTIM = 0x08;
// ICW4 bits.
const ICW4_AEOI = 0x02;
const ICW4_SFNM = 0x10;

/** One 8259A. The pair (below) wires two of them together. */
class Chip {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Current level of the eight IR inputs, for edge detection. */
  lines = 0;
  /** PIIX ELCR: 1 = that input is level triggered (ignored when ICW1.LTIM makes all inputs level). */
  elcr = 0;
  icw1 = 0;
  icw2 = 0;
  icw3 = 0;
  icw4 = 0;
  /** 0 = ready; 2, 3, 4 = waiting for that ICW on the odd port. */
  initStep = 0;
  readIsr = false;
  poll = false;
  specialMask = false;
  rotateOnAeoi = false;
  /** The level with the lowest priority; the highest is (lowest + 1) & 7. Reset: IR7 lowest. */
  lowest = 7;

  constructor(
    readonly isMaster: boolean,
    readonly elcrMask: number,
  ) {}

  powerOn(vectorBase: number, icw3: number): void {
    this.irr = 0;
    this.isr = 0;
    this.imr = 0;
    this.lines = 0;
    this.elcr = 0;
    this.icw1 = ICW1_IC4;
    this.icw2 = vectorBase;
    this.icw3 = icw3;
    this.icw4 = 0x01; // 8086 mode
    this.initStep = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.rotateOnAeoi = false;
    this.lowest = 7;
  }

  levelMask(): number {
    return this.icw1 & ICW1_LTIM ? 0xff : this.elcr;
  }

  /** An IR input changed. Edge mode latches rising edges; in both modes a low input withdraws the request. */
  setInput(bit: number, level: boolean): void {
    const m = 1 << bit;
    if (level) {
      if (this.levelMask() & m || (this.lines & m) === 0) this.irr |= m;
      this.lines |= m;
    } else {
      // Datasheet: "the IR input must remain high until after the falling edge of the first INTA";
      // a request that goes away before that is lost (and a pending INTA then gets IR7).
      this.lines &= ~m;
      this.irr &= ~m;
    }
  }

  private priorityOrder(i: number): number {
    return (this.lowest + 1 + i) & 7;
  }

  /** Highest-priority request allowed through IMR/ISR, or -1. */
  pending(): number {
    const req = this.irr & ~this.imr;
    if (req === 0) return -1;
    let blocking = this.isr;
    // Special mask mode: a masked level's in-service bit does not inhibit other levels.
    if (this.specialMask) blocking &= ~this.imr;
    const sfnm = this.isMaster && (this.icw4 & ICW4_SFNM) !== 0;
    for (let i = 0; i < 8; i++) {
      const irq = this.priorityOrder(i);
      const m = 1 << irq;
      if (blocking & m) {
        // Special fully nested mode: a slave already in service may still raise a
        // higher-priority request of its own through the same cascade input.
        if (sfnm && this.icw3 & m && req & m) return irq;
        if (!this.specialMask) return -1;
        continue;
      }
      if (req & m) return irq;
    }
    return -1;
  }

  /** The INTA effect on this chip for level `irq`: IRR -> ISR (unless AEOI). */
  ackLevel(irq: number): void {
    const m = 1 << irq;
    this.irr &= ~m;
    if (this.levelMask() & m && this.lines & m) this.irr |= m; // level input still asserted
    if (this.icw4 & ICW4_AEOI) {
      if (this.rotateOnAeoi) this.lowest = irq;
    } else {
      this.isr |= m;
    }
  }

  /** Highest-priority in-service level, or -1 (what a non-specific EOI clears). */
  highestInService(): number {
    for (let i = 0; i < 8; i++) {
      const irq = this.priorityOrder(i);
      if (this.isr & (1 << irq)) return irq;
    }
    return -1;
  }

  vector(irq: number): number {
    return (this.icw2 & 0xf8) | irq;
  }

  isCascade(irq: number): boolean {
    return this.isMaster && (this.icw1 & ICW1_SNGL) === 0 && (this.icw3 & (1 << irq)) !== 0;
  }

  /** Write to the even port (A0 = 0): ICW1, OCW2 or OCW3. */
  writeCommand(v: number): void {
    if (v & 0x10) {
      // ICW1 (datasheet: the initialization sequence resets the edge-sense circuit,
      // clears the IMR, gives IR7 the lowest priority, clears special mask mode and
      // selects IRR for status reads; if IC4 = 0, all ICW4 functions are zero).
      this.icw1 = v;
      this.imr = 0;
      this.isr = 0;
      this.irr = this.lines & this.levelMask();
      this.lowest = 7;
      this.specialMask = false;
      this.readIsr = false;
      this.poll = false;
      this.rotateOnAeoi = false;
      if ((v & ICW1_IC4) === 0) this.icw4 = 0;
      this.initStep = 2;
      return;
    }
    if (v & 0x08) {
      // OCW3: ESMM/SMM (bits 6,5), P (bit 2), RR/RIS (bits 1,0).
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
      if (v & 0x04) this.poll = true;
      if (v & 0x02) this.readIsr = (v & 0x01) !== 0;
      return;
    }
    // OCW2: R SL EOI (bits 7-5), level L2-L0 (bits 2-0).
    const level = v & 7;
    switch (v >>> 5) {
      case 0b001: {
        const irq = this.highestInService();
        if (irq >= 0) this.isr &= ~(1 << irq);
        break;
      }
      case 0b011:
        this.isr &= ~(1 << level);
        break;
      case 0b101: {
        const irq = this.highestInService();
        if (irq >= 0) {
          this.isr &= ~(1 << irq);
          this.lowest = irq;
        }
        break;
      }
      case 0b111:
        this.isr &= ~(1 << level);
        this.lowest = level;
        break;
      case 0b110:
        this.lowest = level;
        break;
      case 0b100:
        this.rotateOnAeoi = true;
        break;
      case 0b000:
        this.rotateOnAeoi = false;
        break;
      default: // 0b010: no operation
        break;
    }
  }

  /** Write to the odd port (A0 = 1): ICW2-4 during initialization, otherwise OCW1 (IMR). */
  writeData(v: number): void {
    switch (this.initStep) {
      case 2:
        this.icw2 = v;
        this.initStep = this.icw1 & ICW1_SNGL ? (this.icw1 & ICW1_IC4 ? 4 : 0) : 3;
        return;
      case 3:
        this.icw3 = v;
        this.initStep = this.icw1 & ICW1_IC4 ? 4 : 0;
        return;
      case 4:
        this.icw4 = v;
        this.initStep = 0;
        return;
      default:
        this.imr = v;
    }
  }

  save(): ChipState {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      lines: this.lines,
      elcr: this.elcr,
      icw1: this.icw1,
      icw2: this.icw2,
      icw3: this.icw3,
      icw4: this.icw4,
      initStep: this.initStep,
      readIsr: this.readIsr,
      poll: this.poll,
      specialMask: this.specialMask,
      rotateOnAeoi: this.rotateOnAeoi,
      lowest: this.lowest,
    };
  }

  load(s: ChipState): void {
    this.irr = s.irr;
    this.isr = s.isr;
    this.imr = s.imr;
    this.lines = s.lines;
    this.elcr = s.elcr & this.elcrMask;
    this.icw1 = s.icw1;
    this.icw2 = s.icw2;
    this.icw3 = s.icw3;
    this.icw4 = s.icw4;
    this.initStep = s.initStep;
    this.readIsr = s.readIsr;
    this.poll = s.poll;
    this.specialMask = s.specialMask;
    this.rotateOnAeoi = s.rotateOnAeoi;
    this.lowest = s.lowest & 7;
  }
}

export class Pic implements Device<PicState> {
  readonly name = "pic";
  readonly stateSchema = PicState;
  // PIIX ELCR: IRQ 0, 1, 2, 8 and 13 are always edge triggered (read-only zero bits).
  private readonly master = new Chip(true, 0xf8);
  private readonly slave = new Chip(false, 0xde);
  private intr = false;
  /** The INTR output to the CPU; called whenever its level changes. */
  onIntr: ((level: boolean) => void) | null = null;

  constructor() {
    this.powerOn();
  }

  attach(ctx: DeviceContext): void {
    const p = ctx.ports;
    p.register(
      0x20,
      2,
      this.name,
      Width.B,
      (port) => this.read(this.master, port),
      (port, v) => this.write(this.master, port, v),
    );
    p.register(
      0xa0,
      2,
      this.name,
      Width.B,
      (port) => this.read(this.slave, port),
      (port, v) => this.write(this.slave, port, v),
    );
    p.register(
      0x4d0,
      2,
      this.name,
      Width.B,
      (port) => (port === 0x4d0 ? this.master.elcr : this.slave.elcr),
      (port, v) => this.writeElcr(port === 0x4d0 ? this.master : this.slave, v),
    );
  }

  private powerOn(): void {
    // The 8259A has no defined power-on state; choose the PC convention (vectors
    // 08h and 70h, slave on IR2) so that nothing odd happens before the BIOS runs.
    this.master.powerOn(0x08, 0x04);
    this.slave.powerOn(0x70, 0x02);
    this.intr = false;
  }

  reset(): void {
    const masterLines = this.master.lines;
    const slaveLines = this.slave.lines;
    this.powerOn();
    // Input levels are outside the chip: keep them, as edges (not levels) start requests.
    this.master.lines = masterLines & ~0x04;
    this.slave.lines = slaveLines;
    this.update();
  }

  /** Drive ISA interrupt line `irq` (0-15). Line 2 is the AT's IRQ 2/9 pin, i.e. line 9. */
  setLine(irq: number, level: boolean): void {
    if (irq === 2) irq = 9;
    if (irq < 8) this.master.setInput(irq, level);
    else this.slave.setInput(irq & 7, level);
    this.update();
  }

  /** INTR output level. */
  hasInterrupt(): boolean {
    return this.intr;
  }

  /**
   * The CPU's INTA cycle: returns the vector and moves the request from IRR to
   * ISR. When no request is left (it vanished after INTR was raised), the
   * datasheet's default IR7 is returned without setting ISR: vector base+7 of
   * the master, or of the slave when the master passed the request on to it
   * (the master's IR2 stays in service then, as on a real PC).
   */
  acknowledge(): number {
    const m = this.master;
    const irq = m.pending();
    let vector: number;
    if (irq < 0) {
      vector = m.vector(7);
    } else {
      m.ackLevel(irq);
      if (m.isCascade(irq)) {
        const s = this.slave.pending();
        if (s < 0) vector = this.slave.vector(7);
        else {
          this.slave.ackLevel(s);
          vector = this.slave.vector(s);
        }
      } else {
        vector = m.vector(irq);
      }
    }
    this.update();
    return vector;
  }

  /** Recompute the slave's INT (the master's IR2 input) and the master's INTR output. */
  private update(): void {
    const slaveInt = this.slave.pending() >= 0;
    if (slaveInt !== ((this.master.lines & 0x04) !== 0)) {
      // The master latches the slave's INT like any edge; when the slave's request
      // then goes away, the master still passes the INTA on to the slave, which
      // answers with its default IR7: the spurious IRQ 15 of a real PC.
      if (slaveInt) this.master.setInput(2, true);
      else this.master.lines &= ~0x04;
    }
    const intr = this.master.pending() >= 0;
    if (intr !== this.intr) {
      this.intr = intr;
      this.onIntr?.(intr);
    }
  }

  private read(chip: Chip, port: number): number {
    if ((port & 1) === 0) {
      if (chip.poll) {
        // Poll command (OCW3 P=1): the next read acts as an INTA on this chip
        // and returns I (bit 7) and the level W2-W0.
        chip.poll = false;
        const irq = chip.pending();
        if (irq < 0) return 0;
        chip.ackLevel(irq);
        this.update();
        return 0x80 | irq;
      }
      return chip.readIsr ? chip.isr : chip.irr;
    }
    return chip.imr;
  }

  private write(chip: Chip, port: number, v: number): void {
    if ((port & 1) === 0) chip.writeCommand(v);
    else chip.writeData(v);
    this.update();
  }

  private writeElcr(chip: Chip, v: number): void {
    chip.elcr = v & chip.elcrMask;
    chip.irr |= chip.lines & chip.levelMask();
    this.update();
  }

  saveState(): PicState {
    return { v: 1, master: this.master.save(), slave: this.slave.save(), intr: this.intr };
  }

  loadState(state: PicState): void {
    const s = PicState.parse(state);
    this.master.load(s.master);
    this.slave.load(s.slave);
    this.intr = s.intr;
  }
}
