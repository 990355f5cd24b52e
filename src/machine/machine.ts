/**
 * The PC: the CPU, physical memory, the port bus and the devices, wired
 * together, and the deterministic run loop. Everything here is a pure
 * function of (configuration, disk image, the inputs handed in through
 * `TimeSource` / `injectSerial` at exact instruction counts): no host time,
 * no host I/O. The host layer (src/host) drives it.
 *
 * Guest time: guest nanoseconds = anchorNs + (icount - anchorIcount) x ps/1000.
 * The anchor moves only at instruction boundaries chosen by the time source:
 * never (virtual clock) or at logged sync points (host clock). HLT with
 * interrupts enabled skips guest time to the next device deadline.
 */
import { PortBus } from "../bus/ports.ts";
import { Cpu } from "../cpu/cpu.ts";
import { F } from "../cpu/constants.ts";
import { Ata, type BlockDevice } from "../devices/ata.ts";
import { Cmos } from "../devices/cmos.ts";
import { DebugCon } from "../devices/debugcon.ts";
import type { DeviceContext } from "../devices/device.ts";
import { I8042 } from "../devices/i8042.ts";
import { OverlayDisk } from "../devices/overlay-disk.ts";
import { Pic } from "../devices/pic.ts";
import { Pit } from "../devices/pit.ts";
import { Port92 } from "../devices/port92.ts";
import { PostCodePort } from "../devices/postcode.ts";
import { Uart } from "../devices/uart.ts";
import { Vga } from "../devices/vga.ts";
import { PhysicalMemory } from "../memory/physical.ts";
import { type GuestClock, Scheduler } from "../time/scheduler.ts";
import { type DirectBoot, type KernelLayout, loadDirectBoot, loadedRanges } from "./linux-boot.ts";

/** What the machine does when the guest halts with interrupts enabled (see Machine.onHalt). */
export type HaltAction = "resume" | "wait" | "end";

export type EndReason = "halt" | "poweroff" | "reset" | "until" | "limit" | "timeout" | "interrupted" | "error";

export interface MachineConfig {
  /** RAM in bytes (default 128 MiB). */
  ramBytes: number;
  /** Firmware image, 64-256 KiB. */
  bios: Uint8Array;
  /** Disk image content (never modified: writes go to an overlay), or null for no disk. */
  disk: Uint8Array | null;
  /** Wall-clock time at power-on, ms since the epoch (logged; the RTC starts from it). */
  epochMs: number;
  /** A Linux kernel loaded directly (`--kernel`), entered by the BIOS instead of the disk's MBR. */
  directBoot?: DirectBoot | null;
  /** Nominal guest speed in picoseconds of guest time per instruction (default 10,000 = 100 MIPS). */
  psPerInsn?: number;
}

/** Longest run between checks of device deadlines and stop conditions. */
const MAX_SLICE = 1_000_000;

export class Machine implements GuestClock {
  readonly mem: PhysicalMemory;
  readonly ports = new PortBus();
  readonly cpu: Cpu;
  readonly scheduler = new Scheduler();
  readonly pic = new Pic();
  readonly pit = new Pit();
  readonly cmos: Cmos;
  readonly uart = new Uart();
  readonly kbc = new I8042();
  readonly ata: Ata;
  readonly port92 = new Port92();
  readonly post = new PostCodePort();
  readonly debugcon = new DebugCon();
  readonly vga = new Vga();
  readonly disk: OverlayDisk | null;
  readonly epochMs: number;

  // Guest clock.
  anchorNs = 0;
  anchorIcount = 0;
  psPerInsn: number;

  /** Why the run ended, once it has. */
  endReason: EndReason | null = null;
  /** Bytes the guest wrote to COM1, in order (the serial console). */
  readonly serialListeners: ((byte: number) => void)[] = [];
  /** Serial input waiting for room in the UART FIFO. */
  private readonly serialQueue: number[] = [];
  private a20 = true;
  /** Text to stop at (`--until`), matched against the serial output. */
  private untilText: Uint8Array | null = null;
  private untilPos = 0;

