/**
 * Port-I/O bus: 65,536 prefilled slots, each owned by at most one device.
 * Address decoding only; devices do the rest. Unclaimed ports read as all
 * ones (open bus) and ignore writes, as on a PC.
 */
export type PortRead = (port: number, width: 1 | 2 | 4) => number;
export type PortWrite = (port: number, value: number, width: 1 | 2 | 4) => void;

/** Bit mask of access widths a device handles natively (others are split into bytes). */
export const enum Width {
  B = 1,
  W = 2,
  D = 4,
}

interface Slot {
  owner: string;
  widths: number;
  read: PortRead;
  write: PortWrite;
}

const openBusRead: PortRead = (_p, w) => (w === 1 ? 0xff : w === 2 ? 0xffff : -1);
const ignoreWrite: PortWrite = () => {};

export class PortBus {
  private readonly slots: Slot[] = [];
  /** Optional observer of every access (tracing); null when nobody listens. */
  observer: ((port: number, width: number, write: boolean, value: number) => void) | null = null;

  constructor() {
    for (let p = 0; p < 0x10000; p++)
      this.slots.push({ owner: "", widths: Width.B, read: openBusRead, write: ignoreWrite });
  }

  /** Claim `count` ports from `first`. `widths` is a Width mask; byte access is always allowed. */
  register(first: number, count: number, owner: string, widths: number, read: PortRead, write: PortWrite): void {
    for (let p = first; p < first + count; p++) {
      const s = this.slots[p];
      if (s.owner !== "") throw new Error(`port 0x${p.toString(16)}: ${owner} overlaps ${s.owner}`);
      s.owner = owner;
      s.widths = widths | Width.B;
      s.read = read;
      s.write = write;
    }
  }

  ownerOf(port: number): string {
    return this.slots[port & 0xffff].owner;
  }

  in8(port: number): number {
    port &= 0xffff;
    const v = this.slots[port].read(port, 1) & 0xff;
    if (this.observer !== null) this.observer(port, 1, false, v);
    return v;
  }

  in16(port: number): number {
    port &= 0xffff;
    const s = this.slots[port];
    let v: number;
    if (s.widths & Width.W) v = s.read(port, 2) & 0xffff;
    else
      v =
        (this.slots[port].read(port, 1) & 0xff) |
        ((this.slots[(port + 1) & 0xffff].read((port + 1) & 0xffff, 1) & 0xff) << 8);
    if (this.observer !== null) this.observer(port, 2, false, v);
    return v;
  }

  in32(port: number): number {
    port &= 0xffff;
    const s = this.slots[port];
    let v: number;
    if (s.widths & Width.D) v = s.read(port, 4) | 0;
    else {
      v = 0;
      for (let i = 0; i < 4; i++) {
        const p = (port + i) & 0xffff;
        v |= (this.slots[p].read(p, 1) & 0xff) << (8 * i);
      }
    }
    if (this.observer !== null) this.observer(port, 4, false, v);
    return v;
  }

  out8(port: number, value: number): void {
    port &= 0xffff;
    if (this.observer !== null) this.observer(port, 1, true, value & 0xff);
    this.slots[port].write(port, value & 0xff, 1);
  }

  out16(port: number, value: number): void {
    port &= 0xffff;
    if (this.observer !== null) this.observer(port, 2, true, value & 0xffff);
    const s = this.slots[port];
    if (s.widths & Width.W) s.write(port, value & 0xffff, 2);
    else {
      s.write(port, value & 0xff, 1);
      const p = (port + 1) & 0xffff;
      this.slots[p].write(p, (value >>> 8) & 0xff, 1);
    }
  }

  out32(port: number, value: number): void {
    port &= 0xffff;
    if (this.observer !== null) this.observer(port, 4, true, value | 0);
    const s = this.slots[port];
    if (s.widths & Width.D) s.write(port, value | 0, 4);
    else {
      for (let i = 0; i < 4; i++) {
        const p = (port + i) & 0xffff;
        this.slots[p].write(p, (value >>> (8 * i)) & 0xff, 1);
      }
    }
  }
}
