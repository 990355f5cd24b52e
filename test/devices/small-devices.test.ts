// Port 0x92 (IBM PS/2 System Control Port A), POST port 0x80, Bochs/QEMU
// debug console 0xE9.
import { beforeEach, describe, expect, it } from "vitest";
import { DebugCon } from "../../src/devices/debugcon.ts";
import { Port92 } from "../../src/devices/port92.ts";
import { PostCodePort } from "../../src/devices/postcode.ts";
import { FakeContext } from "./fake-context.ts";

let ctx: FakeContext;

beforeEach(() => {
  ctx = new FakeContext();
});

describe("port 0x92", () => {
  it("port92_bit1_gatesA20AndReadsBack", () => {
    new Port92().attach(ctx);
    ctx.out8(0x92, 0x02);
    expect(ctx.a20).toBe(true);
    expect(ctx.in8(0x92) & 0x02).toBe(0x02);
    ctx.out8(0x92, 0x00);
    expect(ctx.a20).toBe(false);
    expect(ctx.resets).toEqual([]);
  });

  it("port92_read_reportsA20SetElsewhere", () => {
    new Port92().attach(ctx);
    ctx.a20 = true; // e.g. through the 8042
    expect(ctx.in8(0x92) & 0x02).toBe(0x02);
  });

  it("port92_bit0RisingEdge_requestsOneReset", () => {
    new Port92().attach(ctx);
    ctx.out8(0x92, 0x03);
    expect(ctx.resets.length).toBe(1);
    ctx.out8(0x92, 0x03); // still 1: no new edge
    expect(ctx.resets.length).toBe(1);
    ctx.out8(0x92, 0x02);
    ctx.out8(0x92, 0x03);
    expect(ctx.resets.length).toBe(2);
    expect(ctx.a20Log).toEqual([true]); // A20 written only when bit 1 changed
  });
});

describe("POST port 0x80", () => {
  it("post_writes_recordedInOrderWithCallback", () => {
    const p = new PostCodePort();
    p.attach(ctx);
    const seen: number[] = [];
    p.onCode = (c) => seen.push(c);
    ctx.out8(0x80, 0x01);
    ctx.out8(0x80, 0x55);
    expect(p.history).toEqual([0x01, 0x55]);
    expect(seen).toEqual([0x01, 0x55]);
    expect(ctx.in8(0x80)).toBe(0x55);
  });

  it("post_flood_keepsBoundedRecentHistory", () => {
    const p = new PostCodePort({ historyLimit: 10 });
    p.attach(ctx);
    for (let i = 0; i < 1000; i++) ctx.out8(0x80, i & 0xff);
    expect(p.history.length).toBeLessThan(20);
    expect(p.recent()).toEqual(Array.from({ length: 10 }, (_, i) => (990 + i) & 0xff));
  });
});

describe("debug console 0xE9", () => {
  it("debugcon_writesGoToCallback_readReturnsE9", () => {
    const d = new DebugCon();
    d.attach(ctx);
    const out: number[] = [];
    d.onByte = (b) => out.push(b);
    ctx.out8(0xe9, 0x48);
    ctx.out8(0xe9, 0x69);
    expect(String.fromCharCode(...out)).toBe("Hi");
    expect(ctx.in8(0xe9)).toBe(0xe9);
  });
});
