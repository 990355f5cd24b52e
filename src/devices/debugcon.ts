/**
 * Bochs/QEMU debug console port 0xE9: every byte written goes to `onByte`;
 * reading the port returns E9h, which is how guests detect it.
 */
import { z } from "zod";
import { Width } from "../bus/ports.ts";
import type { Device, DeviceContext } from "./device.ts";

const DebugConState = z.object({ v: z.literal(1) });
export type DebugConState = z.infer<typeof DebugConState>;

export class DebugCon implements Device<DebugConState> {
  readonly name = "debugcon";
  readonly stateSchema = DebugConState;
  onByte: ((byte: number) => void) | null = null;

  attach(ctx: DeviceContext): void {
    ctx.ports.register(
      0xe9,
      1,
      this.name,
      Width.B,
      () => 0xe9,
      (_p, v) => this.onByte?.(v),
    );
  }

  reset(): void {}

  saveState(): DebugConState {
    return { v: 1 };
  }

  loadState(state: DebugConState): void {
    DebugConState.parse(state);
  }
}
