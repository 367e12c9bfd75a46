import { Worker } from "node:worker_threads";
import { idsBefore, jobIds, jobRows, rowValues, sliceJob, type KernelJob } from "./kernel-job.js";
import { runJob } from "./run-job.js";
import type { WorkerReply, WorkerRequest, WorkPiece } from "./pool-messages.js";
import { locateTable } from "./table-memory.js";

/** One feature's work for the pool: a job, the index of its table in the registered set, its output size. */
export interface PoolWork {
  readonly job: KernelJob;
  readonly table: number;
  readonly dim: number;
  /** Float32 values of the output (`jobRows(job) × rowValues(job, dim)`). */
  readonly size: number;
}

/**
 * Below this many ids (+ rows) a lookup is not split: waking a worker and copying its share costs more
 * than it saves (a single request, B = 1, gathers about 200 rows).
 */
export const PARALLEL_MIN_COST = 8192;

interface PoolWorker {
  readonly worker: Worker;
  /** Table sets this worker holds references to. */
  readonly sets: Set<number>;
  /** Async tasks posted and not yet answered: the worker is ref'ed (keeps the process alive) while > 0. */
  inflight: number;
}

interface Pending {
  readonly owner: PoolWorker;
  resolve(reply: WorkerReply): void;
  reject(error: Error): void;
}

/**
 * Worker threads that run kernel jobs against shared table memory (zero copies: tables live in
 * SharedArrayBuffers / shared WebAssembly memories that every worker maps). One pool serves every
 * embedding in the process; each registers its tables as a numbered set and releases it on dispose.
 * Workers are unref'ed while idle, so they never keep the process alive.
 */
export class LookupPool {
  private readonly workers: PoolWorker[] = [];
  private readonly tableSets = new Map<number, readonly Float32Array[]>();
  private readonly pending = new Map<number, Pending>();
  private nextSet = 1;
  private nextTask = 1;

