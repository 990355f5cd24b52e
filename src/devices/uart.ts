/**
 * National Semiconductor PC16550D UART, as COM1 (0x3F8-0x3FF, IRQ 4).
 *
 * Behaviour follows the PC16550D datasheet: divisor latch (LCR DLAB), IER,
 * IIR with the FIFO-enabled bits and the four-level interrupt priority
 * (receiver line status > received data available / character timeout >
 * THR empty > modem status), FCR (enable, clear, RX trigger level 1/4/8/14),
 * LCR, MCR (loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD), LSR,
 * MSR with delta bits, and the scratch register. As on a PC, the interrupt
 * pin reaches the IRQ line only through the buffer enabled by OUT2 (and that
 * output is forced inactive in loopback mode).
 *
 * Transmission is instantaneous (THR and the shift register are always empty
 * again right after a write), which keeps output independent of baud timing.
 * Reception: the machine calls `receive()` at an exact instruction count. The
 * character timeout indication fires four character times (at the programmed
 * baud rate and frame format) of guest time after the last byte was received
 * or read, while the FIFO holds data.
 */
import { z } from "zod";
import { Width } from "../bus/ports.ts";
import { Task } from "../time/scheduler.ts";
import type { Device, DeviceContext } from "./device.ts";

export interface UartOptions {
  base?: number;
  irq?: number;
}

const UartState = z.object({
  v: z.literal(1),
  rx: z.array(z.number().int().min(0).max(255)),
  dll: z.number().int(),
  dlm: z.number().int(),
  ier: z.number().int(),
  lcr: z.number().int(),
  mcr: z.number().int(),
  fcr: z.number().int(),
  lsrErrors: z.number().int(),
  msr: z.number().int(),
  scr: z.number().int(),
  thrPending: z.boolean(),
  timeoutPending: z.boolean(),
  lastRxNs: z.number(),
  irqLevel: z.boolean(),
});
export type UartState = z.infer<typeof UartState>;

// IER bits.
const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IER_RLS = 0x04;
const IER_MS = 0x08;
// IIR interrupt identification codes.
const IIR_NONE = 0x01;
const IIR_RLS = 0x06;
const IIR_RDA = 0x04;
const IIR_TIMEOUT = 0x0c;
const IIR_THRE = 0x02;
const IIR_MS = 0x00;
const IIR_FIFO = 0xc0;
// FCR bits.
const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
// LCR / MCR bits.
const LCR_DLAB = 0x80;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
// LSR bits.
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];
/** Modem inputs seen when not in loopback: CTS, DSR and DCD asserted (a null-modem console). */
const MSR_INPUTS_IDLE = 0xb0;

export class Uart implements Device<UartState> {
  readonly name = "uart";
  readonly stateSchema = UartState;
  readonly base: number;
  readonly irq: number;
  /** Called with every byte the guest transmits (not in loopback mode). */
  onTransmit: ((byte: number) => void) | null = null;

  private rx: number[] = [];
  private dll = 0x0c; // 9600 baud
  private dlm = 0;
  private ier = 0;
  private lcr = 0x03; // 8N1
  private mcr = 0;
  private fcr = 0;
  /** LSR OE/PE/FE/BI, cleared by reading the LSR. */
  private lsrErrors = 0;
  private msr = MSR_INPUTS_IDLE;
  private scr = 0;
  /** THR empty interrupt pending (set when THR empties or ETBEI is enabled; cleared by IIR read or THR write). */
  private thrPending = false;
  private timeoutPending = false;
  private lastRxNs = 0;
  private irqLevel = false;
  private ctx: DeviceContext | null = null;
  private readonly timeoutTask = new Task("uart.timeout", (atNs) => this.onTimeout(atNs));

  constructor(opts: UartOptions = {}) {
    this.base = opts.base ?? 0x3f8;
    this.irq = opts.irq ?? 4;
  }

  attach(ctx: DeviceContext): void {
    this.ctx = ctx;
    ctx.ports.register(
      this.base,
      8,
      this.name,
      Width.B,
      (port) => this.read(port - this.base),
      (port, v) => this.write(port - this.base, v),
    );
  }

