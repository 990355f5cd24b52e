/**
 * Copy-on-write disk: reads come from a read-only base image unless the guest
 * wrote that sector, in which case they come from an overlay of written
 * sectors. The user's image is never modified (DESIGN.md §2: capture never
 * writes to the user's image); `toImage()` builds the final disk, e.g. for
 * `--save-disk`.
 */
import type { BlockDevice } from "./ata.ts";

const SECTOR = 512;

export class OverlayDisk implements BlockDevice {
  readonly sectors: number;
  private readonly written = new Map<number, Uint8Array>();

  /** `base` is kept by reference and only ever read. A partial last sector reads as zero-padded. */
  constructor(private readonly base: Uint8Array) {
    this.sectors = Math.ceil(base.length / SECTOR);
  }

  read(lba: number, out: Uint8Array): void {
    this.check(lba);
    const w = this.written.get(lba);
    if (w !== undefined) {
      out.set(w.subarray(0, SECTOR));
      return;
    }
    const start = lba * SECTOR;
    const end = Math.min(start + SECTOR, this.base.length);
    out.set(this.base.subarray(start, end));
    if (end - start < SECTOR) out.fill(0, end - start, SECTOR);
  }

  write(lba: number, data: Uint8Array): void {
    this.check(lba);
    this.written.set(lba, data.slice(0, SECTOR));
  }

  /** Number of sectors the guest has written (each counted once). */
  get dirtySectors(): number {
    return this.written.size;
  }

  /** The sectors written so far, in ascending order (for snapshots). */
  writtenSectors(): Array<[number, Uint8Array]> {
    return [...this.written.entries()].sort((a, b) => a[0] - b[0]).map(([lba, d]) => [lba, d.slice()]);
  }

  /** Replace the overlay with saved sectors (the counterpart of `writtenSectors`). */
  restoreWritten(sectors: Iterable<[number, Uint8Array]>): void {
    this.written.clear();
    for (const [lba, d] of sectors) {
      this.check(lba);
      if (d.length !== SECTOR) throw new Error(`overlay sector ${lba} has ${d.length} bytes, expected ${SECTOR}`);
      this.written.set(lba, d.slice());
    }
  }

  /** A new image: the base with every written sector applied (same length as the base). */
  toImage(): Uint8Array {
    const out = this.base.slice();
    for (const [lba, d] of this.written) {
      const start = lba * SECTOR;
      out.set(d.subarray(0, Math.min(SECTOR, out.length - start)), start);
    }
    return out;
  }

  private check(lba: number): void {
    if (!Number.isInteger(lba) || lba < 0 || lba >= this.sectors) {
      throw new RangeError(`sector ${lba} is outside the disk (${this.sectors} sectors)`);
    }
  }
}
