/**
 * ATA disk on the primary channel: command block 0x1F0-0x1F7, control block
 * 0x3F6 (device control / alternate status), IRQ 14. PIO only.
 *
 * Behaviour follows ATA/ATAPI-6 (T13/1410D): the task file registers,
 * status (BSY DRDY DF DSC DRQ ERR) and error (ABRT) registers, device
 * control (nIEN, SRST), the signature after reset and diagnostics, the PIO
 * data-in and data-out protocols (an interrupt per DRQ block; none before
 * the first block of a write), and these commands: IDENTIFY DEVICE, READ /
 * WRITE SECTORS, READ / WRITE MULTIPLE, SET MULTIPLE MODE, INITIALIZE DEVICE
 * PARAMETERS, READ VERIFY SECTORS, SET FEATURES, the power commands, FLUSH
 * CACHE, RECALIBRATE, SEEK, EXECUTE DEVICE DIAGNOSTIC and DEVICE RESET.
 * Addressing is LBA28 or CHS (through the current translation).
 *
 * Every command completes at once (no BSY phase), so disk I/O does not
 * depend on timing. The data port takes 8-, 16- and 32-bit accesses.
 *
 * A device that is absent (the usual case for device 1) behaves as ATA
 * requires when device 0 answers for it: status reads 00h, commands are
 * ignored. With no device at all the channel floats (reads FFh).
 */
import { z } from "zod";
import { Width } from "../bus/ports.ts";
import type { Device, DeviceContext } from "./device.ts";

/** A disk as a sequence of 512-byte sectors. */
export interface BlockDevice {
  readonly sectors: number;
  /** Fill `out` (512 bytes) with sector `lba`. */
  read(lba: number, out: Uint8Array): void;
  /** Store 512 bytes as sector `lba`. */
  write(lba: number, data: Uint8Array): void;
}

export const SECTOR = 512;
/** Largest DRQ block for READ/WRITE MULTIPLE (IDENTIFY word 47). */
const MAX_MULTIPLE = 16;
const LBA28_MAX = 0x0fffffff;
/** 16383 cylinders x 16 heads x 63 sectors: the CHS limit of IDENTIFY words 1, 3, 6. */
const CHS_MAX = 16383 * 16 * 63;

// Status bits.
const BSY = 0x80;
const DRDY = 0x40;
const DSC = 0x10;
const DRQ = 0x08;
const ERR = 0x01;
// Error bits.
const ABRT = 0x04;
// Device control bits.
const NIEN = 0x02;
const SRST = 0x04;
// Device/head register bits.
const DEV = 0x10;
const LBA = 0x40;

const enum Xfer {
  None = 0,
  /** PIO data-in of sectors (READ SECTORS / MULTIPLE). */
  Read = 1,
  /** PIO data-out (WRITE SECTORS / MULTIPLE). */
  Write = 2,
  /** PIO data-in of one block that is not a disk sector (IDENTIFY). */
  Info = 3,
}

const DriveState = z.object({
  status: z.number().int(),
  error: z.number().int(),
  intrq: z.boolean(),
  xfer: z.number().int(),
  buf: z.instanceof(Uint8Array),
  pos: z.number().int(),
  end: z.number().int(),
  lba: z.number().int(),
  remaining: z.number().int(),
  block: z.number().int(),
  multiple: z.number().int(),
  heads: z.number().int(),
  spt: z.number().int(),
  cyls: z.number().int(),
});
type DriveState = z.infer<typeof DriveState>;

const AtaState = z.object({
  v: z.literal(1),
  drives: z.array(DriveState.nullable()).length(2),
  feature: z.number().int(),
  count: z.number().int(),
  sector: z.number().int(),
  cylLo: z.number().int(),
  cylHi: z.number().int(),
  devHead: z.number().int(),
  control: z.number().int(),
  irqLevel: z.boolean(),
});
export type AtaState = z.infer<typeof AtaState>;

