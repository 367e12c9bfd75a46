import type { TableConfig } from "../config/table-config.js";
import { kernelChoice } from "../kernels/kernel-choice.js";
import { lookupPool, PARALLEL_MIN_COST } from "../kernels/lookup-pool.js";
import { nativeAddon, type NativeExports, type NativeTableSet } from "../kernels/native-addon.js";
import type { DenseTensor } from "../tensor/dense-tensor.js";

let refsRead = 0;

/** Test hook: how many arrays staged lookups have read in place (refs) in this thread. */
export function stagedRefsRead(): number {
  return refsRead;
}

/** The native addon and the embedding's table set, when staged lookups can run now. */
export interface StagedNative {
  readonly addon: NativeExports;
  readonly set: NativeTableSet;
}

/**
 * Runs staging buffers (the layout of staging-layout.ts, filled by small-lookup.ts or keyed-lookup.ts) for
 * one embedding: it owns the embedding's one native table set, and sends each lookup to this thread (one
 * `smallLookup` call) or, with worker threads, as a staged request shared with the pool's workers.
 */
export class StagedExecutor {
  private set: NativeTableSet | null = null;
  private released = false;

  constructor(
    private readonly tables: readonly TableConfig[],
    private readonly views: ReadonlyMap<TableConfig, DenseTensor<Float32Array>>,
    /** Lookup threads of the embedding. */
    readonly threads = 1,
    /** The embedding's table set in the worker pool (registered on first use); needed for workers. */
    private readonly pooledSet: (() => number) | null = null,
  ) {}

  /** The addon and table set when the native kernels are chosen, built and not released; else null. */
  native(): StagedNative | null {
    if (this.released || kernelChoice() !== "native") return null;
    const addon = nativeAddon();
    if (addon === null) return null;
    this.set ??= addon.createTableSet(
      this.tables.map((t) => this.views.get(t)!.data),
      Int32Array.from(this.tables, (t) => t.dim),
    );
    return this.set === null ? null : { addon, set: this.set };
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

  /**
   * Runs the first `staged` words of `work` into `out`: on this thread, or shared with the workers when
   * the embedding has them and the lookup is one the pool would split. `localOnly`: `out` is caller
   * memory workers cannot write in place (an `into` outside shared memory, whose buffer may hold other
   * data). `refs`: the arrays the staging reads in place (resolved here; this call returns only once no
   * thread reads them). False when a feature does not fit (nothing written).
   */
  run(
    { addon, set }: StagedNative,
    work: Int32Array,
    staged: number,
    out: Float32Array,
    ids: number,
    localOnly: boolean,
    refs: readonly (Int32Array | Float32Array)[],
  ): boolean {
    refsRead += refs.length;
    if (!this.shares(ids) || localOnly || this.pooledSet === null) {
      if (refs.length > 0 && !addon.resolveRefs(work, ...refs)) return false;
      return addon.smallLookup(set, work, out) === 0;
    }
    return lookupPool().runStaged(
      this.pooledSet(),
      work.subarray(0, staged),
      out,
      this.threads,
      (w, o, control) => addon.smallLookupShare(set, w, o, control),
      refs.length > 0 ? (w) => addon.resolveRefs(w, ...refs) : null,
    );
  }

  /**
   * Runs the first `staged` words of `work` into `out` on worker threads only (`embeddingLookupAsync`):
   * one worker for a request, `threads` for a lookup the pool would split. False (nothing started) when a
   * feature does not fit, `out` is caller memory workers cannot write, or there is no pool.
   */
  start(
    { addon, set }: StagedNative,
    work: Int32Array,
    staged: number,
    out: Float32Array,
    ids: number,
    localOnly: boolean,
  ): Promise<void> | false {
    if (localOnly || this.pooledSet === null) return false;
    const request = work.subarray(0, staged);
    if (addon.smallLookupCheck(set, request, out.length) !== 0) return false;
    const workers = ids < PARALLEL_MIN_COST ? 1 : this.threads;
    return lookupPool().runStagedAsync(this.pooledSet(), request, out, workers);
  }

  /** Drops the native table set (idempotent); later staged lookups are declined. */
  release(): void {
    this.released = true;
    if (this.set !== null) nativeAddon()?.releaseTableSet(this.set);
    this.set = null;
  }
}
