/**
 * Expansion of a short virtual-clock capture of the demo guest (real mode,
 * protected mode, paging, ring 3, interrupts, faults): the trace's
 * self-checks from the expansion issue, run through the command line and the
 * library as users run them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { expandLog } from "../../src/cli/expand.ts";
import { jitStats } from "../../src/cpu/jit/compile.ts";
import { LogWriter, readLog } from "../../src/log/index.ts";
import { PageKind } from "../../src/memory/physical.ts";
import { openTrace, type TraceFile, type TraceInsn, type TraceRecord, TraceRecorder } from "../../src/trace/index.ts";
import { cli, tempDir } from "../cli/helpers.ts";
import { biosImage, captureDemo, champsimKind, DEMO_DISK, parseChampSim, x86Kind } from "./helpers.ts";

const dir = tempDir("expand");
const bios = biosImage(dir);
const ready = bios !== null && existsSync(DEMO_DISK);
/** Enough for the BIOS, the protected-mode kernel with paging and the start of the ring-3 workloads. */
const INSTRUCTIONS = 3_000_000;
const LOG = join(dir, "run.log");
const FULL = join(dir, "full.bin");

const isInsn = (r: TraceRecord): r is TraceInsn => r.type === "insn";

/** Record-by-record comparison (a whole trace is too long for one JSON string); the first mismatches. */
function mismatches(got: TraceRecord[], want: TraceRecord[]): string[] {
  const out: string[] = [];
  if (got.length !== want.length) out.push(`length ${got.length} != ${want.length}`);
  for (let k = 0; k < Math.min(got.length, want.length) && out.length < 3; k++) {
    const a = JSON.stringify(got[k]);
    const b = JSON.stringify(want[k]);
    if (a !== b) out.push(`${k}: ${a} != ${b}`);
  }
  return out;
}

async function all(t: TraceFile, from?: number, to?: number): Promise<TraceRecord[]> {
  const out: TraceRecord[] = [];
  for await (const r of t.records(from, to)) out.push(r);
  return out;
}

const expand = (args: string[]) => cli(["expand", LOG, "--bios", bios ?? "", "-q", ...args]);
const oneLine = (s: string): boolean => s.trim().split("\n").length === 1 && s.startsWith("retrace: ");

