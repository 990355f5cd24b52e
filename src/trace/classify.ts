/**
 * Branch kinds of decoded instructions, read from the opcode table's handler
 * column (`desc.exec`), which already separates the direct, indirect and far
 * forms (SDM Vol.2 Appendix A rows E8/E9/EA/EB, FF /2../5, 9A, C2/C3/CA/CB, CC/CD/CE/CF).
 */
import type { Insn } from "../isa/decode.ts";
import { Op } from "../isa/ops.ts";
import { BranchKind } from "./format.ts";

export function branchKindOf(op: number): BranchKind {
  switch (op) {
    case Op.Jcc:
    case Op.Loop:
      return BranchKind.Cond;
    case Op.JmpRel:
    case Op.JmpFar:
      return BranchKind.Jump;
    case Op.JmpE:
    case Op.JmpFarM:
      return BranchKind.JumpInd;
    case Op.CallRel:
    case Op.CallFar:
      return BranchKind.Call;
    case Op.CallE:
    case Op.CallFarM:
      return BranchKind.CallInd;
    case Op.Ret:
    case Op.Retf:
      return BranchKind.Ret;
    case Op.Int:
    case Op.Int3:
    case Op.Into:
    case Op.Iret:
      return BranchKind.Other;
    default:
      return BranchKind.None;
  }
}

export function branchKind(i: Insn): BranchKind {
  return branchKindOf(i.op);
}
