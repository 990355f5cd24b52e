/**
 * System Control Port A (0x92), the PS/2 "fast A20 and reset" port: bit 1
 * gates A20, and a 0-to-1 transition of bit 0 pulses the CPU reset line
 * (IBM PS/2 technical reference; the same port on the PIIX and its
 * successors). Bit 0 reads back as written; bit 1 reads the A20 gate.
 */
import { z } from "zod";
import { Width } from "../bus/ports.ts";
import type { Device, DeviceContext } from "./device.ts";

const Port92State = z.object({ v: z.literal(1), value: z.number().int().min(0).max(255) });
export type Port92State = z.infer<typeof Port92State>;

const FAST_A20 = 0x02;
const RESET = 0x01;

export class Port92 implements Device<Port92State> {
  readonly name = "port92";
  readonly stateSchema = Port92State;
  private value = 0;
  private ctx: DeviceContext | null = null;

  attach(ctx: DeviceContext): void {
    this.ctx = ctx;
    ctx.ports.register(
      0x92,
      1,
      this.name,
      Width.B,
      () => this.read(),
      (_p, v) => this.write(v),
    );
  }

  reset(): void {
    this.value = 0;
  }

  private read(): number {
    const a20 = this.ctx === null ? (this.value & FAST_A20) !== 0 : this.ctx.getA20();
    return (this.value & ~FAST_A20) | (a20 ? FAST_A20 : 0);
  }

  private write(v: number): void {
    const old = this.value;
    this.value = v;
    if ((old ^ v) & FAST_A20) this.ctx?.setA20((v & FAST_A20) !== 0);
    if (!(old & RESET) && v & RESET) this.ctx?.requestReset("port 0x92 bit 0");
  }

  saveState(): Port92State {
    return { v: 1, value: this.value };
  }

  loadState(state: Port92State): void {
    this.value = Port92State.parse(state).value;
  }
}