  /** Makes `tables` (arena views or other shared memory) available to the workers; returns the set's id. */
  register(tables: readonly Float32Array[]): number {
    const id = this.nextSet++;
    this.tableSets.set(id, tables);
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

  /**
   * Runs every work synchronously, using the calling thread plus up to `threads - 1` workers when the
   * lookup is large enough to gain from it; returns one output per work.
   */
  runSync(set: number, works: readonly PoolWork[], threads: number): Float32Array[] {
    const tables = this.tables(set);
    const parts = partsFor(works, threads);
    if (parts === 1) {
      return works.map((w) => {
        const out = new Float32Array(w.size);
        runJob(w.job, tables[w.table], w.dim, out, 0);
        return out;
      });
    }
    this.ensureWorkers(parts - 1);
    const { buffer, outputs, offsets } = sharedOutputs(works);
    const shares = partition(works, offsets, parts);
    const helpers = this.leastBusy(parts - 1);
    const done = new Int32Array(new SharedArrayBuffer(8));
    helpers.forEach((w, i) => this.postRun(w, set, shares[i + 1], buffer, done, 0));
    const out = new Float32Array(buffer);
    for (const p of shares[0]) {
      const work = works[p.work];
      runJob(p.job, tables[work.table], work.dim, out, p.outOffset);
    }
    for (let seen = Atomics.load(done, 0); seen < helpers.length; seen = Atomics.load(done, 0)) {
      Atomics.wait(done, 0, seen);
    }
    if (Atomics.load(done, 1) !== 0) throw new Error("LookupPool: a worker failed while running a kernel.");
    return outputs;
  }

  /** Runs every work on worker threads (the caller's event loop stays free); one output per work. */
  async runAsync(set: number, works: readonly PoolWork[], threads: number): Promise<Float32Array[]> {
    this.tables(set);
    const parts = partsFor(works, threads);
    this.ensureWorkers(parts);
    const { buffer, outputs, offsets } = sharedOutputs(works);
    const shares = partition(works, offsets, parts);
    const helpers = this.leastBusy(parts);
    const replies = await Promise.all(
      helpers.map((w, i) => {
        const task = this.nextTask++;
        return new Promise<WorkerReply>((resolve, reject) => {
          this.pending.set(task, { owner: w, resolve, reject });
          if (w.inflight++ === 0) w.worker.ref();
          this.postRun(w, set, shares[i], buffer, null, task);
        });
      }),
    );
    for (const r of replies) {
      if (r.error !== undefined) throw new Error(`LookupPool: a worker failed: ${r.error}`);
    }
    return outputs;
  }

  /** For tests and diagnostics: the table sets each worker still references. */
  async workerSets(): Promise<number[][]> {
    return Promise.all(
      this.workers.map((w) => {
        const task = this.nextTask++;
        return new Promise<number[]>((resolve, reject) => {
          this.pending.set(task, { owner: w, resolve: (r) => resolve(r.sets ?? []), reject });
          if (w.inflight++ === 0) w.worker.ref();
          this.post(w, { type: "sets", task });
        });
      }),
    );
  }

  private tables(set: number): readonly Float32Array[] {
    const tables = this.tableSets.get(set);
    if (tables === undefined) throw new Error(`LookupPool: table set ${set} was released.`);
    return tables;
  }

  private postRun(
    w: PoolWorker,
    set: number,
    share: Share[],
    out: SharedArrayBuffer,
    done: Int32Array | null,
    task: number,
  ): void {
    if (!w.sets.has(set)) {
      w.sets.add(set);
      this.post(w, { type: "attach", set, tables: this.tables(set).map(locateTable) });
    }
    const pieces: WorkPiece[] = share.map((p) => ({
      job: p.job,
      table: p.owner.table,
      dim: p.owner.dim,
      outOffset: p.outOffset,
    }));
    this.post(w, { type: "run", set, task, pieces, out, done });
  }

  private leastBusy(count: number): PoolWorker[] {
    return [...this.workers].sort((a, b) => a.inflight - b.inflight).slice(0, count);
  }

  private post(w: PoolWorker, message: WorkerRequest): void {
    w.worker.postMessage(message);
  }

  private spawn(): void {
    const worker = new Worker(new URL("./lookup-worker.js", import.meta.url), {
      // `node --input-type=module -e …` passes a flag a worker's file entry point rejects.
      execArgv: process.execArgv.filter((a) => !a.startsWith("--input-type")),
    });
    worker.unref();
    const entry: PoolWorker = { worker, sets: new Set(), inflight: 0 };
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
    worker.on("exit", (code) => fail(new Error(`LookupPool: worker exited with code ${code}.`)));
    this.workers.push(entry);
  }

  private settled(w: PoolWorker): void {
    if (--w.inflight === 0) w.worker.unref();
  }
}

/** A slice of one work assigned to one thread. */
interface Share {
  readonly work: number;
  readonly owner: PoolWork;
  readonly job: KernelJob;
  readonly outOffset: number;
}

function workCost(work: PoolWork): number {
  return jobIds(work.job) + jobRows(work.job);
}

function partsFor(works: readonly PoolWork[], threads: number): number {
  let cost = 0;
  for (const w of works) cost += workCost(w);
  return Math.max(1, Math.min(threads, Math.floor(cost / PARALLEL_MIN_COST)));
}

/** One SharedArrayBuffer holding every output back to back (workers write into it directly). */
function sharedOutputs(works: readonly PoolWork[]): {
  buffer: SharedArrayBuffer;
  outputs: Float32Array[];
  offsets: number[];
} {
  let total = 0;
  const offsets = works.map((w) => {
    const at = total;
    total += w.size;
    return at;
  });
  const buffer = new SharedArrayBuffer(total * Float32Array.BYTES_PER_ELEMENT);
  const outputs = works.map((w, i) => new Float32Array(buffer, offsets[i] * 4, w.size));
  return { buffer, outputs, offsets };
}

/**
 * Splits the works into `parts` contiguous shares of about equal cost (ids + rows), cutting inside a
 * feature at row boundaries where needed.
 */
function partition(works: readonly PoolWork[], offsets: readonly number[], parts: number): Share[][] {
  const shares: Share[][] = Array.from({ length: parts }, () => []);
  let total = 0;
  for (const w of works) total += workCost(w);
  let part = 0;
  let boundary = total / parts;
  let spent = 0;
  const add = (w: number, r0: number, r1: number, whole: boolean): void => {
    const work = works[w];
    const job = whole ? work.job : sliceJob(work.job, r0, r1);
    const outOffset = offsets[w] + r0 * rowValues(work.job, work.dim);
    shares[part].push({ work: w, owner: work, job, outOffset });
  };
  works.forEach((work, w) => {
    const rows = jobRows(work.job);
    const cost = workCost(work);
    if (part === parts - 1 || spent + cost <= boundary) {
      add(w, 0, rows, true);
      spent += cost;
      return;
    }
    let r0 = 0;
    const base = spent;
    for (let r = 1; r <= rows; r++) {
      spent = base + idsBefore(work.job, r) + r;
      if (spent >= boundary && part < parts - 1) {
        add(w, r0, r, false);
        r0 = r;
        part++;
        boundary = (total * (part + 1)) / parts;
      }
    }
    if (r0 < rows) add(w, r0, rows, r0 === 0);
  });
  return shares;
}

let shared: LookupPool | null = null;

/** The process-wide pool (workers start on first use). */
export function lookupPool(): LookupPool {
  return (shared ??= new LookupPool());
}
