/**
 * Chunk compression on a second thread. Expansion is a synchronous replay
 * that never returns to the event loop, so the two threads talk only through
 * shared memory: a ring of slots, each with a state word, a raw area and an
 * output area. The main thread copies a chunk into the next slot and goes on
 * replaying; the worker compresses slots in ring order; the main thread takes
 * finished slots back in the same order, so chunks reach the file in order
 * and the output is byte-for-byte what synchronous compression gives.
 *
 * A chunk larger than a slot (one instruction can add megabytes: a REP MOVS over a
 * large buffer) still goes to the worker, in its turn: the main thread copies it into
 * a shared buffer of its own, posts that on a message port and marks the slot Big;
 * the worker takes it from the port without returning to its event loop
 * (receiveMessageOnPort) and posts the compressed payload back the same way.
 *
 * If the worker fails or is too slow to answer (a 60 s wait), the main thread
 * compresses that slot itself and stops using the worker.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { Codec } from "./format.ts";
import { BROTLI_QUALITY, compressPayload } from "./codec.ts";

const enum S {
  Free = 0,
  Raw = 1,
  Done = 2,
  Failed = 3,
  /** Raw, in a buffer of its own posted on the port (larger than a slot). */
  Big = 4,
  Stop = 9,
}
/** Words per slot in the control array: state, raw length, output length, spare. */
const W = 4;

