import type { KernelJob } from "./kernel-job.js";
import { gatherRows, reduceBagsSegmentOrder, reduceBagsWeighted, scatterSequence } from "./reduce.js";

/**
 * Runs one job against a table into `out` from `outOffset` (`jobRows × rowValues` values). The single
 * place where kernels are chosen, on the calling thread and in workers alike.
 */
export function runJob(
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