/** Put an ATA string (two characters per word, first character in the high byte) at word `w`. */
function putString(id: Uint8Array, w: number, words: number, text: string): void {
  const s = text.padEnd(words * 2, " ");
  for (let i = 0; i < words * 2; i++) id[w * 2 + (i ^ 1)] = s.charCodeAt(i) & 0xff;
}

function putWord(id: Uint8Array, w: number, v: number): void {
  id[w * 2] = v & 0xff;
  id[w * 2 + 1] = (v >>> 8) & 0xff;
}

/** One ATA device: its status, data buffer, transfer state and settings. */
class Drive {
  status = DRDY | DSC;
  error = 0x01;
  /** The device's INTRQ is asserted (reaches IRQ 14 if selected and nIEN = 0). */
  intrq = false;
  xfer = Xfer.None;
  readonly buf = new Uint8Array(SECTOR * MAX_MULTIPLE);
  pos = 0;
  end = 0;
  /** Next sector of the transfer, and sectors still to go. */
  lba = 0;
  remaining = 0;
  /** Sectors per DRQ block. */
  block = 1;
  /** READ/WRITE MULTIPLE block size (0 = multiple mode disabled). */
  multiple = 0;
  /** Current CHS translation (INITIALIZE DEVICE PARAMETERS). */
  heads: number;
  spt: number;
  cyls: number;
  readonly defaultCyls: number;
  /** Sectors reachable by LBA28. */
  readonly capacity: number;

  constructor(readonly disk: BlockDevice) {
    this.capacity = Math.min(disk.sectors, LBA28_MAX);
    this.defaultCyls = Math.max(1, Math.min(16383, Math.floor(disk.sectors / (16 * 63))));
    this.heads = 16;
    this.spt = 63;
    this.cyls = this.defaultCyls;
  }

  /** Power-on / hardware reset settings. */
  powerOn(): void {
    this.multiple = 0;
    this.heads = 16;
    this.spt = 63;
    this.cyls = this.defaultCyls;
    this.softReset();
  }

  softReset(): void {
    this.status = DRDY | DSC;
    this.error = 0x01; // diagnostic code: device 0 passed, device 1 absent or passed
    this.intrq = false;
    this.xfer = Xfer.None;
    this.pos = 0;
    this.end = 0;
  }

  setTranslation(heads: number, spt: number): void {
    this.heads = heads;
    this.spt = spt;
    this.cyls = Math.min(65535, Math.floor(Math.min(this.disk.sectors, CHS_MAX) / (heads * spt)));
  }

  identify(): void {
    const id = this.buf;
    id.fill(0, 0, SECTOR);
    const chsSectors = this.cyls * this.heads * this.spt;
    putWord(id, 0, 0x0040); // ATA device, fixed (not removable)
    putWord(id, 1, this.defaultCyls);
    putWord(id, 3, 16);
    putWord(id, 6, 63);
    putString(id, 10, 10, `RT${this.disk.sectors.toString(16).toUpperCase().padStart(8, "0")}`);
    putString(id, 23, 4, "1.0");
    putString(id, 27, 20, "RETRACE HARDDISK");
    putWord(id, 47, 0x8000 | MAX_MULTIPLE);
    putWord(id, 49, 0x0a00); // LBA supported, IORDY supported (no DMA)
    putWord(id, 50, 0x4000);
    putWord(id, 51, 0x0200); // PIO mode 2 timing (obsolete word)
    putWord(id, 53, 0x0003); // words 54-58 and 64-70 valid
    putWord(id, 54, this.cyls);
    putWord(id, 55, this.heads);
    putWord(id, 56, this.spt);
    putWord(id, 57, chsSectors & 0xffff);
    putWord(id, 58, chsSectors >>> 16);
    putWord(id, 59, 0x0100 | this.multiple); // multiple-sector setting valid
    putWord(id, 60, this.capacity & 0xffff);
    putWord(id, 61, this.capacity >>> 16);
    putWord(id, 64, 0x0003); // PIO modes 3 and 4
    putWord(id, 65, 120);
    putWord(id, 66, 120);
    putWord(id, 67, 120);
    putWord(id, 68, 120);
    putWord(id, 80, 0x007e); // ATA-1 to ATA-6
    putWord(id, 82, 0x0000);
    putWord(id, 83, 0x5000); // FLUSH CACHE supported (bit 12); bit 14 = 1: word valid
    putWord(id, 84, 0x4000);
    putWord(id, 85, 0x0000);
    putWord(id, 86, 0x1000);
    putWord(id, 87, 0x4000);
    // Word 255: signature A5h and a checksum making the 512 bytes sum to 0 (mod 256).
    id[510] = 0xa5;
    let sum = 0;
    for (let i = 0; i < 511; i++) sum += id[i];
    id[511] = -sum & 0xff;
  }