  reset(): void {
    // Datasheet "UART reset configuration": IER, IIR, FCR, LCR, MCR, LSR(except THRE/TEMT), MSR deltas cleared.
    this.rx = [];
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.fcr = 0;
    this.lsrErrors = 0;
    this.msr = MSR_INPUTS_IDLE;
    this.thrPending = false;
    this.timeoutPending = false;
    this.ctx?.scheduler.cancel(this.timeoutTask);
    this.updateIrq();
  }

  private fifoEnabled(): boolean {
    return (this.fcr & FCR_ENABLE) !== 0;
  }

  private capacity(): number {
    return this.fifoEnabled() ? FIFO_SIZE : 1;
  }

  private loopback(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  /** How many more bytes `receive` can take now (0 in loopback mode: the input is disconnected). */
  rxSpace(): number {
    return this.loopback() ? 0 : this.capacity() - this.rx.length;
  }

  /** A byte arrives on the serial input. Returns false if it was lost (FIFO full: overrun, or loopback). */
  receive(byte: number): boolean {
    if (this.loopback()) return false;
    return this.pushRx(byte & 0xff);
  }

  private now(): number {
    return this.ctx === null ? 0 : this.ctx.clock.nowNs();
  }

  private pushRx(byte: number): boolean {
    let ok = true;
    if (this.rx.length >= this.capacity()) {
      // Datasheet: on overrun the FIFO is kept and the character in the shift register is lost.
      this.lsrErrors |= LSR_OE;
      ok = false;
    } else {
      this.rx.push(byte);
    }
    this.restartTimeout();
    this.updateIrq();
    return ok;
  }

  /** Time of four characters at the current baud rate and frame format. */
  private charTimeoutNs(): number {
    const divisor = (this.dlm << 8) | this.dll || 0x10000;
    const bits = 1 + 5 + (this.lcr & 3) + (this.lcr & 0x08 ? 1 : 0) + (this.lcr & 0x04 ? 2 : 1);
    // 1.8432 MHz / 16 = 115200 bit/s at divisor 1.
    return Math.ceil((4 * bits * divisor * 1e9) / 115200);
  }

  /** The timeout counter restarts on every received byte and every FIFO read. */
  private restartTimeout(): void {
    this.timeoutPending = false;
    if (this.ctx === null) return;
    if (this.fifoEnabled() && this.rx.length > 0) {
      this.lastRxNs = this.now();
      this.ctx.scheduler.scheduleAt(this.timeoutTask, this.lastRxNs + this.charTimeoutNs());
    } else {
      this.ctx.scheduler.cancel(this.timeoutTask);
    }
  }

  private onTimeout(_atNs: number): void {
    if (this.fifoEnabled() && this.rx.length > 0) {
      this.timeoutPending = true;
      this.updateIrq();
    }
  }

  private dataAvailable(): boolean {
    if (!this.fifoEnabled()) return this.rx.length > 0;
    return this.rx.length >= TRIGGER_LEVELS[this.fcr >>> 6];
  }

  /** The interrupt identification code (IIR bits 3-0) for the highest-priority pending source. */
  private pendingId(): number {
    const ier = this.ier;
    if (ier & IER_RLS && this.lsrErrors !== 0) return IIR_RLS;
    if (ier & IER_RDA) {
      if (this.dataAvailable()) return IIR_RDA;
      if (this.timeoutPending) return IIR_TIMEOUT;
    }
    if (ier & IER_THRE && this.thrPending) return IIR_THRE;
    if (ier & IER_MS && this.msr & 0x0f) return IIR_MS;
    return IIR_NONE;
  }

  private updateIrq(): void {
    const level = (this.mcr & MCR_OUT2) !== 0 && !this.loopback() && this.pendingId() !== IIR_NONE;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.ctx?.setIrq(this.irq, level);
  }

  private modemInputs(): number {
    if (!this.loopback()) return MSR_INPUTS_IDLE;
    const m = this.mcr;
    // Loopback: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2.
    return ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4);
  }

  /** Latch new modem input levels into MSR bits 7-4 and set the delta bits 3-0. */
  private updateMsr(): void {
    const now = this.modemInputs();
    const old = this.msr & 0xf0;
    const changed = now ^ old;
    let delta = this.msr & 0x0f;
    if (changed & 0x10) delta |= 0x01; // DCTS
    if (changed & 0x20) delta |= 0x02; // DDSR
    if (old & 0x40 && !(now & 0x40)) delta |= 0x04; // TERI: trailing edge of RI
    if (changed & 0x80) delta |= 0x08; // DDCD
    this.msr = now | delta;
  }

