/**
 * SimPoint basic-block vectors: one line per interval of `interval` retired
 * instructions, `T:id:count :id:count ...`, where id numbers a basic block
 * from 1 in order of first execution (stable for the whole run) and count is
 * the number of instructions executed in that block during the interval
 * (times entered x block length, as SimPoint expects). Ids are listed in
 * ascending order; a final shorter interval is written too.
 *
 * A block starts at the first instruction, after any control transfer (the
 * table's branch kinds), after an interrupt or exception, and wherever the
 * next instruction is not the fall-through of the previous one. It is
 * identified by the physical address of its first instruction, so code shared
 * between address spaces (the kernel, shared libraries) is one block.
 */
import { BranchKind, INSN_BYTES, REF_BYTES, Rec, RefBit, recordSize } from "./format.ts";
import type { ByteSink } from "./native.ts";
import type { ChunkSink, RawChunk } from "./recorder.ts";
import { refTarget, u32Of } from "./records.ts";

export const DEFAULT_BBV_INTERVAL = 100_000_000;

export class BbvWriter implements ChunkSink {
  private readonly ids = new Map<number, number>();
  private counts = new Float64Array(1024);
  private touched: number[] = [];
  private inInterval = 0;
  private newBlock = true;
  private nextLin = -1;
  private cur = 0;
  intervals = 0;
  blocks = 0;

  constructor(
    private readonly out: ByteSink,
    private readonly interval = DEFAULT_BBV_INTERVAL,
  ) {
    if (!Number.isSafeInteger(interval) || interval < 1)
      throw new RangeError("BBV interval must be a positive integer");
  }

  chunk(c: RawChunk): void {
    const { b, u } = u32Of(c.bytes);
    const n = b.length;
    const full: number[] = [];
    let lines = "";
    let p = 0;
    while (p < n) {
      const kind = b[p];
      let q = p;
      if (kind === Rec.Insn) {
        full.push(p);
        p += INSN_BYTES;
      } else if (kind === Rec.Ref) {
        const word = u[p >> 2];
        p += REF_BYTES;
        if ((word & RefBit.Fault) !== 0) {
          this.newBlock = true;
          continue;
        }
        q = refTarget(full, word, p - REF_BYTES);
      } else if (kind === Rec.Fault) {
        full.push(p);
        this.newBlock = true;
        p += INSN_BYTES;
        continue;
      } else {
        if (kind === Rec.Interrupt) this.newBlock = true;
        p += recordSize(kind);
        continue;
      }
      // A retired instruction; its INSN record is at q.
      const w = q >> 2;
      const lin = u[w + 2];
      if (this.newBlock || lin !== this.nextLin) {
        const phys = u[w + 3];
        let id = this.ids.get(phys);
        if (id === undefined) {
          id = ++this.blocks;
          this.ids.set(phys, id);
          if (id >= this.counts.length) {
            const g = new Float64Array(this.counts.length * 2);
            g.set(this.counts);
            this.counts = g;
          }
        }
        this.cur = id;
      }
      const id = this.cur;
      if (this.counts[id]++ === 0) this.touched.push(id);
      this.newBlock = (b[q + 3] & 7) !== BranchKind.None;
      this.nextLin = (lin + b[q + 1]) >>> 0;
      if (++this.inInterval === this.interval) lines += this.line();
    }
    if (lines !== "") this.out.write(Buffer.from(lines, "latin1"));
  }

  /** The interval's line; resets the counts. */
  private line(): string {
    const t = this.touched.sort((a, b) => a - b);
    let s = "T";
    for (let k = 0; k < t.length; k++) {
      s += `${k === 0 ? "" : " "}:${t[k]}:${this.counts[t[k]]}`;
      this.counts[t[k]] = 0;
    }
    this.touched = [];
    this.inInterval = 0;
    this.intervals++;
    return `${s}\n`;
  }

  /** Write the last, shorter interval (if any instruction is in it). */
  finish(): void {
    if (this.inInterval > 0) this.out.write(Buffer.from(this.line(), "latin1"));
  }
}
