/**
 * Checkpoint RAM digests on a second thread (capture). A periodic checkpoint
 * hashes 1/64 of RAM (checksum.ts): about 1 ms for the 2 MiB window of a
 * 128 MiB guest, 145 times on the Linux boot. The main thread now only copies
 * the window into a shared slot (memcpy, ~0.1 ms) and goes on; the worker
 * hashes it with the same function. The capture session writes the check
 * event when the digest is ready, keeping every later event behind it, so the
 * log is byte-for-byte what hashing on the main thread gives.
 *
 * If the worker cannot start, fails, or does not answer within 60 s, the
 * main thread hashes the copy itself (and stops using the worker).
 */
import { Worker } from "node:worker_threads";
import { FNV_OFFSET, FNV_PRIME, hashRam } from "./checksum.ts";

const enum S {
  Free = 0,
  Job = 1,
  Done = 2,
  Failed = 3,
}
/** Words per slot in the control array: state, length, digest, spare. */
const W = 4;
const WAIT_MS = 60_000;

// Plain JavaScript (CommonJS, eval'd). The hash must equal checksum.ts hashRam (a test compares them).
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { ctrl, data, slots, cap } = workerData;
const c = new Int32Array(ctrl);
let s = 0;
for (;;) {
  let st = Atomics.load(c, s * ${W});
  while (st !== ${S.Job}) {
    Atomics.wait(c, s * ${W}, st);
    st = Atomics.load(c, s * ${W});
  }
  try {
    const words = new Int32Array(data, s * cap, c[s * ${W} + 1] >>> 2);
    let h = ${FNV_OFFSET};
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], ${FNV_PRIME});
    c[s * ${W} + 2] = h;
    Atomics.store(c, s * ${W}, ${S.Done});
  } catch (e) {
    Atomics.store(c, s * ${W}, ${S.Failed});
  }
  Atomics.notify(c, s * ${W});
  s = (s + 1) % slots;
}
`;

export class DigestPool {
  private readonly ctrl: Int32Array;
  private readonly data: Uint8Array;
  private worker: Worker | null = null;
  private submitAt = 0;
  /** Slots submitted and not yet taken back with `result`, in order. */
  private inFlight = 0;

  constructor(
    /** Largest window in bytes (a multiple of 4). */
    readonly cap: number,
    private readonly slots = 4,
    useWorker = true,
  ) {
    const ctrl = new SharedArrayBuffer(slots * W * 4);
    const data = new SharedArrayBuffer(slots * cap);
    this.ctrl = new Int32Array(ctrl);
    this.data = new Uint8Array(data);
    if (!useWorker) return;
    try {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { ctrl, data, slots, cap } });
      w.unref();
      w.on("error", () => this.dropWorker());
      this.worker = w;
    } catch {
      this.worker = null;
    }
  }

  /** Slots free for `submit` (results not yet taken count as busy). */
  get free(): number {
    return this.slots - this.inFlight;
  }

  /** Copy `bytes` into the next slot and start hashing it; returns the slot. Needs `free` > 0. */
  submit(bytes: Uint8Array): number {
    if (this.inFlight >= this.slots) throw new Error("DigestPool: no free slot");
    if (bytes.length > this.cap || bytes.length % 4 !== 0) throw new RangeError("DigestPool: bad window size");
    const s = this.submitAt;
    this.submitAt = (s + 1) % this.slots;
    this.inFlight++;
    this.data.set(bytes, s * this.cap);
    this.ctrl[s * W + 1] = bytes.length;
    if (this.worker === null) {
      this.hashHere(s);
      return s;
    }
    Atomics.store(this.ctrl, s * W, S.Job);
    Atomics.notify(this.ctrl, s * W);
    return s;
  }

  /** The slot's digest is ready (`result` will not wait). */
  ready(s: number): boolean {
    const st = Atomics.load(this.ctrl, s * W);
    return st === S.Done || st === S.Failed;
  }

  /** The digest of slot `s` (waiting for it if needed); frees the slot. Slots are taken in submission order. */
  result(s: number): number {
    let st = Atomics.load(this.ctrl, s * W);
    if (st === S.Job && this.worker !== null) {
      if (Atomics.wait(this.ctrl, s * W, S.Job, WAIT_MS) === "timed-out") {
        // Hash it here; the worker is not trusted with later slots either.
        this.dropWorker();
      }
      st = Atomics.load(this.ctrl, s * W);
    }
    if (st !== S.Done) this.hashHere(s);
    const h = this.ctrl[s * W + 2] >>> 0;
    Atomics.store(this.ctrl, s * W, S.Free);
    this.inFlight--;
    return h;
  }

  /** Stop the worker. Take every result first: a slot still hashing is then hashed here. */
  close(): void {
    this.dropWorker();
  }

  private hashHere(s: number): void {
    this.ctrl[s * W + 2] = hashRam(this.data, s * this.cap, s * this.cap + this.ctrl[s * W + 1]) | 0;
    Atomics.store(this.ctrl, s * W, S.Done);
  }

  private dropWorker(): void {
    const w = this.worker;
    this.worker = null;
    if (w !== null) void w.terminate();
  }
}
