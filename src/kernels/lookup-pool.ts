import { Worker } from "node:worker_threads";
import { workerSpinMs } from "../flags.js";
import {
  closeRequest,
  FAILED,
  nextGeneration,
  openRequest,
  packStaged,
  STAGED_HEADER,
} from "./packed-request.js";
import {
  HAS_RUN,
  IDLE,
  MAILBOX_GENERATION,
  MAILBOX_HANDLED,
  MAILBOX_SET,
  MAILBOX_SLOT,
  MAILBOX_STATE,
  MAILBOX_WORDS,
  RINGING,
  SPINNING,
  type WorkerReply,
  type WorkerRequest,
} from "./pool-messages.js";
import { float32Storage, locateStored, type StoredTable, type TableStorage } from "./table-storage.js";
import { InternalError } from "../errors.js";
import { EMPTY, grow, SLOT_KEEP_BYTES, type Slot } from "./pool-slots.js";
import { copyInSteps, startWorker, waitForHelpers } from "./pool-threads.js";
import { kernelChoice, kernelMeasurement } from "./kernel-choice.js";

export { SLOT_KEEP_BYTES } from "./pool-slots.js";

/**
 * Below this many ids (+ rows) a lookup is not split: waking a worker and copying its share costs more
 * than it saves (a single request, B = 1, gathers about 200 rows).
 */
export const PARALLEL_MIN_COST = 4096;

interface PoolWorker {
  readonly worker: Worker;
  /** Table sets this worker holds references to. */
  readonly sets: Set<number>;
  /** Slot buffers this worker holds, by slot id: the version it was sent. */
  readonly slots: Map<number, number>;
  /** Caller-owned output buffers this worker holds (ids). */
  readonly outputs: Set<number>;
  /** Shared with the worker: hands it synchronous runs while it spins (pool-messages.ts). */
  readonly mailbox: Int32Array;
  /** Async tasks posted and not yet answered: the worker is ref'ed (keeps the process alive) while > 0. */
  inflight: number;
  /**
   * Messages posted to the worker (int32, wrapping, as its MAILBOX_HANDLED), and that count at the last
   * one that is not a synchronous run: rings wait for the worker to have handled that many.
   */
  posted: number;
  required: number;
}

interface Pending {
  readonly owner: PoolWorker;
  resolve(reply: WorkerReply): void;
  reject(error: Error): void;
}

export interface LookupPoolOptions {
  /** How long workers spin for the next synchronous run (default: `TPU_EMBEDDING_WORKER_SPIN_US`, 300 µs). */
  readonly workerSpinMs?: number;
}

/**
 * Worker threads that run kernel jobs against shared table memory (zero copies: tables live in
 * SharedArrayBuffers / shared WebAssembly memories that every worker maps). One pool serves every
 * embedding in the process; each registers its tables as a numbered set and releases it on dispose.
 * Workers are unref'ed while idle, so they never keep the process alive.
 */
export class LookupPool {
  constructor(private readonly options: LookupPoolOptions = {}) {}

  private readonly workers: PoolWorker[] = [];
  private readonly tableSets = new Map<number, readonly StoredTable[]>();
  private readonly pending = new Map<number, Pending>();
  private readonly slots: Slot[] = [];
  private nextSet = 1;
  private nextTask = 1;
  /** Ids of caller-owned shared output buffers the workers write in place (see `outputId`). */
  private readonly outputIds = new WeakMap<SharedArrayBuffer, number>();
  private nextOutput = 1;
  private rings = 0;
  /** Tells the workers to drop an output buffer once the caller's is garbage collected. */
  private readonly forgetOutput = new FinalizationRegistry<number>((id) => {
    for (const w of this.workers) if (w.outputs.delete(id)) this.post(w, { type: "forget", id });
  });

  /** Makes float32 `tables` (arena views or other shared memory) available to the workers; the set's id. */
  register(tables: readonly Float32Array[], dims: readonly number[]): number {
    return this.registerStorage(float32Storage(tables, dims));
  }

  /** Makes stored tables (in arenas or other shared memory) available to the workers; the set's id. */
  registerStorage(storage: TableStorage): number {
    const id = this.nextSet++;
    this.tableSets.set(id, storage.tables);
    return id;
  }

  /** Drops every reference to a set, here and in the workers (idempotent). */
  release(set: number): void {
    this.tableSets.delete(set);
    for (const w of this.workers) {
      if (w.sets.delete(set)) this.post(w, { type: "detach", set });
    }
  }

  /** Starts workers until there are at least `count`. */
  ensureWorkers(count: number): void {
    while (this.workers.length < count) this.spawn();
  }

