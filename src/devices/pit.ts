/**
 * Intel 8254 programmable interval timer at 0x40-0x43, and the PC's System
 * Control Port B at 0x61 (channel 2 gate, speaker data, OUT2 and the refresh
 * toggle that BIOSes and Linux busy-wait on).
 *
 * Behaviour follows the Intel 8254 datasheet (order no. 231164): control
 * word, counter latch and read-back commands (status byte with NULL COUNT),
 * LSB/MSB/LSB-then-MSB access, binary and BCD counting, modes 0-5 with the
 * gate rules of its "Gate pin operations summary" table.
 *
 * The input clock is 1,193,182 Hz. The counters are never stepped: every
 * value is computed from the clock tick `floor(nowNs * 1193182 / 1e9)` and the
 * tick at which the counter was loaded, so counts are a pure function of guest
 * time. Channel 0's OUT drives IRQ 0 through a scheduler task that fires at
 * the exact tick of its next edge (no polling).
 */
import { z } from "zod";
import { Width } from "../bus/ports.ts";
import { Task } from "../time/scheduler.ts";
import type { Device, DeviceContext } from "./device.ts";

export const PIT_HZ = 1193182;

/**
 * Input-clock ticks elapsed at guest time `ns`. Exact for any integer `ns`
 * below 2^53 (104 days): seconds and the remainder are scaled separately so
 * no intermediate product exceeds 2^53.
 */
export function pitTicksAt(ns: number): number {
  ns = Math.floor(ns);
  const sec = Math.floor(ns / 1e9);
  const rem = ns - sec * 1e9;
  return sec * PIT_HZ + Math.floor((rem * PIT_HZ) / 1e9);
}

/** The first guest nanosecond at which `pitTicksAt` reaches `tick`. */
export function pitTickToNs(tick: number): number {
  const sec = Math.floor(tick / PIT_HZ);
  const rem = tick - sec * PIT_HZ;
  return sec * 1e9 + Math.ceil((rem * 1e9) / PIT_HZ);
}

function toBcd(v: number): number {
  return (
    (v % 10) |
    ((Math.floor(v / 10) % 10) << 4) |
    ((Math.floor(v / 100) % 10) << 8) |
    ((Math.floor(v / 1000) % 10) << 12)
  );
}

function fromBcd(v: number): number {
  return (v & 0xf) + ((v >>> 4) & 0xf) * 10 + ((v >>> 8) & 0xf) * 100 + ((v >>> 12) & 0xf) * 1000;
}

/** Where a counter is in its life cycle. */
const enum Phase {
  /** Control word written, no count yet (or mode 0 halted by a first count byte). */
  Idle = 0,
  /** Count written; waiting for a gate trigger (modes 1, 5, or 2, 3 with gate low). */
  Waiting = 1,
  /** Counting: the counting element held `n` at tick `start`. */
  Running = 2,
  /** Modes 0 and 4 with gate low: counting suspended after `pausedElapsed` clocks. */
  Paused = 3,
}

const CounterState = z.object({
  control: z.number().int(),
  cr: z.number().int(),
  crN: z.number().int(),
  writeMsbNext: z.boolean(),
  readMsbNext: z.boolean(),
  latched: z.boolean(),
  latch: z.number().int(),
  latchMsbNext: z.boolean(),
  statusLatched: z.boolean(),
  status: z.number().int(),
  phase: z.number().int(),
  n: z.number().int(),
  start: z.number(),
  pausedElapsed: z.number(),
  pendingN: z.number().int(),
  pendingTick: z.number(),
  nullCount: z.boolean(),
  loadTick: z.number(),
  held: z.number().int(),
  idleOut: z.boolean(),
  gate: z.boolean(),
});
type CounterState = z.infer<typeof CounterState>;

const PitState = z.object({
  v: z.literal(1),
  counters: z.array(CounterState).length(3),
  portB: z.number().int(),
  irqLevel: z.boolean(),
});
export type PitState = z.infer<typeof PitState>;

