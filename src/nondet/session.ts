/**
 * THE record/replay boundary (DESIGN.md §2). A Session is the only thing
 * that decides what host time and external input the machine sees:
 *
 *   LiveSession    `run`: host clock or virtual clock, input from the host
 *   CaptureSession `capture`: the same, and every decision is logged
 *   ReplaySession  `replay`/`expand`: every decision comes from the log
 *
 * The machine cannot tell them apart: it calls `boundary()` at instruction
 * boundaries (the session applies what is due at exactly this instruction
 * count and names the next count it needs) and `onHalt()` when the guest
 * idles. Guest time is a deterministic function of the instruction count
 * between sync points; a sync point re-anchors it to host time, and the rate
 * until the next one is the rate of the interval just ended (TimeLine), so
 * RDTSC, PIT and RTC reads between sync points cost no log entry at all.
 */
import { createHash, type Hash } from "node:crypto";
import type { CheckEvent, LogEvent, LogHeader, LogTrailer, LogWriter } from "../log/index.ts";
import { stateSums } from "../machine/checksum.ts";
import type { EndReason, HaltAction, Machine } from "../machine/machine.ts";

export type ClockMode = "host" | "virtual";
export type { HaltAction } from "../machine/machine.ts";

export interface Session {
  readonly clock: ClockMode;
  /** Apply (and log) what is due at m.icount; return the next icount at which control is needed. */
  boundary(m: Machine): number;
  /** The guest halted with interrupts enabled; `dueNs` is the next device deadline (Infinity: none). */
  onHalt(m: Machine, dueNs: number): HaltAction;
  /** Nanoseconds the guest clock runs ahead of the host's (the host waits that long when the guest idles). */
  aheadNs(m: Machine): number;
  /** The host waited while the guest idled (host clock only). */
  resumeAfterWait(m: Machine): void;
  /** True when this session moves time itself and the machine must not wait for the host. */
  readonly replaying: boolean;
}

/** With the virtual clock, chunks are flushed every this many instructions. */
const VIRTUAL_FLUSH_INSNS = 10_000_000;
/** Host-clock sync period (DESIGN.md §2: "every few milliseconds of host time"). */
export const SYNC_NS = 5_000_000;
/** Guest ps per instruction is kept within these bounds (10 GIPS .. 1 MIPS nominal). */
const PS_MIN = 100;
const PS_MAX = 1_000_000;
/** Boundary calls at least this often in host mode, so time and input are followed promptly. */
const HOST_POLL_INSNS = 200_000;

/** The sync-point arithmetic shared by capture and replay: both must compute identical guest time. */
export class TimeLine {
  private prevIcount = 0;
  private prevNs = 0;

  sync(m: Machine, ns: number): void {
    const di = m.icount - this.prevIcount;
    let ps = m.psPerInsn;
    if (di > 0) {
      ps = Math.round(((ns - this.prevNs) * 1000) / di);
      if (ps < PS_MIN) ps = PS_MIN;
      if (ps > PS_MAX) ps = PS_MAX;
    }
    m.setTime(ns, ps);
    this.prevIcount = m.icount;
    this.prevNs = ns;
  }

  /**
   * The guest idled and its clock jumps to the next device deadline: a pure function of the
   * machine state, so it is never logged. The rate measurement restarts after the jump.
   */
  skip(m: Machine, dueNs: number): void {
    m.setTime(dueNs, m.psPerInsn);
    this.prevIcount = m.icount;
    this.prevNs = Math.floor(m.nowNs());
  }

  halt(m: Machine, ns: number): void {
    m.setTime(ns, m.psPerInsn);
    this.prevIcount = m.icount;
    this.prevNs = ns;
  }
}

/** A source of host time in nanoseconds since the session began. */
export interface HostClock {
  nowNs(): number;
}

/** Host time source for live and capture sessions (the only host-time reader besides src/host). */
export class HostTime implements HostClock {
  private readonly start = process.hrtime.bigint();
  nowNs(): number {
    return Number(process.hrtime.bigint() - this.start);
  }
}

/** `run`: live time and input, nothing logged. */
export class LiveSession implements Session {
  readonly replaying = false;
  protected readonly time = new TimeLine();
  private lastSync = 0;
  /** While the host waits for the idle guest: the deadline it waits for (Infinity: only input can wake it). */
  private idleDue: number | null = null;

  /** `host` is the host's clock; tests pass a simulated one to replay host timing at will. */
  constructor(
    readonly clock: ClockMode,
    protected readonly host: HostClock = new HostTime(),
  ) {}

