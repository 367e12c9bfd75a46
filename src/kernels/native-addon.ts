import { createRequire } from "node:module";
import { InvalidArgumentError } from "../errors.js";
import { ENV, isaChoice, prefetchChoice } from "../flags.js";

/**
 * The optional native kernels (native/: kernels.c, batch.c, addon.c; an N-API addon built at install time by
 * scripts/build-native.mjs into build/Release/). They read tables, ids, splits, weights and positions in
 * place and write straight into the output array, bit-identical to the reference kernels. Absent (build
 * failed, unsupported platform): every call returns false and the WebAssembly / JS kernels run.
 */
export interface NativeExports {
  bagsSegment(
    table: Float32Array,
    dim: number,
    splits: Int32Array,
    ids: Int32Array,
    rowStart: number,
    rowEnd: number,
    mode: number,
    out: Float32Array,
    outOffset: number,
  ): boolean;
  bagsWeighted(
    table: Float32Array,
    dim: number,
    splits: Int32Array,
    ids: Int32Array,
    weights: Float32Array | null,
    rowStart: number,
    rowEnd: number,
    mode: number,
    out: Float32Array,
    outOffset: number,
  ): boolean;
  sequence(
    table: Float32Array,
    dim: number,
    splits: Int32Array,
    ids: Int32Array,
    positions: Int32Array | null,
    rowStart: number,
    rowEnd: number,
    sequenceLength: number,
    out: Float32Array,
    outOffset: number,
  ): boolean;
  gather(
    table: Float32Array,
    dim: number,
    ids: Int32Array,
    rowStart: number,
    rowEnd: number,
    out: Float32Array,
    outOffset: number,
  ): boolean;
  /** madvise(MADV_HUGEPAGE) on the 2 MiB-aligned part of the view's memory; the bytes advised. */
  adviseHugePages(view: ArrayBufferView): number;
  /**
   * Small lookups (src/embedding/small-lookup.ts). A table set holds the tables' pointers (and references
   * keeping the views alive) for `smallLookup`; `null` when an argument does not fit.
   */
  createTableSet(
    tables: readonly (Float32Array | Uint8Array)[],
    dims: Int32Array,
    /** Storage kind per table (quantized-rows.ts STORAGE_CODE); all float32 when absent. */
    kinds?: Int32Array,
  ): NativeTableSet | null;
  /** Drops the set's table references (idempotent); lookups on it fail afterwards. */
  releaseTableSet(set: NativeTableSet): void;
  /**
   * Runs every feature described in `work` (layout: SMALL_* in native/batch.c) into `out`.
   * 0: done; -1: bad arguments; f + 1: feature f does not fit (ids, splits, sizes). Writes nothing unless 0.
   */
  smallLookup(set: NativeTableSet, work: Int32Array, out: Float32Array): number;
  /** smallLookup's checks alone: 0, f + 1 for the first feature that does not fit, -1 for bad arguments. */
  smallLookupCheck(set: NativeTableSet, work: Int32Array, outLength: number): number;
  /**
   * This thread's share of a staged request, in two phases over the request's control words: it checks
   * the features it claims, waits until every feature is checked by some thread, then (unless one did not
   * fit: `control[2]` set, nothing written by any thread) runs the tasks it claims (`control[12]` output
   * rows of one feature each, 0: whole features; batch-layout.ts `taskRows`). The caller claims from the
   * front, workers `fromBack`. 0; f + 1 when this thread found feature f not fitting; -2 when another
   * thread did; -1 for bad arguments.
   */
  smallLookupShare(
    set: NativeTableSet,
    work: Int32Array,
    out: Float32Array,
    control: Int32Array,
    fromBack?: boolean,
  ): number;
  /**
   * Writes the data pointer, length and type of each of `refs` into `work`'s ref table (staging-layout.ts).
   * false when their count differs from the table's or one is not an Int32Array or Float32Array over a
   * non-shared ArrayBuffer. The refs must stay unchanged until the lookup returns (synchronous only).
   */
  resolveRefs(work: Int32Array, ...refs: (Int32Array | Float32Array)[]): boolean;
  /** Index of the first id outside `[0, limit)`, -1 when all are in range (-2: bad arguments). */
  firstOutsideRange(ids: Int32Array, limit: number): number;
  /** The ISA level in use (null: this CPU runs none of the compiled ones) and the prefetch distance. */
  kernelIsa(): NativeIsa;
  /** Selects an ISA level for the process (`native`: the best); false when this CPU cannot run it. */
  selectIsa(name: string): boolean;
  /** Sets the prefetch distance (ids ahead, 0..256) for the process; false when out of range. */
  prefetchDistance(ids: number): boolean;
  /**
   * Calibrates the prefetch distance on a filled table, once per process (unless set, or the table is
   * under 64 MiB): the ns per id of each candidate distance when it measured.
   */
  calibratePrefetch(
    table: Float32Array,
    dim: number,
  ): Pick<NativeIsa, "prefetch" | "prefetchSource"> & { nsPerId?: number[]; candidates?: number[] };
}

