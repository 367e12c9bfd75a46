import { checkBatch, runBatch, shareBatch, type PortableTableSet } from "./batch-runner.js";
import { kernelChoice } from "./kernel-choice.js";
import { nativeAddon, tunePrefetch, type NativeExports, type NativeTableSet } from "./native-addon.js";
import { STORAGE_CODE } from "./quantized-rows.js";
import type { TableStorage } from "./table-storage.js";
import { wasmKernelsAvailable } from "./wasm-kernels.js";

/** A kernel family: the native addon, the WebAssembly SIMD kernels, or the JS reference kernels. */
export type KernelFamily = "native" | "wasm" | "js";

/** A family's handle on one embedding's tables (indexed by a batch's D_TABLE). */
export type BatchTableSet = NativeTableSet | PortableTableSet;

/**
 * The one interface every kernel family implements for lookup batches (batch-layout.ts). Codes follow
 * the native `smallLookup`: 0 done, f + 1 when feature f does not fit (nothing written), -1 for a
 * malformed batch, -2 (share) when another thread found a feature not fitting.
 */
export interface BatchKernels {
  readonly family: KernelFamily;
  /** Whether batches may hold refs (caller arrays read in place: the native addon only). */
  readonly readsInPlace: boolean;
  /** The family's handle on a table set (null when it cannot take this storage). */
  createSet(storage: TableStorage): BatchTableSet | null;
  releaseSet(set: BatchTableSet): void;
  /** Checks every feature, then runs all of them into `out`. */
  run(set: BatchTableSet, work: Int32Array, out: Float32Array): number;
  /** `run`'s checks alone, for a batch that worker threads then run with `share`. */
  check(set: BatchTableSet, work: Int32Array, outLength: number): number;
  /** This thread's share of a batch run by several threads (control words: batch-layout.ts C_*). */
  share(
    set: BatchTableSet,
    work: Int32Array,
    out: Float32Array,
    control: Int32Array,
    fromBack: boolean,
  ): number;
  /** Writes the refs' pointers into the batch's ref table; false when it cannot (nothing usable). */
  resolveRefs(work: Int32Array, refs: readonly (Int32Array | Float32Array)[]): boolean;
}

function nativeKernels(addon: NativeExports): BatchKernels {
  return {
    family: "native",
    readsInPlace: true,
    createSet: ({ tables }) => {
      // Once per process, on the float32 tables (quantized ones keep the default distance).
      const float32 = tables.filter((t) => t.kind === "float32");
      tunePrefetch(
        float32.map((t) => t.data as Float32Array),
        float32.map((t) => t.dim),
      );
      return addon.createTableSet(
        tables.map((t) => t.data),
        Int32Array.from(tables, (t) => t.dim),
        Int32Array.from(tables, (t) => STORAGE_CODE[t.kind]),
      );
    },
    releaseSet: (set) => addon.releaseTableSet(set as NativeTableSet),
    run: (set, work, out) => addon.smallLookup(set as NativeTableSet, work, out),
    check: (set, work, outLength) => addon.smallLookupCheck(set as NativeTableSet, work, outLength),
    share: (set, work, out, control, fromBack) =>
      addon.smallLookupShare(set as NativeTableSet, work, out, control, fromBack),
    resolveRefs: (work, refs) => addon.resolveRefs(work, ...refs),
  };
}

function portableKernels(family: "wasm" | "js"): BatchKernels {
  return {
    family,
    readsInPlace: false,
    createSet: (storage) => ({ tables: [...storage.tables] }),
    releaseSet: () => {},
    run: (set, work, out) => runBatch(set as PortableTableSet, work, out),
    check: (set, work, outLength) => checkBatch(set as PortableTableSet, work, outLength),
    share: (set, work, out, control, fromBack) =>
      shareBatch(set as PortableTableSet, work, out, control, fromBack),
    resolveRefs: (_work, refs) => refs.length === 0,
  };
}

let cached: { choice: string; kernels: BatchKernels } | null = null;

/**
 * The batch kernels of this thread, chosen once per kernel choice (kernel-choice.ts): the native addon
 * when chosen and built, else the WebAssembly kernels when this runtime has them, else the JS reference.
 * The portable runner runs each feature through `runJob`, which makes the same wasm/JS choice per table.
 */
export function batchKernels(): BatchKernels {
  const choice = kernelChoice();
  if (cached !== null && cached.choice === choice) return cached.kernels;
  const addon = choice === "native" ? nativeAddon() : null;
  const kernels =
    addon !== null
      ? nativeKernels(addon)
      : portableKernels(choice !== "js" && wasmKernelsAvailable() ? "wasm" : "js");
  cached = { choice, kernels };
  return kernels;
}

/**
 * The native batch kernels whatever this thread's choice, or null without the addon: a worker runs a
 * batch holding refs with them (refs exist only where the calling thread chose the native kernels).
 */
export function nativeBatchKernels(): BatchKernels | null {
  const addon = nativeAddon();
  if (addon === null) return null;
  nativeCached ??= nativeKernels(addon);
  return nativeCached;
}

let nativeCached: BatchKernels | undefined;