  save(): DriveState {
    return {
      status: this.status,
      error: this.error,
      intrq: this.intrq,
      xfer: this.xfer,
      buf: this.buf.slice(),
      pos: this.pos,
      end: this.end,
      lba: this.lba,
      remaining: this.remaining,
      block: this.block,
      multiple: this.multiple,
      heads: this.heads,
      spt: this.spt,
      cyls: this.cyls,
    };
  }

  load(s: DriveState): void {
    this.status = s.status;
    this.error = s.error;
    this.intrq = s.intrq;
    this.xfer = s.xfer as Xfer;
    this.buf.set(s.buf.subarray(0, this.buf.length));
    this.pos = s.pos;
    this.end = s.end;
    this.lba = s.lba;
    this.remaining = s.remaining;
    this.block = s.block;
    this.multiple = s.multiple;
    this.heads = s.heads;
    this.spt = s.spt;
    this.cyls = s.cyls;
  }
}

export class Ata implements Device<AtaState> {
  readonly name = "ata";
  readonly stateSchema = AtaState;
  private readonly drives: [Drive | null, Drive | null];
  // Task file: written to both devices at once, so one copy serves the channel.
  private feature = 0;
  private count = 1;
  private sector = 1;
  private cylLo = 0;
  private cylHi = 0;
  private devHead = 0;
  private control = 0;
  private irqLevel = false;
  private ctx: DeviceContext | null = null;

  /** `master` (device 0) and optional `slave` (device 1); null = no device there. */
  constructor(master: BlockDevice | null, slave: BlockDevice | null = null) {
    this.drives = [master === null ? null : new Drive(master), slave === null ? null : new Drive(slave)];
    this.powerOn();
  }

  attach(ctx: DeviceContext): void {
    this.ctx = ctx;
    const p = ctx.ports;
    p.register(
      0x1f0,
      1,
      this.name,
      Width.B | Width.W | Width.D,
      (_port, width) => this.readData(width),
      (_port, v, width) => this.writeData(v, width),
    );
    p.register(
      0x1f1,
      7,
      this.name,
      Width.B,
      (port) => this.readReg(port - 0x1f0),
      (port, v) => this.writeReg(port - 0x1f0, v),
    );
    p.register(
      0x3f6,
      1,
      this.name,
      Width.B,
      () => this.readAltStatus(),
      (_p, v) => this.writeControl(v),
    );
  }

  private powerOn(): void {
    for (const d of this.drives) d?.powerOn();
    this.setSignature();
    this.feature = 0;
    this.control = 0;
  }

  reset(): void {
    this.powerOn();
    this.updateIrq();
  }

  private get selected(): Drive | null {
    return this.drives[this.devHead & DEV ? 1 : 0];
  }

  private anyDrive(): boolean {
    return this.drives[0] !== null || this.drives[1] !== null;
  }

  /** Value a register read returns when the selected device is absent. */
  private absentValue(): number {
    // Device 0 answers for an absent device 1 with 00h; an absent device 0 is not answered for.
    return this.devHead & DEV && this.drives[0] !== null ? 0x00 : 0xff;
  }

  /** ATA signature of a non-packet device, placed in the task file by every reset. */
  private setSignature(): void {
    this.count = 1;
    this.sector = 1;
    this.cylLo = 0;
    this.cylHi = 0;
    this.devHead = 0;
  }