  constructor(readonly config: MachineConfig) {
    this.mem = new PhysicalMemory({ ramBytes: config.ramBytes });
    this.mem.loadRom(config.bios);
    this.cpu = new Cpu(this.mem, this.ports);
    this.epochMs = config.epochMs;
    this.psPerInsn = config.psPerInsn ?? 10_000;
    this.cmos = new Cmos({ ramBytes: config.ramBytes });
    this.disk = config.disk === null ? null : new OverlayDisk(config.disk);
    this.ata = new Ata(this.disk as BlockDevice | null);

    const ctx: DeviceContext = {
      ports: this.ports,
      clock: this,
      scheduler: this.scheduler,
      mem: this.mem,
      setIrq: (line, level) => this.pic.setLine(line, level),
      requestReset: () => this.end("reset"),
      setA20: (on) => this.setA20(on),
      getA20: () => this.a20,
    };
    for (const d of [
      this.pic,
      this.pit,
      this.cmos,
      this.uart,
      this.kbc,
      this.ata,
      this.port92,
      this.post,
      this.debugcon,
      this.vga,
    ]) {
      d.attach(ctx);
    }
    this.pic.onIntr = (level) => {
      this.cpu.intr = level;
    };
    this.cpu.ackInterrupt = () => this.pic.acknowledge();
    // A deadline set by an instruction may fall inside the current slice: end the slice after
    // that instruction so the deadline fires at its exact instruction count (determinism).
    this.scheduler.onNewHead = () => {
      this.cpu.stopRequested = true;
    };
    this.cpu.onShutdown = () => this.end("reset");
    this.cpu.timeSource = () => Math.floor(this.nowNs()); // TSC at 1 GHz of guest time
    this.uart.onTransmit = (b) => this.onSerial(b);
    // FERR# with CR0.NE = 0 (PC/AT compatible x87 error reporting): IRQ 13, held until the guest
    // writes port 0xF0 ("clear busy") or the FPU drops it.
    this.cpu.fpu.onFerr = (asserted) => this.pic.setLine(13, asserted);
    this.ports.register(
      0xf0,
      1,
      "ferr",
      1,
      () => 0xff,
      () => this.pic.setLine(13, false),
    );
    if (config.directBoot) {
      this.kernelLayout = loadDirectBoot(this.mem.ram, config.directBoot);
      for (const [start, end] of loadedRanges(this.kernelLayout)) this.mem.markWritten(start, end);
      this.cmos.setConfigByte(0x3f, 0x4b); // 'K': tells retrace's BIOS to enter the loaded kernel
    }
  }

  /** Where a directly booted kernel was loaded, or null. */
  kernelLayout: KernelLayout | null = null;

  // ---------------------------------------------------------------- guest clock

  nowNs(): number {
    return this.anchorNs + ((this.cpu.icount - this.anchorIcount) * this.psPerInsn) / 1000;
  }

  /** Guest time at instruction count `ic` under the current anchor (the formula nowNs uses). */
  private timeAt(ic: number): number {
    return this.anchorNs + ((ic - this.anchorIcount) * this.psPerInsn) / 1000;
  }

  /**
   * Instructions from now until the first instruction count at which guest time reaches `due`,
   * exact under floating point, so a deadline fires at the same count however the run is sliced.
   */
  insnsUntil(due: number): number {
    const ic = this.cpu.icount;
    let n = Math.ceil(((due - this.timeAt(ic)) * 1000) / this.psPerInsn);
    if (n < 0) n = 0;
    while (n > 0 && this.timeAt(ic + n - 1) >= due) n--;
    while (this.timeAt(ic + n) < due) n++;
    return n;
  }

  /** Re-anchor guest time at the current instruction (time never goes backwards). */
  setTime(ns: number, psPerInsn: number): void {
    const now = this.nowNs();
    this.anchorNs = ns > now ? ns : now;
    this.anchorIcount = this.cpu.icount;
    this.psPerInsn = psPerInsn;
  }

  get icount(): number {
    return this.cpu.icount;
  }

  // ---------------------------------------------------------------- machine lines

  private setA20(on: boolean): void {
    if (on === this.a20) return;
    this.a20 = on;
    this.cpu.a20Mask = on ? -1 : ~(1 << 20);
    this.cpu.flushTlb();
  }

  /** End the run (first reason wins). */
  end(reason: EndReason): void {
    if (this.endReason === null) this.endReason = reason;
    this.cpu.stopRequested = true;
  }

  stopAtSerial(text: string): void {
    this.untilText = new TextEncoder().encode(text);
    this.untilPos = 0;
  }

