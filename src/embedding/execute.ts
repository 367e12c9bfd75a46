import { runStoredJob } from "../kernels/run-job.js";
import type { StoredTable } from "../kernels/table-storage.js";
import type { LookupPlan } from "./lookup-plan.js";

/**
 * Runs a plan against a stored table into caller-owned memory (`out` from `outOffset`,
 * `planOutputSize(plan)` values). Kernel choice lives in `runJob` (src/kernels), which the worker pool
 * uses too.
 */
export function executePlan(plan: LookupPlan, table: StoredTable, out: Float32Array, outOffset = 0): void {
  runStoredJob(plan, table, out, outOffset);
}
