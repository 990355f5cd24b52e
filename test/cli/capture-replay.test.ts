/**
 * Capture -> replay on the bundled demo guest, through the command line as a
 * user runs it (rr-style record/replay/compare, STYLE.md §14).
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type LogEvent, LogWriter, readLog } from "../../src/log/index.ts";
import { rng } from "../nondet/simulated-host.ts";
import { cli, ROOT, startCli, tempDir } from "./helpers.ts";

const dir = tempDir("cap");
const BIOS = join(ROOT, "src/firmware/bios.bin");
const haveBios = existsSync(BIOS);

/** Capture the demo with the host clock, typing `text` at random moments. */
async function captureWithInput(out: string, seed: number, text: string) {
  const { child, done } = startCli(["capture", "-o", out, "-q"]);
  const r = rng(seed);
  for (const ch of text) {
    await new Promise((res) => setTimeout(res, 50 + r() * 400));
    child.stdin?.write(ch);
  }
  child.stdin?.end();
  return done;
}

/** Rewrite a log with `edit` applied to its events (same header and trailer). */
function rewriteLog(src: string, dst: string, edit: (events: LogEvent[]) => void): void {
  const log = readLog(new Uint8Array(readFileSync(src)));
  const events = log.events.map((e) => ({ ...e }));
  edit(events);
  const chunks: Uint8Array[] = [];
  const { formatVersion: _v, ...header } = log.header;
  const w = new LogWriter(header, (b) => chunks.push(b.slice()));
  for (const e of events) w.push(e);
  const t = log.trailer!;
  w.finish({
    instructions: t.instructions,
    endReason: t.endReason,
    final: t.final,
    durationMs: t.durationMs,
    serial: t.serial,
    extra: t.extra,
  });
  writeFileSync(dst, Buffer.concat(chunks));
}

