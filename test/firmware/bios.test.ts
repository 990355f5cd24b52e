/**
 * retrace BIOS (src/firmware): static checks of the committed image, and,
 * where qemu-system-i386 is installed, a boot of the probe disk
 * (test/firmware/biosprobe.asm) whose printed results are checked line by
 * line. QEMU emulates the same PC devices, so it tests the BIOS on its own,
 * independently of retrace's CPU and device models.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIOS_ASM = join(ROOT, "src/firmware/bios.asm");
const BIOS_BIN = join(ROOT, "src/firmware/bios.bin");
const PROBE_ASM = join(ROOT, "test/firmware/biosprobe.asm");
const PROBE_BIN = join(ROOT, "test/firmware/biosprobe.bin");
const LINUX_IMG = "/work/shared/guests/linux.img";

const bios = new Uint8Array(readFileSync(BIOS_BIN));
const u16 = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8);

function hasTool(name: string, arg: string): boolean {
  return spawnSync(name, [arg], { stdio: "ignore" }).status === 0;
}
const haveNasm = hasTool("nasm", "-v");
const haveQemu = hasTool("qemu-system-i386", "--version");

const work = mkdtempSync(join(tmpdir(), "retrace-bios-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("bios image", () => {
  it("is exactly 64 KiB", () => {
    expect(bios.length).toBe(0x10000);
  });

  it("reset vector at FFF0 is a far jump to F000 inside the image, onto the POST entry's CLI", () => {
    expect(bios[0xfff0]).toBe(0xea); // JMP ptr16:16
    const offset = u16(bios, 0xfff1);
    expect(u16(bios, 0xfff3)).toBe(0xf000);
    expect(offset).toBeLessThan(0xfff0);
    expect(bios[offset]).toBe(0xfa); // POST starts with CLI
  });

  it("tail holds the ROM date at FFF5 and the AT model byte at FFFE", () => {
    const date = String.fromCharCode(...bios.subarray(0xfff5, 0xfffd));
    expect(date).toMatch(/^\d\d\/\d\d\/\d\d$/);
    expect(bios[0xfffe]).toBe(0xfc);
  });

  it("contains no MP, ACPI, SMBIOS, PnP or BIOS32 signature that an OS would parse", () => {
    const text = Buffer.from(bios).toString("latin1");
    for (const sig of ["_MP_", "RSD PTR ", "_SM_", "_DMI_", "$PnP", "_32_"]) {
      expect(text.includes(sig), sig).toBe(false);
    }
  });

  it.skipIf(!haveNasm)("matches a fresh nasm build of bios.asm", () => {
    const out = join(work, "bios.bin");
    execFileSync("nasm", ["-f", "bin", "-I", `${dirname(BIOS_ASM)}/`, "-o", out, BIOS_ASM]);
    expect(Buffer.compare(readFileSync(out), Buffer.from(bios))).toBe(0);
  });

  it.skipIf(!haveNasm)("probe disk matches a fresh nasm build of biosprobe.asm", () => {
    const out = join(work, "probe.bin");
    execFileSync("nasm", ["-f", "bin", "-I", `${dirname(PROBE_ASM)}/`, "-o", out, PROBE_ASM]);
    expect(Buffer.compare(readFileSync(out), readFileSync(PROBE_BIN))).toBe(0);
  });
});

/** Run QEMU on `disk` with our BIOS until `marker` is on COM1 or `seconds` pass; the serial text. */
function runQemu(disk: string, extra: string[], marker: string, seconds: number): Promise<string> {
  const args = [
    ...["-bios", BIOS_BIN, "-drive", `file=${disk},format=raw,if=ide`, "-snapshot"],
    ...["-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot", "-m", "128"],
    ...extra,
  ];
  return new Promise((done) => {
    const child = spawn("qemu-system-i386", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const finish = (): void => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      done(out.replace(/\r/g, ""));
    };
    const timer = setTimeout(finish, seconds * 1000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString("latin1");
      if (out.includes(marker)) finish();
    });
    child.on("exit", () => finish());
  });
}

/** The probe's line starting with `key ` (without the key). */
function line(out: string, key: string): string {
  const l = out.split("\n").find((s) => s.startsWith(`${key} `));
  return l === undefined ? `<no ${key} line>` : l.slice(key.length + 1);
}

