/**
 * Motorola MC146818 real-time clock and its 128 bytes of CMOS RAM, at index
 * port 0x70 (bit 7 = NMI mask) and data port 0x71, IRQ 8.
 *
 * Behaviour follows the MC146818A datasheet: time/calendar and alarm
 * registers 0-9, BCD or binary data mode (register B DM), 12/24-hour mode
 * (register B 24/12, PM = bit 7 of the hour), the SET bit that freezes
 * updates so the guest can set the clock, the update-in-progress bit (UIP is
 * 1 from 244 us before each update), periodic/alarm/update-ended interrupts
 * (register B PIE/AIE/UIE, flags PF/AF/UF and IRQF in register C, which a
 * read clears) and VRT in register D.
 *
 * The clock is a pure function of guest time: seconds = the wall time at
 * power-on (`clock.epochMs`) + guest time since power-on + an offset in whole
 * seconds that changes only when the guest sets the time. Interrupt flags are
 * accrued lazily from guest time; a scheduler task fires only while an
 * interrupt is enabled.
 *
 * The configuration bytes filled in at construction follow the IBM PC/AT
 * CMOS map (base memory at 15h/16h, extended memory at 17h/18h and 30h/31h,
 * memory above 16 MiB in 64 KiB blocks at 34h/35h, equipment byte 14h, hard
 * disk type 12h/19h, century 32h, checksum of 10h-2Dh at 2Eh/2Fh).
 */
import { z } from "zod";
import { Width } from "../bus/ports.ts";
import { Task } from "../time/scheduler.ts";
import type { Device, DeviceContext } from "./device.ts";

export interface CmosOptions {
  /** Guest RAM size in bytes: fills the memory-size bytes. */
  ramBytes: number;
}

const CmosState = z.object({
  v: z.literal(1),
  nvram: z.array(z.number().int().min(0).max(255)).length(128),
  index: z.number().int(),
  nmiMasked: z.boolean(),
  offsetSec: z.number().int(),
  regA: z.number().int(),
  regB: z.number().int(),
  flags: z.number().int(),
  checkedNs: z.number(),
  frozen: z.array(z.number().int()).length(7),
  irqLevel: z.boolean(),
});
export type CmosState = z.infer<typeof CmosState>;

// Register indices.
const SEC = 0x00;
const SEC_ALARM = 0x01;
const MIN = 0x02;
const MIN_ALARM = 0x03;
const HOUR = 0x04;
const HOUR_ALARM = 0x05;
const DOW = 0x06;
const DAY = 0x07;
const MONTH = 0x08;
const YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const CENTURY = 0x32;

// Register B bits.
const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_DM_BINARY = 0x04;
const B_24H = 0x02;
// Register C bits.
const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;

const NS_PER_SEC = 1e9;
/** Datasheet: UIP rises 244 us before the update cycle starts. */
const UIP_NS = 244_000;

