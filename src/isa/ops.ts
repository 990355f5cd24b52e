/**
 * Execution handler ids: the `exec` column of the opcode table. The CPU
 * dispatches on these small dense integers with `switch` (a megamorphic call
 * through a function table is 1.5-1.8x slower on V8; PERFORMANCE.md).
 * Handlers are generic over operand width (insn.w = 1, 2 or 4); the decoder
 * normalises short forms (ADD AL,Ib; INC r16; MOV r,imm; XCHG eAX,r; moffs) to
 * the general E/G form so they share one handler.
 */
export const enum Op {
  UD = 0, // invalid opcode: #UD
  // ALU, insn.sub = AluOp
  AluEG = 1, // E = E op G
  AluGE = 2, // G = G op E
  AluEI = 3, // E = E op imm
  TestEG = 4,
  TestEI = 5,
  IncE = 6,
  DecE = 7,
  NotE = 8,
  NegE = 9,
  MulE = 10, // insn.sub: 4 MUL, 5 IMUL, 6 DIV, 7 IDIV (the F6/F7 /reg)
  ImulGEI = 11,
  ImulGE = 12,
  MovEG = 13,
  MovGE = 14,
  MovEI = 15,
  MovESw = 16,
  MovSwE = 17,
  Lea = 18,
  XchgEG = 19,
  Movzx = 20, // insn.sub = source width
  Movsx = 21,
  PushE = 22,
  PushI = 23,
  PushSeg = 24, // insn.sub = segment
  PopE = 25,
  PopSeg = 26,
  Pusha = 27,
  Popa = 28,
  Pushf = 29,
  Popf = 30,
  ShiftE = 31, // insn.sub = ShiftOp; count = insn.imm, or CL when insn.imm2 = 1
  Shld = 32, // count imm or CL (imm2 = 1)
  Shrd = 33,
  BtEG = 34, // insn.sub: 0 BT, 1 BTS, 2 BTR, 3 BTC
  BtEI = 35,
  Bsf = 36,
  Bsr = 37,
  Setcc = 38, // insn.sub = condition
  Cmovcc = 39,
  Jcc = 40, // target = next + imm
  JmpRel = 41,
  JmpE = 42,
  JmpFar = 43, // imm = offset, imm2 = selector
  JmpFarM = 44,
  CallRel = 45,
  CallE = 46,
  CallFar = 47,
  CallFarM = 48,
  Ret = 49, // imm = bytes to release
  Retf = 50,
  Iret = 51,
  Int = 52, // imm = vector
  Int3 = 53,
  Into = 54,
  Loop = 55, // insn.sub: 0 LOOPNE, 1 LOOPE, 2 LOOP, 3 JCXZ
  Movs = 56,
  Cmps = 57,
  Stos = 58,
  Lods = 59,
  Scas = 60,
  Ins = 61,
  Outs = 62,
  InI = 63, // port = imm
  InDX = 64,
  OutI = 65,
  OutDX = 66,
  Cbw = 67, // CBW/CWDE by width
  Cwd = 68, // CWD/CDQ
  Lahf = 69,
  Sahf = 70,
  FlagOp = 71, // insn.sub: 0 CLC 1 STC 2 CMC 3 CLD 4 STD 5 CLI 6 STI
  Hlt = 72,
  Nop = 73,
  Xlat = 74,
  Daa = 75,
  Das = 76,
  Aaa = 77,
  Aas = 78,
  Aam = 79,
  Aad = 80,
  Salc = 81,
  Enter = 82,
  Leave = 83,
  Bound = 84,
  Arpl = 85,
  LoadFar = 86, // LES/LDS/LSS/LFS/LGS; insn.sub = segment
  Bswap = 87, // register in insn.rm
  Xadd = 88,
  Cmpxchg = 89,
  Cmpxchg8b = 90,
  Cpuid = 91,
  Rdtsc = 92,
  Rdmsr = 93,
  Wrmsr = 94,
  Grp6 = 95, // 0F 00: SLDT STR LLDT LTR VERR VERW by insn.reg
  Grp7 = 96, // 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG by insn.reg
  Lar = 97,
  Lsl = 98,
  Clts = 99,
  MovRC = 100, // MOV r32, CRn
  MovCR = 101, // MOV CRn, r32
  MovRD = 102,
  MovDR = 103,
  Invd = 104, // INVD / WBINVD: caches are not modelled
  Wait = 105,
  Esc = 106, // x87 escape (D8-DF): no FPU yet
  Ud2 = 107,
}

/** ALU operation numbers as in the opcode map rows 00-3F and group 1 (/reg). */
export const enum AluOp {
  Add = 0,
  Or = 1,
  Adc = 2,
  Sbb = 3,
  And = 4,
  Sub = 5,
  Xor = 6,
  Cmp = 7,
}

/** Group 2 /reg. */
export const enum ShiftOp {
  Rol = 0,
  Ror = 1,
  Rcl = 2,
  Rcr = 3,
  Shl = 4,
  Shr = 5,
  Sal = 6, // undocumented alias of SHL on every IA-32 CPU
  Sar = 7,
}