  private updateIrq(): void {
    const d = this.selected;
    const level = (d?.intrq ?? false) && (this.control & NIEN) === 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.ctx?.setIrq(14, level);
  }

  private raise(d: Drive): void {
    d.intrq = true;
    this.updateIrq();
  }

  // ---- register access ----

  private readReg(reg: number): number {
    if (!this.anyDrive()) return 0xff;
    const d = this.selected;
    switch (reg) {
      case 1:
        return d === null ? this.absentValue() : d.error;
      case 2:
        return this.count;
      case 3:
        return this.sector;
      case 4:
        return this.cylLo;
      case 5:
        return this.cylHi;
      case 6:
        return this.devHead | 0xa0; // bits 7 and 5 are obsolete and read as 1
      default: {
        if (d === null) return this.absentValue();
        // Reading the status register acknowledges the interrupt.
        if (d.intrq) {
          d.intrq = false;
          this.updateIrq();
        }
        return this.control & SRST ? BSY : d.status;
      }
    }
  }

  private readAltStatus(): number {
    if (!this.anyDrive()) return 0xff;
    const d = this.selected;
    if (d === null) return this.absentValue();
    return this.control & SRST ? BSY : d.status;
  }

  private writeReg(reg: number, v: number): void {
    if (this.control & SRST) return;
    switch (reg) {
      case 1:
        this.feature = v;
        return;
      case 2:
        this.count = v;
        return;
      case 3:
        this.sector = v;
        return;
      case 4:
        this.cylLo = v;
        return;
      case 5:
        this.cylHi = v;
        return;
      case 6:
        this.devHead = v & 0x5f;
        this.updateIrq(); // INTRQ belongs to the selected device
        return;
      default:
        this.command(v);
    }
  }

  private writeControl(v: number): void {
    const was = this.control;
    this.control = v & (NIEN | SRST);
    if (was & SRST && !(v & SRST)) {
      // End of a software reset: both devices run their reset and post the signature, without INTRQ.
      for (const d of this.drives) d?.softReset();
      this.setSignature();
    } else if (!(was & SRST) && v & SRST) {
      for (const d of this.drives) {
        if (d === null) continue;
        d.xfer = Xfer.None;
        d.intrq = false;
      }
    }
    this.updateIrq();
  }

  // ---- data port ----

  private readData(width: 1 | 2 | 4): number {
    const d = this.selected;
    if (d === null || (d.xfer !== Xfer.Read && d.xfer !== Xfer.Info)) return 0;
    let v = 0;
    for (let i = 0; i < width && d.pos < d.end; i++) v |= d.buf[d.pos++] << (8 * i);
    if (d.pos >= d.end) this.readBlockDone(d);
    return width === 4 ? v | 0 : v;
  }

  private writeData(v: number, width: 1 | 2 | 4): void {
    const d = this.selected;
    if (d === null || d.xfer !== Xfer.Write) return;
    for (let i = 0; i < width && d.pos < d.end; i++) d.buf[d.pos++] = (v >>> (8 * i)) & 0xff;
    if (d.pos >= d.end) this.writeBlockDone(d);
  }

  // ---- addressing ----

  /** Starting sector from the task file (LBA28 or CHS), or -1 if the address is invalid. */
  private startLba(d: Drive): number {
    if (this.devHead & LBA) {
      return (((this.devHead & 0x0f) << 24) | (this.cylHi << 16) | (this.cylLo << 8) | this.sector) >>> 0;
    }
    const cyl = (this.cylHi << 8) | this.cylLo;
    const head = this.devHead & 0x0f;
    if (this.sector === 0 || this.sector > d.spt || head >= d.heads || cyl >= d.cyls) return -1;
    return (cyl * d.heads + head) * d.spt + this.sector - 1;
  }

