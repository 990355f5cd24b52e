/**
 * Event <-> compact tuple codec for one chunk's payload.
 *
 * A chunk payload is ONE flat msgpack array: for each event its kind code and
 * then a fixed number of fields for that kind (no per-event array header). Small
 * integers are what msgpack stores cheaply (0..127 and -32..-1 in one byte), so
 * every field is written as the difference from a prediction made from the
 * events before it in the same chunk:
 *
 * - icount: most kinds store `icount - previous event's icount`.
 *   `sync` stores its distance from the previous sync minus the distance
 *   between the two syncs before (a stride prediction): syncs on a regular
 *   instruction grid cost one byte.
 *   `check` stores its distance from the first multiple of the header's
 *   `checkpointInterval` at or after the previous event and after the
 *   previous check: checks on that grid cost one byte.
 * - ns (sync, halt): `sync` stores its ns distance from the previous sync/halt
 *   minus the previous sync's distance (regular host-clock syncs differ only
 *   by jitter); `halt` stores the plain distance.
 * - check.eip: the int32 difference from the previous check's EIP (an idle
 *   loop checks in at the same EIP: one byte).
 * - value.site: the string the first time a chunk uses it, then its index.
 *
 * Predictions restart at every chunk from the chunk frame's `firstIcount` and
 * `nsBase`, so each chunk decodes on its own.
 *
 * To add an event kind: add its schema to schema.ts (and EVENT_KINDS), give it
 * the next unused code in CODECS below with an encode/decode pair, bump
 * LOG_FORMAT_VERSION, and describe it in docs/LOG_FORMAT.md.
 */
import {
  type CheckEvent,
  type EventKind,
  type HaltEvent,
  INPUT_DEVICES,
  type InputEvent,
  LogEvent,
  type SyncEvent,
  type ValueEvent,
  describeZodError,
} from "./schema.ts";

/** A value in the flat payload array. */
export type Value = number | string | Uint8Array;

/** A payload that does not decode; the reader adds where. */
export class PayloadError extends Error {}

/** Prediction state, identical on the encode and decode side; reset per chunk. */
export class ChunkState {
  /** Icount of the previous event. */
  ic: number;
  syncIc: number;
  syncIcStride = 0;
  /** Last ns of a sync or halt. */
  ns: number;
  syncNsStride = 0;
  /** Icount of the previous check, -1 before the first. */
  checkIc = -1;
  eip = 0;
  /** Sites by index (decoder) and index by site (encoder). */
  readonly sites: string[] = [];
  readonly siteIndex = new Map<string, number>();

  constructor(
    firstIcount: number,
    nsBase: number,
    readonly checkpointInterval: number,
  ) {
    this.ic = firstIcount;
    this.syncIc = firstIcount;
    this.ns = nsBase;
  }
}

interface KindCodec<E extends LogEvent> {
  readonly kind: E["kind"];
  /** Stored kind code. Never reuse or renumber one. */
  readonly code: number;
  /** Number of fields after the code. */
  readonly fields: number;
  encode(e: E, s: ChunkState, out: Value[]): void;
  /** `v[at .. at+fields)` are this event's fields. Range checks beyond the schema's happen here. */
  decode(v: readonly unknown[], at: number, s: ChunkState): E;
}

// ------------------------------------------------------------ field helpers

