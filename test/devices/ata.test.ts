// ATA PIO tests through ports 0x1F0-0x1F7 and 0x3F6, as a BIOS or a PIO driver does.
// References: ATA/ATAPI-6 (T13/1410D): register block, status/error bits,
// device control (nIEN, SRST), signature, PIO data-in / data-out protocols,
// IDENTIFY DEVICE words, READ/WRITE MULTIPLE, SET MULTIPLE MODE,
// INITIALIZE DEVICE PARAMETERS, EXECUTE DEVICE DIAGNOSTIC.
import { beforeEach, describe, expect, it } from "vitest";
import { Ata, type BlockDevice } from "../../src/devices/ata.ts";
import { OverlayDisk } from "../../src/devices/overlay-disk.ts";
import { FakeContext } from "./fake-context.ts";

const DATA = 0x1f0;
const ERROR = 0x1f1;
const COUNT = 0x1f2;
const SECT = 0x1f3;
const CYL_LO = 0x1f4;
const CYL_HI = 0x1f5;
const DEVHEAD = 0x1f6;
const STATUS = 0x1f7;
const CMD = 0x1f7;
const ALT = 0x3f6;
const CTRL = 0x3f6;

const SECTORS = 20160; // 20 cylinders x 16 heads x 63 sectors (~10 MiB)

/** Image whose sector n holds bytes (n * 7 + i) & 0xff, so every sector is distinguishable. */
function makeImage(sectors: number): Uint8Array {
  const img = new Uint8Array(sectors * 512);
  for (let s = 0; s < sectors; s++) for (let i = 0; i < 512; i++) img[s * 512 + i] = (s * 7 + i) & 0xff;
  return img;
}
const sectorBytes = (lba: number) => Uint8Array.from({ length: 512 }, (_, i) => (lba * 7 + i) & 0xff);

let ctx: FakeContext;
let image: Uint8Array;
let disk: OverlayDisk;
let ata: Ata;

beforeEach(() => {
  ctx = new FakeContext();
  image = makeImage(SECTORS);
  disk = new OverlayDisk(image);
  ata = new Ata(disk);
  ata.attach(ctx);
});

function lbaCommand(cmd: number, lba: number, count: number): void {
  ctx.out8(DEVHEAD, 0xe0 | ((lba >>> 24) & 0x0f));
  ctx.out8(COUNT, count & 0xff);
  ctx.out8(SECT, lba & 0xff);
  ctx.out8(CYL_LO, (lba >>> 8) & 0xff);
  ctx.out8(CYL_HI, (lba >>> 16) & 0xff);
  ctx.out8(CMD, cmd);
}

function readBlock(bytes: number, width: 2 | 4 = 2): Uint8Array {
  const out = new Uint8Array(bytes);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < bytes; i += width) {
    if (width === 2) dv.setUint16(i, ctx.ports.in16(DATA), true);
    else dv.setUint32(i, ctx.ports.in32(DATA) >>> 0, true);
  }
  return out;
}

function writeBlock(data: Uint8Array, width: 2 | 4 = 2): void {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < data.length; i += width) {
    if (width === 2) ctx.ports.out16(DATA, dv.getUint16(i, true));
    else ctx.ports.out32(DATA, dv.getUint32(i, true));
  }
}

const irqRises = (from = 0) => ctx.edges(14, from).filter((e) => e.level).length;