  private read(off: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (off) {
      case 0: {
        if (dlab) return this.dll;
        const v = this.rx.length > 0 ? (this.rx.shift() as number) : 0;
        this.restartTimeout();
        this.updateIrq();
        return v;
      }
      case 1:
        return dlab ? this.dlm : this.ier;
      case 2: {
        const id = this.pendingId();
        // Datasheet: reading IIR clears a THRE interrupt when it is the one reported.
        if (id === IIR_THRE) {
          this.thrPending = false;
          this.updateIrq();
        }
        return id | (this.fifoEnabled() ? IIR_FIFO : 0);
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const v = (this.rx.length > 0 ? LSR_DR : 0) | this.lsrErrors | LSR_THRE | LSR_TEMT;
        if (this.lsrErrors !== 0) {
          this.lsrErrors = 0;
          this.updateIrq();
        }
        return v;
      }
      case 6: {
        const v = this.msr;
        if (v & 0x0f) {
          this.msr &= 0xf0;
          this.updateIrq();
        }
        return v;
      }
      default:
        return this.scr;
    }
  }

  private write(off: number, v: number): void {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (off) {
      case 0:
        if (dlab) {
          this.dll = v;
          return;
        }
        this.transmit(v);
        return;
      case 1: {
        if (dlab) {
          this.dlm = v;
          return;
        }
        const old = this.ier;
        this.ier = v & 0x0f;
        // Enabling ETBEI while THR is empty raises the THRE interrupt (what drivers use to start output).
        if ((old & IER_THRE) === 0 && this.ier & IER_THRE) this.thrPending = true;
        this.updateIrq();
        return;
      }
      case 2:
        this.writeFcr(v);
        return;
      case 3:
        this.lcr = v;
        return;
      case 4:
        this.mcr = v & 0x1f;
        this.updateMsr();
        this.updateIrq();
        return;
      case 5:
        return; // LSR: writes are for factory test only
      case 6:
        return;
      default:
        this.scr = v;
    }
  }

  private transmit(v: number): void {
    this.thrPending = false;
    if (this.loopback()) this.pushRx(v);
    else this.onTransmit?.(v);
    // The byte left at once: THR is empty again.
    this.thrPending = true;
    this.updateIrq();
  }

  private writeFcr(v: number): void {
    const wasEnabled = this.fifoEnabled();
    const enable = (v & FCR_ENABLE) !== 0;
    // Datasheet: changing FCR0 clears both FIFOs; FCR0 must be 1 for the other bits to be written.
    if (enable !== wasEnabled) this.rx = [];
    if (enable) {
      if (v & FCR_CLEAR_RX) this.rx = [];
      this.fcr = v & 0xc9;
    } else {
      this.fcr = 0;
    }
    this.restartTimeout();
    this.updateIrq();
  }

  saveState(): UartState {
    return {
      v: 1,
      rx: [...this.rx],
      dll: this.dll,
      dlm: this.dlm,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      fcr: this.fcr,
      lsrErrors: this.lsrErrors,
      msr: this.msr,
      scr: this.scr,
      thrPending: this.thrPending,
      timeoutPending: this.timeoutPending,
      lastRxNs: this.lastRxNs,
      irqLevel: this.irqLevel,
    };
  }

  loadState(state: UartState): void {
    const s = UartState.parse(state);
    this.rx = [...s.rx];
    this.dll = s.dll;
    this.dlm = s.dlm;
    this.ier = s.ier;
    this.lcr = s.lcr;
    this.mcr = s.mcr;
    this.fcr = s.fcr;
    this.lsrErrors = s.lsrErrors;
    this.msr = s.msr;
    this.scr = s.scr;
    this.thrPending = s.thrPending;
    this.timeoutPending = s.timeoutPending;
    this.lastRxNs = s.lastRxNs;
    this.irqLevel = s.irqLevel;
    if (this.ctx !== null) {
      if (this.fifoEnabled() && this.rx.length > 0 && !this.timeoutPending) {
        this.ctx.scheduler.scheduleAt(this.timeoutTask, this.lastRxNs + this.charTimeoutNs());
      } else this.ctx.scheduler.cancel(this.timeoutTask);
    }
  }
}
