/**
 * VGA in 80x25 colour text mode, as far as text-mode guests need it.
 *
 * The text buffer at physical 0xB8000 is ordinary RAM (character byte,
 * attribute byte per cell); `screenText()` reads it through `mem.ram`,
 * starting at the CRTC start address (registers 0Ch/0Dh, which Linux's
 * vgacon uses to scroll). Registers follow the IBM VGA technical reference:
 * the CRT controller at 0x3D4/0x3D5 (cursor start/end 0Ah/0Bh, cursor
 * location 0Eh/0Fh, write protection of 00h-07h by 11h bit 7), input status
 * 1 at 0x3DA (display-enable and vertical-retrace bits computed from guest
 * time at mode 3's 31.5 kHz / 70 Hz timing; reading it also resets the
 * attribute controller's index/data flip-flop), the miscellaneous output
 * register (write 0x3C2, read 0x3CC), and the attribute controller,
 * sequencer, graphics controller and DAC ports in 0x3C0-0x3CF, whose
 * registers are stored and read back but change nothing.
 */
import { z } from "zod";
import { Width } from "../bus/ports.ts";
import type { Device, DeviceContext } from "./device.ts";

const TEXT_BASE = 0xb8000;
/** The colour text window is 32 KiB (0xB8000-0xBFFFF). */
const TEXT_WINDOW = 0x8000;
const COLS = 80;
const ROWS = 25;

// Mode 3 timing: 28.322 MHz / 9-dot characters, 900 dots per line, 449 lines per frame.
const LINE_NS = 31_778;
const LINES_PER_FRAME = 449;
const FRAME_NS = LINE_NS * LINES_PER_FRAME;
/** Dots 0-719 of 900 are displayed: the rest of the line is horizontal blanking. */
const ACTIVE_NS = Math.round((LINE_NS * 720) / 900);
const ACTIVE_LINES = 400;
/** Vertical retrace starts at line 412 and lasts two lines (CRTC 10h/11h of mode 3). */
const VRETRACE_FIRST = 412;
const VRETRACE_LINES = 2;

/** CRTC registers 00h-18h of BIOS mode 3 (IBM VGA technical reference, mode 3 register table). */
const MODE3_CRTC = [
  0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f,
  0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
];

const VgaState = z.object({
  v: z.literal(1),
  crtcIndex: z.number().int(),
  crtc: z.array(z.number().int()).length(25),
  misc: z.number().int(),
  seqIndex: z.number().int(),
  seq: z.array(z.number().int()).length(8),
  gcIndex: z.number().int(),
  gc: z.array(z.number().int()).length(16),
  attrIndex: z.number().int(),
  attrFlip: z.boolean(),
  attr: z.array(z.number().int()).length(32),
  dacMask: z.number().int(),
  dacRead: z.number().int(),
  dacWrite: z.number().int(),
  dac: z.array(z.number().int()).length(768),
  featureControl: z.number().int(),
});
export type VgaState = z.infer<typeof VgaState>;

export interface CursorInfo {
  /** Cell index from the start of video memory (CRTC 0Eh/0Fh). */
  offset: number;
  row: number;
  col: number;
  /** CRTC 0Ah bit 5 = 0 and start <= end. */
  visible: boolean;
}

export class Vga implements Device<VgaState> {
  readonly name = "vga";
  readonly stateSchema = VgaState;
  private crtcIndex = 0;
  private readonly crtc = new Uint8Array(25);
  private misc = 0x67;
  private seqIndex = 0;
  private readonly seq = new Uint8Array(8);
  private gcIndex = 0;
  private readonly gc = new Uint8Array(16);
  private attrIndex = 0;
  /** false = the next write to 0x3C0 is an index, true = data. */
  private attrFlip = false;
  private readonly attr = new Uint8Array(32);
  private dacMask = 0xff;
  /** DAC read/write positions in components (entry * 3 + colour). */
  private dacRead = 0;
  private dacWrite = 0;
  private readonly dac = new Uint8Array(768);
  private featureControl = 0;
  private ctx: DeviceContext | null = null;