describe("ATA IDENTIFY DEVICE", () => {
  it("ata_identify_dataReadyWithIrqAndSaneWords", () => {
    ctx.out8(DEVHEAD, 0xa0);
    ctx.out8(CMD, 0xec);
    expect(ctx.irq[14]).toBe(true);
    expect(ctx.in8(ALT)).toBe(0x58); // DRDY DSC DRQ; alternate status leaves INTRQ alone
    expect(ctx.irq[14]).toBe(true);
    expect(ctx.in8(STATUS)).toBe(0x58);
    expect(ctx.irq[14]).toBe(false); // the status read acknowledged it
    const id = readBlock(512);
    const w = (n: number) => id[n * 2] | (id[n * 2 + 1] << 8);
    const str = (from: number, words: number) => {
      let s = "";
      for (let i = from; i < from + words; i++) s += String.fromCharCode(w(i) >> 8, w(i) & 0xff);
      return s.trimEnd();
    };
    expect(w(0)).toBe(0x0040);
    expect([w(1), w(3), w(6)]).toEqual([20, 16, 63]);
    expect(str(27, 20)).toBe("RETRACE HARDDISK");
    expect(str(10, 10).length).toBeGreaterThan(0);
    expect(str(23, 4)).toBe("1.0");
    expect(w(47)).toBe(0x8010); // READ/WRITE MULTIPLE up to 16 sectors
    expect(w(49) & 0x0200).toBe(0x0200); // LBA supported
    expect(w(60) | (w(61) << 16)).toBe(SECTORS);
    expect([w(54), w(55), w(56)]).toEqual([20, 16, 63]);
    expect(w(57) | (w(58) << 16)).toBe(SECTORS);
    expect(id[510]).toBe(0xa5);
    expect(id.reduce((a, b) => a + b, 0) & 0xff).toBe(0); // integrity word checksum
    expect(ctx.in8(STATUS)).toBe(0x50); // DRQ gone after the last word
  });

  it("ata_identify_viaThirtyTwoBitReads_sameBytes", () => {
    ctx.out8(CMD, 0xec);
    const a = readBlock(512, 4);
    ctx.out8(CMD, 0xec);
    const b = readBlock(512, 2);
    expect(a).toEqual(b);
  });
});

describe("ATA READ SECTORS", () => {
  it("ata_readSectorsLba_oneIrqPerSectorAndCorrectData", () => {
    lbaCommand(0x20, 5, 2);
    expect(irqRises()).toBe(1);
    expect(ctx.in8(STATUS)).toBe(0x58);
    expect(readBlock(512)).toEqual(sectorBytes(5));
    expect(irqRises()).toBe(2); // the second sector is ready
    expect(ctx.in8(STATUS)).toBe(0x58);
    expect(readBlock(512)).toEqual(sectorBytes(6));
    expect(irqRises()).toBe(2); // none after the last data-in block
    expect(ctx.in8(STATUS)).toBe(0x50);
    // Task file: count 0 and the address of the last sector transferred.
    expect([ctx.in8(COUNT), ctx.in8(SECT), ctx.in8(CYL_LO), ctx.in8(CYL_HI)]).toEqual([0, 6, 0, 0]);
  });

  it("ata_unacknowledgedInterrupt_lineStaysHighWithoutNewEdge", () => {
    lbaCommand(0x20, 0, 2);
    readBlock(512); // no status read in between: INTRQ is still asserted
    expect(irqRises()).toBe(1);
    expect(ctx.irq[14]).toBe(true);
  });

  it("ata_readSectors32BitDataPort_sameData", () => {
    lbaCommand(0x21, 300, 1);
    expect(readBlock(512, 4)).toEqual(sectorBytes(300));
  });

  it("ata_readSectorsLbaAbove255_usesCylinderRegisters", () => {
    lbaCommand(0x20, 0x4e00, 1);
    expect(readBlock(512)).toEqual(sectorBytes(0x4e00));
  });

  it("ata_readSectorsChs_translatesWithDefaultGeometry", () => {
    ctx.out8(DEVHEAD, 0xa1); // CHS, head 1
    ctx.out8(COUNT, 1);
    ctx.out8(SECT, 1);
    ctx.out8(CYL_LO, 2);
    ctx.out8(CYL_HI, 0);
    ctx.out8(CMD, 0x20);
    expect(readBlock(512)).toEqual(sectorBytes((2 * 16 + 1) * 63));
  });

  it("ata_readSectorsCountZero_means256", () => {
    lbaCommand(0x20, 0, 0);
    for (let i = 0; i < 256; i++) {
      ctx.in8(STATUS); // an interrupt handler acknowledges each block
      readBlock(512);
    }
    expect(irqRises()).toBe(256);
    expect(ctx.in8(STATUS)).toBe(0x50);
  });

  it("ata_readVerify_completesWithoutData", () => {
    lbaCommand(0x40, 100, 8);
    expect(ctx.irq[14]).toBe(true);
    expect(ctx.in8(STATUS)).toBe(0x50);
  });
});