  get size(): number {
    return this.workers.length;
  }

  /** For tests and diagnostics: synchronous runs handed to spinning workers through their mailbox. */
  get mailboxRuns(): number {
    return this.rings;
  }

  /** For tests and diagnostics: workers spinning for the next synchronous run right now. */
  get spinningWorkers(): number {
    return this.workers.filter((w) => Atomics.load(w.mailbox, MAILBOX_STATE) === SPINNING).length;
  }

  /** Stops every worker; a later run starts new ones. */
  async close(): Promise<void> {
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  /**
   * Runs a small-lookup staging buffer on this thread and up to `threads - 1` helpers, which check its
   * features and then run its tasks (rows of features), claimed one at a time (the native
   * `smallLookupShare`; `run` is this thread's
   * share over its own table set). `resolve`, when the staging reads arrays in place, fills the slot's ref
   * table before the request opens; they are read only until this returns. An `out` in shared memory is
   * written in place by every thread; otherwise the features are assembled in the slot and copied in.
   * false when a feature did not fit (then no thread wrote anything) or a worker could not take part (then
   * this thread may have written its share): either way the caller falls back to the planned path, which
   * writes every output.
   */
  runStaged(
    set: number,
    work: Int32Array,
    out: Float32Array,
    threads: number,
    run: (work: Int32Array, out: Float32Array, control: Int32Array) => number,
    resolve: ((work: Int32Array) => boolean) | null = null,
  ): boolean {
    this.ensureWorkers(threads - 1);
    const helpers = this.leastBusy(threads - 1);
    const { slot, request, shared, into, rung } = this.prepareStaged(set, work, out, helpers, resolve);
    const control = request.subarray(0, STAGED_HEADER);
    try {
      try {
        for (const w of helpers) if (!rung.has(w)) this.postRun(w, set, slot, 0, into);
        const staged = request.subarray(STAGED_HEADER);
        const target = shared ? out : new Float32Array(slot.out, 0, out.length);
        if (run(staged, target, control) !== 0) Atomics.store(control, FAILED, 1);
      } finally {
        waitForHelpers(control);
      }
      if (Atomics.load(control, FAILED) !== 0) return false;
      if (!shared) out.set(new Float32Array(slot.out, 0, out.length));
      return true;
    } finally {
      this.freeSlot(slot);
    }
  }

  /**
   * `runStaged` on `workers` worker threads only (the caller's event loop stays free). The staging buffer
   * is copied into the request slot before this returns its promise, so the caller may reuse it at once.
   */
  async runStagedAsync(set: number, work: Int32Array, out: Float32Array, workers: number): Promise<void> {
    this.ensureWorkers(workers);
    const { slot, request, shared, into } = this.prepareStaged(set, work, out, []);
    let failed = true;
    try {
      await this.runOnWorkers(set, slot, workers, into);
      if (Atomics.load(request, FAILED) !== 0) {
        throw new InternalError("LookupPool: a worker failed while running a staged lookup.");
      }
      if (!shared) await copyInSteps(new Float32Array(slot.out, 0, out.length), out);
      failed = false;
    } finally {
      this.freeSlot(slot, failed);
    }
  }

  /**
   * Lays a staged request out in a free slot and opens it (`helpers` spinning with everything they need
   * are rung first, as in `prepare`). An `out` in shared memory is written in place (and registered with
   * the workers as `into`); otherwise the slot's output buffer holds the results until they are copied.
   */
  private prepareStaged(
    set: number,
    work: Int32Array,
    out: Float32Array,
    helpers: readonly PoolWorker[],
    resolve: ((work: Int32Array) => boolean) | null = null,
  ) {
    this.tables(set);
    const shared = out.buffer instanceof SharedArrayBuffer;
    const outId = shared ? this.outputId(out.buffer as SharedArrayBuffer) : 0;
    const into = shared ? [out] : null;
    const slot = this.acquireSlot((STAGED_HEADER + work.length) * 4, shared ? 0 : out.length * 4);
    const request = new Int32Array(slot.request, 0, STAGED_HEADER + work.length);
    slot.generation = nextGeneration(slot.generation);
    const rung = new Set(helpers.filter((w) => this.ring(w, set, slot, into)));
    try {
      packStaged(work, request, outId, shared ? out.byteOffset >> 2 : 0, out.length);
      // Refs not resolved: the request opens empty and failed (helpers rung for it must see it open).
      if (resolve !== null && !resolve(request.subarray(STAGED_HEADER))) {
        request[STAGED_HEADER] = 0; // the staging's feature count (W_COUNT)
        request[FAILED] = 1;
      }
    } catch (e) {
      // As in `prepare`: rung helpers find this generation closed and leave; the slot is free again.
      openRequest(request, slot.generation);
      closeRequest(request);
      slot.busy = false;
      throw e;
    }
    openRequest(request, slot.generation);
    return { slot, request, shared, into, rung };
  }

  /** Posts the slot's open request to `count` workers and waits for every one's answer. */
  private async runOnWorkers(
    set: number,
    slot: Slot,
    count: number,
    into: readonly Float32Array[] | null,
  ): Promise<void> {
    // Every worker's answer is awaited, also when one fails, so none still writes into the slot once it
    // is released.
    const settled = await Promise.allSettled(
      this.leastBusy(count).map((w) => {
        const task = this.nextTask++;
        return new Promise<WorkerReply>((resolve, reject) => {
          this.pending.set(task, { owner: w, resolve, reject });
          if (w.inflight++ === 0) w.worker.ref();
          this.postRun(w, set, slot, task, into);
        });
      }),
    );
    for (const r of settled) {
      if (r.status === "rejected") throw r.reason;
      if (r.value.error !== undefined)
        throw new InternalError(`LookupPool: a worker failed: ${r.value.error}`);
    }
  }

  /**
   * Hands a synchronous run to a spinning worker through its mailbox; false (nothing done) when the
   * worker is not spinning or still needs a message first (a new table set, slot buffer or output).
   */
  private ring(w: PoolWorker, set: number, slot: Slot, into: readonly Float32Array[] | null): boolean {
    if (!w.sets.has(set) || w.slots.get(slot.id) !== slot.version) return false;
    for (const target of into ?? []) {
      if (target.buffer instanceof SharedArrayBuffer && !w.outputs.has(this.outputId(target.buffer)))
        return false;
    }
    const mailbox = w.mailbox;
    // A worker that has not handled every message the run may need is sent the run as a message after them.
    if (((Atomics.load(mailbox, MAILBOX_HANDLED) - w.required) | 0) < 0) return false;
    // Only a spinning worker is rung, and its words are written while it waits for them: a worker still
    // busy with an earlier run (which a caller no longer waits for) is never handed changing words.
    if (Atomics.compareExchange(mailbox, MAILBOX_STATE, SPINNING, RINGING) !== SPINNING) return false;
    mailbox[MAILBOX_SET] = set;
    mailbox[MAILBOX_SLOT] = slot.id;
    mailbox[MAILBOX_GENERATION] = slot.generation;
    Atomics.store(mailbox, MAILBOX_STATE, HAS_RUN);
    this.rings++;
    return true;
  }

  /**
   * Request and output buffers are kept and reused: fresh shared memory costs page faults (and posting
   * a new SharedArrayBuffer to a worker is slow), so a slot's buffers are posted to a worker only when
   * they were created or grown.
   */
  private acquireSlot(requestBytes: number, outBytes: number): Slot {
    let slot = this.slots.find(
      (s) => !s.busy && s.request.byteLength >= requestBytes && s.out.byteLength >= outBytes,
    );
    slot ??= this.slots.find((s) => !s.busy);
    if (slot === undefined) {
      slot = { id: this.slots.length, version: 0, generation: 0, request: EMPTY, out: EMPTY, busy: false };
      this.slots.push(slot);
    }
    if (slot.request.byteLength < requestBytes || slot.out.byteLength < outBytes) {
      // Both buffers are allocated before either replaces the slot's: a failed allocation (a request
      // whose output does not fit in memory) must leave the slot as the workers know it, or later
      // requests would be packed into a buffer the workers were never sent.
      const request = new SharedArrayBuffer(grow(slot.request.byteLength, requestBytes));
      const out = new SharedArrayBuffer(grow(slot.out.byteLength, outBytes));
      slot.request = request;
      slot.out = out;
      slot.version++;
    }
    slot.busy = true;
    return slot;
  }

  /**
   * Frees a slot after its request. Its buffers are dropped (here and in the workers, which are sent
   * empty ones) when they grew beyond SLOT_KEEP_BYTES, so one big lookup does not pin its memory for the
   * process's life, or when the request failed (`discard`), so nothing it left behind is ever reused.
   */
  private freeSlot(slot: Slot, discard = false): void {
    slot.busy = false;
    if (!discard && slot.request.byteLength + slot.out.byteLength <= SLOT_KEEP_BYTES) return;
    slot.request = EMPTY;
    slot.out = EMPTY;
    slot.version++;
    for (const w of this.workers) {
      if (!w.slots.has(slot.id)) continue;
      w.slots.set(slot.id, slot.version);
      this.post(w, { type: "slot", slot: slot.id, request: EMPTY, out: EMPTY });
    }
  }

  /** The id workers know a caller-owned shared output buffer by (assigned on first use). */
  private outputId(buffer: SharedArrayBuffer): number {
    let id = this.outputIds.get(buffer);
    if (id === undefined) {
      id = this.nextOutput++;
      this.outputIds.set(buffer, id);
      this.forgetOutput.register(buffer, id);
    }
    return id;
  }

  /** For tests and diagnostics: the table sets each worker still references. */
  async workerSets(): Promise<number[][]> {
    return this.askWorkers("sets");
  }

  /** For tests and diagnostics: the caller-owned output buffers each worker still holds (ids). */
  async workerOutputs(): Promise<number[][]> {
    return this.askWorkers("outputs");
  }

  private askWorkers(type: "sets" | "outputs"): Promise<number[][]> {
    return Promise.all(
      this.workers.map((w) => {
        const task = this.nextTask++;
        return new Promise<number[]>((resolve, reject) => {
          this.pending.set(task, { owner: w, resolve: (r) => resolve(r[type] ?? []), reject });
          if (w.inflight++ === 0) w.worker.ref();
          this.post(w, { type, task });
        });
      }),
    );
  }

  private tables(set: number): readonly StoredTable[] {
    const tables = this.tableSets.get(set);
    if (tables === undefined) throw new InternalError(`LookupPool: table set ${set} was released.`);
    return tables;
  }

  private postRun(
    w: PoolWorker,
    set: number,
    slot: Slot,
    task: number,
    into: readonly Float32Array[] | null,
  ): void {
    if (!w.sets.has(set)) {
      w.sets.add(set);
      this.post(w, { type: "attach", set, tables: this.tables(set).map(locateStored) });
    }
    if (w.slots.get(slot.id) !== slot.version) {
      w.slots.set(slot.id, slot.version);
      this.post(w, { type: "slot", slot: slot.id, request: slot.request, out: slot.out });
    }
    for (const target of into ?? []) {
      if (!(target.buffer instanceof SharedArrayBuffer)) continue;
      const id = this.outputId(target.buffer);
      if (w.outputs.has(id)) continue;
      w.outputs.add(id);
      this.post(w, { type: "output", id, buffer: target.buffer });
    }
    this.post(w, { type: "run", set, task, slot: slot.id, generation: slot.generation });
  }

  private leastBusy(count: number): PoolWorker[] {
    return [...this.workers].sort((a, b) => a.inflight - b.inflight).slice(0, count);
  }

  private post(w: PoolWorker, message: WorkerRequest): void {
    // A spinning worker does not read messages: send it back to its event loop (after the mailbox run it
    // may be running; it never is handed one it has not started, since synchronous runs wait for it).
    Atomics.store(w.mailbox, MAILBOX_STATE, IDLE);
    w.worker.postMessage(message);
    w.posted = (w.posted + 1) | 0;
    if (message.type !== "run" || message.task !== 0) w.required = w.posted;
  }

  private spawn(): void {
    const mailbox = new Int32Array(new SharedArrayBuffer(MAILBOX_WORDS * 4));
    const worker = startWorker(new URL("./lookup-worker.js", import.meta.url), {
      mailbox: mailbox.buffer,
      spinMs: this.options.workerSpinMs ?? workerSpinMs(),
      // The parent's kernel family measurement (kernel-choice.ts): every thread runs the same family.
      kernels: (kernelChoice(), kernelMeasurement()),
    });
    const entry: PoolWorker = {
      worker,
      sets: new Set(),
      slots: new Map(),
      outputs: new Set(),
      mailbox,
      inflight: 0,
      posted: 0,
      required: 0,
    };
    worker.on("message", (reply: WorkerReply) => {
      const p = this.pending.get(reply.task);
      if (p === undefined) return;
      this.pending.delete(reply.task);
      this.settled(entry);
      p.resolve(reply);
    });
    const fail = (error: Error): void => {
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      for (const [task, p] of this.pending) {
        if (p.owner !== entry) continue;
        this.pending.delete(task);
        p.reject(error);
      }
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new InternalError(`LookupPool: worker exited with code ${code}.`)));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
    this.workers.push(entry);
  }

  private settled(w: PoolWorker): void {
    if (--w.inflight === 0) w.worker.unref();
  }
}

let shared: LookupPool | null = null;

/** The process-wide pool (workers start on first use). */
export function lookupPool(): LookupPool {
  return (shared ??= new LookupPool());
}
