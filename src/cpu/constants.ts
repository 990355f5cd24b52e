/** EFLAGS bits (SDM 1 §3.4.3). */
export const enum F {
  CF = 1 << 0,
  Bit1 = 1 << 1,
  PF = 1 << 2,
  AF = 1 << 4,
  ZF = 1 << 6,
  SF = 1 << 7,
  TF = 1 << 8,
  IF = 1 << 9,
  DF = 1 << 10,
  OF = 1 << 11,
  IOPL = 3 << 12,
  NT = 1 << 14,
  RF = 1 << 16,
  VM = 1 << 17,
  AC = 1 << 18,
  VIF = 1 << 19,
  VIP = 1 << 20,
  ID = 1 << 21,
  /** The six arithmetic flags kept lazily. */
  Arith = CF | PF | AF | ZF | SF | OF,
}

/** CR0 bits (SDM 3A §2.5). */
export const enum CR0 {
  PE = 1 << 0,
  MP = 1 << 1,
  EM = 1 << 2,
  TS = 1 << 3,
  ET = 1 << 4,
  NE = 1 << 5,
  WP = 1 << 16,
  AM = 1 << 18,
  NW = 1 << 29,
  CD = 1 << 30,
  PG = 1 << 31,
}

export const enum CR4 {
  VME = 1 << 0,
  PVI = 1 << 1,
  TSD = 1 << 2,
  DE = 1 << 3,
  PSE = 1 << 4,
  PAE = 1 << 5,
  MCE = 1 << 6,
  PGE = 1 << 7,
  PCE = 1 << 8,
}

/** Exception vectors (SDM 3A table 6-1). */
export const enum Vec {
  DE = 0,
  DB = 1,
  NMI = 2,
  BP = 3,
  OF = 4,
  BR = 5,
  UD = 6,
  NM = 7,
  DF = 8,
  TS = 10,
  NP = 11,
  SS = 12,
  GP = 13,
  PF = 14,
  MF = 16,
  AC = 17,
}

/**
 * Segment descriptor access rights as kept in the descriptor cache: the
 * descriptor's byte 5 in bits 0-7 (type, S, DPL, P) and the flags nibble of
 * byte 6 in bits 12-15 (AVL, L, D/B, G), the layout VMX also uses.
 */
export const enum AR {
  TypeMask = 0xf,
  Accessed = 1 << 0,
  /** Data: writable; code: readable. */
  RW = 1 << 1,
  /** Data: expand-down; code: conforming. */
  DC = 1 << 2,
  Code = 1 << 3,
  S = 1 << 4,
  DplShift = 5,
  P = 1 << 7,
  Avl = 1 << 12,
  DB = 1 << 14,
  G = 1 << 15,
}

/** Page-table entry bits (SDM 3A §4.3). */
export const enum PTE {
  P = 1 << 0,
  W = 1 << 1,
  U = 1 << 2,
  A = 1 << 5,
  D = 1 << 6,
  PS = 1 << 7,
}

/** Software TLB entry bits; the page frame sits in bits 12-31. */
export const enum Tlb {
  Valid = 1,
  /** Supervisor may write (and the dirty bit is already set). */
  SupW = 2,
  /** User may read. */
  UserR = 4,
  /** User may write (and dirty is set). */
  UserW = 8,
  /** Reads may index RAM directly (RAM or ROM page). */
  RFast = 16,
  /** Writes may index RAM directly (RAM page without decoded code). */
  WFast = 32,
  FlagMask = 0xfff,
}
