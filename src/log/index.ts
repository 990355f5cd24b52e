/**
 * The capture log: what a capture records and replay reads back.
 * Byte layout and versioning rules: docs/LOG_FORMAT.md.
 *
 * Writing (the capture side; the host owns the file):
 * ```ts
 * const w = new LogWriter(header, (bytes) => appendAndFsync(fd, bytes));  // header written at once
 * w.push({ kind: "sync", icount, ns });                                    // buffered
 * w.flush();                                                               // one chunk; call every ~100 ms
 * w.finish({ instructions, endReason: "halt", durationMs, final, serial: { digest, bytes } });
 * ```
 * `push` validates each event (TypeError) and its order (RangeError: icounts,
 * and the ns of sync/halt, never decrease). A chunk is also emitted when the
 * buffer reaches `chunkEvents` events or about `chunkBytes` bytes.
 *
 * Reading:
 * ```ts
 * const log = readLog(bytes);   // { header, events, trailer, complete, chunks, counts, validBytes, incomplete }
 * ```
 * or incrementally with `LogStreamReader` (`feed(bytes)` returns the events of
 * completed chunks, `end()` the summary). A log cut short (capture killed) is
 * not an error: `complete` is false, `trailer` null, and every whole chunk
 * before the cut is returned. Everything else wrong is a `LogFormatError` with
 * a `code` and a one-line message that names the place (byte offset, chunk).
 * The reader throws nothing else, whatever the input.
 *
 * This module imports only zod and msgpackr: no Node APIs, no host state.
 */
export { crc32, crc32Update } from "./crc32.ts";
export { LOG_ERROR_CODES, type LogErrorCode, LogFormatError } from "./errors.ts";
export {
  type ChunkInfo,
  type LogContents,
  LogStreamReader,
  type LogSummary,
  readLog,
} from "./reader.ts";
export {
  type CheckEvent,
  ClockMode,
  DiskRef,
  END_REASONS,
  EndReason,
  EVENT_KINDS,
  type EventKind,
  type HaltEvent,
  INPUT_DEVICES,
  InputDevice,
  type InputEvent,
  LOG_FORMAT_VERSION,
  LogEvent,
  LogHeader,
  LogHeaderInput,
  LogTrailer,
  LogTrailerInput,
  MachineConfig,
  StateChecksum,
  type SyncEvent,
  type ValueEvent,
} from "./schema.ts";
export { type LogSink, LogWriter, type LogWriterOptions } from "./writer.ts";