describe.skipIf(!ready)("expand of a demo capture", () => {
  let full: TraceFile;
  let recs: TraceRecord[];
  let initialRam: Uint8Array;
  let finalRam: Uint8Array;
  let ramKinds: Uint8Array;

  beforeAll(async () => {
    await captureDemo(LOG, bios!, INSTRUCTIONS);
    // In-process expansion, so the test can see the machine's RAM before and after the replay.
    const r = await expandLog(LOG, {
      out: FULL,
      bios: bios!,
      quiet: true,
      onMachine: (m) => {
        initialRam = m.mem.ram.slice();
      },
    });
    expect(r.replay.ok).toBe(true);
    finalRam = r.machine.mem.ram;
    ramKinds = r.machine.mem.pageKind;
    full = await openTrace(FULL);
    recs = await all(full);
  }, 120_000);

  it("expand_demoCapture_holdsExactlyTheCapturedInstructions", async () => {
    const info = JSON.parse((await cli(["info", LOG, "--json"])).stdout);
    expect(info.instructions).toBe(INSTRUCTIONS);
    const insns = recs.filter(isInsn);
    expect(insns.length).toBe(INSTRUCTIONS);
    expect(full.trailer.instructions).toBe(INSTRUCTIONS);
    // Every icount once, in order.
    insns.forEach((r, k) => {
      if (r.icount !== k) expect(r.icount).toBe(k);
    });
    const ti = JSON.parse((await cli(["info", FULL, "--json"])).stdout);
    expect(ti.instructions).toBe(INSTRUCTIONS);
    expect(ti.records).toBe(full.trailer.records);
    expect(ti.bytes).toBe(readFileSync(FULL).length);
    // The run reaches every mode the format describes.
    expect(insns.some((r) => !r.protectedMode)).toBe(true);
    expect(insns.some((r) => r.paging && r.cpl === 3)).toBe(true);
    expect(recs.some((r) => r.type === "interrupt" && r.source === "external")).toBe(true);
    expect(recs.some((r) => r.type === "fault")).toBe(true);
    expect(insns.some((r) => r.io.length > 0)).toBe(true);
  });

  it("expand_memoryWritesAppliedToInitialRam_giveTheReplaysFinalRam", () => {
    const ram = initialRam.slice();
    expect(
      Buffer.compare(
        Buffer.from(ram.buffer, ram.byteOffset, ram.byteLength),
        Buffer.from(finalRam.buffer, finalRam.byteOffset, finalRam.byteLength),
      ),
    ).not.toBe(0);
    const put = (addr: number, byte: number): void => {
      // ROM and MMIO pages never change RAM (the CPU drops ROM writes; MMIO goes to devices).
      if (addr < ram.length && ramKinds[addr >>> 12] === PageKind.Ram) ram[addr] = byte;
    };
    let writes = 0;
    for (const r of recs) {
      for (const a of r.mem) {
        if (a.kind === "read") continue;
        writes++;
        const lin = a.lin ?? a.phys;
        const first = a.phys2 === null ? a.size : Math.min(a.size, 0x1000 - (lin & 0xfff));
        for (let k = 0; k < a.size; k++) {
          const addr = k < first ? a.phys + k : a.phys2! + (k - first);
          put(addr, (a.value >>> (8 * k)) & 0xff);
        }
      }
    }
    expect(writes).toBeGreaterThan(100_000);
    const differ: number[] = [];
    for (let p = 0; p < ram.length && differ.length < 5; p++) if (ram[p] !== finalRam[p]) differ.push(p);
    expect(differ.map((p) => p.toString(16))).toEqual([]);
  });

  it("expand_recorderBeginNextShortcut_writesTheSameBytesAsTheFullBegin", async () => {
    // beginNext skips the window, filter, context and mode checks inside a block; with it replaced by
    // the full begin, the trace must not change by a byte (mode switches, paging, ring 3, faults).
    const slow = join(dir, "full-begin.bin");
    const proto = TraceRecorder.prototype as { beginNext: TraceRecorder["beginNext"] };
    const shortcut = proto.beginNext;
    proto.beginNext = TraceRecorder.prototype.begin;
    try {
      const r = await expandLog(LOG, { out: slow, bios: bios!, quiet: true });
      expect(r.replay.ok).toBe(true);
    } finally {
      proto.beginNext = shortcut;
    }
    expect(Buffer.compare(readFileSync(slow), readFileSync(FULL))).toBe(0);
  });

  it("expand_tracedRegions_recordWhatTheInterpreterRecords", async () => {
    // Hot blocks run as traced regions (compile.ts emitTraced), which log their accesses and hand
    // them to the recorder per run of instructions. Every block compiled (threshold 0, so every
    // emitter, side exit and interpreter call inside a region) and none (-1) must decode to the
    // same records as the default expansion. REF records may differ in the bytes (a region and the
    // interpreter can hold different decoded copies of one instruction), so records are compared.
    for (const threshold of [-1, 0]) {
      const out = join(dir, `jit${threshold}.bin`);
      const before = jitStats.traced;
      const r = await expandLog(LOG, {
        out,
        bios: bios!,
        quiet: true,
        onMachine: (m) => {
          m.cpu.jitThreshold = threshold;
        },
      });
      expect(r.replay.ok).toBe(true);
      if (threshold === 0) expect(jitStats.traced - before).toBeGreaterThan(1000);
      else expect(jitStats.traced).toBe(before);
      const t = await openTrace(out);
      const got = await all(t);
      await t.close();
      expect(mismatches(got, recs)).toEqual([]);
    }
  }, 300_000);

  it("expand_twiceFromOneLog_isByteIdentical", async () => {
    const again = join(dir, "again.bin");
    const r = await expand(["-o", again]);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(again), readFileSync(FULL))).toBe(0);
    const c1 = join(dir, "c1.champsim");
    const c2 = join(dir, "c2.champsim");
    expect((await expand(["-o", c1, "-f", "champsim"])).code).toBe(0);
    expect((await expand(["-o", c2, "-f", "champsim"])).code).toBe(0);
    expect(Buffer.compare(readFileSync(c1), readFileSync(c2))).toBe(0);
  });

  it("expand_window_equalsTheSameSliceOfTheFullTrace", async () => {
    // One window inside chunks, one starting exactly at a chunk's first icount.
    const edge = full.chunks[Math.min(3, full.chunks.length - 1)].firstIcount;
    for (const [from, to] of [
      [1_234_567, 1_456_789],
      [edge, edge + 50_000],
    ]) {
      const out = join(dir, `win-${from}.bin`);
      const r = await expand(["-o", out, "--from", String(from), "--to", String(to)]);
      expect(r.code, r.stderr).toBe(0);
      const w = await openTrace(out);
      const got = await all(w);
      await w.close();
      const want = await all(full, from, to);
      expect(got.filter((x) => x.type === "insn").length).toBe(to - from);
      expect(got[0].icount).toBe(from);
      expect(mismatches(got, want)).toEqual([]);
      expect(w.header.window).toEqual({ from, to });
    }
  });

  it("expand_from_replaysUntracedAndCompiledUpToTheWindow", async () => {
    // The recorder is attached at --from: before it the replay runs untraced, with blocks compiled
    // to untraced regions, and the window is the full trace's slice.
    const from = 2_500_000;
    const to = 2_600_000;
    const out = join(dir, "ff.bin");
    let attachedAt = -1;
    let compiledBefore = 0;
    const regions = jitStats.regions - jitStats.traced;
    const r = await expandLog(LOG, {
      out,
      bios: bios!,
      quiet: true,
      from,
      to,
      onMachine: (m) => {
        m.cpu.jitThreshold = 200;
        let t = m.cpu.tracer;
        Object.defineProperty(m.cpu, "tracer", {
          configurable: true,
          get: () => t,
          set: (v) => {
            if (v !== null && attachedAt < 0) {
              attachedAt = m.cpu.icount;
              compiledBefore = jitStats.regions - jitStats.traced - regions;
            }
            t = v;
          },
        });
      },
    });
    expect(r.replay.ok).toBe(true);
    expect(attachedAt).toBe(from);
    expect(compiledBefore).toBeGreaterThan(0);
    const w = await openTrace(out);
    const got = await all(w);
    await w.close();
    expect(mismatches(got, await all(full, from, to))).toEqual([]);
  });

  it("dump_window_printsTheSameLinesAsTheTextFormat", async () => {
    const txt = join(dir, "full.txt");
    expect((await expand(["-o", txt, "-f", "text"])).code).toBe(0);
    const text = readFileSync(txt, "latin1");
    const d = await cli(["dump", FULL]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toBe(text);
    const lines = text.split("\n");
    expect(lines.length - 1).toBe(recs.length);
    // A windowed dump is the matching run of lines.
    const part = await cli(["dump", FULL, "--from", "2900000", "--to", "2900100"]);
    const first = lines.findIndex((l) => l.startsWith("   2900000 "));
    const slice = lines.slice(first, first + part.stdout.split("\n").length - 1);
    expect(part.stdout).toBe(`${slice.join("\n")}\n`);
    expect(slice.filter((l) => !/^\s*\d+ INT | FAULT/.test(l)).length).toBe(100);
    // Lines carry disassembly and accesses.
    expect(text).toMatch(/ r0 [0-9a-f]+ +(mov|jmp|out) /);
    expect(text).toMatch(/ P3 [0-9a-f]+ +\S.* [RW]4 [0-9a-f]{8}\/[0-9a-f]{8}=[0-9a-f]{8}/);
  });

  it("expand_onlyUserOrKernel_keepsExactlyThoseRecordsWithTheirIcounts", async () => {
    for (const only of ["user", "kernel"]) {
      const out = join(dir, `${only}.bin`);
      const r = await expand(["-o", out, "--only", only]);
      expect(r.code, r.stderr).toBe(0);
      const u = await openTrace(out);
      const got = await all(u);
      await u.close();
      const want = recs.filter((x) =>
        x.type === "interrupt" ? only === "kernel" : (x.cpl === 3) === (only === "user"),
      );
      expect(got.length).toBe(want.length);
      expect(want.length).toBeGreaterThan(10_000);
      // Same records with the same icounts, although the instructions between them are missing.
      expect(mismatches(got, want)).toEqual([]);
    }
  });

  it("expand_champsim_classifiesBranchesAsTheX86InstructionKinds", async () => {
    const out = join(dir, "trace.champsim");
    expect((await expand(["-o", out, "-f", "champsim"])).code).toBe(0);
    const cs = parseChampSim(new Uint8Array(readFileSync(out)));
    const insns = recs.filter(isInsn);
    expect(cs.length).toBe(insns.length);
    const seen = new Map<string, number>();
    const wrong: string[] = [];
    for (let k = 0; k < cs.length && wrong.length < 5; k++) {
      const want = x86Kind(insns[k].bytes);
      const got = champsimKind(cs[k]);
      seen.set(got, (seen.get(got) ?? 0) + 1);
      const taken = want === "NOT_BRANCH" ? 0 : insns[k].branch?.taken ? 1 : 0;
      if (got !== want || cs[k].ip !== insns[k].lin || (want !== "NOT_BRANCH" && cs[k].taken !== taken)) {
        wrong.push(`${k}: ${got} taken ${cs[k].taken} ip ${cs[k].ip.toString(16)}; want ${want} taken ${taken}`);
      }
    }
    expect(wrong).toEqual([]);
    for (const kind of [
      "BRANCH_CONDITIONAL",
      "BRANCH_DIRECT_JUMP",
      "BRANCH_DIRECT_CALL",
      "BRANCH_RETURN",
      "BRANCH_OTHER",
    ]) {
      expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(0);
    }
    // Memory operands are the linear addresses of the instruction's reads and writes.
    let checked = 0;
    for (let k = 0; k < cs.length; k += 97) {
      const reads = [...new Set(insns[k].mem.filter((a) => a.kind === "read" && a.lin !== 0).map((a) => a.lin))];
      const writes = [...new Set(insns[k].mem.filter((a) => a.kind === "write" && a.lin !== 0).map((a) => a.lin))];
      expect(cs[k].smem.filter((x) => x !== 0)).toEqual(reads.slice(0, 4));
      expect(cs[k].dmem.filter((x) => x !== 0)).toEqual(writes.slice(0, 2));
      checked += reads.length + writes.length;
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it("expand_champsimGzAndXz_decompressToTheRawRecords", async () => {
    const raw = readFileSync(join(dir, "trace.champsim"));
    const gz = join(dir, "trace.champsimtrace.gz");
    expect((await expand(["-o", gz, "-f", "champsim"])).code).toBe(0);
    expect(Buffer.compare(gunzipSync(readFileSync(gz)), raw)).toBe(0);
    if (spawnSync("xz", ["--version"]).status === 0) {
      const xz = join(dir, "trace.champsimtrace.xz");
      const r = await expand(["-o", xz, "-f", "champsim"]);
      expect(r.code, r.stderr).toBe(0);
      const d = spawnSync("xz", ["-dc", xz], { maxBuffer: 1 << 30 });
      expect(d.status).toBe(0);
      expect(Buffer.compare(d.stdout, raw)).toBe(0);
    }
  });

  it("expand_bbv_countsEveryInstructionOncePerInterval", async () => {
    const out = join(dir, "trace.bbv");
    const interval = 1_000_000;
    const r = await expand(["-o", out, "-f", "bbv", "--interval", String(interval)]);
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(out, "latin1").trim().split("\n");
    expect(lines.length).toBe(Math.ceil(INSTRUCTIONS / interval));
    const ids = new Set<number>();
    let total = 0;
    lines.forEach((l, k) => {
      expect(l).toMatch(/^T(:\d+:\d+)( :\d+:\d+)*$/);
      const pairs = l
        .slice(1)
        .split(" ")
        .map((p) => p.split(":").slice(1).map(Number));
      const sum = pairs.reduce((a, [, c]) => a + c, 0);
      if (k < lines.length - 1) expect(sum).toBe(interval);
      total += sum;
      for (const [id] of pairs) ids.add(id);
      const sorted = pairs.map(([id]) => id);
      expect(sorted).toEqual([...sorted].sort((a, b) => a - b));
    });
    expect(total).toBe(INSTRUCTIONS);
    // Ids are numbered from 1 without gaps.
    expect(Math.min(...ids)).toBe(1);
    expect(Math.max(...ids)).toBe(ids.size);
  });

  it("expand_badInput_failsWithOneLineAndLeavesNoFile", async () => {
    const cases: [string[], RegExp][] = [
      [["expand", join(dir, "missing.log"), "-o", join(dir, "x.bin")], /missing\.log: cannot read log: no such file/],
      [["expand", LOG, "-o", join(dir, "x.bin"), "--from", "abc"], /--from must be a whole number/],
      [
        ["expand", LOG, "-o", join(dir, "x.bin"), "--from", "500", "--to", "100"],
        /--to \(100\) must be greater than --from \(500\)/,
      ],
      [
        ["expand", LOG, "-o", join(dir, "x.bin"), "--from", "9000000"],
        /beyond the end of the run \(3000000 instructions\)/,
      ],
      [["expand", LOG, "-o", join(dir, "x.bin"), "--format", "pdf"], /must be one of native, champsim, text, bbv/],
      [["expand", LOG, "-o", join(dir, "x.bin.xz")], /native traces are compressed/],
      [["expand", LOG, "-o", join(dir, "x.bin"), "--interval", "10"], /--interval applies to --format bbv only/],
      [["expand", LOG, "-o", join(dir, "nodir", "x.bin"), "--bios", bios!], /x\.bin: cannot write: ENOENT/],
      [["dump", join(dir, "missing.bin")], /missing\.bin: cannot read trace: no such file/],
      [["dump", LOG], /not a retrace trace \(wrong magic bytes\)/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(oneLine(r.stderr), r.stderr).toBe(true);
      expect(r.stderr).toMatch(msg);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith("x.bin") || f.includes(".tmp-"))).toEqual([]);
  });

  it("expand_divergingReplay_exits6AndWritesNothing", async () => {
    // The same log with its final state altered: the replay disagrees only after the whole trace was written.
    const log = readLog(new Uint8Array(readFileSync(LOG)));
    const chunks: Uint8Array[] = [];
    const { formatVersion: _v, ...header } = log.header;
    const w = new LogWriter(header, (b) => chunks.push(b.slice()));
    for (const e of log.events) w.push(e);
    const t = log.trailer!;
    w.finish({
      instructions: t.instructions,
      endReason: t.endReason,
      final: { ...t.final, regs: t.final.regs ^ 1 },
      durationMs: t.durationMs,
      serial: t.serial,
      extra: t.extra,
    });
    const bad = join(dir, "diverging.log");
    writeFileSync(bad, Buffer.concat(chunks));
    const out = join(dir, "diverging.bin");
    const r = await cli(["expand", bad, "-o", out, "--bios", bios!, "-q"]);
    expect(r.code).toBe(6);
    expect(oneLine(r.stderr), r.stderr).toBe(true);
    expect(r.stderr).toMatch(/replay diverged at instruction \d+ .*no trace written/);
    expect(readdirSync(dir).filter((f) => f.includes("diverging.bin"))).toEqual([]);
  });

  it("info_damagedTrace_saysWhatIsWrongInOneLine", async () => {
    const bytes = readFileSync(FULL);
    const cases: [Uint8Array, RegExp][] = [
      [bytes.subarray(0, bytes.length - 10), /incomplete trace|bad footer/],
      [Buffer.concat([bytes.subarray(0, 200), Buffer.from([bytes[200] ^ 0xff]), bytes.subarray(201)]), /CRC mismatch/],
    ];
    for (const [b, msg] of cases) {
      const p = join(dir, "damaged.bin");
      writeFileSync(p, b);
      const r = await cli(["dump", p]);
      expect(r.code).toBe(7);
      expect(oneLine(r.stderr), r.stderr).toBe(true);
      expect(r.stderr).toMatch(msg);
    }
  });
});