/** One of the three counters. All methods take the current input-clock tick. */
class Counter {
  /** Control word bits 5-0: RW1 RW0 M2 M1 M0 BCD (what the status byte reports). */
  control = 0;
  /** Count register as written (raw, BCD or binary). */
  cr = 0;
  /** The count register decoded: 1..65536 (binary) or 1..10000 (BCD). */
  crN = 0x10000;
  writeMsbNext = false;
  readMsbNext = false;
  latched = false;
  latch = 0;
  latchMsbNext = false;
  statusLatched = false;
  status = 0;
  phase = Phase.Idle;
  /** Initial count currently used by the counting element. */
  n = 0x10000;
  /** Tick at which the counting element was loaded with `n` (elapsed = tick - start). */
  start = 0;
  pausedElapsed = 0;
  /** Mode 2/3: a count written while counting takes effect at the end of the period. */
  pendingN = 0;
  pendingTick = Number.POSITIVE_INFINITY;
  /** NULL COUNT: a count was written and has not reached the counting element before `loadTick`. */
  nullCount = true;
  loadTick = Number.POSITIVE_INFINITY;
  /** Counting element value while not counting. */
  held = 0;
  /** OUT while Idle (after a control word: low in mode 0, high otherwise). */
  idleOut = true;
  gate = true;

  constructor(readonly index: number) {}

  get mode(): number {
    const m = (this.control >>> 1) & 7;
    return m >= 6 ? m - 4 : m; // modes 6 and 7 are aliases of 2 and 3
  }
  get rw(): number {
    return (this.control >>> 4) & 3;
  }
  get bcd(): boolean {
    return (this.control & 1) !== 0;
  }
  get modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  powerOn(): void {
    // The 8254's power-up state is undefined; this is mode 0, LSB/MSB, binary, no count.
    this.control = 0x30;
    this.cr = 0;
    this.crN = 0x10000;
    this.writeMsbNext = false;
    this.readMsbNext = false;
    this.latched = false;
    this.latch = 0;
    this.latchMsbNext = false;
    this.statusLatched = false;
    this.status = 0;
    this.phase = Phase.Idle;
    this.n = 0x10000;
    this.start = 0;
    this.pausedElapsed = 0;
    this.pendingN = 0;
    this.pendingTick = Number.POSITIVE_INFINITY;
    this.nullCount = true;
    this.loadTick = Number.POSITIVE_INFINITY;
    this.held = 0;
    this.idleOut = false;
  }

  /** Apply a mode 2/3 reload that came due. */
  private sync(tick: number): void {
    if (this.pendingTick <= tick) {
      this.start = this.pendingTick;
      this.n = this.pendingN;
      this.pendingTick = Number.POSITIVE_INFINITY;
    }
  }

  private elapsed(tick: number): number {
    if (this.phase !== Phase.Paused) return tick - this.start;
    // A count written while the gate is low still reaches the counting element on the next clock.
    return this.pausedElapsed < 0 && tick >= this.loadTick ? 0 : this.pausedElapsed;
  }

  /** Value of the counting element (binary, 0..modulus-1) at `tick`. */
  count(tick: number): number {
    this.sync(tick);
    if (this.phase === Phase.Idle || this.phase === Phase.Waiting) return this.held;
    const e = this.elapsed(tick);
    if (e < 0) return this.held; // loaded on the next clock pulse
    const n = this.n;
    const mod = this.modulus;
    switch (this.mode) {
      case 2:
        return (n - (e % n)) % mod;
      case 3: {
        // Datasheet, mode 3: even counts decrement by two; an odd count first
        // loses one (OUT high) or three (OUT low), then two per clock.
        const p = e % n;
        const high = Math.ceil(n / 2);
        if (n % 2 === 0) return (n - 2 * (p % high)) % mod;
        if (p < high) return p === 0 ? n % mod : (n - 1 - 2 * (p - 1)) % mod;
        const q = p - high;
        return q === 0 ? n % mod : (n - 3 - 2 * (q - 1)) % mod;
      }
      default:
        // Modes 0, 1, 4, 5 count down and wrap (to FFFF or 9999) after terminal count.
        return (((n - e) % mod) + mod) % mod;
    }
  }

  /** OUT level at `tick`. */
  out(tick: number): boolean {
    this.sync(tick);
    if (this.phase === Phase.Idle) return this.idleOut;
    if (this.phase === Phase.Waiting) return true;
    const e = this.elapsed(tick);
    const n = this.n;
    switch (this.mode) {
      case 0:
        return e >= n;
      case 1:
        return e < 0 || e >= n;
      case 2:
        return e < 0 || n === 1 || e % n !== n - 1;
      case 3:
        return e < 0 || e % n < Math.ceil(n / 2);
      default:
        return e !== n; // modes 4, 5: one clock low at terminal count
    }
  }