/** What the native kernels run with in this process (native/dispatch.c). */
export interface NativeIsa {
  /** `v2`, `v3`, `v4` (x86-64 levels), `neon` (aarch64) or `generic`; null when none runs here. */
  active: string | null;
  /** Every level this CPU runs, best first. */
  supported: string[];
  /** Ids ahead whose rows the kernels prefetch. */
  prefetch: number;
  /** `default` (not yet calibrated), `calibrated` or `set` (TPU_EMBEDDING_PREFETCH). */
  prefetchSource: "default" | "calibrated" | "set";
}

/** An opaque native table set (an N-API external). */
export type NativeTableSet = { readonly __nativeTableSet: unique symbol };

let addon: NativeExports | null | undefined;

/**
 * The addon, with the ISA level (`TPU_EMBEDDING_ISA`) and prefetch distance (`TPU_EMBEDDING_PREFETCH`)
 * asked for applied; null when it was not built, does not load, or the CPU runs none of its levels.
 */
export function nativeAddon(): NativeExports | null {
  if (addon !== undefined) return addon;
  let loaded: NativeExports | null;
  try {
    // dist/src/kernels/ → the package root, where node-gyp puts build/Release/.
    loaded = createRequire(import.meta.url)("../../../build/Release/lookup_kernels.node") as NativeExports;
  } catch {
    loaded = null;
  }
  if (loaded !== null && loaded.kernelIsa().active === null) loaded = null;
  if (loaded !== null) {
    const isa = isaChoice();
    if (!loaded.selectIsa(isa))
      throw new InvalidArgumentError(
        `${ENV.isa}=${isa} cannot run on this CPU; it runs ${loaded.kernelIsa().supported.join(", ")} (or native).`,
      );
    const prefetch = prefetchChoice();
    if (prefetch !== "auto") loaded.prefetchDistance(prefetch);
  }
  return (addon = loaded);
}

/**
 * Tunes the native kernels' prefetch distance on the largest of these (filled) tables, once per process,
 * unless `TPU_EMBEDDING_PREFETCH` set it (native/dispatch.c: a few ms).
 */
export function tunePrefetch(tables: readonly Float32Array[], dims: readonly number[]): void {
  const k = nativeAddon();
  if (k === null || prefetchChoice() !== "auto" || k.kernelIsa().prefetchSource !== "default") return;
  let largest = -1;
  tables.forEach((t, i) => {
    if (largest < 0 || t.length > tables[largest].length) largest = i;
  });
  if (largest >= 0) k.calibratePrefetch(tables[largest], dims[largest]);
}

/** The native kernels' ISA level and prefetch distance in this process, or null without the addon. */
export function nativeIsa(): NativeIsa | null {
  return nativeAddon()?.kernelIsa() ?? null;
}

/** Whether the native addon was built and loads in this thread. */
export function nativeKernelsAvailable(): boolean {
  return nativeAddon() !== null;
}