  boundary(m: Machine): number {
    // While the guest is halted nothing is synced or delivered here: input reaching an idle guest
    // goes through resumeAfterWait (see onHalt), the only place replay can put it back exactly.
    if (m.cpu.halted) return m.icount + HOST_POLL_INSNS;
    if (this.clock === "host") {
      const h = this.host.nowNs();
      if (h - this.lastSync >= SYNC_NS) {
        this.lastSync = h;
        this.doSync(m, Math.floor(h));
      }
    }
    this.doInput(m);
    return m.icount + HOST_POLL_INSNS;
  }

  protected doSync(m: Machine, ns: number): void {
    this.time.sync(m, ns);
  }

  protected doInput(m: Machine): number {
    return m.deliverSerial();
  }

  /**
   * The guest idles at one instruction count, possibly for many rounds (each: due tasks run, then
   * this). A round either skips guest time to the next deadline (deterministic, not logged) or
   * lets the host wait; input arriving during the wait is delivered at that count, after a halt
   * event that sets guest time to the host time of its arrival (host clock). Input is delivered
   * only while host time is still before the deadline, so replay tells the two apart from the
   * log alone: a halt event earlier than the deadline comes first, else the skip (ReplaySession.onHalt).
   */
  onHalt(m: Machine, dueNs: number): HaltAction {
    if (this.clock === "virtual") {
      if (dueNs !== Number.POSITIVE_INFINITY) {
        this.time.skip(m, dueNs);
        return "resume";
      }
      // Nothing scheduled: only input can wake the guest.
      if (!m.canDeliverSerial()) return "end";
      this.idleDue = dueNs;
      return "wait";
    }
    if (dueNs !== Number.POSITIVE_INFINITY && Math.floor(this.host.nowNs()) >= dueNs) {
      // Host time has reached the deadline: jump to it.
      this.time.skip(m, dueNs);
      return "resume";
    }
    this.idleDue = dueNs;
    return "wait";
  }

  /** How long the host should wait before resumeAfterWait (input arriving ends the wait early). */
  aheadNs(_m: Machine): number {
    if (this.idleDue === null || this.clock === "virtual") return 0;
    if (this.idleDue === Number.POSITIVE_INFINITY) return 2_000_000; // poll for input
    return this.idleDue - this.host.nowNs();
  }

  resumeAfterWait(m: Machine): void {
    const due = this.idleDue;
    this.idleDue = null;
    if (due === null || !m.canDeliverSerial()) return;
    if (this.clock === "host") {
      const h = Math.floor(this.host.nowNs());
      if (h >= due) return; // the deadline came first: the next round skips to it, then delivers
      // Guest time moves to the host time the input arrived at (never backwards), logged as a halt.
      this.lastSync = h;
      this.doHalt(m, h);
    }
    this.doInput(m);
  }

  protected doHalt(m: Machine, ns: number): void {
    this.time.halt(m, ns);
  }
}

/** `capture`: live, and every time anchor, input byte and checkpoint is logged at its instruction count. */
export class CaptureSession extends LiveSession {
  private nextCheck: number;
  private checkSeq = 0;
  private readonly serialHash: Hash = createHash("sha256");
  serialBytes = 0;
  private lastFlush = 0;
  private nextFlushIcount = VIRTUAL_FLUSH_INSNS;
  /**
   * Host nanoseconds spent on what `run` does not do: checkpoints, encoding and writing the log.
   * Measured, never fed to the guest; the capture overhead without the run-to-run noise of wall time.
   */
  ownNs = 0;

  constructor(
    clock: ClockMode,
    private readonly writer: LogWriter,
    readonly checkpointInterval: number,
    m: Machine,
    host?: HostClock,
  ) {
    super(clock, host);
    this.nextCheck = checkpointInterval > 0 ? checkpointInterval : Number.POSITIVE_INFINITY;
    m.serialListeners.push((b) => {
      this.serialHash.update(Uint8Array.of(b));
      this.serialBytes++;
    });
  }

  override boundary(m: Machine): number {
    const next = super.boundary(m);
    const t0 = process.hrtime.bigint();
    if (m.icount >= this.nextCheck) {
      const s = stateSums(m.cpu, this.checkSeq++);
      this.writer.push({ kind: "check", icount: m.icount, eip: s.eip, regs: s.regs, mem: s.mem });
      this.nextCheck += this.checkpointInterval;
    }
    // Flush a chunk regularly so that a killed capture loses at most the last one: every 100 ms of
    // host time, or with the virtual clock every 10M instructions (so the log stays bit-identical).
    if (this.clock === "host") {
      const h = this.host.nowNs();
      if (h - this.lastFlush >= 100_000_000) {
        this.lastFlush = h;
        this.writer.flush();
      }
    } else if (m.icount >= this.nextFlushIcount) {
      this.nextFlushIcount = m.icount + VIRTUAL_FLUSH_INSNS;
      this.writer.flush();
    }
    this.addOwn(t0);
    return Math.min(next, this.nextCheck, this.clock === "host" ? next : this.nextFlushIcount);
  }

