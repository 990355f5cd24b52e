/**
 * The real guest: Debian's i386 kernel with a busybox initramfs (../shared/guests), booted
 * through retrace's BIOS and syslinux, and directly; captured and replayed. Slow (billions of
 * instructions), so every test here states its budget.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { runMachine } from "../../src/host/runner.ts";
import { memDigest } from "../../src/machine/checksum.ts";
import { Machine } from "../../src/machine/machine.ts";
import { LiveSession } from "../../src/nondet/session.ts";
import { cli, ROOT, tempDir } from "../cli/helpers.ts";
import { markedPages, unmarkedNonzeroPages } from "../machine/written-pages.ts";
import { openTrace, type TraceRecord } from "../../src/trace/index.ts";

const GUESTS = join(ROOT, "..", "shared", "guests");
const have = existsSync(join(GUESTS, "linux.img")) && existsSync(join(ROOT, "src/firmware/bios.bin"));
if (!have) console.warn(`test/linux: skipped: ${GUESTS} is absent (CI has it)`);

const bios = () => new Uint8Array(readFileSync(join(ROOT, "src/firmware/bios.bin")));
/** The workload's result lines exactly as QEMU 7.2 prints them for this guest (measured 2026-11-25). */
const RESULTS = [
  "RETRACE-GUEST: result md5(seq 1..2000) ea4d0a24dabcaa11f9aa979b872d162b",
  "RETRACE-GUEST: result sum 2001000",
  "RETRACE-GUEST: result sort-top3 2000 1999 1998 ",
  "RETRACE-GUEST: result sha1(sorted hash) c4abd622d77e87d000285c68eb5980b10ab58917",
  "RETRACE-GUEST: result sha1(busybox) f5c291afc8b991b4c4e389c0c334bb82a4a6b5e1",
];

/** The result lines of a serial transcript, in order. */
const resultLines = (out: string): string[] => out.split(/\r?\n/).filter((l) => l.startsWith("RETRACE-GUEST: result"));
const APPEND = "console=ttyS0,115200 panic=-1 cryptomgr.notests noisapnp";