describe.skipIf(!haveQemu)("bios under QEMU with the probe disk", () => {
  let out = "";
  const boot = async (): Promise<string> => {
    if (out === "") {
      const disk = join(work, "probe.img");
      copyFileSync(PROBE_BIN, disk);
      truncateSync(disk, 16 * 1024 * 1024); // 32768 sectors: QEMU reports 32/16/63
      out = await runQemu(disk, [], "PROBE done", 60);
    }
    return out;
  };

  it("POST prints the banner, memory and disk, then boots the MBR with DL=80h", async () => {
    const o = await boot();
    expect(o).toContain("retrace BIOS\n");
    expect(o).toContain("memory: 130687 KiB\n"); // 639 + 127 MiB
    expect(o).toContain("disk 80h: 32768 sectors, CHS 32/16/63, LBA\n");
    expect(line(o, "PROBE")).toBe("start dl=80");
    expect(o).toContain("PROBE done");
  });

  it("INT 10h reports mode 3, VGA, no VESA, and 13h writes are mirrored and readable", async () => {
    const o = await boot();
    expect(line(o, "V0F")).toBe("ax=5003 bh=00");
    expect(line(o, "V12")).toBe("bx=0003 cx=0009");
    expect(line(o, "V1A")).toBe("ax=1A1A bx=0008");
    expect(line(o, "V4F")).toBe("ax=014F");
    expect(o).toContain("V4F ax=014F\nhi\n"); // AH=13h string on COM1
    expect(line(o, "V13")).toBe("cell=1E69"); // 'i' with attribute 1Eh
    expect(line(o, "SCR")).toBe("row=18 above=WXYZ"); // teletype scrolled the full screen
  });

  it("INT 10h 09h/0Ah write cells and 07h/06h scroll a window down and up with the fill attribute", async () => {
    const o = await boot();
    expect(line(o, "V07")).toBe("c00=7020 c10=0741 c12=42");
    expect(line(o, "V06")).toBe("c00=0741 c10=1F20");
  });

  it("INT 11h and 12h return the equipment word and 639 KiB", async () => {
    const o = await boot();
    expect(line(o, "I11")).toMatch(/^ax=022[02]$/); // bit 1 = FPU, from CPUID
    expect(line(o, "I12")).toBe("ax=027F");
  });

  it("INT 13h geometry, EDD and type functions describe the 16 MiB disk", async () => {
    const o = await boot();
    expect(line(o, "D08")).toBe("cx=1F3F dx=0F01 cf=0");
    expect(line(o, "D41")).toMatch(/^ax=21.. bx=AA55 cx=0001 cf=0$/);
    expect(line(o, "D15")).toBe("ah=03 cx=0000 dx=8000 cf=0");
    expect(line(o, "D48")).toBe("size=001E flags=0003 chs=00000020 00000010 0000003F total=00008000 bps=0200 cf=0");
  });

  it("INT 13h reads, writes and verifies by CHS and by packet, across 64 KiB", async () => {
    const o = await boot();
    expect(line(o, "D02")).toBe("ax=0001 marker=00000010 ok cf=0");
    expect(line(o, "D42")).toBe("ah=00 count=0004 markers=ok cf=0");
    expect(line(o, "D43")).toBe("ah=00 cf=0");
    expect(line(o, "D43READ")).toBe("ah=00 same=1 cf=0");
    expect(line(o, "D03")).toBe("ax=0001 cf=0");
    expect(line(o, "D03READ")).toBe("ax=0001 same=1 cf=0");
    expect(line(o, "D42LAST")).toBe("ah=00 lba=0000000000007FFF cf=0");
    expect(line(o, "D04")).toBe("ax=0002 cf=0");
    expect(line(o, "D00")).toBe("ah=00 cf=0");
    expect(line(o, "D01")).toBe("ah=00 cf=0");
  });

  it("INT 13h refuses sector 0, a missing drive and a sector past the end with CF=1 AH=01", async () => {
    const o = await boot();
    expect(line(o, "D02BAD")).toBe("ah=01 cf=1");
    expect(line(o, "D81")).toBe("ah=01 cf=1");
    expect(line(o, "D42END")).toBe("ah=01 count=0000 cf=1");
  });

  it("INT 15h E820 lists usable RAM, the EBDA and both ROM ranges for 128 MiB", async () => {
    const o = await boot();
    const entries = o.split("\n").filter((l) => l.startsWith("E820 base="));
    const tail = " ecx=00000014 eax=534D4150";
    expect(entries).toEqual([
      `E820 base=0000000000000000 len=000000000009FC00 type=00000001${tail}`,
      `E820 base=000000000009FC00 len=0000000000000400 type=00000002${tail}`,
      `E820 base=00000000000F0000 len=0000000000010000 type=00000002${tail}`,
      `E820 base=0000000000100000 len=0000000007F00000 type=00000001${tail}`,
      `E820 base=00000000FFFF0000 len=0000000000010000 type=00000002${tail}`,
    ]);
    expect(o).toContain("\nE820 end cf=0\n");
  });

  it("INT 15h E801, 88h, A20, C0h and APM answer as documented", async () => {
    const o = await boot();
    expect(line(o, "E801")).toBe("ax=3C00 bx=0700 cx=3C00 dx=0700 cf=0");
    expect(line(o, "E88")).toBe("ax=FC00 cf=0");
    expect(line(o, "A20")).toBe("ax=0001 cf=0");
    expect(line(o, "A20SUP")).toBe("bx=0002 cf=0");
    expect(line(o, "C0")).toBe("model=0008 FC cf=0");
    expect(line(o, "APM")).toBe("ah=86 cf=1");
  });

  it("INT 15h 86h waits about 100 ms and 87h copies through extended memory", async () => {
    const o = await boot();
    expect(line(o, "W86")).toMatch(/^ticks=000[1-3] cf=0$/);
    expect(line(o, "M87")).toBe("ah=00 same=1 cf=0");
  });

  it("INT 1Ah reads the RTC in BCD", async () => {
    const o = await boot();
    expect(line(o, "T02")).toMatch(/^cx=[0-2]\d[0-5]\d dx=[0-5]\d0[01] cf=0$/);
    expect(line(o, "T04")).toMatch(/^cx=(19|20)\d\d dx=[01]\d[0-3]\d cf=0$/);
  });

  it("INT 1Ah sets the tick count, the time and the date", async () => {
    const o = await boot();
    expect(line(o, "T01")).toMatch(/^cx=0001 dx=234[5-9]$/);
    expect(line(o, "T03")).toMatch(/^cx=1234 dh=5[6-9] cf=0$/);
    expect(line(o, "T05")).toBe("cx=2030 dx=0615 cf=0");
  });

  it("INT 14h reports COM1 status, sends a byte, and times out on COM2", async () => {
    const o = await boot();
    expect(line(o, "S14")).toMatch(/^status=60.. send=Z ah=60 com2=80$/);
  });

  it("INT 15h 2400h/2401h turn the A20 wrap on and off", async () => {
    const o = await boot();
    expect(line(o, "A20OFF")).toBe("al=00 wrap=1");
    expect(line(o, "A20ON")).toBe("al=01 wrap=0");
  });

  it("INT 16h keeps stored keys in order and converts grey keys for the old functions", async () => {
    const o = await boot();
    expect(line(o, "K01")).toBe("empty=1");
    expect(line(o, "K05")).toBe("al=00");
    expect(line(o, "K11")).toBe("ax=1C0D");
    expect(line(o, "K00")).toBe("ax=1C0D");
    expect(line(o, "K00E")).toBe("ax=4800");
    expect(line(o, "K02")).toBe("al=00");
  });
});

