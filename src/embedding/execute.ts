import {
  gatherRows,
  reduceBagsSegmentOrder,
  reduceBagsWeighted,
  scatterSequence,
} from "../kernels/reduce.js";
import type { LookupPlan } from "./lookup-plan.js";

/**
 * Runs a plan against a table into caller-owned memory (`out` from `outOffset`, `planOutputSize(plan)`
 * values). The one place where the embedding layer calls kernels, so faster ones can be swapped in here.
 */
export function executePlan(
  plan: LookupPlan,
  table: Float32Array,
  dim: number,
  out: Float32Array,
  outOffset = 0,
): void {
  switch (plan.kind) {
    case "gather":
      gatherRows(table, dim, plan.ids, out, outOffset);
      return;
    case "bags":
      if (plan.order === "segment")
        reduceBagsSegmentOrder(table, dim, plan.batch, plan.combiner, out, outOffset);
      else reduceBagsWeighted(table, dim, plan.batch, plan.combiner, out, outOffset);
      return;
    case "sequence":
      scatterSequence(table, dim, plan.batch, plan.sequenceLength, out, outOffset);
      return;
  }
}