  /** First tick after `tick` at which OUT changes, or Infinity. */
  nextOutChange(tick: number): number {
    this.sync(tick);
    if (this.phase !== Phase.Running) return Number.POSITIVE_INFINITY;
    const e = tick - this.start;
    const n = this.n;
    switch (this.mode) {
      case 0:
        return e < n ? this.start + n : Number.POSITIVE_INFINITY;
      case 1:
        if (e < 0) return this.start;
        return e < n ? this.start + n : Number.POSITIVE_INFINITY;
      case 2: {
        if (n === 1) return Number.POSITIVE_INFINITY;
        if (e < 0) return this.start + n - 1;
        const p = e % n;
        return p < n - 1 ? tick + (n - 1 - p) : tick + 1;
      }
      case 3: {
        const high = Math.ceil(n / 2);
        if (n === 1) return Number.POSITIVE_INFINITY;
        if (e < 0) return this.start + high;
        const p = e % n;
        return p < high ? tick + (high - p) : tick + (n - p);
      }
      default:
        if (e < n) return this.start + n;
        return e === n ? tick + 1 : Number.POSITIVE_INFINITY;
    }
  }

  nullCountAt(tick: number): boolean {
    return this.nullCount && tick < this.loadTick;
  }

  writeControl(v: number, tick: number): void {
    this.held = this.count(tick);
    this.control = v & 0x3f;
    this.writeMsbNext = false;
    this.readMsbNext = false;
    this.latched = false;
    this.statusLatched = false;
    this.phase = Phase.Idle;
    this.idleOut = this.mode !== 0; // datasheet: mode 0 OUT goes low on the control word, others high
    this.pendingTick = Number.POSITIVE_INFINITY;
    this.nullCount = true;
    this.loadTick = Number.POSITIVE_INFINITY;
  }

  latchCount(tick: number): void {
    if (this.latched) return; // datasheet: further latch commands are ignored until the count is read
    const c = this.count(tick);
    this.latch = this.bcd ? toBcd(c) : c;
    this.latched = true;
    this.latchMsbNext = false;
  }

  latchStatus(tick: number): void {
    if (this.statusLatched) return;
    this.status = (this.out(tick) ? 0x80 : 0) | (this.nullCountAt(tick) ? 0x40 : 0) | this.control;
    this.statusLatched = true;
  }

  read(tick: number): number {
    if (this.statusLatched) {
      this.statusLatched = false;
      return this.status;
    }
    const rw = this.rw;
    if (this.latched) {
      const v = this.latch;
      if (rw === 1) {
        this.latched = false;
        return v & 0xff;
      }
      if (rw === 2) {
        this.latched = false;
        return v >>> 8;
      }
      if (!this.latchMsbNext) {
        this.latchMsbNext = true;
        return v & 0xff;
      }
      this.latched = false;
      this.latchMsbNext = false;
      return v >>> 8;
    }
    const c = this.count(tick);
    const v = this.bcd ? toBcd(c) : c;
    if (rw === 1) return v & 0xff;
    if (rw === 2) return v >>> 8;
    this.readMsbNext = !this.readMsbNext;
    return this.readMsbNext ? v & 0xff : v >>> 8;
  }

  write(v: number, tick: number): void {
    const rw = this.rw;
    if (rw === 1) this.cr = v;
    else if (rw === 2) this.cr = v << 8;
    else if (!this.writeMsbNext) {
      this.cr = (this.cr & 0xff00) | v;
      this.writeMsbNext = true;
      // Datasheet, mode 0: "writing the first byte disables counting; OUT is set low immediately".
      if (this.mode === 0) {
        this.held = this.count(tick);
        this.phase = Phase.Idle;
        this.idleOut = false;
      }
      return;
    } else {
      this.cr = (this.cr & 0xff) | (v << 8);
      this.writeMsbNext = false;
    }
    this.countWritten(tick);
  }

  /** A complete initial count reached the count register. */
  private countWritten(tick: number): void {
    const raw = this.cr;
    const n = this.bcd ? fromBcd(raw) : raw;
    this.crN = n === 0 ? this.modulus : n;
    this.nullCount = true;
    this.sync(tick);
    const mode = this.mode;
    switch (mode) {
      case 0:
      case 4:
        // The count is loaded on the next clock pulse; counting needs the gate high.
        this.held = this.count(tick);
        this.n = this.crN;
        this.loadTick = tick + 1;
        if (this.gate) {
          this.phase = Phase.Running;
          this.start = tick + 1;
        } else {
          this.phase = Phase.Paused;
          this.pausedElapsed = -1;
        }
        break;
      case 1:
      case 5:
        // Hardware triggered: the new count waits for the next gate rising edge.
        if (this.phase === Phase.Idle) {
          this.held = this.count(tick);
          this.phase = Phase.Waiting;
        }
        this.loadTick = Number.POSITIVE_INFINITY;
        break;
      default: {
        // Modes 2 and 3: after a control word (or before the first load) the count
        // starts on the next clock; while counting, it is taken at the end of the period.
        if (this.phase === Phase.Running && tick >= this.start) {
          const e = tick - this.start;
          const boundary = this.start + (Math.floor(e / this.n) + 1) * this.n;
          this.pendingN = this.crN;
          this.pendingTick = boundary;
          this.loadTick = boundary;
        } else if (this.phase === Phase.Running) {
          this.n = this.crN; // not loaded yet: the new value replaces it
          this.loadTick = this.start;
        } else if (this.gate) {
          this.held = this.count(tick);
          this.phase = Phase.Running;
          this.n = this.crN;
          this.start = tick + 1;
          this.loadTick = tick + 1;
        } else {
          this.held = this.count(tick);
          this.phase = Phase.Waiting;
          this.loadTick = Number.POSITIVE_INFINITY;
        }
      }
    }
  }

