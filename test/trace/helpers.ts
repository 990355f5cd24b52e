/** Shared by the trace tests: a firmware image, a short virtual-clock capture of the demo, a ChampSim reader. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { PortBus } from "../../src/bus/ports.ts";
import { Cpu, Reg } from "../../src/cpu/cpu.ts";
import { PhysicalMemory } from "../../src/memory/physical.ts";
import { BbvWriter } from "../../src/trace/bbv.ts";
import { ChampSimWriter } from "../../src/trace/champsim.ts";
import { type RawChunk, type RecorderOptions, TraceRecorder } from "../../src/trace/recorder.ts";
import { cli, ROOT } from "../cli/helpers.ts";

export const DEMO_DISK = join(ROOT, "fixtures/demo/demo.img");

/** The bundled BIOS, or one assembled from its source into `dir` (null if neither is possible). */
export function biosImage(dir: string): string | null {
  const built = join(ROOT, "src/firmware/bios.bin");
  if (existsSync(built)) return built;
  const src = join(ROOT, "src/firmware/bios.asm");
  if (!existsSync(src)) return null;
  const out = join(dir, "bios.bin");
  const r = spawnSync("nasm", ["-f", "bin", "-I", `${join(ROOT, "src/firmware")}/`, "-o", out, src]);
  return r.status === 0 ? out : null;
}

/** A bare CPU in flat 32-bit ring 0 with 4 MiB of RAM, the flat binary `bin` loaded and entered at `org`, ESP 0x8000. */
export function flatCpu(bin: string, org: number): { cpu: Cpu; mem: PhysicalMemory } {
  const mem = new PhysicalMemory({ ramBytes: 4 << 20 });
  const cpu = new Cpu(mem, new PortBus());
  cpu.enterFlat32(0);
  mem.ram.set(readFileSync(bin), org);
  cpu.eip = org;
  cpu.regs[Reg.ESP] = 0x8000;
  return { cpu, mem };
}

/** One recorded run as every consumer saw it: the raw chunks, the ChampSim bytes, the BBV text (interval 7). */
export interface RecordedRun {
  raw: RawChunk[];
  champsim: Uint8Array;
  bbv: string;
  recorder: TraceRecorder;
}

/** Run `cpu` for at most `max` instructions with a recorder (`opts`) feeding raw chunks, ChampSim and BBV. */
export function recordAll(cpu: Cpu, mem: PhysicalMemory, opts: RecorderOptions, max = 1000): RecordedRun {
  const raw: RawChunk[] = [];
  const cs: Uint8Array[] = [];
  const bbvOut: Uint8Array[] = [];
  const bbv = new BbvWriter({ write: (b) => bbvOut.push(b.slice()) }, 7);
  const recorder = new TraceRecorder(
    [
      { chunk: (c) => raw.push({ ...c, bytes: c.bytes.slice() }) },
      new ChampSimWriter({ write: (b) => cs.push(b.slice()) }),
      bbv,
    ],
    opts,
  );
  recorder.attach({ cpu, ports: new PortBus(), mem });
  cpu.run(max);
  recorder.finish();
  bbv.finish();
  return {
    raw,
    champsim: new Uint8Array(Buffer.concat(cs)),
    bbv: Buffer.concat(bbvOut).toString("latin1"),
    recorder,
  };
}

export function haveNasm(): boolean {
  return spawnSync("nasm", ["-v"]).status === 0;
}

/** Capture `instructions` of the demo with the virtual clock (bit-identical every time). */
export async function captureDemo(out: string, bios: string, instructions: number): Promise<void> {
  const r = await cli([
    "capture",
    "-o",
    out,
    "--clock",
    "virtual",
    "--max-instructions",
    String(instructions),
    "--bios",
    bios,
    "-q",
    DEMO_DISK,
  ]);
  if (r.code !== 4 && r.code !== 0) throw new Error(`capture failed (${r.code}): ${r.stderr}`);
}

/** One ChampSim input_instr, parsed from the 64-byte layout (inc/trace_instruction.h). */
export interface ChampSimRecord {
  ip: number;
  isBranch: number;
  taken: number;
  dst: number[];
  src: number[];
  dmem: number[];
  smem: number[];
}

