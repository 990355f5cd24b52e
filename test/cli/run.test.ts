/** `retrace run` as a user runs it: the demo, a foreign ROM, stop conditions, the untouched image. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, ROOT, tempDir } from "./helpers.ts";

const dir = tempDir("run");
const haveBios = existsSync(join(ROOT, "src/firmware/bios.bin"));
const expected = readFileSync(join(ROOT, "fixtures/demo/expected.txt"), "utf8").trim().split("\n");

describe.skipIf(!haveBios)("retrace run", () => {
  it("run_noDisk_bootsTheDemoAndExitsZeroAfterItsCompletionLine", async () => {
    const r = await cli(["run", "--clock", "virtual"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split(/\r?\n/);
    expect(lines).toContain("demo: done");
    // Every deterministic result line of the demo, in order.
    const results = lines.filter((l) => expected.includes(l));
    expect(results).toEqual(expected);
    expect(r.stderr).toMatch(/stopped: halt/);
  }, 60_000);

  it("run_foreignRom_postcodesAndDebugconCaptured", async () => {
    const post = join(dir, "post.txt");
    const dbg = join(dir, "dbg.txt");
    const r = await cli([
      "run",
      "--bios",
      join(ROOT, "fixtures/roms/hello.bin"),
      "--postcodes",
      post,
      "--debugcon",
      dbg,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(post, "utf8")).toBe("01\n55\naa\n");
    expect(readFileSync(dbg, "utf8")).toBe("hello from a foreign ROM\n");
  });

  it("run_until_stopsAtTheMarkerWithExitZero", async () => {
    const r = await cli(["run", "--clock", "virtual", "--until", "demo: sort ok"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/stopped: until/);
    expect(r.stdout).toContain("demo: sort ok");
    expect(r.stdout).not.toContain("demo: done");
  }, 60_000);

  it("run_maxInstructions_stopsExactlyThereWithExitFour", async () => {
    const r = await cli(["run", "--clock", "virtual", "--max-instructions", "1234567"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/1,234,567 instructions .* stopped: limit/);
  });

  it("run_guestWritesDisk_imageUntouchedAndSaveDiskHasTheWrites", async () => {
    const img = join(dir, "demo.img");
    const original = readFileSync(join(ROOT, "fixtures/demo/demo.img"));
    writeFileSync(img, original);
    const saved = join(dir, "saved.img");
    const r = await cli(["run", img, "--clock", "virtual", "--save-disk", saved]);
    expect(r.code).toBe(0);
    expect(Buffer.compare(readFileSync(img), original)).toBe(0);
    // The demo writes its scratch sector and then restores it, so the saved image (base + overlay)
    // must equal the original byte for byte.
    expect(Buffer.compare(readFileSync(saved), original)).toBe(0);
  }, 60_000);

  it("run_missingBios_oneLineError", async () => {
    const r = await cli(["run", "--bios", join(dir, "none.bin")]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/none\.bin: cannot read firmware image: no such file$/);
  });

  it("run_wrongSizeBios_refused", async () => {
    const bad = join(dir, "small.bin");
    writeFileSync(bad, Buffer.alloc(1000));
    const r = await cli(["run", "--bios", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/small\.bin: firmware image is 1000 bytes/);
  });
});