  private onSerial(b: number): void {
    for (let k = 0; k < this.serialListeners.length; k++) this.serialListeners[k](b);
    const t = this.untilText;
    if (t !== null) {
      // Incremental match (restart-aware for texts whose prefix repeats is unnecessary for our markers;
      // we fall back to a re-scan of the matched prefix).
      if (b === t[this.untilPos]) {
        this.untilPos++;
        if (this.untilPos === t.length) {
          this.untilText = null;
          this.end("until");
        }
      } else {
        this.untilPos = b === t[0] ? 1 : 0;
      }
    }
  }

  /** Queue bytes for COM1; they enter the UART FIFO as room allows, at instruction boundaries. */
  injectSerial(bytes: Iterable<number>): void {
    for (const b of bytes) this.serialQueue.push(b & 0xff);
  }

  pendingSerial(): number {
    return this.serialQueue.length;
  }

  /** Queued input that the UART has room for now. */
  canDeliverSerial(): boolean {
    return this.serialQueue.length > 0 && this.uart.rxSpace() > 0;
  }

  /** The bytes the last deliverSerial() moved into the UART. */
  readonly lastDelivered: number[] = [];

  /** Move queued serial input into the UART (called only at slice boundaries). Returns bytes moved. */
  deliverSerial(): number {
    this.lastDelivered.length = 0;
    while (this.serialQueue.length > 0 && this.uart.rxSpace() > 0) {
      const b = this.serialQueue.shift() as number;
      this.uart.receive(b);
      this.lastDelivered.push(b);
    }
    return this.lastDelivered.length;
  }

  // ---------------------------------------------------------------- running

  /**
   * Run until `icountLimit` (absolute instruction count), a stop, or the guest halting with
   * nothing to wake it. Returns instructions retired. `boundary` is called whenever the
   * machine is at an instruction boundary between slices (the non-determinism layer applies
   * its events there); it returns the next absolute icount at which it needs control.
   */
  run(icountLimit: number, boundary: ((m: Machine) => number) | null = null): number {
    const cpu = this.cpu;
    const start = cpu.icount;
    this.waitingForHost = false;
    let nextEvent = boundary === null ? Number.POSITIVE_INFINITY : boundary(this);
    while (this.endReason === null && cpu.icount < icountLimit) {
      const now = this.nowNs();
      this.scheduler.runDue(now);
      if (this.endReason !== null) break;
      if (cpu.halted && !cpu.intr) {
        if ((cpu.eflags & F.IF) === 0) {
          this.end("halt");
          break;
        }
        // Halted with interrupts enabled: the session decides how guest time reaches the next deadline.
        const due = this.scheduler.nextDue();
        let action: HaltAction;
        if (this.onHalt !== null) action = this.onHalt(this, due);
        else if (due === Number.POSITIVE_INFINITY) action = "end";
        else {
          this.setTime(due, this.psPerInsn);
          action = "resume";
        }
        if (action === "end") {
          this.end("halt");
          break;
        }
        if (action === "wait") {
          this.waitingForHost = true;
          break;
        }
        if (boundary !== null) nextEvent = boundary(this);
        continue;
      }
      let budget = icountLimit - cpu.icount;
      if (budget > MAX_SLICE) budget = MAX_SLICE;
      if (nextEvent - cpu.icount < budget) budget = nextEvent - cpu.icount;
      const due = this.scheduler.nextDue();
      if (due !== Number.POSITIVE_INFINITY) {
        const until = this.insnsUntil(due);
        if (until < budget) budget = until < 1 ? 1 : until;
      }
      if (budget > 0) {
        cpu.stopRequested = false;
        cpu.run(budget);
        if (this.endReason !== null) break;
      }
      if (boundary !== null && cpu.icount >= nextEvent) nextEvent = boundary(this);
      else if (boundary !== null && budget <= 0) nextEvent = boundary(this);
    }
    return cpu.icount - start;
  }

  /**
   * Called when the guest halts with interrupts enabled; `dueNs` is the next device deadline
   * (Infinity: none). The session may move guest time itself, then answers: "resume" (go on),
   * "wait" (return to the host, which waits for input or time), "end" (nothing can wake the guest).
   * Without a session: skip to the deadline, or end when there is none.
   */
  onHalt: ((m: Machine, dueNs: number) => HaltAction) | null = null;
  /** Set when run() returned because the guest waits for host time or input. */
  waitingForHost = false;

  /** The 80x25 text screen. */
  screenText(): string {
    return this.vga.screenText();
  }

  /** Final disk content (base image plus guest writes), for --save-disk. */
  diskImage(): Uint8Array | null {
    return this.disk === null ? null : this.disk.toImage();
  }
}