  /** After a block: the task file holds the last sector transferred and the sectors left. */
  private updateTaskFile(d: Drive, last: number): void {
    this.count = d.remaining & 0xff;
    if (this.devHead & LBA) {
      this.sector = last & 0xff;
      this.cylLo = (last >>> 8) & 0xff;
      this.cylHi = (last >>> 16) & 0xff;
      this.devHead = (this.devHead & 0xf0) | ((last >>> 24) & 0x0f);
    } else {
      const sector = (last % d.spt) + 1;
      const t = Math.floor(last / d.spt);
      const head = t % d.heads;
      const cyl = Math.floor(t / d.heads);
      this.sector = sector;
      this.cylLo = cyl & 0xff;
      this.cylHi = (cyl >>> 8) & 0xff;
      this.devHead = (this.devHead & 0xf0) | head;
    }
  }

  // ---- commands ----

  private complete(d: Drive): void {
    d.status = DRDY | DSC;
    d.error = 0;
    d.xfer = Xfer.None;
    this.raise(d);
  }

  private abort(d: Drive): void {
    d.status = DRDY | DSC | ERR;
    d.error = ABRT;
    d.xfer = Xfer.None;
    this.raise(d);
  }

  /** Validate the task file range for a sector command; null after aborting. */
  private range(d: Drive): { lba: number; n: number } | null {
    const lba = this.startLba(d);
    const n = this.count === 0 ? 256 : this.count;
    if (lba < 0 || lba + n > d.capacity) {
      this.abort(d);
      return null;
    }
    return { lba, n };
  }

  private command(cmd: number): void {
    if (cmd === 0x90) {
      this.diagnostic();
      return;
    }
    const d = this.selected;
    if (d === null) return; // commands to an absent device are ignored
    d.intrq = false;
    d.xfer = Xfer.None;
    switch (cmd) {
      case 0xec: // IDENTIFY DEVICE
        d.identify();
        d.xfer = Xfer.Info;
        d.pos = 0;
        d.end = SECTOR;
        d.status = DRDY | DSC | DRQ;
        d.error = 0;
        this.raise(d);
        return;
      case 0x20: // READ SECTORS (with retry)
      case 0x21: // READ SECTORS (without retry)
        this.startRead(d, 1);
        return;
      case 0xc4: // READ MULTIPLE
        if (d.multiple === 0) this.abort(d);
        else this.startRead(d, d.multiple);
        return;
      case 0x30: // WRITE SECTORS
      case 0x31:
        this.startWrite(d, 1);
        return;
      case 0xc5: // WRITE MULTIPLE
        if (d.multiple === 0) this.abort(d);
        else this.startWrite(d, d.multiple);
        return;
      case 0x40: // READ VERIFY SECTORS
      case 0x41: {
        const r = this.range(d);
        if (r === null) return;
        d.remaining = 0;
        this.updateTaskFile(d, r.lba + r.n - 1);
        this.complete(d);
        return;
      }
      case 0xc6: {
        // SET MULTIPLE MODE: a power of two up to word 47's maximum; 0 disables.
        const n = this.count;
        if (n > MAX_MULTIPLE || (n & (n - 1)) !== 0) {
          this.abort(d);
          return;
        }
        d.multiple = n;
        this.complete(d);
        return;
      }
      case 0x91: {
        // INITIALIZE DEVICE PARAMETERS: sectors per track in the count, heads-1 in the device register.
        const spt = this.count;
        if (spt === 0) {
          this.abort(d);
          return;
        }
        d.setTranslation((this.devHead & 0x0f) + 1, spt);
        this.complete(d);
        return;
      }
      case 0xe5: // CHECK POWER MODE: FFh = active or idle
        this.count = 0xff;
        this.complete(d);
        return;
      case 0x08: // DEVICE RESET: reset this device, post the signature; no interrupt
        d.softReset();
        this.setSignature();
        this.updateIrq();
        return;
      case 0xef: // SET FEATURES: every subcommand accepted (transfer modes, cache, ...)
      case 0xe0: // STANDBY IMMEDIATE
      case 0xe1: // IDLE IMMEDIATE
      case 0xe2: // STANDBY
      case 0xe3: // IDLE
      case 0xe6: // SLEEP
      case 0xe7: // FLUSH CACHE
        this.complete(d);
        return;
      default:
        if ((cmd & 0xf0) === 0x10 || (cmd & 0xf0) === 0x70) {
          // RECALIBRATE (1xh), SEEK (7xh): nothing moves.
          this.complete(d);
          return;
        }
        this.abort(d);
    }
  }

