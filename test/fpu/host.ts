/**
 * Both sides of the x87 differential suite: the native runner (fixtures/hostfpu/runner.elf,
 * protocol in its source) and the same case in retrace's CPU. A case is one x87 instruction,
 * the FPU state as a 108-byte FNSAVE image, the general registers, EFLAGS and a data window.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PortBus } from "../../src/bus/ports.ts";
import { Cpu, Seg } from "../../src/cpu/cpu.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";

/** Linear addresses shared with runner.asm. */
export const CODE = 0x00400000;
export const DATA_WIN = 0x00500f80;
export const WIN = 256;
export const SCRATCH_TOP = 0x00600f00;

const IN_SIZE = 424;
const OUT_SIZE = 416;
const HEADER_SIZE = 12;

export interface FpuCase {
  readonly bytes: Uint8Array;
  /** EAX ECX EDX EBX ESP EBP ESI EDI (ESP is replaced by the scratch stack). */
  readonly regs: Int32Array;
  readonly eflags: number;
  /** 108-byte 32-bit FNSAVE image loaded before the instruction. */
  readonly image: Uint8Array;
  readonly data: Uint8Array;
}

export interface FpuResult {
  /** Exception vector, or -1 when the instruction completed. */
  exc: number;
  eip: number;
  eflags: number;
  regs: Int32Array;
  image: Uint8Array;
  data: Uint8Array;
}

export interface HostInfo {
  cs: number;
  ds: number;
}

export function runnerPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "hostfpu", "runner.elf");
}

function encode(cases: readonly FpuCase[]): Buffer {
  const buf = Buffer.alloc(cases.length * IN_SIZE);
  for (let k = 0; k < cases.length; k++) {
    const c = cases[k];
    const o = k * IN_SIZE;
    if (c.bytes.length < 1 || c.bytes.length > 15) throw new Error(`instruction length ${c.bytes.length}`);
    buf[o] = c.bytes.length;
    buf.set(c.bytes, o + 4);
    for (let r = 0; r < 8; r++) buf.writeInt32LE(c.regs[r] | 0, o + 20 + r * 4);
    buf.writeUInt32LE(c.eflags >>> 0, o + 52);
    buf.set(c.image, o + 56);
    buf.set(c.data, o + 168);
  }
  return buf;
}

function decode(out: Buffer, o: number): FpuResult {
  const signal = out.readUInt32LE(o);
  const regs = new Int32Array(8);
  for (let r = 0; r < 8; r++) regs[r] = out.readInt32LE(o + 16 + r * 4);
  return {
    exc: signal === 0 ? -1 : out.readUInt32LE(o + 4),
    eip: out.readInt32LE(o + 8),
    eflags: out.readInt32LE(o + 12),
    regs,
    image: new Uint8Array(out.subarray(o + 48, o + 156)),
    data: new Uint8Array(out.subarray(o + 160, o + 160 + WIN)),
  };
}

/** Run cases natively, in batches of `batch` per runner process. */
export function runNative(cases: readonly FpuCase[], batch = 20000, path = runnerPath()): FpuResult[] {
  const results: FpuResult[] = [];
  for (let s = 0; s < cases.length; s += batch) {
    const part = cases.slice(s, s + batch);
    const r = spawnSync(path, [], { input: encode(part), maxBuffer: HEADER_SIZE + part.length * OUT_SIZE + 4096 });
    if (r.error) throw new Error(`hostfpu runner: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`hostfpu runner exited with status ${r.status} (signal ${r.signal})`);
    const out = r.stdout;
    if (out.length !== HEADER_SIZE + part.length * OUT_SIZE || out.readUInt32LE(0) !== 0x31504648) {
      throw new Error(`hostfpu runner: ${out.length} bytes of output for ${part.length} cases`);
    }
    for (let k = 0; k < part.length; k++) results.push(decode(out, HEADER_SIZE + k * OUT_SIZE));
  }
  return results;
}

/** What the runner reports about its process, or why the host cannot be the oracle. */
export function probeHost(path = runnerPath()): HostInfo | string {
  if (process.platform !== "linux") return `host is ${process.platform}, not Linux`;
  if (process.arch !== "x64" && process.arch !== "ia32") return `host CPU is ${process.arch}, not x86`;
  if (!existsSync(path)) return `${path} is missing (npm run fixtures)`;
  const r = spawnSync(path, [], { input: Buffer.alloc(0) });
  if (r.error) return `cannot run ${path}: ${r.error.message} (no i386 binary support?)`;
  if (r.status !== 0) return `${path} exited with status ${r.status} (signal ${r.signal})`;
  if (r.stdout.length !== HEADER_SIZE) return `${path} printed ${r.stdout.length} bytes instead of its header`;
  return { cs: r.stdout.readUInt32LE(4), ds: r.stdout.readUInt32LE(8) };
}

const AR_P = 1 << 7;
const AR_S = 1 << 4;
const AR_DPL3 = 3 << 5;
const AR_DB = 1 << 14;
const AR_G = 1 << 15;
/** CR0 as Linux runs user code: PE, MP, ET, NE, WP, AM. */
const CR0_LINUX = (1 << 0) | (1 << 1) | (1 << 4) | (1 << 5) | (1 << 16) | (1 << 18);

/** The emulated side: ring 3, flat segments with the host's selectors, CR0 as Linux sets it. */
export class FpuEmulator {
  readonly mem = new PhysicalMemory({ ramBytes: 8 << 20 });
  readonly cpu = new Cpu(this.mem, new PortBus());

  constructor(host: HostInfo = { cs: 0x23, ds: 0x2b }) {
    const cpu = this.cpu;
    cpu.enterFlat32(3);
    cpu.cr0 = CR0_LINUX;
    const flat = (s: number, sel: number, type: number): void =>
      cpu.setSegCache(s, sel, 0, -1, AR_P | AR_S | AR_DPL3 | AR_DB | AR_G | type);
    flat(Seg.CS, host.cs, 0xb);
    for (const s of [Seg.DS, Seg.ES, Seg.SS]) flat(s, host.ds, 0x3);
    cpu.setSegCache(Seg.FS, 0, 0, 0, 0);
    cpu.setSegCache(Seg.GS, 0, 0, 0, 0);
    cpu.onException = () => true;
    // UD2 everywhere in the code page: a wrong instruction length shows as #UD.
    for (let a = CODE; a < CODE + 0x1000; a += 2) {
      this.mem.ram[a] = 0x0f;
      this.mem.ram[a + 1] = 0x0b;
    }
  }

  run(c: FpuCase): FpuResult {
    const { cpu, mem } = this;
    const ram = mem.ram;
    ram.set(c.bytes, CODE);
    cpu.invalidatePage(CODE >>> 12);
    ram.set(c.data, DATA_WIN);
    cpu.regs.set(c.regs);
    cpu.regs[4] = SCRATCH_TOP;
    cpu.setEflags(c.eflags);
    cpu.fpu.loadImage(cpu, c.image);
    cpu.eip = CODE;
    cpu.stopVector = -1;
    cpu.halted = false;
    cpu.run(1);
    const res: FpuResult = {
      exc: cpu.stopVector,
      eip: cpu.eip,
      eflags: cpu.getEflags(),
      regs: new Int32Array(cpu.regs),
      image: cpu.fpu.saveImage(cpu),
      data: ram.slice(DATA_WIN, DATA_WIN + WIN),
    };
    ram.fill(0x0b0f & 0xff, CODE, CODE + 16);
    for (let a = CODE; a < CODE + 16; a += 2) {
      ram[a] = 0x0f;
      ram[a + 1] = 0x0b;
    }
    return res;
  }
}
