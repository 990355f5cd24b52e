/**
 * The one error type the log reader throws for bad input. `message` is a single
 * line naming where the problem is and what it is, written to follow a file
 * name: `retrace: run.log: chunk 7 at byte 81234: CRC mismatch`.
 */
export type LogErrorCode =
  /** The file does not start with the log magic. */
  | "not-a-log"
  /** A format version this reader does not know (usually a newer retrace wrote it). */
  | "unsupported-version"
  /** The file ends before its header does. (Ending later is an incomplete log, not an error.) */
  | "truncated"
  /** The header decodes but is not a valid header. */
  | "bad-header"
  /** A header, chunk or trailer whose stored CRC-32 does not match its bytes. */
  | "bad-crc"
  /** A chunk frame that is inconsistent: unknown record type, sequence gap, wrong count, overlapping the trailer. */
  | "bad-chunk"
  /** A chunk whose CRC is right but whose events do not decode or break an ordering rule. */
  | "bad-event"
  /** A trailer that does not decode, disagrees with the chunks, or bytes after it that do not belong. */
  | "bad-trailer";

export const LOG_ERROR_CODES: readonly LogErrorCode[] = [
  "not-a-log",
  "unsupported-version",
  "truncated",
  "bad-header",
  "bad-crc",
  "bad-chunk",
  "bad-event",
  "bad-trailer",
];

export class LogFormatError extends Error {
  override readonly name = "LogFormatError";
  constructor(
    readonly code: LogErrorCode,
    message: string,
    /** Byte offset of the damaged structure in the file, when known. */
    readonly offset: number | null = null,
    /** Sequence number of the damaged chunk, when the problem is in a chunk. */
    readonly chunk: number | null = null,
  ) {
    super(message);
  }
}

/** "chunk 7 at byte 81234: " */
export function chunkWhere(seq: number, offset: number): string {
  return `chunk ${seq} at byte ${offset}: `;
}
