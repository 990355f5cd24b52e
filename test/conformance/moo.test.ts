import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  decode16,
  flagsMaskFor,
  metadataKey,
  parseMetadata,
  parseMoo,
  parseRevocations,
  R16,
  readMooFile,
} from "./moo.ts";

// A small MOO writer, only for these tests: chunks are tag + u32 length + payload.
function u8(...v: number[]): number[] {
  return v.map((x) => x & 0xff);
}
function u16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}
function u32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}
function chunk(tag: string, payload: number[]): number[] {
  return [...ascii(tag), ...u32(payload.length), ...payload];
}
function regs(values: Partial<Record<number, number>>): number[] {
  let mask = 0;
  const out: number[] = [];
  for (let i = 0; i < 14; i++) {
    const v = values[i];
    if (v !== undefined) {
      mask |= 1 << i;
      out.push(...u16(v));
    }
  }
  return [...u16(mask), ...out];
}
function ram(entries: [number, number][]): number[] {
  return [...u32(entries.length), ...entries.flatMap(([a, v]) => [...u32(a), v])];
}

const HASH = Array.from({ length: 20 }, (_, i) => i * 13);

function testChunk(index: number, extra: number[] = []): number[] {
  return chunk("TEST", [
    ...u32(index),
    ...chunk("GMET", [1, 2, 3]),
    ...chunk("NAME", [...u32(7), ...ascii("inc ax ")]),
    ...chunk("BYTS", [...u32(2), 0x40, 0xf4]),
    ...chunk("INIT", [
      ...chunk("REGS", regs({ [R16.AX]: 0x1234, [R16.CS]: 0xf000, [R16.IP]: 0x100, [R16.FLAGS]: 0xf002 })),
      ...chunk(
        "RAM ",
        ram([
          [0xf0100, 0x40],
          [0xf0101, 0xf4],
        ]),
      ),
      ...chunk("QUEU", [...u32(1), 0x40]),
    ]),
    ...chunk("FINA", [
      ...chunk("REGS", regs({ [R16.AX]: 0x1235, [R16.IP]: 0x102 })),
      ...chunk("RMSK", regs({ [R16.FLAGS]: 0x0800 })),
      ...chunk("RAM ", ram([])),
    ]),
    ...chunk("CYCL", [...u32(0)]),
    ...extra,
    ...chunk("HASH", HASH),
  ]);
}

function file(tests: number[][], count = tests.length): Uint8Array {
  return Uint8Array.from([
    ...chunk("MOO ", [...u8(1, 0, 0, 0), ...u32(count), ...ascii("C286")]),
    ...chunk("META", [
      ...u8(1, 0, 6),
      ...u32(0x40),
      ...ascii("inc     "),
      ...u32(count),
      ...u32(0xdeadbeef),
      ...u32(0),
      0,
    ]),
    ...chunk("XTRA", [9, 9, 9]),
    ...tests.flat(),
  ]);
}

