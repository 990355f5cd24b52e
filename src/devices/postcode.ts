/**
 * POST code port 0x80: BIOSes and test programs (test386.asm) report progress
 * by writing a byte here. Linux also writes to it as an I/O delay, so the
 * history is bounded: it keeps the most recent `historyLimit` codes.
 */
import { z } from "zod";
import { Width } from "../bus/ports.ts";
import type { Device, DeviceContext } from "./device.ts";

const PostState = z.object({ v: z.literal(1), last: z.number().int().min(0).max(255) });
export type PostState = z.infer<typeof PostState>;

export interface PostCodeOptions {
  /** Codes kept in `history` (default 4096). */
  historyLimit?: number;
}

export class PostCodePort implements Device<PostState> {
  readonly name = "post80";
  readonly stateSchema = PostState;
  last = 0;
  /** Codes written, oldest first (at most `historyLimit`). */
  readonly history: number[] = [];
  /** Called with every code written. */
  onCode: ((code: number) => void) | null = null;
  private readonly limit: number;

  constructor(opts: PostCodeOptions = {}) {
    this.limit = Math.max(1, opts.historyLimit ?? 4096);
  }

  attach(ctx: DeviceContext): void {
    ctx.ports.register(
      0x80,
      1,
      this.name,
      Width.B,
      () => this.last,
      (_p, v) => this.write(v),
    );
  }

  private write(v: number): void {
    this.last = v;
    this.history.push(v);
    // Trim in batches so a flood of writes costs O(1) each on average.
    if (this.history.length >= 2 * this.limit) this.history.splice(0, this.history.length - this.limit);
    this.onCode?.(v);
  }

  /** The history as a bounded view: at most `historyLimit` codes, oldest first. */
  recent(): number[] {
    return this.history.slice(Math.max(0, this.history.length - this.limit));
  }

  reset(): void {
    this.last = 0;
    this.history.length = 0;
  }

  saveState(): PostState {
    return { v: 1, last: this.last };
  }

  loadState(state: PostState): void {
    this.last = PostState.parse(state).last;
  }
}
