import { jobRows, rowValues, sliceJob, type KernelJob } from "./kernel-job.js";
import { gatherRows, reduceBagsSegmentOrder, reduceBagsWeighted, scatterSequence } from "./reduce.js";
import { kernelChoice } from "./kernel-choice.js";
import { runNativeJob } from "./native-kernels.js";
import { runWasmJob } from "./wasm-kernels.js";

/**
 * Runs rows `[rowStart, rowEnd)` of a job (all by default) against a table, writing row `rowStart` at
 * `out[outOffset]` (`rowValues` values per row). The single place where kernels are chosen, on the
 * calling thread and in workers alike: the WebAssembly SIMD kernels when the table lives in a kernel
 * arena, else the JS reference kernels (same bits either way).
 */
export function runJob(
  job: KernelJob,
  table: Float32Array,
  dim: number,
  out: Float32Array,
  outOffset: number,
  rowStart = 0,
  rowEnd = jobRows(job),
): void {
  if (runNativeJob(job, table, dim, out, outOffset, rowStart, rowEnd)) return;
  const perRow = rowValues(job, dim);
  const fallback = (row: number): void => {
    runReference(sliceJob(job, row, row + 1), table, dim, out, outOffset + (row - rowStart) * perRow);
  };
  if (kernelChoice() !== "js" && runWasmJob(job, table, dim, out, outOffset, fallback, rowStart, rowEnd))
    return;
  const whole = rowStart === 0 && rowEnd === jobRows(job);
  runReference(whole ? job : sliceJob(job, rowStart, rowEnd), table, dim, out, outOffset);
}

/** The portable JS kernels (src/kernels/reduce.ts), TF's float32 order step by step. */
export function runReference(
  job: KernelJob,
  table: Float32Array,
  dim: number,
  out: Float32Array,
  outOffset: number,
): void {
  switch (job.kind) {
    case "gather":
      gatherRows(table, dim, job.ids, out, outOffset);
      return;
    case "bags":
      if (job.order === "segment")
        reduceBagsSegmentOrder(table, dim, job.batch, job.combiner, out, outOffset);
      else reduceBagsWeighted(table, dim, job.batch, job.combiner, out, outOffset);
      return;
    case "sequence":
      scatterSequence(table, dim, job.batch, job.sequenceLength, out, outOffset);
      return;
  }
}