  /** EXECUTE DEVICE DIAGNOSTIC: addressed to both devices; device 0 posts the result and the interrupt. */
  private diagnostic(): void {
    for (const d of this.drives) d?.softReset();
    this.setSignature();
    const d0 = this.drives[0];
    if (d0 !== null) this.raise(d0);
    else this.updateIrq();
  }

  private startRead(d: Drive, block: number): void {
    const r = this.range(d);
    if (r === null) return;
    d.lba = r.lba;
    d.remaining = r.n;
    d.block = block;
    this.loadReadBlock(d);
  }

  private loadReadBlock(d: Drive): void {
    const n = Math.min(d.block, d.remaining);
    for (let i = 0; i < n; i++) d.disk.read(d.lba + i, d.buf.subarray(i * SECTOR, (i + 1) * SECTOR));
    d.xfer = Xfer.Read;
    d.pos = 0;
    d.end = n * SECTOR;
    d.status = DRDY | DSC | DRQ;
    d.error = 0;
    this.raise(d);
  }

  private readBlockDone(d: Drive): void {
    if (d.xfer === Xfer.Info) {
      d.xfer = Xfer.None;
      d.status = DRDY | DSC;
      return;
    }
    const n = d.end / SECTOR;
    d.lba += n;
    d.remaining -= n;
    this.updateTaskFile(d, d.lba - 1);
    if (d.remaining > 0) this.loadReadBlock(d);
    else {
      d.xfer = Xfer.None;
      d.status = DRDY | DSC;
    }
  }

  private startWrite(d: Drive, block: number): void {
    const r = this.range(d);
    if (r === null) return;
    d.lba = r.lba;
    d.remaining = r.n;
    d.block = block;
    d.error = 0;
    this.expectWriteBlock(d);
  }

  private expectWriteBlock(d: Drive): void {
    d.xfer = Xfer.Write;
    d.pos = 0;
    d.end = Math.min(d.block, d.remaining) * SECTOR;
    d.status = DRDY | DSC | DRQ;
  }

  private writeBlockDone(d: Drive): void {
    const n = d.end / SECTOR;
    for (let i = 0; i < n; i++) d.disk.write(d.lba + i, d.buf.subarray(i * SECTOR, (i + 1) * SECTOR));
    d.lba += n;
    d.remaining -= n;
    this.updateTaskFile(d, d.lba - 1);
    if (d.remaining > 0) this.expectWriteBlock(d);
    else {
      d.xfer = Xfer.None;
      d.status = DRDY | DSC;
    }
    this.raise(d); // one interrupt per block written (with DRQ set again if more follow)
  }

  saveState(): AtaState {
    return {
      v: 1,
      drives: [this.drives[0]?.save() ?? null, this.drives[1]?.save() ?? null],
      feature: this.feature,
      count: this.count,
      sector: this.sector,
      cylLo: this.cylLo,
      cylHi: this.cylHi,
      devHead: this.devHead,
      control: this.control,
      irqLevel: this.irqLevel,
    };
  }

  loadState(state: AtaState): void {
    const s = AtaState.parse(state);
    for (let i = 0; i < 2; i++) {
      const d = this.drives[i];
      const ds = s.drives[i];
      if ((d === null) !== (ds === null)) throw new Error(`ata: saved state has a different device ${i}`);
      if (d !== null && ds !== null) d.load(ds);
    }
    this.feature = s.feature;
    this.count = s.count;
    this.sector = s.sector;
    this.cylLo = s.cylLo;
    this.cylHi = s.cylHi;
    this.devHead = s.devHead;
    this.control = s.control;
    this.irqLevel = s.irqLevel;
  }
}
