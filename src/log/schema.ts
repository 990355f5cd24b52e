/**
 * What a capture log holds, as zod schemas: the header, the events and the
 * trailer. The byte layout around them is in format.ts and docs/LOG_FORMAT.md.
 *
 * Bump LOG_FORMAT_VERSION whenever the meaning or encoding of anything here
 * changes, including a new event kind: readers refuse versions they do not
 * know instead of guessing.
 */
import { z } from "zod";

/** Format version written by this code; readers accept 1 .. LOG_FORMAT_VERSION. */
export const LOG_FORMAT_VERSION = 1;

/** Instruction counts, byte counts, nanoseconds: exact in a double. */
const Count = z.number().int().nonnegative();
const U32 = z.number().int().min(0).max(0xffffffff);
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits");
/** Open record for fields added later without a version bump; values must survive msgpack. */
const Extra = z.record(z.string(), z.unknown());

// ---------------------------------------------------------------- header

export const ClockMode = z.enum(["host", "virtual"]);
export type ClockMode = z.infer<typeof ClockMode>;

export const MachineConfig = z.strictObject({
  /** CPU model as CPUID reports it, e.g. "retrace P6". */
  cpu: z.string().min(1).max(64),
  ramBytes: z.number().int().positive(),
  /** Device names in attach order, e.g. ["pic", "pit", "uart0"]. */
  devices: z.array(z.string().min(1).max(64)).max(256),
  /** SHA-256 of the firmware image, lowercase hex. */
  firmwareSha256: Sha256Hex,
});
export type MachineConfig = z.infer<typeof MachineConfig>;

export const DiskRef = z.strictObject({ sha256: Sha256Hex, bytes: Count });
export type DiskRef = z.infer<typeof DiskRef>;

const headerFields = {
  /** retrace's package version that wrote the log (informational). */
  retraceVersion: z.string().min(1).max(64),
  machine: MachineConfig,
  /** The disk image the run booted, or null for a diskless run. */
  disk: DiskRef.nullable(),
  clock: ClockMode,
  /** Host wall-clock time at power-on, ms since the Unix epoch. */
  startEpochMs: Count,
  /** Instructions between `check` events; 0 = no periodic checks. */
  checkpointInterval: Count,
};

/** The header as stored and as returned by the reader. */
export const LogHeader = z.strictObject({ formatVersion: z.number().int().positive(), ...headerFields, extra: Extra });
export type LogHeader = z.infer<typeof LogHeader>;

/** What the caller gives `LogWriter`: the writer fills in `formatVersion`; `extra` defaults to {}. */
export const LogHeaderInput = z.strictObject({ ...headerFields, extra: Extra.default({}) });
export type LogHeaderInput = z.input<typeof LogHeaderInput>;

// ---------------------------------------------------------------- events

/** Devices that deliver external input. Append only: the index is stored. */
export const INPUT_DEVICES = ["com1", "kbd"] as const;
export const InputDevice = z.enum(INPUT_DEVICES);
export type InputDevice = z.infer<typeof InputDevice>;

/** Name of a logged value's origin, e.g. "rdtsc", "rtc.wallclock". */
export const Site = z.string().min(1).max(64);

const icount = Count;

/**
 * Every event takes effect at instruction count `icount` (instructions retired
 * before it). Icounts never decrease along the log.
 */
export const SyncEvent = z.strictObject({
  kind: z.literal("sync"),
  icount,
  /** Guest clock reading, in ns since power-on, at `icount`. */
  ns: Count,
});
export const InputEvent = z.strictObject({
  kind: z.literal("input"),
  icount,
  device: InputDevice,
  /** The bytes delivered (any Uint8Array, Buffer included; the reader returns plain Uint8Arrays). */
  data: z
    .custom<Uint8Array>((v) => v instanceof Uint8Array, "expected a Uint8Array")
    .refine((d) => d.length >= 1 && d.length <= 65536, "expected 1 to 65536 bytes"),
});
export const CheckEvent = z.strictObject({
  kind: z.literal("check"),
  icount,
  eip: U32,
  /** 32-bit hash of the register file. */
  regs: U32,
  /** 32-bit memory digest. */
  mem: U32,
});
export const ValueEvent = z.strictObject({
  kind: z.literal("value"),
  icount,
  site: Site,
  value: z.number().int(),
});
export const HaltEvent = z.strictObject({
  kind: z.literal("halt"),
  icount,
  /** The guest halted at `icount` and its clock skipped forward to `ns`. */
  ns: Count,
});

export const LogEvent = z.discriminatedUnion("kind", [SyncEvent, InputEvent, CheckEvent, ValueEvent, HaltEvent]);
export type LogEvent = z.infer<typeof LogEvent>;
export type EventKind = LogEvent["kind"];
export type SyncEvent = z.infer<typeof SyncEvent>;
export type InputEvent = z.infer<typeof InputEvent>;
export type CheckEvent = z.infer<typeof CheckEvent>;
export type ValueEvent = z.infer<typeof ValueEvent>;
export type HaltEvent = z.infer<typeof HaltEvent>;

/** Every kind, in the order `counts` lists them. */
export const EVENT_KINDS: readonly EventKind[] = ["sync", "input", "check", "value", "halt"];

// ---------------------------------------------------------------- trailer

export const END_REASONS = ["halt", "poweroff", "reset", "until", "limit", "timeout", "interrupted", "error"] as const;
export const EndReason = z.enum(END_REASONS);
export type EndReason = z.infer<typeof EndReason>;

export const StateChecksum = z.strictObject({ eip: U32, regs: U32, mem: U32 });
export type StateChecksum = z.infer<typeof StateChecksum>;

const trailerFields = {
  /** Instructions retired by the whole run; no event has a larger icount. */
  instructions: Count,
  endReason: EndReason,
  /** State at the end, same hashes as `check` events. */
  final: StateChecksum,
  /** Host wall-clock milliseconds from power-on to the end of the run (for `info`; replay ignores it). */
  durationMs: Count,
  /** Everything the guest wrote to the console: a digest computed by the caller (SHA-256 hex advised) and its length. */
  serial: z.strictObject({ digest: z.string().max(128), bytes: Count }),
};

/** What the caller gives `LogWriter.finish`; `extra` defaults to {}. */
export const LogTrailerInput = z.strictObject({ ...trailerFields, extra: Extra.default({}) });
export type LogTrailerInput = z.input<typeof LogTrailerInput>;

/** One index entry: chunk sequence number, byte offset of its frame in the file, its first icount. */
export const IndexEntry = z.tuple([Count, Count, Count]);
export type IndexEntry = z.infer<typeof IndexEntry>;

/** The trailer as stored: the caller's fields plus what the writer counted. */
export const LogTrailer = z.strictObject({
  ...trailerFields,
  extra: Extra,
  /** Events per kind over the whole log (every kind present, zeros included). */
  counts: z.record(z.string(), Count),
  /** Number of chunks. */
  chunks: Count,
  /** A sparse index: chunk 0 and then a chunk at least `indexBytes` past the previous entry. */
  index: z.array(IndexEntry),
});
export type LogTrailer = z.infer<typeof LogTrailer>;

/** First issue of a zod error as "path: message", for one-line diagnostics. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid";
  const path = issue.path.map(String).join(".");
  return path === "" ? issue.message : `${path}: ${issue.message}`;
}