export function parseChampSim(bytes: Uint8Array): ChampSimRecord[] {
  if (bytes.length % 64 !== 0) throw new Error(`${bytes.length} bytes is not a whole number of 64-byte records`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: ChampSimRecord[] = [];
  for (let o = 0; o < bytes.length; o += 64) {
    const u64 = (at: number): number => Number(dv.getBigUint64(o + at, true));
    out.push({
      ip: u64(0),
      isBranch: bytes[o + 8],
      taken: bytes[o + 9],
      dst: [bytes[o + 10], bytes[o + 11]],
      src: [bytes[o + 12], bytes[o + 13], bytes[o + 14], bytes[o + 15]],
      dmem: [u64(16), u64(24)],
      smem: [u64(32), u64(40), u64(48), u64(56)],
    });
  }
  return out;
}

export type ChampSimKind =
  | "BRANCH_DIRECT_JUMP"
  | "BRANCH_INDIRECT"
  | "BRANCH_CONDITIONAL"
  | "BRANCH_DIRECT_CALL"
  | "BRANCH_INDIRECT_CALL"
  | "BRANCH_RETURN"
  | "BRANCH_OTHER"
  | "NOT_BRANCH";

/** ChampSim's branch classification (inc/instruction.h, ooo_model_instr constructor), rule for rule. */
export function champsimKind(r: ChampSimRecord): ChampSimKind {
  const SP = 6;
  const FLAGS = 25;
  const IP = 26;
  const dst = r.dst.filter((x) => x !== 0);
  const src = r.src.filter((x) => x !== 0);
  const writesSp = dst.includes(SP);
  const writesIp = dst.includes(IP);
  const readsSp = src.includes(SP);
  const readsFlags = src.includes(FLAGS);
  const readsIp = src.includes(IP);
  const readsOther = src.some((x) => x !== SP && x !== FLAGS && x !== IP);
  if (!readsSp && !readsFlags && writesIp && !readsOther) return "BRANCH_DIRECT_JUMP";
  if (!readsSp && !readsIp && !readsFlags && writesIp && readsOther) return "BRANCH_INDIRECT";
  if (!readsSp && readsIp && !writesSp && writesIp && (readsFlags || readsOther)) return "BRANCH_CONDITIONAL";
  if (readsSp && readsIp && writesSp && writesIp && !readsFlags && !readsOther) return "BRANCH_DIRECT_CALL";
  if (readsSp && readsIp && writesSp && writesIp && !readsFlags && readsOther) return "BRANCH_INDIRECT_CALL";
  if (readsSp && !readsIp && writesSp && writesIp) return "BRANCH_RETURN";
  if (writesIp) return "BRANCH_OTHER";
  return "NOT_BRANCH";
}

/**
 * What kind of control transfer an x86 instruction is, from its bytes alone
 * (SDM Vol.2 Appendix A one-byte map and group 5), independent of retrace's tables.
 */
export function x86Kind(bytes: Uint8Array): ChampSimKind {
  let i = 0;
  const prefixes = [0x66, 0x67, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf0, 0xf2, 0xf3];
  while (i < bytes.length && prefixes.includes(bytes[i])) i++;
  const op = bytes[i];
  if ((op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3)) return "BRANCH_CONDITIONAL";
  if (op === 0x0f) return bytes[i + 1] >= 0x80 && bytes[i + 1] <= 0x8f ? "BRANCH_CONDITIONAL" : "NOT_BRANCH";
  if (op === 0xe8 || op === 0x9a) return "BRANCH_DIRECT_CALL";
  if (op === 0xe9 || op === 0xeb || op === 0xea) return "BRANCH_DIRECT_JUMP";
  if (op === 0xc2 || op === 0xc3 || op === 0xca || op === 0xcb) return "BRANCH_RETURN";
  if (op === 0xcc || op === 0xcd || op === 0xce || op === 0xcf || op === 0xf1) return "BRANCH_OTHER";
  if (op === 0xff) {
    const reg = (bytes[i + 1] >> 3) & 7;
    if (reg === 2 || reg === 3) return "BRANCH_INDIRECT_CALL";
    if (reg === 4 || reg === 5) return "BRANCH_INDIRECT";
  }
  return "NOT_BRANCH";
}
