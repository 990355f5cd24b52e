// VGA text-mode tests. References: IBM VGA technical reference (CRTC registers
// 0Ah/0Bh cursor start/end, 0Ch/0Dh start address, 0Eh/0Fh cursor location,
// 11h bit 7 protect; input status 1 bits 0 and 3; attribute controller
// flip-flop reset by reading 3DAh; mode 3 timing 31.5 kHz / 70 Hz).
import { beforeEach, describe, expect, it } from "vitest";
import { Vga } from "../../src/devices/vga.ts";
import { FakeContext } from "./fake-context.ts";

let ctx: FakeContext;
let vga: Vga;

function putText(cell: number, text: string, attr = 0x07): void {
  for (let i = 0; i < text.length; i++) {
    ctx.mem.ram[0xb8000 + (cell + i) * 2] = text.charCodeAt(i);
    ctx.mem.ram[0xb8000 + (cell + i) * 2 + 1] = attr;
  }
}
const crtc = (i: number, v?: number) => {
  ctx.out8(0x3d4, i);
  if (v !== undefined) ctx.out8(0x3d5, v);
  return ctx.in8(0x3d5);
};

beforeEach(() => {
  ctx = new FakeContext();
  vga = new Vga();
  vga.attach(ctx);
});

describe("VGA text screen", () => {
  it("vga_screenText_25LinesTrailingSpacesTrimmed", () => {
    putText(0, "Hello   ");
    putText(80 * 24 + 70, "end");
    const lines = vga.screenText().split("\n");
    expect(lines.length).toBe(25);
    expect(lines[0]).toBe("Hello");
    expect(lines[1]).toBe("");
    expect(lines[24]).toBe(`${" ".repeat(70)}end`);
  });

  it("vga_screenText_nonAsciiShownAsDotNulAsSpace", () => {
    putText(0, "a\u0001b\u00c4c");
    ctx.mem.ram[0xb8000 + 10] = 0; // NUL in the middle of the line
    putText(6, "d");
    expect(vga.screenText().split("\n")[0]).toBe("a.b.c d");
  });

  it("vga_startAddress_scrollsTheVisibleWindow", () => {
    putText(0, "first row");
    putText(80, "second row");
    crtc(0x0c, 0x00);
    crtc(0x0d, 80); // start at cell 80
    expect(vga.screenText().split("\n")[0]).toBe("second row");
  });
});

describe("VGA CRTC registers", () => {
  it("vga_cursorLocation_readBackAndRowCol", () => {
    crtc(0x0e, 0x01);
    crtc(0x0f, 0x90); // cell 400 = row 5, col 0
    expect([crtc(0x0e), crtc(0x0f)]).toEqual([0x01, 0x90]);
    expect(vga.cursor()).toEqual({ offset: 400, row: 5, col: 0, visible: true });
    crtc(0x0a, 0x20); // cursor disable bit
    expect(vga.cursor().visible).toBe(false);
  });

  it("vga_mode3Defaults_cursorScanlines13To14", () => {
    expect([crtc(0x0a), crtc(0x0b)]).toEqual([0x0d, 0x0e]);
  });

  it("vga_protectBit_blocksRegisters0To7", () => {
    const before = crtc(0x01);
    crtc(0x11, 0x8e); // protect on
    crtc(0x01, 0x12);
    expect(crtc(0x01)).toBe(before);
    crtc(0x11, 0x0e);
    crtc(0x01, 0x12);
    expect(crtc(0x01)).toBe(0x12);
  });
});

describe("VGA input status 1 (0x3DA)", () => {
  it("vga_inputStatus_retraceBitsFollowGuestTime", () => {
    const line = 31_778;
    ctx.clock.ns = 10; // start of a visible line
    expect(ctx.in8(0x3da) & 0x09).toBe(0x00);
    ctx.clock.ns = 26_000; // horizontal blanking of line 0
    expect(ctx.in8(0x3da) & 0x09).toBe(0x01);
    ctx.clock.ns = 405 * line; // vertical blanking, no retrace yet
    expect(ctx.in8(0x3da) & 0x09).toBe(0x01);
    ctx.clock.ns = 412 * line + 5; // vertical retrace
    expect(ctx.in8(0x3da) & 0x09).toBe(0x09);
    ctx.clock.ns = 449 * line + 5; // next frame, visible again
    expect(ctx.in8(0x3da) & 0x09).toBe(0x00);
  });

  it("vga_inputStatusRead_resetsAttributeFlipFlop", () => {
    ctx.out8(0x3c0, 0x05); // index
    ctx.in8(0x3da); // reset: the next 3C0h write is an index again
    ctx.out8(0x3c0, 0x06);
    ctx.out8(0x3c0, 0x3f); // data for register 6
    expect(ctx.in8(0x3c0)).toBe(0x06);
    expect(ctx.in8(0x3c1)).toBe(0x3f);
  });
});

describe("VGA other ports", () => {
  it("vga_miscOutput_writtenAt3C2_readAt3CC", () => {
    expect(ctx.in8(0x3cc)).toBe(0x67);
    ctx.out8(0x3c2, 0x63);
    expect(ctx.in8(0x3cc)).toBe(0x63);
  });

  it("vga_sequencerGraphicsDac_storeValues", () => {
    ctx.out8(0x3c4, 0x02);
    ctx.out8(0x3c5, 0x0f);
    expect(ctx.in8(0x3c5)).toBe(0x0f);
    ctx.out8(0x3ce, 0x05);
    ctx.out8(0x3cf, 0x40);
    expect(ctx.in8(0x3cf)).toBe(0x40);
    ctx.out8(0x3c8, 0x01);
    for (const c of [0x3f, 0x20, 0x01]) ctx.out8(0x3c9, c);
    ctx.out8(0x3c7, 0x01);
    expect([ctx.in8(0x3c9), ctx.in8(0x3c9), ctx.in8(0x3c9)]).toEqual([0x3f, 0x20, 0x01]);
  });

  it("vga_saveLoad_roundTripsCursor", () => {
    crtc(0x0e, 0x02);
    crtc(0x0f, 0x00);
    const v2 = new Vga();
    v2.loadState(v2.stateSchema.parse(JSON.parse(JSON.stringify(vga.saveState()))));
    expect(v2.cursor().offset).toBe(0x200);
  });
});