// ---- calendar arithmetic (proleptic Gregorian, days since 1970-01-01) ----

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const monthDays = (y: number, m: number): number =>
  m === 2 ? (isLeap(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
/** Leap years in [1, y). */
const leapsBefore = (y: number): number =>
  Math.floor((y - 1) / 4) - Math.floor((y - 1) / 100) + Math.floor((y - 1) / 400);
const DAYS_PER_400Y = 146097;

export function daysFromCivil(y: number, m: number, d: number): number {
  let days = (y - 1970) * 365 + leapsBefore(y) - leapsBefore(1970);
  for (let i = 1; i < m; i++) days += monthDays(y, i);
  return days + d - 1;
}

export function civilFromDays(days: number): { y: number; m: number; d: number } {
  // Whole 400-year cycles first (each has exactly 146097 days), then walk years and months.
  const cycles = Math.floor(days / DAYS_PER_400Y);
  let rest = days - cycles * DAYS_PER_400Y;
  let y = 1970 + cycles * 400;
  for (;;) {
    const len = isLeap(y) ? 366 : 365;
    if (rest < len) break;
    rest -= len;
    y++;
  }
  let m = 1;
  for (;;) {
    const len = monthDays(y, m);
    if (rest < len) break;
    rest -= len;
    m++;
  }
  return { y, m, d: rest + 1 };
}

/** Broken-down register time: [sec, min, hour(0-23), day, month, year(full), dow(1=Sunday)]. */
type Fields = [number, number, number, number, number, number, number];

function fieldsOf(t: number): Fields {
  const days = Math.floor(t / 86400);
  const sod = t - days * 86400;
  const { y, m, d } = civilFromDays(days);
  const dow = ((((days + 4) % 7) + 7) % 7) + 1; // 1970-01-01 was a Thursday (5)
  return [sod % 60, Math.floor(sod / 60) % 60, Math.floor(sod / 3600), d, m, y, dow];
}

function secondsOf(f: Fields): number {
  return daysFromCivil(f[5], f[4], f[3]) * 86400 + f[2] * 3600 + f[1] * 60 + f[0];
}

const toBcd = (v: number): number => ((Math.floor(v / 10) % 10) << 4) | (v % 10);
const fromBcd = (v: number): number => (v >>> 4) * 10 + (v & 0xf);

export class Cmos implements Device<CmosState> {
  readonly name = "cmos";
  readonly stateSchema = CmosState;
  /** CMOS RAM; bytes 0-0Dh and 32h are computed from the clock, not read from here. */
  private readonly nvram = new Uint8Array(128);
  private readonly initialNvram: Uint8Array;
  private index = 0;
  private nmi = false;
  /** Register time minus power-on wall time, in whole seconds (changes when the guest sets the clock). */
  private offsetSec = 0;
  private regA = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
  private regB = B_24H; // BCD, 24-hour
  /** Register C flags PF/AF/UF (IRQF is derived). */
  private flags = 0;
  /** Guest time up to which periodic/update/alarm events have been accounted in `flags`. */
  private checkedNs = 0;
  /** The time fields while SET = 1 (updates frozen). */
  private frozen: Fields = [0, 0, 0, 1, 1, 2000, 7];
  private irqLevel = false;
  private ctx: DeviceContext | null = null;
  private readonly task = new Task("cmos.rtc", (atNs) => this.onTask(atNs));

  constructor(opts: CmosOptions) {
    const n = this.nvram;
    const kib = Math.floor(opts.ramBytes / 1024);
    n[0x10] = 0x00; // no floppy drives
    n[0x12] = 0xf0; // drive 0: type 15 = "see 19h"; drive 1: none
    n[0x14] = 0x02; // equipment: no floppy, math coprocessor, VGA/EGA (display bits 00)
    n[0x15] = 640 & 0xff;
    n[0x16] = 640 >>> 8;
    const ext = Math.min(Math.max(kib - 1024, 0), 0xfc00); // KiB above 1 MiB, at most 63 MiB
    n[0x17] = ext & 0xff;
    n[0x18] = ext >>> 8;
    n[0x19] = 47; // drive 0 extended type: user-defined
    n[0x30] = ext & 0xff;
    n[0x31] = ext >>> 8;
    const above16 = Math.min(Math.max(Math.floor((opts.ramBytes - 16 * 1024 * 1024) / 65536), 0), 0xffff);
    n[0x34] = above16 & 0xff;
    n[0x35] = above16 >>> 8;
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += n[i];
    n[0x2e] = (sum >>> 8) & 0xff;
    n[0x2f] = sum & 0xff;
    this.initialNvram = n.slice();
  }

  attach(ctx: DeviceContext): void {
    this.ctx = ctx;
    ctx.ports.register(
      0x70,
      2,
      this.name,
      Width.B,
      (port) => (port === 0x70 ? 0xff : this.readReg(this.index)),
      (port, v) => {
        if (port === 0x70) {
          this.nmi = (v & 0x80) !== 0;
          this.index = v & 0x7f;
        } else this.writeReg(this.index, v);
      },
    );
    this.checkedNs = ctx.clock.nowNs();
    this.reschedule(this.checkedNs);
  }

  /** Index port bit 7: 1 = NMI disabled. The machine reads this before delivering an NMI. */
  get nmiMasked(): boolean {
    return this.nmi;
  }

  /** The RESET pin: clears PIE, AIE, UIE, SQWE and the flags; time and RAM are battery backed. */
  reset(): void {
    this.regB &= ~(B_PIE | B_AIE | B_UIE | 0x08);
    this.flags = 0;
    this.setIrq8(false);
    if (this.ctx !== null) {
      this.checkedNs = this.now();
      this.reschedule(this.checkedNs);
    }
  }

  /**
   * Set an NVRAM byte outside the checksummed range (0x10-0x2D) before power-on: the machine's
   * configuration channel to the firmware (e.g. 0x3F = 'K' for a direct kernel boot).
   */
  setConfigByte(index: number, value: number): void {
    if (index < 0x34 || index > 0x7f)
      throw new RangeError(`CMOS byte 0x${index.toString(16)} is not a configuration byte`);
    this.nvram[index] = value & 0xff;
    this.initialNvram[index] = value & 0xff;
  }

  /** Restore the CMOS RAM to its constructed contents (a "CMOS battery removed" reset). */
  clearRam(): void {
    this.nvram.set(this.initialNvram);
  }

  private now(): number {
    return this.ctx === null ? 0 : this.ctx.clock.nowNs();
  }

  // ---- time base ----

  /** Guest ns offset of power-on within its wall-clock second, and the whole seconds. */
  private epoch(): { sec: number; phaseNs: number } {
    const ms = this.ctx === null ? 0 : this.ctx.clock.epochMs;
    const sec = Math.floor(ms / 1000);
    return { sec, phaseNs: (ms - sec * 1000) * 1e6 };
  }

  /** Index of the wall-clock second containing guest time `ns` (before the guest's offset). */
  private baseSecond(ns: number): number {
    const { sec, phaseNs } = this.epoch();
    return sec + Math.floor((phaseNs + ns) / NS_PER_SEC);
  }

  /** Guest ns at which wall-clock second `s` begins. */
  private nsOfBaseSecond(s: number): number {
    const { sec, phaseNs } = this.epoch();
    return (s - sec) * NS_PER_SEC - phaseNs;
  }

  private fieldsNow(): Fields {
    if (this.regB & B_SET) return this.frozen;
    return fieldsOf(this.baseSecond(this.now()) + this.offsetSec);
  }

  private uip(): boolean {
    if (this.regB & B_SET) return false;
    const { phaseNs } = this.epoch();
    const sub = (phaseNs + this.now()) % NS_PER_SEC;
    return sub >= NS_PER_SEC - UIP_NS;
  }

  // ---- register formatting ----

  private binary(): boolean {
    return (this.regB & B_DM_BINARY) !== 0;
  }

  private enc(v: number): number {
    return this.binary() ? v : toBcd(v);
  }

  private dec(v: number): number {
    return this.binary() ? v : fromBcd(v);
  }

  private encHour(h: number): number {
    if (this.regB & B_24H) return this.enc(h);
    const pm = h >= 12 ? 0x80 : 0;
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.enc(h12) | pm;
  }

  private decHour(v: number): number {
    if (this.regB & B_24H) return this.dec(v);
    const h12 = this.dec(v & 0x7f) % 12;
    return v & 0x80 ? h12 + 12 : h12;
  }

  private readReg(i: number): number {
    switch (i) {
      case SEC:
      case MIN:
      case DAY:
      case MONTH: {
        const f = this.fieldsNow();
        return this.enc(f[i === SEC ? 0 : i === MIN ? 1 : i === DAY ? 3 : 4]);
      }
      case HOUR:
        return this.encHour(this.fieldsNow()[2]);
      case DOW:
        return this.enc(this.fieldsNow()[6]);
      case YEAR:
        return this.enc(this.fieldsNow()[5] % 100);
      case CENTURY:
        return this.enc(Math.floor(this.fieldsNow()[5] / 100) % 100);
      case REG_A:
        return (this.uip() ? 0x80 : 0) | (this.regA & 0x7f);
      case REG_B:
        return this.regB;
      case REG_C: {
        this.accrue(this.now());
        const v = this.flags | (this.irqf() ? C_IRQF : 0);
        this.flags = 0; // datasheet: all register C bits are cleared by a read
        this.setIrq8(false);
        return v;
      }
      case REG_D:
        return 0x80; // VRT: RAM and time are valid
      default:
        return this.nvram[i];
    }
  }

  private writeReg(i: number, v: number): void {
    switch (i) {
      case SEC:
      case MIN:
      case HOUR:
      case DAY:
      case MONTH:
      case YEAR:
      case CENTURY:
        this.setField(i, v);
        return;
      case DOW:
        // The day of week is derived from the date here; a written value is ignored.
        return;
      case REG_A:
        this.sync(this.now());
        this.regA = v & 0x7f; // UIP is read-only
        this.reschedule(this.now());
        return;
      case REG_B:
        this.writeRegB(v);
        return;
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        this.nvram[i] = v;
    }
  }

  private setField(i: number, v: number): void {
    const now = this.now();
    this.sync(now);
    const f: Fields = [...this.fieldsNow()];
    switch (i) {
      case SEC:
        f[0] = this.dec(v);
        break;
      case MIN:
        f[1] = this.dec(v);
        break;
      case HOUR:
        f[2] = this.decHour(v);
        break;
      case DAY:
        f[3] = this.dec(v);
        break;
      case MONTH:
        f[4] = this.dec(v);
        break;
      case YEAR:
        f[5] = Math.floor(f[5] / 100) * 100 + (this.dec(v) % 100);
        break;
      default: // CENTURY
        f[5] = this.dec(v) * 100 + (f[5] % 100);
    }
    if (this.regB & B_SET) {
      this.frozen = f;
    } else {
      this.offsetSec = secondsOf(f) - this.baseSecond(now);
      this.reschedule(now);
    }
  }

  private writeRegB(v: number): void {
    const now = this.now();
    this.accrue(now);
    const wasSet = (this.regB & B_SET) !== 0;
    if (v & B_SET) {
      if (!wasSet) this.frozen = [...fieldsOf(this.baseSecond(now) + this.offsetSec)];
      v &= ~B_UIE; // datasheet: setting SET clears UIE
    } else if (wasSet) {
      // Updates resume from the values the guest wrote, keeping the sub-second phase.
      this.offsetSec = secondsOf(this.frozen) - this.baseSecond(now);
    }
    // Changing the data mode while setting is the guest's business: fields are stored decoded.
    this.regB = v & 0xff;
    this.setIrq8(this.irqf());
    this.reschedule(now);
  }

  // ---- interrupts ----

  /** Periodic interrupt period in ns for rate select `rs` (32.768 kHz base), or 0 when off. */
  private periodNs(): number {
    let rs = this.regA & 0x0f;
    if (rs === 0) return 0;
    if (rs <= 2) rs += 7; // datasheet: rates 1 and 2 equal rates 8 and 9 with a 32.768 kHz base
    return ((1 << (rs - 1)) * NS_PER_SEC) / 32768;
  }

  private irqf(): boolean {
    const b = this.regB;
    const f = this.flags;
    return (b & B_PIE && f & C_PF) !== 0 || (b & B_AIE && f & C_AF) !== 0 || (b & B_UIE && f & C_UF) !== 0;
  }

  private setIrq8(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.ctx?.setIrq(8, level);
  }

  /** Alarm registers decoded: hour (0-23), minute, second, or -1 for "don't care" (C0h-FFh). */
  private alarm(): [number, number, number] {
    const care = (v: number) => (v & 0xc0) !== 0xc0;
    const s = this.nvram[SEC_ALARM];
    const m = this.nvram[MIN_ALARM];
    const h = this.nvram[HOUR_ALARM];
    return [care(h) ? this.decHour(h) : -1, care(m) ? this.dec(m) : -1, care(s) ? this.dec(s) : -1];
  }

  /** First register-time second strictly after `t` whose h:m:s matches the alarm. */
  private nextAlarmAfter(t: number): number {
    const [ah, am, as] = this.alarm();
    const day0 = Math.floor(t / 86400) * 86400;
    for (let day = day0; day <= day0 + 86400; day += 86400) {
      for (let h = Math.max(ah, 0); h < (ah < 0 ? 24 : ah + 1); h++) {
        if (day + h * 3600 + 3599 <= t) continue;
        for (let m = Math.max(am, 0); m < (am < 0 ? 60 : am + 1); m++) {
          const base = day + h * 3600 + m * 60;
          if (base + 59 <= t) continue;
          if (as < 0) return Math.max(base, t + 1);
          if (base + as > t) return base + as;
        }
      }
    }
    return Number.POSITIVE_INFINITY; // alarm values out of range never match
  }

  /** Account periodic, update-ended and alarm events in (checkedNs, toNs]. */
  private accrue(toNs: number): void {
    const from = this.checkedNs;
    if (toNs <= from) return;
    this.checkedNs = toNs;
    const period = this.periodNs();
    if (period > 0 && Math.floor(toNs / period) > Math.floor(from / period)) this.flags |= C_PF;
    if (this.regB & B_SET) return; // no update cycles while SET
    const s0 = this.baseSecond(from);
    const s1 = this.baseSecond(toNs);
    if (s1 > s0) {
      this.flags |= C_UF;
      if (this.nextAlarmAfter(s0 + this.offsetSec) <= s1 + this.offsetSec) this.flags |= C_AF;
    }
  }

  /** Schedule the next event that can raise IRQ 8, or nothing when no interrupt is enabled. */
  private reschedule(nowNs: number): void {
    if (this.ctx === null) return;
    let next = Number.POSITIVE_INFINITY;
    const b = this.regB;
    const period = this.periodNs();
    if (b & B_PIE && period > 0) next = Math.max(Math.ceil((Math.floor(nowNs / period) + 1) * period), nowNs + 1);
    if (!(b & B_SET)) {
      const s = this.baseSecond(nowNs);
      if (b & B_UIE) next = Math.min(next, this.nsOfBaseSecond(s + 1));
      if (b & B_AIE) {
        const at = this.nextAlarmAfter(s + this.offsetSec);
        if (at !== Number.POSITIVE_INFINITY) next = Math.min(next, this.nsOfBaseSecond(at - this.offsetSec));
      }
    }
    if (next === Number.POSITIVE_INFINITY) this.ctx.scheduler.cancel(this.task);
    else this.ctx.scheduler.scheduleAt(this.task, next);
  }

  /** Accrue events up to `ns` and raise IRQ 8 if an enabled flag is now set. */
  private sync(ns: number): void {
    this.accrue(ns);
    if (this.irqf()) this.setIrq8(true);
  }

  private onTask(atNs: number): void {
    this.sync(atNs);
    this.reschedule(Math.max(atNs, this.checkedNs));
  }

  saveState(): CmosState {
    return {
      v: 1,
      nvram: Array.from(this.nvram),
      index: this.index,
      nmiMasked: this.nmi,
      offsetSec: this.offsetSec,
      regA: this.regA,
      regB: this.regB,
      flags: this.flags,
      checkedNs: this.checkedNs,
      frozen: [...this.frozen],
      irqLevel: this.irqLevel,
    };
  }

  loadState(state: CmosState): void {
    const s = CmosState.parse(state);
    this.nvram.set(s.nvram);
    this.index = s.index;
    this.nmi = s.nmiMasked;
    this.offsetSec = s.offsetSec;
    this.regA = s.regA;
    this.regB = s.regB;
    this.flags = s.flags;
    this.checkedNs = s.checkedNs;
    this.frozen = s.frozen as Fields;
    this.irqLevel = s.irqLevel;
    if (this.ctx !== null) this.reschedule(Math.max(this.now(), this.checkedNs));
  }
}
