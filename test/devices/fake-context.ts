/**
 * A DeviceContext for device unit tests: a real PortBus, a real Scheduler, a
 * real PhysicalMemory, and a guest clock the test moves by hand. Every IRQ
 * line change, reset request and A20 change is recorded.
 */
import { PortBus } from "../../src/bus/ports.ts";
import type { DeviceContext } from "../../src/devices/device.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";
import { type GuestClock, Scheduler } from "../../src/time/scheduler.ts";

export class FakeClock implements GuestClock {
  ns = 0;
  constructor(readonly epochMs = 0) {}
  nowNs(): number {
    return this.ns;
  }
}

export interface IrqEvent {
  line: number;
  level: boolean;
  atNs: number;
}

export class FakeContext implements DeviceContext {
  readonly ports = new PortBus();
  readonly clock: FakeClock;
  readonly scheduler = new Scheduler();
  readonly mem = new PhysicalMemory({ ramBytes: 2 * 1024 * 1024 });
  /** Current level of each IRQ line as last driven. */
  readonly irq: boolean[] = new Array(16).fill(false);
  /** Every setIrq call, in order. */
  readonly irqLog: IrqEvent[] = [];
  readonly resets: string[] = [];
  a20 = false;
  readonly a20Log: boolean[] = [];
  /** Optional hook (e.g. a PIC under test) called for every setIrq. */
  onIrq: ((line: number, level: boolean) => void) | null = null;

  constructor(epochMs = 0) {
    this.clock = new FakeClock(epochMs);
  }

  setIrq(line: number, level: boolean): void {
    this.irq[line] = level;
    this.irqLog.push({ line, level, atNs: this.clock.ns });
    this.onIrq?.(line, level);
  }

  requestReset(reason: string): void {
    this.resets.push(reason);
  }

  setA20(enabled: boolean): void {
    this.a20 = enabled;
    this.a20Log.push(enabled);
  }

  getA20(): boolean {
    return this.a20;
  }

  /**
   * Move guest time to `ns`, running every task that falls due on the way
   * with the clock set to the task's due time (as a machine that checks the
   * scheduler between instructions would).
   */
  advanceTo(ns: number): void {
    while (this.scheduler.nextDue() <= ns) {
      const due = this.scheduler.nextDue();
      if (due > this.clock.ns) this.clock.ns = due;
      this.scheduler.runDue(due);
    }
    this.clock.ns = ns;
  }

  advanceBy(ns: number): void {
    this.advanceTo(this.clock.ns + ns);
  }

  /** Run due tasks late: the clock is already at `ns` when they run (a machine that checks rarely). */
  jumpTo(ns: number): void {
    this.clock.ns = ns;
    this.scheduler.runDue(ns);
  }

  /** IRQ changes of one line since index `from` of irqLog. */
  edges(line: number, from = 0): IrqEvent[] {
    return this.irqLog.slice(from).filter((e) => e.line === line);
  }

  in8(port: number): number {
    return this.ports.in8(port);
  }

  out8(port: number, v: number): void {
    this.ports.out8(port, v);
  }
}
