import type { Combiner } from "../config/table-config.js";
import type { BagBatch } from "./bag-batch.js";

/**
 * One feature's kernel work, independent of the embedding layer: what to gather from one table and how
 * to combine it. `LookupPlan` (src/embedding/lookup-plan.ts) is structurally a `KernelJob`. Jobs hold only
 * typed arrays and plain values, so they can be split by rows and posted to worker threads.
 */
export type KernelJob =
  | { readonly kind: "gather"; readonly ids: Int32Array }
  | {
      readonly kind: "bags";
      readonly order: "segment" | "weighted";
      readonly combiner: Combiner;
      readonly batch: BagBatch;
    }
  | { readonly kind: "sequence"; readonly sequenceLength: number; readonly batch: BagBatch };

/** Output rows of a job (ids for a dense gather, bags or sequences otherwise). */
export function jobRows(job: KernelJob): number {
  return job.kind === "gather" ? job.ids.length : job.batch.rowSplits.length - 1;
}

/** Float32 values one output row takes. */
export function rowValues(job: KernelJob, dim: number): number {
  return job.kind === "sequence" ? job.sequenceLength * dim : dim;
}

/** Ids the job gathers in total (its memory traffic, the cost used to balance threads). */
export function jobIds(job: KernelJob): number {
  return job.kind === "gather" ? job.ids.length : job.batch.ids.length;
}

/** Ids gathered by rows `[0, r)`. */
export function idsBefore(job: KernelJob, r: number): number {
  return job.kind === "gather" ? r : job.batch.rowSplits[r] - job.batch.rowSplits[0];
}

/**
 * Rows `[r0, r1)` of `job` as a self-contained job in fresh buffers (row splits rebased to 0), so
 * posting it to a worker copies only those rows. The whole job is returned as is when nothing is cut.
 */
export function sliceJob(job: KernelJob, r0: number, r1: number): KernelJob {
  if (job.kind === "gather") return { kind: "gather", ids: job.ids.slice(r0, r1) };
  const { rowSplits, ids, weights, positions } = job.batch;
  const s0 = rowSplits[r0];
  const s1 = rowSplits[r1];
  const splits = new Int32Array(r1 - r0 + 1);
  for (let r = r0; r <= r1; r++) splits[r - r0] = rowSplits[r] - s0;
  const batch: BagBatch = {
    rowSplits: splits,
    ids: ids.slice(s0, s1),
    weights: weights === null ? null : weights.slice(s0, s1),
    positions: positions === null ? null : positions.slice(s0, s1),
  };
  return job.kind === "bags"
    ? { kind: "bags", order: job.order, combiner: job.combiner, batch }
    : { kind: "sequence", sequenceLength: job.sequenceLength, batch };
}
