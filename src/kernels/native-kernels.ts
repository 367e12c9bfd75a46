import { nativeMinIds } from "../flags.js";
import { kernelChoice } from "./kernel-choice.js";
import { nativeAddon } from "./native-addon.js";
export { nativeKernelsAvailable } from "./native-addon.js";
import type { KernelJob } from "./kernel-job.js";
import { idsBefore, jobRows } from "./kernel-job.js";
import { tableMemory } from "./table-memory.js";
import { wasmKernelsAvailable } from "./wasm-kernels.js";

// Jobs of fewer ids than `nativeMinIds()` (src/flags.ts, default 64) stay on the wasm kernels: a native
// call costs ~1 µs more in N-API argument handling (bench/results/2026-11-30-fast-kernels.md).
export { setNativeMinIds } from "../flags.js";

function wasmWouldRun(table: Float32Array, dim: number): boolean {
  return (
    (dim & 3) === 0 &&
    (table.byteOffset & 15) === 0 &&
    tableMemory(table) !== undefined &&
    wasmKernelsAvailable()
  );
}

const MODE = { sum: 0, mean: 1, sqrtn: 2 } as const;

/**
 * Runs rows `[rowStart, rowEnd)` of `job` with the native kernels, writing row `rowStart` at
 * `out[outOffset]`; returns false (nothing written) when native kernels are not chosen, not built, or
 * the addon's checks reject the inputs (ids outside the table, output too small), so the caller falls back.
 */
export function runNativeJob(
  job: KernelJob,
  table: Float32Array,
  dim: number,
  out: Float32Array,
  outOffset: number,
  rowStart = 0,
  rowEnd = jobRows(job),
): boolean {
  if (kernelChoice() !== "native") return false;
  const k = nativeAddon();
  if (k === null) return false;
  if (idsBefore(job, rowEnd) - idsBefore(job, rowStart) < nativeMinIds() && wasmWouldRun(table, dim))
    return false;
  if (job.kind === "gather") return k.gather(table, dim, job.ids, rowStart, rowEnd, out, outOffset);
  const { rowSplits, ids, weights, positions } = job.batch;
  if (job.kind === "sequence") {
    const length = job.sequenceLength;
    return k.sequence(table, dim, rowSplits, ids, positions, rowStart, rowEnd, length, out, outOffset);
  }
  const mode = MODE[job.combiner];
  if (job.order === "segment")
    return k.bagsSegment(table, dim, rowSplits, ids, rowStart, rowEnd, mode, out, outOffset);
  return k.bagsWeighted(table, dim, rowSplits, ids, weights, rowStart, rowEnd, mode, out, outOffset);
}

/** Below this many ids the JS loop beats the call into the addon. */
const NATIVE_RANGE_CHECK_MIN_IDS = 512;

/**
 * Index of the first id outside `[0, limit)` (-1: none), checked by the native addon when native kernels
 * are chosen and the array is large enough to gain; `null` to let the caller's JS loop do it.
 */
export function firstOutsideRange(ids: Int32Array, limit: number): number | null {
  if (ids.length < NATIVE_RANGE_CHECK_MIN_IDS || kernelChoice() !== "native") return null;
  const found = nativeAddon()?.firstOutsideRange(ids, limit);
  return found === undefined || found === -2 ? null : found;
}