describe("ATA WRITE SECTORS", () => {
  it("ata_writeSectors_drqFirstWithoutIrq_thenIrqPerSector", () => {
    lbaCommand(0x30, 10, 2);
    expect(irqRises()).toBe(0); // data-out: no interrupt before the first block
    expect(ctx.in8(STATUS)).toBe(0x58);
    const a = new Uint8Array(512).fill(0xaa);
    const b = new Uint8Array(512).fill(0xbb);
    writeBlock(a);
    expect(irqRises()).toBe(1);
    expect(ctx.in8(STATUS)).toBe(0x58); // DRQ for the next sector
    writeBlock(b, 4);
    expect(irqRises()).toBe(2);
    expect(ctx.in8(STATUS)).toBe(0x50);
    lbaCommand(0x20, 10, 2);
    expect(readBlock(512)).toEqual(a);
    expect(readBlock(512)).toEqual(b);
    expect(image.subarray(10 * 512, 11 * 512)).toEqual(sectorBytes(10)); // base image untouched
  });
});

describe("ATA multiple mode", () => {
  it("ata_readMultipleWithoutSetMultiple_aborts", () => {
    lbaCommand(0xc4, 0, 4);
    expect(ctx.in8(STATUS)).toBe(0x51); // DRDY DSC ERR
    expect(ctx.in8(ERROR)).toBe(0x04); // ABRT
  });

  it("ata_setMultiple8_readMultipleTransfersEightSectorsPerIrq", () => {
    ctx.out8(DEVHEAD, 0xe0);
    ctx.out8(COUNT, 8);
    ctx.out8(CMD, 0xc6);
    expect(ctx.in8(STATUS)).toBe(0x50);
    const from = ctx.irqLog.length;
    lbaCommand(0xc4, 40, 10);
    expect(irqRises(from)).toBe(1);
    expect(ctx.in8(STATUS)).toBe(0x58);
    const first = readBlock(8 * 512);
    expect(first.subarray(7 * 512)).toEqual(sectorBytes(47));
    expect(irqRises(from)).toBe(2); // the remaining partial block of 2
    expect(ctx.in8(STATUS)).toBe(0x58);
    expect(readBlock(2 * 512).subarray(512)).toEqual(sectorBytes(49));
    expect(ctx.in8(STATUS)).toBe(0x50);
  });

  it("ata_writeMultiple_oneIrqPerBlock", () => {
    ctx.out8(COUNT, 4);
    ctx.out8(CMD, 0xc6);
    ctx.in8(STATUS);
    const from = ctx.irqLog.length;
    lbaCommand(0xc5, 200, 4);
    const data = Uint8Array.from({ length: 2048 }, (_, i) => (i * 13) & 0xff);
    writeBlock(data);
    expect(irqRises(from)).toBe(1);
    expect(ctx.in8(STATUS)).toBe(0x50);
    const out = new Uint8Array(512);
    disk.read(203, out);
    expect(out).toEqual(data.subarray(1536));
  });

  it("ata_setMultipleNotPowerOfTwo_aborts", () => {
    ctx.out8(COUNT, 3);
    ctx.out8(CMD, 0xc6);
    expect(ctx.in8(STATUS) & 0x01).toBe(0x01);
    ctx.out8(COUNT, 32);
    ctx.out8(CMD, 0xc6);
    expect(ctx.in8(ERROR)).toBe(0x04);
  });
});