  /** writer.push, timed into ownNs. */
  private log(e: LogEvent): void {
    const t0 = process.hrtime.bigint();
    this.writer.push(e);
    this.addOwn(t0);
  }

  private addOwn(since: bigint): void {
    this.ownNs += Number(process.hrtime.bigint() - since);
  }

  protected override doSync(m: Machine, ns: number): void {
    this.log({ kind: "sync", icount: m.icount, ns });
    super.doSync(m, ns);
  }

  protected override doHalt(m: Machine, ns: number): void {
    this.log({ kind: "halt", icount: m.icount, ns });
    super.doHalt(m, ns);
  }

  protected override doInput(m: Machine): number {
    const n = super.doInput(m);
    if (n > 0) this.log({ kind: "input", icount: m.icount, device: "com1", data: Uint8Array.from(m.lastDelivered) });
    return n;
  }

  serialDigest(): string {
    return this.serialHash.copy().digest("hex");
  }

  override resumeAfterWait(m: Machine): void {
    super.resumeAfterWait(m);
    if (this.clock === "virtual") this.writer.flush(); // input arrived while idle: keep it safe now
  }

  /** Close the log with the trailer. With the virtual clock no host duration is recorded (bit-identical logs). */
  finish(m: Machine, reason: EndReason, durationMs: number): LogTrailer {
    if (this.clock === "virtual") durationMs = 0;
    const t0 = process.hrtime.bigint();
    const f = stateSums(m.cpu, -1);
    const t = this.writer.finish({
      instructions: m.icount,
      endReason: reason,
      final: f,
      durationMs: Math.max(0, Math.round(durationMs)),
      serial: { digest: this.serialDigest(), bytes: this.serialBytes },
    });
    this.addOwn(t0);
    return t;
  }
}

/** The first point where replay and log disagree. */
export interface Divergence {
  icount: number;
  eip: number;
  what: string;
  /** Instruction count of the last checkpoint that matched (0 = power-on). */
  lastGoodIcount: number;
}

/** `replay`/`expand`: every decision comes from the log; host time and input are never read. */
export class ReplaySession implements Session {
  readonly replaying = true;
  readonly clock: ClockMode;
  private readonly time = new TimeLine();
  private i = 0;
  divergence: Divergence | null = null;
  lastGoodIcount = 0;
  checksPassed = 0;
  private readonly serialHash: Hash = createHash("sha256");
  serialBytes = 0;

  constructor(
    readonly header: LogHeader,
    private readonly events: readonly LogEvent[],
    /** Where the captured run ended (the trailer's count, or the last event of an incomplete log). */
    readonly endIcount: number,
    m: Machine,
  ) {
    this.clock = header.clock;
    m.serialListeners.push((b) => {
      this.serialHash.update(Uint8Array.of(b));
      this.serialBytes++;
    });
  }

  private diverge(m: Machine, what: string): void {
    if (this.divergence === null) {
      this.divergence = { icount: m.icount, eip: m.cpu.eip >>> 0, what, lastGoodIcount: this.lastGoodIcount };
    }
    m.end("error");
  }

  /** Apply every event logged at exactly m.icount. */
  private applyDue(m: Machine): void {
    this.applyAt(m, false);
  }

  /**
   * Apply events logged at m.icount: all of them, or with `group` one idle round's worth (up to
   * and including the first input event; LiveSession.onHalt). Returns false on a divergence.
   */
  private applyAt(m: Machine, group: boolean): boolean {
    const ev = this.events;
    while (this.i < ev.length) {
      const e = ev[this.i];
      if (e.icount > m.icount) return true;
      if (this.passed(m)) return false;
      this.i++;
      switch (e.kind) {
        case "sync":
          this.time.sync(m, e.ns);
          break;
        case "halt":
          this.time.halt(m, e.ns);
          break;
        case "input": {
          m.injectSerial(e.data);
          const n = m.deliverSerial();
          if (n !== e.data.length) {
            this.diverge(m, `the UART accepted ${n} of ${e.data.length} logged input bytes`);
            return false;
          }
          if (group) return true;
          break;
        }
        case "check":
          this.check(m, e);
          break;
        default:
          break;
      }
      if (this.divergence !== null) return false;
    }
    return true;
  }

