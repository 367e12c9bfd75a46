import { sliceJob, type KernelJob } from "./kernel-job.js";
import { gatherRows, reduceBagsSegmentOrder, reduceBagsWeighted, scatterSequence } from "./reduce.js";
import { runWasmJob } from "./wasm-kernels.js";

/**
 * Runs one job against a table into `out` from `outOffset` (`jobRows × rowValues` values). The single
 * place where kernels are chosen, on the calling thread and in workers alike: the WebAssembly SIMD
 * kernels when the table lives in a kernel arena, else the JS reference kernels (same bits either way).
 */
export function runJob(
  job: KernelJob,
  table: Float32Array,
  dim: number,
  out: Float32Array,
  outOffset: number,
): void {
  const fallback = (r0: number, r1: number): void => {
    const perRow = job.kind === "sequence" ? job.sequenceLength * dim : dim;
    runReference(sliceJob(job, r0, r1), table, dim, out, outOffset + r0 * perRow);
  };
  if (runWasmJob(job, table, dim, out, outOffset, fallback)) return;
  runReference(job, table, dim, out, outOffset);
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