describe.skipIf(!haveQemu)("bios under QEMU with an unbootable disk", () => {
  it("INT 19h rejects a sector without 55AAh and INT 18h halts with a message on COM1", async () => {
    const disk = join(work, "unbootable.img");
    const raw = Buffer.alloc(1024 * 1024);
    readFileSync(PROBE_BIN).copy(raw, 0, 0, 510); // the probe's MBR code, no signature
    writeFileSync(disk, raw);
    const o = await runQemu(disk, [], "system halted\r\n", 30);
    expect(o).toContain("disk 80h: no 55AAh boot signature\n");
    expect(o).toContain("No bootable device: system halted\n");
    expect(o).not.toContain("PROBE");
  });
});

const wantLinux = process.env.RETRACE_QEMU_LINUX === "1" && haveQemu && existsSync(LINUX_IMG);
describe.skipIf(!wantLinux)("bios under QEMU with the Linux guest (RETRACE_QEMU_LINUX=1)", () => {
  it("boots syslinux and the kernel to the guest's done line", async () => {
    const o = await runQemu(LINUX_IMG, [], "RETRACE-GUEST: done", 110);
    expect(o).toContain("SYSLINUX");
    expect(o).toContain("Linux version");
    expect(o).toContain("RETRACE-GUEST: result sum 2001000");
    expect(o).toContain("RETRACE-GUEST: done");
  });
});