  /** The next event lies before m.icount: replay went past it (a divergence). */
  private passed(m: Machine): boolean {
    const e = this.events[this.i];
    if (e === undefined || e.icount >= m.icount) return false;
    this.diverge(m, `the log has a ${e.kind} event at instruction ${e.icount} that replay passed without stopping`);
    return true;
  }

  /** Checkpoints logged at m.icount (state only: they may be applied at any moment at that count). */
  private applyChecks(m: Machine): void {
    const ev = this.events;
    while (this.i < ev.length && ev[this.i].icount === m.icount && ev[this.i].kind === "check") {
      this.check(m, ev[this.i++] as CheckEvent);
      if (this.divergence !== null) return;
    }
  }

  private check(m: Machine, e: CheckEvent): void {
    const s = stateSums(m.cpu, this.checksPassed);
    const diffs: string[] = [];
    if (s.eip !== e.eip) diffs.push(`EIP ${hex(s.eip)} (log: ${hex(e.eip)})`);
    if (s.regs !== e.regs) diffs.push(`registers (hash ${hex(s.regs)}, log ${hex(e.regs)})`);
    if (s.mem !== e.mem)
      diffs.push(`memory window ${this.checksPassed % 64} (digest ${hex(s.mem)}, log ${hex(e.mem)})`);
    if (diffs.length > 0) {
      this.diverge(m, `checkpoint mismatch: ${diffs.join(", ")}`);
      return;
    }
    this.checksPassed++;
    this.lastGoodIcount = m.icount;
  }

  boundary(m: Machine): number {
    if (m.cpu.halted) {
      // Events logged while the guest idled belong to the idle rounds (onHalt), not to this call.
      this.applyChecks(m);
      const e = this.events[this.i];
      if (e !== undefined && e.icount === m.icount && m.cpu.intr && this.divergence === null) {
        // The capture never logs more for an idle count once an interrupt is due to wake the guest.
        this.diverge(m, `the log has a ${e.kind} event at instruction ${e.icount} after the guest was woken`);
      }
      this.passed(m);
    } else this.applyDue(m);
    const e = this.events[this.i];
    return e === undefined ? this.endIcount : Math.min(e.icount, this.endIcount);
  }

  onHalt(m: Machine, dueNs: number): HaltAction {
    this.applyChecks(m);
    if (this.divergence !== null) return "end";
    if (this.passed(m)) return "end";
    const e = this.events[this.i];
    // As in capture (LiveSession.onHalt): the next idle round's events if the capture delivered
    // them before the deadline (a halt event earlier than it, or no deadline at all), else the skip.
    const here = e !== undefined && e.icount === m.icount;
    if (here && (dueNs === Number.POSITIVE_INFINITY || (e.kind === "halt" && e.ns < dueNs))) {
      return this.applyAt(m, true) ? "resume" : "end";
    }
    if (dueNs !== Number.POSITIVE_INFINITY) {
      this.time.skip(m, dueNs);
      return "resume";
    }
    if (m.icount >= this.endIcount) return "end";
    this.diverge(m, "the guest idles here but the log has no event to wake it");
    return "end";
  }

  resumeAfterWait(_m: Machine): void {}

  aheadNs(_m: Machine): number {
    return 0;
  }

  serialDigest(): string {
    return this.serialHash.copy().digest("hex");
  }

  /** Compare the end of the replay with the trailer. */
  verifyEnd(m: Machine, trailer: LogTrailer): void {
    if (this.divergence !== null) return;
    if (m.icount !== trailer.instructions) {
      this.diverge(m, `replay ended after ${m.icount} instructions, the capture after ${trailer.instructions}`);
      return;
    }
    const f = stateSums(m.cpu, -1);
    const diffs: string[] = [];
    if (f.eip !== trailer.final.eip) diffs.push(`EIP ${hex(f.eip)} (log: ${hex(trailer.final.eip)})`);
    if (f.regs !== trailer.final.regs) diffs.push("registers");
    if (f.mem !== trailer.final.mem) diffs.push("memory");
    if (this.serialBytes !== trailer.serial.bytes || this.serialDigest() !== trailer.serial.digest) {
      diffs.push(`serial output (${this.serialBytes} bytes, log ${trailer.serial.bytes})`);
    }
    if (diffs.length > 0) this.diverge(m, `final state differs: ${diffs.join(", ")}`);
    else this.lastGoodIcount = m.icount;
  }
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, "0")}`;
}