describe("parseMoo", () => {
  it("parseMoo_handBuiltFile_roundTripsEveryField", () => {
    const m = parseMoo(file([testChunk(0), testChunk(1, chunk("EXCP", [13, ...u32(0x12345)]))]), "t.moo");
    expect(m.cpuId).toBe("C286");
    expect(m.testCount).toBe(2);
    expect(m.meta).toMatchObject({ opcode: 0x40, mnemonic: "inc", testCount: 2, seed: 0xdeadbeefn, cpuMode: 0 });
    expect(m.tests.map((t) => t.index)).toEqual([0, 1]);
    const t = m.tests[0];
    expect(t.name).toBe("inc ax ");
    expect([...t.bytes]).toEqual([0x40, 0xf4]);
    expect(t.init.regs?.mask).toBe((1 << R16.AX) | (1 << R16.CS) | (1 << R16.IP) | (1 << R16.FLAGS));
    expect(t.init.regs?.values[R16.AX]).toBe(0x1234);
    expect(t.init.regs?.values[R16.FLAGS]).toBe(0xf002);
    expect([...t.init.ramAddr]).toEqual([0xf0100, 0xf0101]);
    expect([...t.init.ramValue]).toEqual([0x40, 0xf4]);
    expect([...(t.init.queue ?? [])]).toEqual([0x40]);
    expect(t.final.regs?.values[R16.AX]).toBe(0x1235);
    expect(t.final.regMask?.values[R16.FLAGS]).toBe(0x0800);
    expect(t.final.ramAddr.length).toBe(0);
    expect(t.exception).toBeNull();
    expect(t.hash).toBe(HASH.map((b) => b.toString(16).padStart(2, "0")).join(""));
    expect(m.tests[1].exception).toEqual({ vector: 13, flagsAddress: 0x12345 });
  });

  it("parseMoo_truncatedFile_throwsNamingFileAndOffset", () => {
    const whole = file([testChunk(0)]);
    const cut = whole.subarray(0, whole.length - 7);
    expect(() => parseMoo(cut, "cut.moo")).toThrow(/^cut\.moo: byte offset \d+ \(0x[0-9a-f]+\): chunk 'TEST'/);
  });

  it("parseMoo_truncatedInsideChunkHeader_throwsNamingOffset", () => {
    const whole = file([testChunk(0)]);
    expect(() => parseMoo(whole.subarray(0, whole.length - testChunk(0).length + 3), "h.moo")).toThrow(
      /h\.moo: byte offset \d+ .*chunk header/,
    );
  });

  it("parseMoo_regsLengthDisagreesWithMask_throws", () => {
    const bad = file([testChunk(0)]);
    // The first REGS mask has 4 bits set; claim 5 so the payload is too short.
    const at = Buffer.from(bad).indexOf("REGS") + 8;
    bad[at] |= 1 << R16.BX;
    expect(() => parseMoo(bad, "r.moo")).toThrow(new RegExp(`r\\.moo: byte offset ${at - 8} .*REGS is 10 bytes`));
  });

  it("parseMoo_testCountDiffersFromHeader_throws", () => {
    expect(() => parseMoo(file([testChunk(0)], 2), "n.moo")).toThrow(/n\.moo: .*promises 2 tests .* holds 1/);
  });

  it("parseMoo_missingHeader_throws", () => {
    expect(() => parseMoo(Uint8Array.from(chunk("META", [0])), "x.moo")).toThrow(/x\.moo: byte offset 0 .*not a MOO/);
  });

  it("parseMoo_testWithoutHash_throwsNamingTheTest", () => {
    const t = testChunk(4);
    const noHash = t.slice(0, t.length - 28);
    const fixed = [...ascii("TEST"), ...u32(noHash.length - 8), ...noHash.slice(8)];
    expect(() => parseMoo(file([fixed]), "h.moo")).toThrow(/TEST 4 lacks HASH/);
  });

  it("readMooFile_gzipAndPlain_parseAlike", () => {
    const dir = mkdtempSync(join(tmpdir(), "moo-"));
    try {
      const raw = file([testChunk(0)]);
      writeFileSync(join(dir, "40.MOO"), raw);
      writeFileSync(join(dir, "40.MOO.gz"), gzipSync(raw));
      writeFileSync(join(dir, "bad.MOO.gz"), gzipSync(raw).subarray(0, 30));
      const a = readMooFile(join(dir, "40.MOO"));
      const b = readMooFile(join(dir, "40.MOO.gz"));
      expect(b.tests[0].hash).toBe(a.tests[0].hash);
      expect(b.tests[0].init.regs).toEqual(a.tests[0].init.regs);
      expect(() => readMooFile(join(dir, "bad.MOO.gz"))).toThrow(/bad\.MOO\.gz: corrupt gzip/);
      expect(() => readMooFile(join(dir, "absent.MOO"))).toThrow(/absent\.MOO: cannot read/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("metadata and revocations", () => {
  const meta = parseMetadata(
    JSON.stringify({
      cpu: "286",
      opcodes: {
        "27": { status: "normal", "flags-mask": 63487 },
        "40": { status: "normal" },
        F6: { reg: { "4": { status: "normal", "flags-mask": 65323 }, "0": { status: "normal" } } },
        "0F01": { reg: { "0": { status: "normal" } } },
      },
    }),
    "m.json",
  );

  it("flagsMaskFor_groupOpcodeWithPrefixes_usesRegEntry", () => {
    const d = decode16(Uint8Array.from([0x2e, 0xf0, 0xf6, 0xe3, 0xf4]));
    expect(d).toMatchObject({ opcode: 0xf6, modrm: 0xe3, segOverride: 0x2e, lock: true, opAt: 2 });
    expect(metadataKey(d, meta)).toBe("F6.4");
    expect(flagsMaskFor(d, meta)).toBe(65323);
  });

  it("flagsMaskFor_opcodeWithoutMask_isAllOnes", () => {
    expect(flagsMaskFor(decode16(Uint8Array.from([0x40, 0xf4])), meta)).toBe(0xffffffff);
    expect(flagsMaskFor(decode16(Uint8Array.from([0x27, 0xf4])), meta)).toBe(63487);
  });

  it("metadataKey_twoByteOpcode_spellsItWith0F", () => {
    expect(metadataKey(decode16(Uint8Array.from([0x0f, 0x01, 0x06, 0, 0])), meta)).toBe("0F01.0");
  });

  it("parseMetadata_badMask_throwsNamingTheEntry", () => {
    expect(() => parseMetadata('{"opcodes":{"27":{"flags-mask":"x"}}}', "m.json")).toThrow(/m\.json: opcodes\.27/);
    expect(() => parseMetadata("{", "m.json")).toThrow(/m\.json: invalid JSON/);
  });

  it("parseRevocations_commentsAndBlankLines_areIgnored", () => {
    const s = parseRevocations("# header\n\nABCDEF0123 # bad test\n  0123abcd  \n");
    expect([...s]).toEqual(["abcdef0123", "0123abcd"]);
  });
});