describe.skipIf(!haveBios)("capture and replay of the demo", () => {
  const logs: string[] = [];
  beforeAll(async () => {
    // Three captures with different host timing and input typed at different moments.
    const runs = await Promise.all(
      [0, 1, 2].map((k) => captureWithInput(join(dir, `host${k}.log`), 17 + k, "retrace!")),
    );
    for (let k = 0; k < runs.length; k++) {
      expect(runs[k].code, runs[k].stderr).toBe(0);
      logs.push(join(dir, `host${k}.log`));
    }
  }, 180_000);

  it("capture_hostClockWithSerialInput_replaysExactly", async () => {
    for (const log of logs) {
      const info = JSON.parse((await cli(["info", log, "--json"])).stdout);
      expect(info.complete).toBe(true);
      expect(info.events.input).toBeGreaterThan(0); // the typed bytes were logged
      expect(info.events.sync).toBeGreaterThan(0);
      const r = await cli(["replay", log, "--json"]);
      const out = JSON.parse(r.stdout);
      expect(out.ok, r.stdout).toBe(true);
      expect(out.instructions).toBe(info.instructions);
      expect(r.code).toBe(0);
    }
  }, 120_000);

  it("capture_hostClock_timingDiffersBetweenRuns", async () => {
    // Different host timing must really give different logs (else the test above proves little).
    const a = readLog(new Uint8Array(readFileSync(logs[0])));
    const b = readLog(new Uint8Array(readFileSync(logs[1])));
    const key = (l: typeof a) => l.events.map((e) => `${e.kind}@${e.icount}`).join(",");
    expect(key(a)).not.toBe(key(b));
  });

  it("capture_virtualClock_logsAreBitIdentical", async () => {
    const a = join(dir, "v1.log");
    const b = join(dir, "v2.log");
    expect((await cli(["capture", "--clock", "virtual", "-o", a, "-q"])).code).toBe(0);
    expect((await cli(["capture", "--clock", "virtual", "-o", b, "-q"])).code).toBe(0);
    expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
    const r = await cli(["replay", a]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/replay matches/);
  }, 120_000);

  it("capture_summary_givesLogSizeAndItsOwnShareOfTheRun", async () => {
    const out = join(dir, "summary.log");
    const r = await cli(["capture", "--clock", "virtual", "-o", out]);
    expect(r.code, r.stderr).toBe(0);
    const m = r.stderr.match(
      /log ([\d,]+) bytes \(([\d.]+) bytes per 1000 instructions\); logging and checkpoints took ([\d.]+) s \(([\d.]+) % of the run\)/,
    );
    expect(m, r.stderr).not.toBeNull();
    const bytes = Number(m![1].replaceAll(",", ""));
    expect(bytes).toBe(readFileSync(out).length);
    const n = Number(r.stderr.match(/([\d,]+) instructions in/)![1].replaceAll(",", ""));
    expect(Number(m![2])).toBeCloseTo((bytes * 1000) / n, 3);
    expect(Number(m![3])).toBeGreaterThan(0); // the final checkpoint hashes all of RAM: never free
    expect(Number(m![4])).toBeLessThan(100);
  }, 120_000);

  it("replay_alteredCheckpoint_reportsDivergenceAtThatCheckpoint", async () => {
    const bad = join(dir, "bad-check.log");
    let at = -1;
    rewriteLog(logs[0], bad, (events) => {
      const checks = events.filter((e) => e.kind === "check");
      const c = checks[1] as Extract<LogEvent, { kind: "check" }>;
      c.regs = (c.regs ^ 1) >>> 0;
      at = c.icount;
    });
    const r = await cli(["replay", bad, "--json"]);
    expect(r.code).toBe(6);
    const out = JSON.parse(r.stdout);
    expect(out.divergence.icount).toBe(at);
    expect(out.divergence.what).toMatch(/registers/);
    expect(out.divergence.lastGoodIcount).toBeLessThan(at);
  }, 60_000);

  it("replay_alteredInputByte_divergesAfterTheInputAndBeforeTheEnd", async () => {
    const bad = join(dir, "bad-input.log");
    let at = -1;
    rewriteLog(logs[0], bad, (events) => {
      const e = events.find((x) => x.kind === "input") as Extract<LogEvent, { kind: "input" }>;
      e.data = Uint8Array.from(e.data, (b) => b ^ 0x20);
      at = e.icount;
    });
    const r = await cli(["replay", bad, "--json"]);
    expect(r.code).toBe(6);
    const out = JSON.parse(r.stdout);
    expect(out.divergence.icount).toBeGreaterThanOrEqual(at);
    expect(out.divergence.lastGoodIcount).toBeLessThanOrEqual(at);
  }, 60_000);

  it("replay_truncatedLog_replaysWhatIsThereAndSaysIncomplete", async () => {
    const bytes = readFileSync(logs[0]);
    const cut = join(dir, "cut.log");
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const r = await cli(["replay", cut]);
    expect(r.code).toBe(8);
    expect(r.stdout).toMatch(/incomplete/);
  }, 60_000);

  it("capture_killed_leavesReadableIncompleteLog", async () => {
    const out = join(dir, "killed.log");
    // Interpreted (about 2 s of demo on a fast machine), killed once a chunk beyond the header has
    // been flushed: a fixed delay either kills before anything is flushed or after the run ended.
    const { child, done } = startCli(["capture", "-o", out, "-q", "--jit-threshold", "-1"]);
    child.stdin?.end();
    let header = -1;
    for (let i = 0; i < 1500; i++) {
      await new Promise((res) => setTimeout(res, 20));
      const n = existsSync(out) ? statSync(out).size : 0;
      if (header < 0 && n > 0) header = n;
      else if (header > 0 && n > header) break;
    }
    child.kill("SIGKILL");
    expect((await done).signal).toBe("SIGKILL"); // still running when killed
    const info = await cli(["info", out, "--json"]);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout).complete).toBe(false);
    const r = await cli(["replay", out]);
    expect(r.code, r.stdout + r.stderr).toBe(8);
  }, 60_000);

  it("capture_sigint_endsWithCompleteLogThatReplays", async () => {
    const out = join(dir, "int.log");
    // Interrupted as soon as the guest prints (its boot has begun), not after a fixed delay: the
    // whole demo capture takes about 1.5 s, so a 1 s timer raced its end. The interpreter alone
    // keeps about 1.6 s of run after the first output.
    const { child, done } = startCli(["capture", "-o", out, "--jit-threshold", "-1"]);
    child.stdin?.end();
    await new Promise((res) => child.stdout?.once("data", res));
    child.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/stopped: interrupted/);
    const info = JSON.parse((await cli(["info", out, "--json"])).stdout);
    expect(info.complete).toBe(true);
    expect(info.endReason).toBe("interrupted");
    expect((await cli(["replay", out])).code).toBe(0);
  }, 60_000);
});

