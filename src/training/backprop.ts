import type { LookupPlan } from "../embedding/lookup-plan.js";
import type { BagBatch } from "../kernels/bag-batch.js";
import type { TouchedRows } from "./touched-rows.js";

/**
 * Back-propagation through one feature's lookup: the gradient of the lookup's output (laid out as
 * `plan.outputShape`) becomes per-id gradients summed into the table's touched rows. The arithmetic is
 * the float32 arithmetic of TF's CPU gradients for the same forward ops.
 */

/** The table rows a plan read: these are the rows the step touches (pruned ids and padding are not in it). */
export function lookedUpIds(plan: LookupPlan): Int32Array {
  return plan.kind === "gather" ? plan.ids : plan.batch.ids;
}

/** Adds `gradient` (the output gradient of `plan`) into `touched`. `scratch` holds at least `dim` floats. */
export function backpropagate(
  plan: LookupPlan,
  gradient: Float32Array,
  touched: TouchedRows,
  scratch: Float32Array,
): void {
  switch (plan.kind) {
    case "gather":
      // Dense input: output row i is table row ids[i].
      for (let i = 0; i < plan.ids.length; i++) touched.addScaled(plan.ids[i], gradient, i * touched.dim, 1);
      return;
    case "sequence":
      backpropSequence(plan.batch, plan.sequenceLength, gradient, touched);
      return;
    case "bags":
      if (plan.order === "segment") backpropSegment(plan.batch, plan.combiner, gradient, touched);
      else backpropWeighted(plan.batch, plan.combiner, gradient, touched, scratch);
      return;
  }
}

/** Each position's gradient goes to the id at that position; padding positions have no id. */
function backpropSequence(
  batch: BagBatch,
  sequenceLength: number,
  gradient: Float32Array,
  touched: TouchedRows,
): void {
  const { rowSplits, ids, positions } = batch;
  const dim = touched.dim;
  for (let r = 0; r < rowSplits.length - 1; r++) {
    const start = rowSplits[r];
    for (let j = start; j < rowSplits[r + 1]; j++) {
      const position = positions === null ? j - start : positions[j];
      touched.addScaled(ids[j], gradient, (r * sequenceLength + position) * dim, 1);
    }
  }
}

/**
 * Unweighted sparse bags (TF's SparseSegmentSum/Mean/SqrtN): the gradient kernels scale each bag's
 * gradient by a float32 `1/n` (mean) or `1/√n` (sqrtn), whatever order the forward pass summed in.
 */
function backpropSegment(
  batch: BagBatch,
  combiner: "mean" | "sum" | "sqrtn",
  gradient: Float32Array,
  touched: TouchedRows,
): void {
  const { rowSplits, ids } = batch;
  const dim = touched.dim;
  for (let r = 0; r < rowSplits.length - 1; r++) {
    const start = rowSplits[r];
    const n = rowSplits[r + 1] - start;
    if (n === 0) continue;
    const factor =
      combiner === "sum"
        ? 1
        : combiner === "mean"
          ? Math.fround(1 / n)
          : Math.fround(1 / Math.fround(Math.sqrt(n)));
    for (let j = start; j < start + n; j++) touched.addScaled(ids[j], gradient, r * dim, factor);
  }
}

/**
 * Weighted bags (and ragged bags, whose missing weights are ones): forward is `Σ w·e`, then for mean
 * `÷ Σw` and for sqrtn `÷ √Σw²` with div_no_nan. Backward: the bag gradient is divided by the same
 * float32 denominator (zero denominator: zero gradient, the ids stay touched), then times each `w`.
 */
function backpropWeighted(
  batch: BagBatch,
  combiner: "mean" | "sum" | "sqrtn",
  gradient: Float32Array,
  touched: TouchedRows,
  scratch: Float32Array,
): void {
  const { rowSplits, ids, weights } = batch;
  const dim = touched.dim;
  for (let r = 0; r < rowSplits.length - 1; r++) {
    const start = rowSplits[r];
    const end = rowSplits[r + 1];
    if (start === end) continue;
    let source = gradient;
    let offset = r * dim;
    if (combiner !== "sum") {
      // Same float32 accumulation order as the forward kernel.
      let weightSum = 0;
      let squareSum = 0;
      for (let j = start; j < end; j++) {
        const w = weights === null ? 1 : weights[j];
        weightSum = Math.fround(weightSum + w);
        squareSum = Math.fround(squareSum + Math.fround(w * w));
      }
      const divisor = combiner === "mean" ? weightSum : Math.fround(Math.sqrt(squareSum));
      if (divisor === 0) continue; // div_no_nan: no gradient, rows already registered as touched
      for (let d = 0; d < dim; d++) scratch[d] = gradient[offset + d] / divisor;
      source = scratch;
      offset = 0;
    }
    for (let j = start; j < end; j++)
      touched.addScaled(ids[j], source, offset, weights === null ? 1 : weights[j]);
  }
}
