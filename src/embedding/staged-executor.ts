import type { TableConfig } from "../config/table-config.js";
import { batchKernels, type BatchKernels, type BatchTableSet } from "../kernels/batch-kernels.js";
import { asStoredTable, type PlannerTables } from "./serving-embedding-lookup.js";
import { lookupPool, PARALLEL_MIN_COST } from "../kernels/lookup-pool.js";

let refsRead = 0;

/** Test hook: how many arrays staged lookups have read in place (refs) in this thread. */
export function stagedRefsRead(): number {
  return refsRead;
}

/** The batch kernels of this thread and the embedding's table set for them. */
export interface StagedKernels {
  readonly kernels: BatchKernels;
  readonly set: BatchTableSet;
}

/**
 * Runs lookup batches (src/kernels/batch-layout.ts, filled by small-lookup.ts or keyed-lookup.ts) for one
 * embedding with the kernel family chosen for this thread (native, WebAssembly or JS: one interface,
 * batch-kernels.ts): it owns the embedding's table set for that family, and sends each lookup to this
 * thread (one `run` call) or, with worker threads, as a staged request shared with the pool's workers.
 */
export class StagedExecutor {
  private set: BatchTableSet | null = null;
  private setKernels: BatchKernels | null = null;
  /** `kernels()`'s answer, made once per table set (not per lookup). */
  private current: StagedKernels | null = null;
  private released = false;

  constructor(
    private readonly tables: readonly TableConfig[],
    private readonly views: PlannerTables,
    /** Lookup threads of the embedding. */
    readonly threads = 1,
    /** The embedding's table set in the worker pool (registered on first use); needed for workers. */
    private readonly pooledSet: (() => number) | null = null,
  ) {}

  /** This thread's batch kernels and the embedding's table set for them; null once released. */
  kernels(): StagedKernels | null {
    if (this.released) return null;
    const kernels = batchKernels();
    if (kernels !== this.setKernels) {
      if (this.set !== null) this.setKernels!.releaseSet(this.set);
      this.setKernels = kernels;
      this.current = null;
      this.set = kernels.createSet({
        tables: this.tables.map((t) => asStoredTable(this.views.get(t)!, t.dim)),
      });
      if (this.set !== null) this.current = { kernels, set: this.set };
    }
    return this.current;
  }

  /**
   * Whether a synchronous lookup of `ids` ids is shared with worker threads (unless its output is caller
   * memory they cannot write). Only those read long arrays in place: the calling thread then resolves them
   * instead of copying them before any worker can start, and the threads check their shares in parallel.
   * On one thread the copy is cheaper (bench/results/2026-11-30-fast-kernels.md: refs 3-5 % slower).
   */
  shares(ids: number): boolean {
    return this.threads > 1 && ids >= PARALLEL_MIN_COST && this.pooledSet !== null;
  }

  /** Whether a synchronous lookup of `ids` ids may read its long arrays in place (refs). */
  readsInPlace(ids: number): boolean {
    return this.shares(ids) && batchKernels().readsInPlace;
  }

  /**
   * Runs the first `staged` words of `work` into `out`: on this thread, or shared with the workers when
   * the embedding has them and the lookup is one the pool would split. `localOnly`: `out` is caller
   * memory workers cannot write in place (an `into` outside shared memory, whose buffer may hold other
   * data). `refs`: the arrays the staging reads in place (resolved here; this call returns only once no
   * thread reads them). False when a feature does not fit (nothing written).
   */
  run(
    { kernels, set }: StagedKernels,
    work: Int32Array,
    staged: number,
    out: Float32Array,
    ids: number,
    localOnly: boolean,
    refs: readonly (Int32Array | Float32Array)[],
  ): boolean {
    refsRead += refs.length;
    if (!this.shares(ids) || localOnly || this.pooledSet === null) {
      if (refs.length > 0 && !kernels.resolveRefs(work, refs)) return false;
      return kernels.run(set, work, out) === 0;
    }
    return lookupPool().runStaged(
      this.pooledSet(),
      work.subarray(0, staged),
      out,
      this.threads,
      (w, o, control) => kernels.share(set, w, o, control, false),
      refs.length > 0 ? (w) => kernels.resolveRefs(w, refs) : null,
    );
  }

  /**
   * Runs the first `staged` words of `work` into `out` on worker threads only (`embeddingLookupAsync`):
   * one worker for a request, `threads` for a lookup the pool would split. False (nothing started) when a
   * feature does not fit, `out` is caller memory workers cannot write, or there is no pool.
   */
  start(
    { kernels, set }: StagedKernels,
    work: Int32Array,
    staged: number,
    out: Float32Array,
    ids: number,
    localOnly: boolean,
  ): Promise<void> | false {
    if (localOnly || this.pooledSet === null) return false;
    const request = work.subarray(0, staged);
    if (kernels.check(set, request, out.length) !== 0) return false;
    const workers = ids < PARALLEL_MIN_COST ? 1 : this.threads;
    return lookupPool().runStagedAsync(this.pooledSet(), request, out, workers);
  }

  /** Drops the table set (idempotent); later staged lookups are declined. */
  release(): void {
    this.released = true;
    if (this.set !== null) this.setKernels!.releaseSet(this.set);
    this.set = null;
    this.current = null;
  }
}