  constructor() {
    this.powerOn();
  }

  attach(ctx: DeviceContext): void {
    this.ctx = ctx;
    const p = ctx.ports;
    p.register(
      0x3c0,
      16,
      this.name,
      Width.B,
      (port) => this.read(port),
      (port, v) => this.write(port, v),
    );
    p.register(
      0x3d4,
      2,
      this.name,
      Width.B,
      (port) => this.read(port),
      (port, v) => this.write(port, v),
    );
    p.register(
      0x3da,
      1,
      this.name,
      Width.B,
      (port) => this.read(port),
      (port, v) => this.write(port, v),
    );
  }

  private powerOn(): void {
    this.crtcIndex = 0;
    this.crtc.set(MODE3_CRTC);
    this.misc = 0x67;
    this.seqIndex = 0;
    this.seq.fill(0);
    this.seq.set([0x03, 0x00, 0x03, 0x00, 0x02]);
    this.gcIndex = 0;
    this.gc.fill(0);
    this.gc.set([0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff]);
    this.attrIndex = 0;
    this.attrFlip = false;
    this.attr.fill(0);
    this.dacMask = 0xff;
    this.dacRead = 0;
    this.dacWrite = 0;
    this.dac.fill(0);
    this.featureControl = 0;
  }

  reset(): void {
    this.powerOn();
  }

  /** CRTC start address (0Ch high, 0Dh low) in cells. */
  get startAddress(): number {
    return (this.crtc[0x0c] << 8) | this.crtc[0x0d];
  }

  cursor(): CursorInfo {
    const offset = (this.crtc[0x0e] << 8) | this.crtc[0x0f];
    const rel = (offset - this.startAddress + 0x10000) & 0xffff;
    const start = this.crtc[0x0a];
    const end = this.crtc[0x0b] & 0x1f;
    return {
      offset,
      row: Math.floor(rel / COLS),
      col: rel % COLS,
      visible: (start & 0x20) === 0 && (start & 0x1f) <= end,
    };
  }

  /**
   * The visible 80x25 screen as 25 lines joined by "\n", trailing spaces
   * trimmed. Printable ASCII is kept; NUL and FFh show as spaces and any other
   * byte as ".".
   */
  screenText(): string {
    if (this.ctx === null) return "";
    const ram = this.ctx.mem.ram;
    const lines: string[] = [];
    let cell = this.startAddress;
    for (let r = 0; r < ROWS; r++) {
      let line = "";
      for (let c = 0; c < COLS; c++, cell++) {
        const addr = TEXT_BASE + ((cell * 2) & (TEXT_WINDOW - 1));
        const ch = addr < ram.length ? ram[addr] : 0;
        line += ch >= 0x20 && ch < 0x7f ? String.fromCharCode(ch) : ch === 0 || ch === 0xff ? " " : ".";
      }
      lines.push(line.replace(/ +$/, ""));
    }
    return lines.join("\n");
  }

  /** Input status 1: bit 0 = display disabled (any blanking), bit 3 = vertical retrace. */
  private inputStatus1(): number {
    this.attrFlip = false; // reading 3DAh resets the attribute controller flip-flop
    const ns = this.ctx === null ? 0 : Math.floor(this.ctx.clock.nowNs());
    const t = ns % FRAME_NS;
    const line = Math.floor(t / LINE_NS);
    const inLine = t - line * LINE_NS;
    const vretrace = line >= VRETRACE_FIRST && line < VRETRACE_FIRST + VRETRACE_LINES;
    const blank = line >= ACTIVE_LINES || inLine >= ACTIVE_NS;
    return (blank ? 0x01 : 0) | (vretrace ? 0x08 : 0);
  }