  /** Gate input change (only channel 2's gate is wired to anything on a PC). */
  setGate(level: boolean, tick: number): void {
    if (level === this.gate) return;
    this.gate = level;
    this.sync(tick);
    const mode = this.mode;
    if (level) {
      if (mode === 0 || mode === 4) {
        if (this.phase === Phase.Paused) {
          this.start = tick - this.elapsed(tick);
          this.phase = Phase.Running;
        }
      } else if (this.phase === Phase.Waiting || this.phase === Phase.Running) {
        // Modes 1, 5 trigger; modes 2, 3 reload and restart: the count enters on the next clock.
        this.n = this.crN;
        this.phase = Phase.Running;
        this.start = tick + 1;
        this.pendingTick = Number.POSITIVE_INFINITY;
        if (this.nullCount) this.loadTick = Math.min(this.loadTick, tick + 1);
      }
    } else if ((mode === 0 || mode === 4) && this.phase === Phase.Running) {
      this.pausedElapsed = tick - this.start;
      this.phase = Phase.Paused;
    } else if ((mode === 2 || mode === 3) && this.phase === Phase.Running) {
      // Gate low stops counting and forces OUT high.
      this.held = this.count(tick);
      this.phase = Phase.Waiting;
    }
  }

  save(): CounterState {
    return {
      control: this.control,
      cr: this.cr,
      crN: this.crN,
      writeMsbNext: this.writeMsbNext,
      readMsbNext: this.readMsbNext,
      latched: this.latched,
      latch: this.latch,
      latchMsbNext: this.latchMsbNext,
      statusLatched: this.statusLatched,
      status: this.status,
      phase: this.phase,
      n: this.n,
      start: this.start,
      pausedElapsed: this.pausedElapsed,
      pendingN: this.pendingN,
      pendingTick: this.pendingTick === Number.POSITIVE_INFINITY ? -1 : this.pendingTick,
      nullCount: this.nullCount,
      loadTick: this.loadTick === Number.POSITIVE_INFINITY ? -1 : this.loadTick,
      held: this.held,
      idleOut: this.idleOut,
      gate: this.gate,
    };
  }

  load(s: CounterState): void {
    this.control = s.control;
    this.cr = s.cr;
    this.crN = s.crN;
    this.writeMsbNext = s.writeMsbNext;
    this.readMsbNext = s.readMsbNext;
    this.latched = s.latched;
    this.latch = s.latch;
    this.latchMsbNext = s.latchMsbNext;
    this.statusLatched = s.statusLatched;
    this.status = s.status;
    this.phase = s.phase as Phase;
    this.n = s.n;
    this.start = s.start;
    this.pausedElapsed = s.pausedElapsed;
    this.pendingN = s.pendingN;
    this.pendingTick = s.pendingTick < 0 ? Number.POSITIVE_INFINITY : s.pendingTick;
    this.nullCount = s.nullCount;
    this.loadTick = s.loadTick < 0 ? Number.POSITIVE_INFINITY : s.loadTick;
    this.held = s.held;
    this.idleOut = s.idleOut;
    this.gate = s.gate;
  }
}

// Port 0x61 (System Control Port B) bits.
const PORTB_GATE2 = 0x01;
const PORTB_SPEAKER = 0x02;
const PORTB_REFRESH = 0x10;
const PORTB_OUT2 = 0x20;
/** The refresh request toggles every 18 input clocks (15.085 us), as channel 1 is programmed on a PC. */
const REFRESH_TICKS = 18;

export class Pit implements Device<PitState> {
  readonly name = "pit";
  readonly stateSchema = PitState;
  private readonly counters = [new Counter(0), new Counter(1), new Counter(2)];
  /** Writable bits of port 0x61 (gate 2, speaker data, parity/IOCHK enables). */
  private portB = 0;
  private irqLevel = false;
  private ctx: DeviceContext | null = null;
  private readonly irqTask = new Task("pit.out0", (atNs) => this.onEdge(atNs));

