/**
 * Traces: the recorder that expansion attaches to a replaying machine, the
 * writers (native, ChampSim, SimPoint BBV, text) and the native-format reader.
 * Format: docs/TRACE_FORMAT.md (numbers: format.ts).
 *
 * ```ts
 * const rec = new TraceRecorder(new NativeTraceWriter(out, header), { from, to, only });
 * rec.attach(machine);      // before the replay runs
 * ...replay...
 * rec.finish();
 * ```
 */
export { BbvWriter, DEFAULT_BBV_INTERVAL } from "./bbv.ts";
export { branchKind, branchKindOf } from "./classify.ts";
export { CHAMPSIM_RECORD_BYTES, ChampSimWriter, champsimRegs, CS_REG, GPR_ID, RegSet } from "./champsim.ts";
export {
  BRANCH_NAMES,
  type BranchName,
  type Codec,
  TRACE_MAGIC,
  TRACE_VERSION,
  type TraceHeader,
  type TraceTrailer,
} from "./format.ts";
export { type ByteSink, NativeTraceWriter } from "./native.ts";
export { type ChunkIndexEntry, isTraceMagic, openTrace, type TraceFile } from "./reader.ts";
export { type ChunkSink, type OnlyFilter, type RawChunk, type RecorderOptions, TraceRecorder } from "./recorder.ts";
export {
  decodeChunk,
  type TraceAccess,
  type TraceBranch,
  TraceFormatError,
  type TraceInsn,
  type TraceInterrupt,
  type TracePort,
  type TraceRecord,
} from "./records.ts";
export { formatRecord, TextTraceWriter } from "./text.ts";
