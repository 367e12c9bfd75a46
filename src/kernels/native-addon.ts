import { createRequire } from "node:module";

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
   * fit: `control[2]` set, nothing written by any thread) runs the features it claims. The caller claims
   * from the front, workers `fromBack`. 0; f + 1 when this thread found feature f not fitting; -2 when
   * another thread did; -1 for bad arguments.
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
}

/** An opaque native table set (an N-API external). */
export type NativeTableSet = { readonly __nativeTableSet: unique symbol };

let addon: NativeExports | null | undefined;

export function nativeAddon(): NativeExports | null {
  if (addon !== undefined) return addon;
  try {
    // dist/src/kernels/ → the package root, where node-gyp puts build/Release/.
    addon = createRequire(import.meta.url)("../../../build/Release/lookup_kernels.node") as NativeExports;
  } catch {
    addon = null;
  }
  return addon;
}

/** Whether the native addon was built and loads in this thread. */
export function nativeKernelsAvailable(): boolean {
  return nativeAddon() !== null;
}