describe.skipIf(!have)("Linux guest", () => {
  it("linuxImg_biosAndSyslinux_loadKernelAndEnterItsStartup32", () => {
    const disk = new Uint8Array(readFileSync(join(GUESTS, "linux.img")));
    const vmlinuz = readFileSync(join(GUESTS, "vmlinuz"));
    const setup = ((vmlinuz[0x1f1] || 4) + 1) * 512;
    const startup32 = vmlinuz.subarray(setup, setup + 64);
    const m = new Machine({ ramBytes: 128 << 20, bios: bios(), disk, epochMs: 946_684_800_000 });
    let serial = "";
    m.serialListeners.push((b) => {
      serial += String.fromCharCode(b);
    });
    const kernelInPlace = (): boolean => {
      for (let k = 0; k < startup32.length; k++) if (m.mem.ram[0x100000 + k] !== startup32[k]) return false;
      return true;
    };
    // Watch every instruction at 0x100000: syslinux runs its own code there first; the kernel's
    // startup_32 is the first execution there once the kernel's bytes are in place.
    let entered = -1;
    m.cpu.tracer = {
      begin(c, i) {
        if (i.linear === 0x100000 && entered < 0 && kernelInPlace()) {
          entered = c.icount;
          c.stopRequested = true;
        }
      },
      beginNext(c, i) {
        this.begin(c, i);
      },
      mem() {},
      retire() {},
      interrupt() {},
    };
    while (m.endReason === null && entered < 0 && m.icount < 400_000_000) m.run(m.icount + 1_000_000);
    expect(entered, `serial so far:\n${serial}`).toBeGreaterThan(0);
    expect(serial).toMatch(/Loading \/VMLINUZ\.\.\. ?ok/);
    expect(serial).toMatch(/Loading \/INITRD\.GZ\.\.\. ?ok/);
    expect(m.cpu.protectedMode).toBe(true);
    expect(unmarkedNonzeroPages(m.mem)).toEqual([]); // BIOS, ATA transfers, syslinux
  }, 300_000);

  it("linuxImg_bootedInProcess_everyPageHoldingDataIsMarkedWritten", async () => {
    // Checkpoints hash the pages PhysicalMemory.written leaves out as zeros, without reading them.
    // A writer the map missed (a device, a loader, a TLB path) would show here as a page with data.
    const disk = new Uint8Array(readFileSync(join(GUESTS, "linux.img")));
    const m = new Machine({ ramBytes: 128 << 20, bios: bios(), disk, epochMs: 946_684_800_000 });
    let serial = "";
    m.serialListeners.push((b) => {
      serial += String.fromCharCode(b);
    });
    const r = await runMachine(
      m,
      new LiveSession("virtual"),
      { maxInstructions: null, timeoutSeconds: 900 },
      { requested: null },
    );
    expect(resultLines(serial), `stopped: ${r.reason}`).toEqual(RESULTS);
    expect(unmarkedNonzeroPages(m.mem)).toEqual([]);
    const marked = markedPages(m.mem);
    expect(marked).toBeGreaterThan(1000);
    expect(marked).toBeLessThan(m.mem.written.length); // else the map saves nothing
    expect(memDigest(m.mem.ram, -1, m.mem.written)).toBe(memDigest(m.mem.ram, -1));
    console.log(`linux boot: ${marked} of ${m.mem.written.length} RAM pages written`);
  }, 1_000_000);

  it("linuxImg_run_printsTheWorkloadResultsAndHalts", async () => {
    const r = await cli(["run", join(GUESTS, "linux.img"), "--clock", "virtual", "--timeout", "900"]);
    expect(resultLines(r.stdout), r.stderr).toEqual(RESULTS);
    for (const line of ["RETRACE-GUEST: userspace up", "RETRACE-GUEST: done"]) expect(r.stdout).toContain(line);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/stopped: halt/);
  }, 1_000_000);

  it("linuxImg_everyBlockCompiledAndInterpreted_runInstructionForInstructionAlike", async () => {
    // Virtual clock: the run is a function of the image alone, so the compiler forced on for every
    // block (threshold 0) and the plain interpreter (-1) must give the same instruction count and output.
    const run = (t: string) =>
      cli(["run", join(GUESTS, "linux.img"), "--clock", "virtual", "--jit-threshold", t, "--timeout", "1200"]);
    const [compiled, interpreted] = await Promise.all([run("0"), run("-1")]);
    const count = (stderr: string): string => /retrace: ([\d,]+) instructions/.exec(stderr)?.[1] ?? stderr;
    expect(resultLines(compiled.stdout), compiled.stderr).toEqual(RESULTS);
    expect(compiled.code, compiled.stderr).toBe(0);
    expect(interpreted.code, interpreted.stderr).toBe(0);
    expect(count(compiled.stderr)).toBe(count(interpreted.stderr));
    expect(compiled.stdout).toBe(interpreted.stdout);
  }, 2_500_000);

  it("directBoot_run_printsTheWorkloadResultsAndHalts", async () => {
    const r = await cli([
      "run",
      "--kernel",
      join(GUESTS, "vmlinuz"),
      "--initrd",
      join(GUESTS, "initramfs.cpio.gz"),
      "--append",
      APPEND,
      "--clock",
      "virtual",
      "--timeout",
      "900",
    ]);
    expect(resultLines(r.stdout), r.stderr).toEqual(RESULTS);
    expect(r.stdout).toContain("RETRACE-GUEST: done");
    expect(r.code, r.stderr).toBe(0);
  }, 1_000_000);

  it("linuxImg_captureHostClock_replaysExactly", async () => {
    const log = join(tempDir("linux"), "linux.log");
    const c = await cli(["capture", join(GUESTS, "linux.img"), "-o", log, "--timeout", "900"]);
    expect(c.code, c.stderr).toBe(0);
    expect(resultLines(c.stdout)).toEqual(RESULTS);
    const r = await cli(["replay", log, "--json"]);
    const out = JSON.parse(r.stdout);
    expect(out.ok, r.stdout).toBe(true);
    expect(r.code).toBe(0);
  }, 2_000_000);

  const virtualLog = join(tempDir("linuxv"), "linux.log");

  it("linuxImg_captureVirtualClock_replaysExactly", async () => {
    // Regression: with the virtual clock, interrupts were once taken at block ends, which depend on
    // where earlier slices ended; replay (sliced at logged events) diverged at 2.61e9 instructions.
    const log = virtualLog;
    const c = await cli([
      "capture",
      join(GUESTS, "linux.img"),
      "--clock",
      "virtual",
      "-o",
      log,
      "--timeout",
      "900",
      "-q",
    ]);
    expect(c.code, c.stderr).toBe(0);
    const r = await cli(["replay", log, "--json"]);
    expect(JSON.parse(r.stdout).ok, r.stdout).toBe(true);
  }, 2_000_000);

  it("linuxImg_expandWindows_tracedRegionsRecordWhatTheInterpreterRecords", async () => {
    // Uses the previous test's log. Two windows, in the kernel (paging, interrupts, per-CPU
    // segments) and in userspace (process switches): every traced block compiled (threshold 0
    // from the window on) and none (-1) must decode to the same records. Before the window the
    // replay runs untraced with the default threshold.
    expect(existsSync(virtualLog)).toBe(true);
    const window = async (from: number, threshold: number): Promise<{ recs: TraceRecord[]; regions: number }> => {
      const out = join(tempDir("linuxx"), `w${from}-${threshold}.bin`);
      const script = join(ROOT, "test/linux/expand-window.ts");
      const args = [
        "--import",
        "tsx",
        script,
        virtualLog,
        String(from),
        String(from + 300_000),
        String(threshold),
        out,
      ];
      // A child process: the expansion would block this worker longer than the test runner allows.
      const child = await promisify(execFile)(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
      const f = await openTrace(out);
      const recs: TraceRecord[] = [];
      for await (const x of f.records()) recs.push(x);
      await f.close();
      return { recs, regions: Number(/traced regions (\d+)/.exec(child.stdout)?.[1] ?? -1) };
    };
    for (const from of [2_450_000_000, 2_800_000_000]) {
      const compiled = await window(from, 0);
      const interpreted = await window(from, -1);
      expect(compiled.regions).toBeGreaterThan(20);
      expect(interpreted.regions).toBe(0);
      const [a, b] = [compiled.recs, interpreted.recs];
      expect(a.filter((x) => x.type === "insn").length).toBe(300_000);
      const differ = a.findIndex((x, k) => JSON.stringify(x) !== JSON.stringify(b[k]));
      expect(differ === -1 ? null : [JSON.stringify(a[differ]), JSON.stringify(b[differ])]).toBeNull();
      expect(a.length).toBe(b.length);
    }
  }, 600_000);
});
