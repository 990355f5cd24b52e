import type { z } from "zod";
import type { PortBus } from "../bus/ports.ts";
import type { PhysicalMemory } from "../memory/physical.ts";
import type { GuestClock, Scheduler } from "../time/scheduler.ts";

/** What a device may touch. No CPU. */
export interface DeviceContext {
  readonly ports: PortBus;
  readonly clock: GuestClock;
  readonly scheduler: Scheduler;
  /** Physical memory, for the few devices that see it (VGA text window). */
  readonly mem: PhysicalMemory;
  /** Drive an ISA IRQ line (0-15) high or low; the PIC sees edges/levels. */
  setIrq(line: number, level: boolean): void;
  /** Machine-level requests: reset (8042, port 0x92), A20 gate changes. */
  requestReset(reason: string): void;
  setA20(enabled: boolean): void;
  getA20(): boolean;
}

export interface Device<S> {
  readonly name: string;
  readonly stateSchema: z.ZodType<S>;
  attach(ctx: DeviceContext): void;
  reset(): void;
  saveState(): S;
  loadState(state: S): void;
}