// Plain JavaScript (CommonJS, eval'd): no TypeScript loader is needed in the worker.
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const zlib = require("node:zlib");
const { ctrl, raw, out, slots, cap, codec, quality, port } = workerData;
const c = new Int32Array(ctrl);
// The message the main thread posted before marking the slot Big (waits briefly if not there yet).
const take = () => {
  for (;;) {
    const m = receiveMessageOnPort(port);
    if (m !== undefined) return m.message;
    Atomics.wait(c, slots * ${W}, 0, 1);
  }
};
let s = 0;
for (;;) {
  // Sleep until the main thread fills this slot (it notifies on Raw, Big and Stop; any other state is not ours).
  let st = Atomics.load(c, s * ${W});
  while (st !== ${S.Raw} && st !== ${S.Big} && st !== ${S.Stop}) {
    Atomics.wait(c, s * ${W}, st);
    st = Atomics.load(c, s * ${W});
  }
  if (st === ${S.Stop}) break;
  try {
    const src = st === ${S.Big} ? new Uint8Array(take()) : new Uint8Array(raw, s * cap, c[s * ${W} + 1]);
    const r = codec === "brotli"
      ? zlib.brotliCompressSync(src, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: src.length } })
      : codec === "deflate-raw" ? zlib.deflateRawSync(src, { level: 6 }) : src;
    if (st === ${S.Big}) {
      const o = new Uint8Array(r.length);
      o.set(r);
      port.postMessage(o, [o.buffer]);
      c[s * ${W} + 2] = r.length;
      Atomics.store(c, s * ${W}, ${S.Done});
    } else if (r.length <= cap) {
      new Uint8Array(out, s * cap, r.length).set(r);
      c[s * ${W} + 2] = r.length;
      Atomics.store(c, s * ${W}, ${S.Done});
    } else Atomics.store(c, s * ${W}, ${S.Failed});
  } catch (e) {
    Atomics.store(c, s * ${W}, ${S.Failed});
  }
  Atomics.notify(c, s * ${W});
  s = (s + 1) % slots;
}
`;

export class CompressPool<M> {
  private readonly ctrl: Int32Array;
  private readonly raw: Uint8Array;
  private readonly out: Uint8Array;
  private readonly meta: (M | null)[];
  /** Slot x holds a Big chunk: its raw bytes (kept for compressing here should the worker fail). */
  private readonly big: (Uint8Array | null)[];
  private readonly port: MessagePort;
  private worker: Worker | null;
  /** Chunks larger than a slot that the worker compressed. */
  bigChunks = 0;
  private submitAt = 0;
  private collectAt = 0;
  private inFlight = 0;

  constructor(
    private readonly codec: Codec,
    /** Largest raw chunk a slot takes; larger ones are compressed on the calling thread. */
    readonly cap: number,
    /** Called in submission order with each chunk's metadata and compressed payload. */
    private readonly done: (meta: M, payload: Uint8Array) => void,
    private readonly slots = 3,
  ) {
    const ctrl = new SharedArrayBuffer((slots + 1) * W * 4); // the extra word: the worker's short waits
    const raw = new SharedArrayBuffer(slots * cap);
    const out = new SharedArrayBuffer(slots * cap);
    this.ctrl = new Int32Array(ctrl);
    this.raw = new Uint8Array(raw);
    this.out = new Uint8Array(out);
    this.meta = new Array(slots).fill(null);
    this.big = new Array(slots).fill(null);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.port.unref();
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ctrl, raw, out, slots, cap, codec, quality: BROTLI_QUALITY, port: port2 },
      transferList: [port2],
    });
    this.worker.unref();
  }

  /**
   * The raw area of the slot the next submit() fills (waiting for that slot to be free), so a
   * producer can build the chunk there and submit a prefix of it without a copy. Null without
   * the worker.
   */
  nextSlot(): Uint8Array | null {
    if (this.worker === null) return null;
    if (this.inFlight === this.slots) this.collect(true);
    const at = this.submitAt * this.cap;
    return this.raw.subarray(at, at + this.cap);
  }

  /** Queue a chunk (copied, unless it is already in the next slot); emits every chunk finished by now, in order. */
  submit(raw: Uint8Array, meta: M): void {
    if (this.worker === null) {
      this.drain();
      this.done(meta, compressPayload(this.codec, raw));
      return;
    }
    if (this.inFlight === this.slots) this.collect(true);
    const s = this.submitAt;
    let state = S.Raw;
    if (raw.length > this.cap) {
      const copy = new Uint8Array(new SharedArrayBuffer(raw.length));
      copy.set(raw);
      this.big[s] = copy;
      this.port.postMessage(copy.buffer);
      state = S.Big;
    } else if (raw.buffer !== this.raw.buffer || raw.byteOffset !== s * this.cap) this.raw.set(raw, s * this.cap);
    this.ctrl[s * W + 1] = raw.length;
    this.meta[s] = meta;
    Atomics.store(this.ctrl, s * W, state);
    Atomics.notify(this.ctrl, s * W);
    this.submitAt = (s + 1) % this.slots;
    this.inFlight++;
    while (this.inFlight > 0 && this.finished(this.collectAt)) this.collect(false);
  }

  /** The worker is done with slot `s` (compressed it, or failed). */
  private finished(s: number): boolean {
    const st = Atomics.load(this.ctrl, s * W);
    return st === S.Done || st === S.Failed;
  }

  /** Wait for and emit every queued chunk. */
  drain(): void {
    while (this.inFlight > 0) this.collect(true);
  }

  /** Emit and stop the worker. */
  close(): void {
    this.drain();
    if (this.worker !== null) {
      const s = this.submitAt; // the slot the worker waits on
      Atomics.store(this.ctrl, s * W, S.Stop);
      Atomics.notify(this.ctrl, s * W);
      this.worker = null;
    }
    this.port.close();
  }

  /** Take the oldest slot back (waiting for it if `wait`). */
  private collect(wait: boolean): void {
    const s = this.collectAt;
    const at = s * W;
    const pending = Atomics.load(this.ctrl, at);
    if (wait && (pending === S.Raw || pending === S.Big)) {
      const r = Atomics.wait(this.ctrl, at, pending, 60_000);
      if (r === "timed-out" && Atomics.load(this.ctrl, at) === pending) this.abandonWorker();
    }
    const st = Atomics.load(this.ctrl, at);
    const big = this.big[s];
    let payload: Uint8Array;
    if (big !== null) {
      const m = st === S.Done ? this.takeMessage() : null;
      if (m !== null) this.bigChunks++;
      payload = m ?? compressPayload(this.codec, big);
      this.big[s] = null;
    } else if (st === S.Done) payload = this.out.slice(s * this.cap, s * this.cap + this.ctrl[at + 2]);
    else payload = compressPayload(this.codec, this.raw.subarray(s * this.cap, s * this.cap + this.ctrl[at + 1]));
    const meta = this.meta[s] as M;
    this.meta[s] = null;
    Atomics.store(this.ctrl, at, S.Free);
    this.collectAt = (s + 1) % this.slots;
    this.inFlight--;
    this.done(meta, payload);
  }

  /** The worker's reply for a Big slot it marked Done (posted before the mark; null if it never comes). */
  private takeMessage(): Uint8Array | null {
    for (let tries = 0; tries < 60_000; tries++) {
      const m = receiveMessageOnPort(this.port);
      if (m !== undefined) return m.message as Uint8Array;
      Atomics.wait(this.ctrl, this.slots * W, 0, 1);
    }
    return null;
  }

  /** The worker stopped answering: compress everything on this thread from now on. */
  private abandonWorker(): void {
    void this.worker?.terminate();
    this.worker = null;
    // Slots still marked Raw or Big are compressed by collect() itself.
    for (let s = 0; s < this.slots; s++) {
      const st = Atomics.load(this.ctrl, s * W);
      if (st === S.Raw || st === S.Big) this.ctrl[s * W] = S.Failed;
    }
  }
}