  private read(port: number): number {
    switch (port) {
      case 0x3c0:
        return this.attrIndex;
      case 0x3c1:
        return this.attr[this.attrIndex & 0x1f];
      case 0x3c2:
        return 0x10; // input status 0: switch sense
      case 0x3c4:
        return this.seqIndex;
      case 0x3c5:
        return this.seq[this.seqIndex & 7];
      case 0x3c6:
        return this.dacMask;
      case 0x3c7:
        return 0x00; // DAC state: last access was a write
      case 0x3c8:
        return Math.floor(this.dacWrite / 3);
      case 0x3c9: {
        const v = this.dac[this.dacRead];
        this.dacRead = (this.dacRead + 1) % 768;
        return v;
      }
      case 0x3ca:
        return this.featureControl;
      case 0x3cc:
        return this.misc;
      case 0x3ce:
        return this.gcIndex;
      case 0x3cf:
        return this.gc[this.gcIndex & 0x0f];
      case 0x3d4:
        return this.crtcIndex;
      case 0x3d5:
        return this.crtcIndex < this.crtc.length ? this.crtc[this.crtcIndex] : 0;
      case 0x3da:
        return this.inputStatus1();
      default:
        return 0xff;
    }
  }

  private write(port: number, v: number): void {
    switch (port) {
      case 0x3c0:
        if (!this.attrFlip) this.attrIndex = v & 0x3f;
        else this.attr[this.attrIndex & 0x1f] = v;
        this.attrFlip = !this.attrFlip;
        return;
      case 0x3c2:
        this.misc = v;
        return;
      case 0x3c4:
        this.seqIndex = v;
        return;
      case 0x3c5:
        this.seq[this.seqIndex & 7] = v;
        return;
      case 0x3c6:
        this.dacMask = v;
        return;
      case 0x3c7:
        this.dacRead = v * 3;
        return;
      case 0x3c8:
        this.dacWrite = v * 3;
        return;
      case 0x3c9:
        this.dac[this.dacWrite] = v & 0x3f;
        this.dacWrite = (this.dacWrite + 1) % 768;
        return;
      case 0x3ce:
        this.gcIndex = v;
        return;
      case 0x3cf:
        this.gc[this.gcIndex & 0x0f] = v;
        return;
      case 0x3d4:
        this.crtcIndex = v;
        return;
      case 0x3d5: {
        const i = this.crtcIndex;
        if (i >= this.crtc.length) return;
        // CRTC 11h bit 7 write-protects registers 00h-07h, except the line compare bit (07h bit 4).
        if (this.crtc[0x11] & 0x80 && i <= 7) {
          if (i === 7) this.crtc[7] = (this.crtc[7] & ~0x10) | (v & 0x10);
          return;
        }
        this.crtc[i] = v;
        return;
      }
      case 0x3da:
        this.featureControl = v; // feature control write (colour)
        return;
      default:
        return;
    }
  }

  saveState(): VgaState {
    return {
      v: 1,
      crtcIndex: this.crtcIndex,
      crtc: Array.from(this.crtc),
      misc: this.misc,
      seqIndex: this.seqIndex,
      seq: Array.from(this.seq),
      gcIndex: this.gcIndex,
      gc: Array.from(this.gc),
      attrIndex: this.attrIndex,
      attrFlip: this.attrFlip,
      attr: Array.from(this.attr),
      dacMask: this.dacMask,
      dacRead: this.dacRead,
      dacWrite: this.dacWrite,
      dac: Array.from(this.dac),
      featureControl: this.featureControl,
    };
  }

  loadState(state: VgaState): void {
    const s = VgaState.parse(state);
    this.crtcIndex = s.crtcIndex;
    this.crtc.set(s.crtc);
    this.misc = s.misc;
    this.seqIndex = s.seqIndex;
    this.seq.set(s.seq);
    this.gcIndex = s.gcIndex;
    this.gc.set(s.gc);
    this.attrIndex = s.attrIndex;
    this.attrFlip = s.attrFlip;
    this.attr.set(s.attr);
    this.dacMask = s.dacMask;
    this.dacRead = s.dacRead;
    this.dacWrite = s.dacWrite;
    this.dac.set(s.dac);
    this.featureControl = s.featureControl;
  }
}