describe("ATA errors", () => {
  it("ata_readPastEnd_abortsWithIrq", () => {
    lbaCommand(0x20, SECTORS - 1, 2);
    expect(ctx.irq[14]).toBe(true);
    expect(ctx.in8(STATUS)).toBe(0x51);
    expect(ctx.in8(ERROR)).toBe(0x04);
  });

  it("ata_chsSectorZero_aborts", () => {
    ctx.out8(DEVHEAD, 0xa0);
    ctx.out8(SECT, 0);
    ctx.out8(COUNT, 1);
    ctx.out8(CMD, 0x20);
    expect(ctx.in8(STATUS)).toBe(0x51);
  });

  it.each([0x00, 0xa1, 0xf8, 0x25])("ata_unsupportedCommand%#_aborts", (c) => {
    ctx.out8(CMD, c);
    expect(ctx.in8(STATUS)).toBe(0x51);
    expect(ctx.in8(ERROR)).toBe(0x04);
  });

  it("ata_nextGoodCommand_clearsError", () => {
    ctx.out8(CMD, 0xa1);
    ctx.out8(CMD, 0xe7); // FLUSH CACHE
    expect(ctx.in8(STATUS)).toBe(0x50);
    expect(ctx.in8(ERROR)).toBe(0x00);
  });
});

describe("ATA device control and reset", () => {
  it("ata_nIEN_keepsIrqLineLow", () => {
    ctx.out8(CTRL, 0x02);
    lbaCommand(0x20, 0, 1);
    expect(ctx.irq[14]).toBe(false);
    expect(ctx.in8(ALT)).toBe(0x58);
    ctx.out8(CTRL, 0x00); // the pending interrupt shows once enabled
    expect(ctx.irq[14]).toBe(true);
  });

  it("ata_softReset_busyWhileSetThenSignature", () => {
    lbaCommand(0x20, 3, 1);
    ctx.out8(CTRL, 0x04);
    expect(ctx.in8(ALT)).toBe(0x80); // BSY
    ctx.out8(CTRL, 0x00);
    expect(ctx.in8(ALT)).toBe(0x50);
    expect(ctx.in8(ERROR)).toBe(0x01);
    expect([ctx.in8(COUNT), ctx.in8(SECT), ctx.in8(CYL_LO), ctx.in8(CYL_HI), ctx.in8(DEVHEAD)]).toEqual([
      1, 1, 0, 0, 0xa0,
    ]);
    expect(ctx.irq[14]).toBe(false); // no interrupt after SRST
  });

  it("ata_executeDiagnostic_passesWithIrqAndSignature", () => {
    ctx.out8(CMD, 0x90);
    expect(ctx.irq[14]).toBe(true);
    expect(ctx.in8(ERROR)).toBe(0x01);
    expect(ctx.in8(COUNT)).toBe(1);
    expect(ctx.in8(STATUS)).toBe(0x50);
  });

  it.each([0xef, 0xe0, 0xe1, 0xe3, 0xe7, 0x10, 0x70])("ata_acceptedCommand%#_completesWithIrq", (c) => {
    ctx.out8(CMD, c);
    expect(ctx.irq[14]).toBe(true);
    expect(ctx.in8(STATUS)).toBe(0x50);
  });

  it("ata_initializeDeviceParameters_changesChsTranslation", () => {
    ctx.out8(DEVHEAD, 0xa3); // 4 heads
    ctx.out8(COUNT, 17); // 17 sectors per track
    ctx.out8(CMD, 0x91);
    expect(ctx.in8(STATUS)).toBe(0x50);
    ctx.out8(DEVHEAD, 0xa2);
    ctx.out8(COUNT, 1);
    ctx.out8(SECT, 5);
    ctx.out8(CYL_LO, 3);
    ctx.out8(CYL_HI, 0);
    ctx.out8(CMD, 0x20);
    expect(readBlock(512)).toEqual(sectorBytes((3 * 4 + 2) * 17 + 4));
    ctx.out8(CMD, 0xec);
    const id = readBlock(512);
    const w = (n: number) => id[n * 2] | (id[n * 2 + 1] << 8);
    expect([w(54), w(55), w(56)]).toEqual([Math.floor(SECTORS / 68), 4, 17]);
  });
});

