import type { Insn } from "../isa/decode.ts";
import type { Cpu } from "./cpu.ts";
import type { TracedBlock } from "./jit/compile.ts";

/**
 * What the CPU tells a tracer (src/trace) when one is attached (`cpu.tracer`).
 * With no tracer the CPU runs its untraced loop; the only cost left there is a
 * null check per memory access.
 *
 * Order for one instruction: begin (or beginNext) -> mem* -> retire. If the instruction
 * faults, retire is not called: the next call is `interrupt` (the exception),
 * then `begin` of the handler's first instruction; accesses seen since the
 * last begin belong to the faulting, non-retired instruction. External
 * interrupts arrive between retire and the next begin. Accesses made while
 * delivering an interrupt (stack pushes, IDT reads) come after `interrupt`.
 */
export interface CpuTracer {
  /** `i` is about to execute; cpu.curEip is its EIP (CS-relative), cpu.icount its ordinal. */
  begin(cpu: Cpu, i: Insn): void;
  /**
   * As `begin`, for an instruction of the same decoded block as the one that just retired, with
   * nothing in between: CS, its base, CR3, CR0, CPL, EFLAGS.VM and the code size are what they were
   * at that instruction's begin (every instruction that can change them ends its block).
   */
  beginNext(cpu: Cpu, i: Insn): void;
  /** A linear memory access of `size` bytes; `cpu.physOf(lin)` gives its physical address. */
  mem(cpu: Cpu, lin: number, size: number, write: boolean, value: number): void;
  /** `i` retired; cpu.eip is the next EIP (branch target or fall-through); cpu.icount already counts it. */
  retire(cpu: Cpu, i: Insn): void;
  /** Interrupt or exception delivery starts. `code` = error code or -1; `soft` = INT n/INT3/INTO. */
  interrupt(cpu: Cpu, vector: number, code: number, soft: boolean): void;
  /**
   * Optional, for the block compiler's traced regions (compile.ts emitTraced), which run only for a
   * tracer that has both: `accLog`, where a region logs the linear address and value of each access
   * (two slots each), and `replayBlock`, which must do exactly what the hooks above would have
   * done for instructions k0..k1-1 of `block`, run from icount `icBase + k0`, the last of them
   * going to `endEip`, with their accesses in the log from slot 0.
   */
  readonly accLog?: Int32Array;
  replayBlock?(cpu: Cpu, block: TracedBlock, k0: number, k1: number, icBase: number, endEip: number): void;
}
