import { runJob } from "../kernels/run-job.js";
import type { LookupPlan } from "./lookup-plan.js";

/**
 * Runs a plan against a table into caller-owned memory (`out` from `outOffset`, `planOutputSize(plan)`
 * values). Kernel choice lives in `runJob` (src/kernels), which the worker pool uses too.
 */
export function executePlan(
  plan: LookupPlan,
  table: Float32Array,
  dim: number,
  out: Float32Array,
  outOffset = 0,
): void {
  runJob(plan, table, dim, out, outOffset);
}