  constructor() {
    this.powerOn();
  }

  attach(ctx: DeviceContext): void {
    this.ctx = ctx;
    ctx.ports.register(
      0x40,
      4,
      this.name,
      Width.B,
      (port) => this.read(port),
      (port, v) => this.write(port, v),
    );
    ctx.ports.register(
      0x61,
      1,
      this.name,
      Width.B,
      () => this.readPortB(),
      (_p, v) => this.writePortB(v),
    );
  }

  private powerOn(): void {
    for (const c of this.counters) c.powerOn();
    this.counters[2].gate = false;
    this.portB = 0;
  }

  reset(): void {
    this.powerOn();
    if (this.ctx !== null) {
      this.ctx.scheduler.cancel(this.irqTask);
      this.setIrq0(this.counters[0].out(this.tick()));
    }
  }

  /** True when the speaker is sounding (gate 2 and speaker data both set): for a host beeper. */
  get speakerOn(): boolean {
    return (this.portB & (PORTB_GATE2 | PORTB_SPEAKER)) === (PORTB_GATE2 | PORTB_SPEAKER);
  }

  private tick(): number {
    return this.ctx === null ? 0 : pitTicksAt(this.ctx.clock.nowNs());
  }

  private read(port: number): number {
    if (port === 0x43) return 0xff; // the control word register is write-only
    return this.counters[port - 0x40].read(this.tick());
  }

  private write(port: number, v: number): void {
    const tick = this.tick();
    if (port !== 0x43) {
      const c = this.counters[port - 0x40];
      c.write(v, tick);
      if (c.index === 0) this.rescheduleIrq(tick);
      return;
    }
    const sc = v >>> 6;
    if (sc === 3) {
      // Read-back command: bit 5 = /COUNT, bit 4 = /STATUS, bits 3-1 select counters 2-0.
      for (let i = 0; i < 3; i++) {
        if ((v & (2 << i)) === 0) continue;
        const c = this.counters[i];
        if ((v & 0x10) === 0) c.latchStatus(tick);
        if ((v & 0x20) === 0) c.latchCount(tick);
      }
      return;
    }
    const c = this.counters[sc];
    if ((v & 0x30) === 0) {
      c.latchCount(tick); // counter latch command
      return;
    }
    c.writeControl(v, tick);
    if (sc === 0) this.rescheduleIrq(tick);
  }

  private readPortB(): number {
    const tick = this.tick();
    const refresh = Math.floor(tick / REFRESH_TICKS) & 1 ? PORTB_REFRESH : 0;
    const out2 = this.counters[2].out(tick) ? PORTB_OUT2 : 0;
    return (this.portB & 0x0f) | refresh | out2;
  }

  private writePortB(v: number): void {
    this.portB = v & 0x0f;
    this.counters[2].setGate((v & PORTB_GATE2) !== 0, this.tick());
  }

  private setIrq0(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.ctx?.setIrq(0, level);
  }

  /** Drive IRQ 0 from channel 0's OUT at `tick` and schedule the next edge. */
  private rescheduleIrq(tick: number): void {
    if (this.ctx === null) return;
    const c = this.counters[0];
    this.setIrq0(c.out(tick));
    const next = c.nextOutChange(tick);
    if (next === Number.POSITIVE_INFINITY) this.ctx.scheduler.cancel(this.irqTask);
    else this.ctx.scheduler.scheduleAt(this.irqTask, pitTickToNs(next));
  }

  /** Scheduler callback at an OUT0 edge; uses the due time, not "now", so a late run sees the same edge. */
  private onEdge(atNs: number): void {
    this.rescheduleIrq(pitTicksAt(atNs));
  }

  saveState(): PitState {
    return {
      v: 1,
      counters: this.counters.map((c) => c.save()),
      portB: this.portB,
      irqLevel: this.irqLevel,
    };
  }

  loadState(state: PitState): void {
    const s = PitState.parse(state);
    s.counters.forEach((cs, i) => {
      this.counters[i].load(cs);
    });
    this.portB = s.portB;
    this.irqLevel = s.irqLevel;
    if (this.ctx !== null) {
      // Re-arm the edge task from the restored state without re-driving the line.
      const tick = this.tick();
      const next = this.counters[0].nextOutChange(tick);
      if (next === Number.POSITIVE_INFINITY) this.ctx.scheduler.cancel(this.irqTask);
      else this.ctx.scheduler.scheduleAt(this.irqTask, pitTickToNs(next));
    }
  }
}
