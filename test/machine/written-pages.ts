/**
 * PhysicalMemory.written must cover every page that is not zero: checkpoints hash the pages it
 * leaves out as zeros without reading them. A writer that forgets to mark would make a checkpoint
 * digest differ from the RAM it claims to hash; this finds such pages after a run.
 */
import type { PhysicalMemory } from "../../src/memory/physical.ts";

/** Pages not marked written that hold something other than zeros (should be none). */
export function unmarkedNonzeroPages(mem: PhysicalMemory): number[] {
  const words = new Int32Array(mem.ram.buffer, mem.ram.byteOffset, mem.ram.length >>> 2);
  const bad: number[] = [];
  for (let p = 0; p < mem.written.length; p++) {
    if (mem.written[p] !== 0) continue;
    for (let i = p << 10; i < (p + 1) << 10; i++) {
      if (words[i] !== 0) {
        bad.push(p);
        break;
      }
    }
  }
  return bad;
}

/** How many pages are marked written. */
export const markedPages = (mem: PhysicalMemory): number => mem.written.reduce((a, b) => a + b, 0);