function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v))
    throw new PayloadError(`${what}: expected an integer, got ${show(v)}`);
  return v;
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes of binary`;
  if (typeof v === "string") return JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v);
  return typeof v === "number" ? String(v) : typeof v;
}

/** `base + delta` as a new icount/ns, which must be a safe integer >= `floor`. */
function advance(base: number, delta: number, floor: number, what: string): number {
  const r = base + delta;
  if (!Number.isSafeInteger(r) || r < floor) throw new PayloadError(`${what} ${r} goes backwards or out of range`);
  return r;
}

/** The first multiple of `n` at or after `x` (x itself when n is 0 or the multiple is past 2^53). */
export function gridNext(x: number, n: number): number {
  if (n === 0) return x;
  const r = x % n;
  if (r === 0) return x;
  const g = x + (n - r);
  return g <= Number.MAX_SAFE_INTEGER ? g : x;
}

/**
 * Where the next check is expected: the first grid point at or after the
 * previous event that does not already have a check (one check per point).
 */
function checkPrediction(s: ChunkState): number {
  return gridNext(Math.max(s.ic, s.checkIc + 1), s.checkpointInterval);
}

// ------------------------------------------------------------ the kinds

const sync: KindCodec<SyncEvent> = {
  kind: "sync",
  code: 0,
  fields: 2,
  encode(e, s, out) {
    const di = e.icount - s.syncIc;
    const dns = e.ns - s.ns;
    out.push(di - s.syncIcStride, dns - s.syncNsStride);
    s.syncIcStride = di;
    s.syncIc = s.ic = e.icount;
    s.syncNsStride = dns;
    s.ns = e.ns;
  },
  decode(v, at, s) {
    const di = advance(s.syncIcStride, int(v[at], "icount"), 0, "icount step");
    const icount = advance(s.syncIc, di, s.ic, "icount");
    const dns = advance(s.syncNsStride, int(v[at + 1], "ns"), 0, "ns step");
    const ns = advance(s.ns, dns, s.ns, "ns");
    s.syncIcStride = di;
    s.syncIc = s.ic = icount;
    s.syncNsStride = dns;
    s.ns = ns;
    return { kind: "sync", icount, ns };
  },
};

const input: KindCodec<InputEvent> = {
  kind: "input",
  code: 1,
  fields: 3,
  encode(e, s, out) {
    // A copy: the caller may reuse its buffer before the chunk is packed.
    out.push(e.icount - s.ic, INPUT_DEVICES.indexOf(e.device), new Uint8Array(e.data));
    s.ic = e.icount;
  },
  decode(v, at, s) {
    const icount = advance(s.ic, int(v[at], "icount"), s.ic, "icount");
    const dev = int(v[at + 1], "device");
    const device = INPUT_DEVICES[dev];
    if (device === undefined) throw new PayloadError(`unknown input device ${dev}`);
    const raw = v[at + 2];
    if (!(raw instanceof Uint8Array)) throw new PayloadError(`input data: expected binary, got ${show(raw)}`);
    s.ic = icount;
    // msgpackr hands out Buffers that may share memory with the file: copy into a plain Uint8Array.
    return { kind: "input", icount, device, data: new Uint8Array(raw) };
  },
};

const check: KindCodec<CheckEvent> = {
  kind: "check",
  code: 2,
  fields: 4,
  encode(e, s, out) {
    out.push(e.icount - checkPrediction(s), (e.eip - s.eip) | 0, e.regs, e.mem);
    s.ic = s.checkIc = e.icount;
    s.eip = e.eip;
  },
  decode(v, at, s) {
    const icount = advance(checkPrediction(s), int(v[at], "icount"), s.ic, "icount");
    const deip = int(v[at + 1], "eip");
    if (deip !== (deip | 0)) throw new PayloadError(`eip step ${deip} is not an int32`);
    const eip = (s.eip + deip) >>> 0;
    s.ic = s.checkIc = icount;
    s.eip = eip;
    return { kind: "check", icount, eip, regs: int(v[at + 2], "regs"), mem: int(v[at + 3], "mem") };
  },
};

const value: KindCodec<ValueEvent> = {
  kind: "value",
  code: 3,
  fields: 3,
  encode(e, s, out) {
    const known = s.siteIndex.get(e.site);
    out.push(e.icount - s.ic, known ?? e.site, e.value);
    if (known === undefined) s.siteIndex.set(e.site, s.siteIndex.size);
    s.ic = e.icount;
  },
  decode(v, at, s) {
    const icount = advance(s.ic, int(v[at], "icount"), s.ic, "icount");
    const ref = v[at + 1];
    let site: string;
    if (typeof ref === "string") {
      if (s.sites.includes(ref)) throw new PayloadError(`site ${show(ref)} spelled out twice`);
      s.sites.push(ref);
      site = ref;
    } else {
      const known = s.sites[int(ref, "site")];
      if (known === undefined) throw new PayloadError(`site index ${show(ref)} not defined yet`);
      site = known;
    }
    s.ic = icount;
    return { kind: "value", icount, site, value: int(v[at + 2], "value") };
  },
};

const halt: KindCodec<HaltEvent> = {
  kind: "halt",
  code: 4,
  fields: 2,
  encode(e, s, out) {
    out.push(e.icount - s.ic, e.ns - s.ns);
    s.ic = e.icount;
    s.ns = e.ns;
    s.syncNsStride = 0;
  },
  decode(v, at, s) {
    const icount = advance(s.ic, int(v[at], "icount"), s.ic, "icount");
    const ns = advance(s.ns, int(v[at + 1], "ns"), s.ns, "ns");
    s.ic = icount;
    s.ns = ns;
    s.syncNsStride = 0;
    return { kind: "halt", icount, ns };
  },
};

// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous table, each row typed where it is defined
type AnyCodec = KindCodec<any>;

/** Indexed by code. */
const CODECS: readonly AnyCodec[] = [sync, input, check, value, halt];
const BY_KIND = new Map<EventKind, AnyCodec>(CODECS.map((c) => [c.kind, c]));
CODECS.forEach((c, i) => {
  if (c.code !== i) throw new Error(`event codec ${c.kind} has code ${c.code} at index ${i}`);
});

/** Kinds whose events carry a guest time `ns` that never decreases. */
export function carriesNs(e: LogEvent): e is SyncEvent | HaltEvent {
  return e.kind === "sync" || e.kind === "halt";
}

// ------------------------------------------------------------ size estimate

/** Bytes msgpackr uses for `v` (exact for the values we write). */
export function packedSize(v: Value): number {
  if (typeof v === "number") {
    if (v >= 0) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : v < 0x100000000 ? 5 : 9;
    return v >= -32 ? 1 : v >= -128 ? 2 : v >= -32768 ? 3 : v >= -0x80000000 ? 5 : 9;
  }
  const n = typeof v === "string" ? utf8Length(v) : v.length;
  return n + (n < 32 && typeof v === "string" ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : 3; // a surrogate pair counts 3 + 3: an over-estimate by 2
  }
  return n;
}

// ------------------------------------------------------------ encoder

/** Builds one chunk's flat payload array as events are pushed. */
export class ChunkEncoder {
  values: Value[] = [];
  count = 0;
  firstIcount = 0;
  lastIcount = 0;
  /** Ns of the first sync/halt in the chunk, 0 if none. */
  nsBase = 0;
  /** Estimated payload size. */
  bytes = 0;
  private state: ChunkState;
  private hasNs = false;

  constructor(private readonly checkpointInterval: number) {
    this.state = new ChunkState(0, 0, checkpointInterval);
  }

  /** `e` must be valid and in order (the writer checks). */
  push(e: LogEvent): void {
    if (this.count === 0) this.state = new ChunkState((this.firstIcount = e.icount), 0, this.checkpointInterval);
    if (!this.hasNs && carriesNs(e)) {
      this.hasNs = true;
      this.nsBase = this.state.ns = e.ns;
    }
    const codec = BY_KIND.get(e.kind)!;
    const before = this.values.length;
    this.values.push(codec.code);
    codec.encode(e, this.state, this.values);
    for (let i = before; i < this.values.length; i++) this.bytes += packedSize(this.values[i]);
    this.count++;
    this.lastIcount = e.icount;
  }

  clear(): void {
    this.values = [];
    this.count = 0;
    this.firstIcount = this.lastIcount = this.nsBase = this.bytes = 0;
    this.hasNs = false;
  }
}

// ------------------------------------------------------------ decoder

export interface ChunkFrame {
  readonly count: number;
  readonly firstIcount: number;
  readonly lastIcount: number;
  readonly nsBase: number;
}

/**
 * Decode an unpacked payload into events, checking it against the frame.
 * `minIcount`/`minNs` are the last icount/ns of the chunks before (the order
 * rule spans chunks). Throws PayloadError.
 */
export function decodePayload(
  payload: unknown,
  frame: ChunkFrame,
  checkpointInterval: number,
  minIcount: number,
  minNs: number,
): LogEvent[] {
  if (!Array.isArray(payload)) throw new PayloadError("payload is not an array");
  if (frame.firstIcount < minIcount) {
    throw new PayloadError(`first icount ${frame.firstIcount} is before the previous chunk's last (${minIcount})`);
  }
  const s = new ChunkState(frame.firstIcount, frame.nsBase, checkpointInterval);
  const events: LogEvent[] = [];
  let at = 0;
  let lastNs = minNs;
  while (at < payload.length) {
    const n = events.length;
    const code = payload[at];
    const codec = typeof code === "number" ? CODECS[code] : undefined;
    if (codec === undefined) throw new PayloadError(`event ${n}: unknown kind code ${show(code)}`);
    if (at + 1 + codec.fields > payload.length)
      throw new PayloadError(`event ${n} (${codec.kind}): payload ends early`);
    let e: LogEvent;
    try {
      e = codec.decode(payload, at + 1, s);
    } catch (err) {
      if (err instanceof PayloadError) throw new PayloadError(`event ${n} (${codec.kind}): ${err.message}`);
      throw err;
    }
    if (n === 0 && e.icount !== frame.firstIcount) {
      throw new PayloadError(`event 0 has icount ${e.icount}, frame says ${frame.firstIcount}`);
    }
    if (carriesNs(e)) {
      if (e.ns < lastNs) throw new PayloadError(`event ${n} (${e.kind}): ns ${e.ns} is before ${lastNs}`);
      lastNs = e.ns;
    }
    const checked = LogEvent.safeParse(e);
    if (!checked.success) throw new PayloadError(`event ${n} (${codec.kind}): ${describeZodError(checked.error)}`);
    events.push(e);
    at += 1 + codec.fields;
  }
  if (events.length !== frame.count) {
    throw new PayloadError(`holds ${events.length} events, frame says ${frame.count}`);
  }
  const last = events[events.length - 1];
  if (last !== undefined && last.icount !== frame.lastIcount) {
    throw new PayloadError(`last icount is ${last.icount}, frame says ${frame.lastIcount}`);
  }
  return events;
}