describe("ATA absent devices", () => {
  it("ata_slaveSelectedWithoutSlave_statusZeroAndCommandsIgnored", () => {
    ctx.out8(DEVHEAD, 0xb0);
    expect(ctx.in8(STATUS)).toBe(0x00);
    expect(ctx.in8(ALT)).toBe(0x00);
    ctx.out8(CMD, 0xec);
    expect(ctx.irq[14]).toBe(false);
    expect(ctx.ports.in16(DATA)).toBe(0);
    ctx.out8(DEVHEAD, 0xa0);
    expect(ctx.in8(STATUS)).toBe(0x50); // the master was not disturbed
  });

  it("ata_noDiskAtAll_channelFloats", () => {
    const c = new FakeContext();
    const none = new Ata(null);
    none.attach(c);
    expect(c.in8(STATUS)).toBe(0xff);
    expect(c.in8(ALT)).toBe(0xff);
  });

  it("ata_slaveDisk_isSeparateDevice", () => {
    const c = new FakeContext();
    const slaveImg = makeImage(100);
    slaveImg.fill(0x33, 0, 512);
    const two = new Ata(new OverlayDisk(makeImage(100)), new OverlayDisk(slaveImg));
    two.attach(c);
    c.out8(DEVHEAD, 0xf0); // LBA, device 1
    c.out8(COUNT, 1);
    c.out8(SECT, 0);
    c.out8(CYL_LO, 0);
    c.out8(CYL_HI, 0);
    c.out8(CMD, 0x20);
    expect(c.ports.in16(DATA)).toBe(0x3333);
  });
});

describe("ATA state", () => {
  it("ata_saveLoad_midTransfer_continuesSameData", () => {
    lbaCommand(0x20, 7, 2);
    readBlock(100);
    const saved = ata.saveState();
    const c = new FakeContext();
    const other = new Ata(new OverlayDisk(image));
    other.attach(c);
    other.loadState(other.stateSchema.parse(saved));
    const rest = new Uint8Array(412);
    for (let i = 0; i < 412; i += 2) {
      const v = c.ports.in16(DATA);
      rest[i] = v & 0xff;
      rest[i + 1] = v >> 8;
    }
    expect(rest).toEqual(sectorBytes(7).subarray(100));
  });
});

describe("OverlayDisk", () => {
  it("overlay_write_neverTouchesBaseAndToImageHasWrites", () => {
    const base = makeImage(4);
    const copy = base.slice();
    const d: BlockDevice & OverlayDisk = new OverlayDisk(base);
    const data = new Uint8Array(512).fill(0x77);
    d.write(2, data);
    data.fill(0); // the overlay keeps its own copy
    expect(base).toEqual(copy);
    const out = new Uint8Array(512);
    d.read(2, out);
    expect(out.every((b) => b === 0x77)).toBe(true);
    const img = d.toImage();
    expect(img.subarray(1024, 1536).every((b) => b === 0x77)).toBe(true);
    expect(img.subarray(0, 1024)).toEqual(copy.subarray(0, 1024));
    expect(d.dirtySectors).toBe(1);
  });

  it("overlay_partialLastSector_readsZeroPaddedAndImageKeepsLength", () => {
    const base = new Uint8Array(700).fill(1);
    const d = new OverlayDisk(base);
    expect(d.sectors).toBe(2);
    const out = new Uint8Array(512).fill(9);
    d.read(1, out);
    expect(out.subarray(0, 188).every((b) => b === 1)).toBe(true);
    expect(out.subarray(188).every((b) => b === 0)).toBe(true);
    d.write(1, new Uint8Array(512).fill(2));
    expect(d.toImage().length).toBe(700);
  });

  it("overlay_outOfRange_throws", () => {
    const d = new OverlayDisk(new Uint8Array(1024));
    expect(() => d.read(2, new Uint8Array(512))).toThrow(RangeError);
    expect(() => d.write(-1, new Uint8Array(512))).toThrow(RangeError);
  });

  it("overlay_writtenSectors_restoreRoundTrip", () => {
    const d = new OverlayDisk(new Uint8Array(2048));
    d.write(3, new Uint8Array(512).fill(5));
    d.write(1, new Uint8Array(512).fill(4));
    const saved = d.writtenSectors();
    expect(saved.map(([l]) => l)).toEqual([1, 3]);
    const e = new OverlayDisk(new Uint8Array(2048));
    e.restoreWritten(saved);
    expect(e.toImage()).toEqual(d.toImage());
  });
});