describe.skipIf(!haveBios)("bad input to replay and info", () => {
  let good = "";
  beforeAll(async () => {
    good = join(dir, "small.log");
    const r = await cli([
      "capture",
      "--clock",
      "virtual",
      "--max-instructions",
      "3000000",
      "--check-every",
      "1000000",
      "-o",
      good,
      "-q",
    ]);
    expect(r.code).toBe(4); // stopped by the instruction limit
  }, 60_000);

  const oneLine = (s: string) => s.trim().split("\n").length === 1 && !/\bat .*\.ts:\d+/.test(s);

  it("replay_corruptedChunk_namesFileAndCrc", async () => {
    const bytes = Buffer.from(readFileSync(good));
    const log = readLog(new Uint8Array(bytes));
    const off = log.chunks[0].offset + log.chunks[0].bytes - 2; // inside the first chunk's payload
    bytes[off] ^= 0xff;
    const bad = join(dir, "crc.log");
    writeFileSync(bad, bytes);
    const r = await cli(["replay", bad]);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(bad);
    expect(r.stderr).toMatch(/CRC|chunk/i);
    expect(oneLine(r.stderr)).toBe(true);
  });

  it("replay_notALog_saysSo", async () => {
    const bad = join(dir, "notalog.log");
    writeFileSync(bad, "hello, I am a text file\n");
    const r = await cli(["replay", bad]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/not a retrace (capture )?log/i);
    expect(oneLine(r.stderr)).toBe(true);
  });

  it("replay_futureFormatVersion_saysUnsupported", async () => {
    const bytes = Buffer.from(readFileSync(good));
    const log = readLog(new Uint8Array(bytes));
    void log;
    // The version is the byte after the 8-byte magic (docs/LOG_FORMAT.md).
    bytes[8] = 99;
    const bad = join(dir, "future.log");
    writeFileSync(bad, bytes);
    const r = await cli(["replay", bad]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/version/i);
    expect(oneLine(r.stderr)).toBe(true);
  });

  it("replay_otherDiskImage_refusedNamingBothHashes", async () => {
    const other = join(dir, "other.img");
    writeFileSync(other, Buffer.alloc(65536, 1));
    const r = await cli(["replay", good, "--disk", other]);
    expect(r.code).toBe(2);
    expect(r.stderr.match(/[0-9a-f]{64}/g)?.length).toBe(2);
    expect(oneLine(r.stderr)).toBe(true);
  });

  it("replay_missingFile_oneLineError", async () => {
    const r = await cli(["replay", join(dir, "nope.log")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.log: cannot read log: no such file/);
  });

  it("run_badFlagValue_usageError", async () => {
    const r = await cli(["run", "--memory", "lots"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--memory/);
    expect(oneLine(r.stderr)).toBe(true);
  });

  it("run_diskImageNotSectorSized_refused", async () => {
    const bad = join(dir, "odd.img");
    writeFileSync(bad, Buffer.alloc(1000));
    const r = await cli(["run", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(bad);
  });
});
