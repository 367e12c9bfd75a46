import assert from "node:assert/strict";
import { batchKernels } from "../../src/kernels/batch-kernels.js";
import { float32Storage } from "../../src/kernels/table-storage.js";
import type { KernelJob } from "../../src/kernels/kernel-job.js";
import { jobRows, rowValues } from "../../src/kernels/kernel-job.js";
import type { LookupPool } from "../../src/kernels/lookup-pool.js";
import type { LookupPlan } from "../../src/embedding/lookup-plan.js";
import { PlanBatchWriter } from "../../src/embedding/plan-batch.js";

/** Kernel jobs on tables of a pool's set, written as one lookup batch (features cut into pieces). */
export interface PoolJob {
  readonly job: KernelJob;
  readonly table: number;
  readonly dim: number;
}

function batchOf(jobs: readonly PoolJob[], threads: number) {
  const writer = new PlanBatchWriter();
  const works = jobs.map(({ job, table, dim }) => ({
    plan: { ...job, outputShape: [jobRows(job), rowValues(job, dim)] } as LookupPlan,
    table,
  }));
  const layout = writer.write(works, false, threads, null);
  const sizes = jobs.map(({ job, dim }) => jobRows(job) * rowValues(job, dim));
  const split = (out: Float32Array): Float32Array[] => {
    let at = 0;
    return sizes.map((size) => out.subarray(at, (at += size)));
  };
  return {
    work: writer.words.slice(0, layout.staged),
    out: new Float32Array(layout.outSize),
    ids: layout.ids,
    split,
  };
}

/** Runs `jobs` synchronously on the calling thread and up to `threads - 1` of the pool's workers. */
export function runOnPool(
  pool: LookupPool,
  set: number,
  tables: readonly Float32Array[],
  jobs: readonly PoolJob[],
  threads: number,
): Float32Array[] {
  const { work, out, split } = batchOf(jobs, threads);
  const kernels = batchKernels();
  // Each table's dim, from the jobs that read it.
  const dims = tables.map((_, t) => jobs.find((j) => j.table === t)?.dim ?? 1);
  const tableSet = kernels.createSet(float32Storage(tables, dims))!;
  const done = pool.runStaged(set, work, out, threads, (w, o, control) =>
    kernels.share(tableSet, w, o, control, false),
  );
  assert.ok(done, "the batch ran");
  return split(out);
}

/** Runs `jobs` on `workers` of the pool's workers only. */
export async function runOnWorkers(
  pool: LookupPool,
  set: number,
  jobs: readonly PoolJob[],
  workers: number,
): Promise<Float32Array[]> {
  const { work, out, split } = batchOf(jobs, workers);
  await pool.runStagedAsync(set, work, out, workers);
  return split(out);
}
