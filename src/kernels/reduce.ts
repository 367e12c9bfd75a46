import type { Combiner } from "../config/table-config.js";
import type { BagBatch } from "./bag-batch.js";

/*
 * Reference gather-and-reduce kernels. They reproduce TensorFlow's CPU float32 arithmetic step by step:
 * every intermediate is rounded to float32 (stores into Float32Array round; products and sums of two
 * float32 values computed in float64 and rounded once are exactly IEEE float32 results).
 */

/**
 * Unweighted bags with TF's `SparseSegmentSum/Mean/SqrtN` order (the sparse-input path without
 * weights): the first group of `num & 7` rows (8 if that is 0, 9 if it is 1) is summed left to right
 * and scaled by `1/num` (or `1/sqrt(num)`) when `num < 10`; later groups of 8 are summed and then
 * added; for `num >= 10` the total is divided by `num` (or `sqrt(num)`). A bag of one row is copied;
 * an empty bag is zeros.
 */
export function reduceBagsSegmentOrder(
  table: Float32Array,
  dim: number,
  batch: BagBatch,
  combiner: Combiner,
  out: Float32Array,
  outOffset = 0,
): void {
  const { rowSplits, ids } = batch;
  const rows = rowSplits.length - 1;
  const group = new Float32Array(dim);
  for (let r = 0; r < rows; r++) {
    const start = rowSplits[r];
    const num = rowSplits[r + 1] - start;
    const o = outOffset + r * dim;
    if (num === 0) {
      out.fill(0, o, o + dim);
      continue;
    }
    if (num === 1) {
      const base = ids[start] * dim;
      for (let d = 0; d < dim; d++) out[o + d] = table[base + d];
      continue;
    }
    let scale = 1;
    if (num < 10) {
      if (combiner === "mean") scale = Math.fround(1 / num);
      else if (combiner === "sqrtn") scale = Math.fround(1 / Math.fround(Math.sqrt(num)));
    }
    const remainder = num & 7;
    const first = remainder === 0 ? 8 : remainder === 1 ? 9 : remainder;
    sumRows(table, dim, ids, start, first, group);
    for (let d = 0; d < dim; d++) out[o + d] = group[d] * scale;
    for (let g = first; g < num; g += 8) {
      sumRows(table, dim, ids, start + g, 8, group);
      for (let d = 0; d < dim; d++) out[o + d] += group[d];
    }
    if (num >= 10 && combiner !== "sum") {
      const divisor = combiner === "mean" ? num : Math.fround(Math.sqrt(num));
      for (let d = 0; d < dim; d++) out[o + d] /= divisor;
    }
  }
}

/** `acc = ((e0 + e1) + e2) + …` over `count` ids starting at `start`, in float32. */
function sumRows(
  table: Float32Array,
  dim: number,
  ids: Int32Array,
  start: number,
  count: number,
  acc: Float32Array,
): void {
  const base0 = ids[start] * dim;
  for (let d = 0; d < dim; d++) acc[d] = table[base0 + d];
  for (let j = 1; j < count; j++) {
    const base = ids[start + j] * dim;
    for (let d = 0; d < dim; d++) acc[d] += table[base + d];
  }
}

/**
 * Weighted bags (and the ragged path, whose missing weights are ones): `Σ w·e` accumulated left to right
 * from zero, then for `mean` divided by `Σ w`, for `sqrtn` by `sqrt(Σ w²)`, with TF's `div_no_nan`
 * (a zero denominator gives a zero vector). An empty bag is zeros.
 */
export function reduceBagsWeighted(
  table: Float32Array,
  dim: number,
  batch: BagBatch,
  combiner: Combiner,
  out: Float32Array,
  outOffset = 0,
): void {
  const { rowSplits, ids, weights } = batch;
  const rows = rowSplits.length - 1;
  for (let r = 0; r < rows; r++) {
    const start = rowSplits[r];
    const end = rowSplits[r + 1];
    const o = outOffset + r * dim;
    out.fill(0, o, o + dim);
    let weightSum = 0;
    let squareSum = 0;
    for (let j = start; j < end; j++) {
      const base = ids[j] * dim;
      if (weights === null) {
        for (let d = 0; d < dim; d++) out[o + d] += table[base + d];
        weightSum = Math.fround(weightSum + 1);
        squareSum = weightSum;
      } else {
        const w = weights[j];
        for (let d = 0; d < dim; d++) out[o + d] += Math.fround(w * table[base + d]);
        weightSum = Math.fround(weightSum + w);
        squareSum = Math.fround(squareSum + Math.fround(w * w));
      }
    }
    if (combiner === "sum") continue;
    const divisor = combiner === "mean" ? weightSum : Math.fround(Math.sqrt(squareSum));
    if (divisor === 0) {
      out.fill(0, o, o + dim);
    } else {
      for (let d = 0; d < dim; d++) out[o + d] /= divisor;
    }
  }
}

/**
 * Sequence layout: output `[rows, sequenceLength, dim]`, zeros where no id lands, each id's row written
 * at its position (positions at or beyond `sequenceLength` were dropped when the batch was built; two
 * ids at one position are added, as TF's scatter does).
 */
export function scatterSequence(
  table: Float32Array,
  dim: number,
  batch: BagBatch,
  sequenceLength: number,
  out: Float32Array,
  outOffset = 0,
): void {
  const { rowSplits, ids, positions } = batch;
  const rows = rowSplits.length - 1;
  out.fill(0, outOffset, outOffset + rows * sequenceLength * dim);
  for (let r = 0; r < rows; r++) {
    const start = rowSplits[r];
    const end = rowSplits[r + 1];
    for (let j = start; j < end; j++) {
      const position = positions === null ? j - start : positions[j];
      const o = outOffset + (r * sequenceLength + position) * dim;
      const base = ids[j] * dim;
      for (let d = 0; d < dim; d++) out[o + d] += table[base + d];
    }
  }
}

/** Plain gather: `out[i] = table[ids[i]]` (dense inputs). */
export function gatherRows(
  table: Float32Array,
  dim: number,
  ids: Int32Array,
  out: Float32Array,
  outOffset = 0,
): void {
  for (let i = 0; i < ids.length; i++) {
    const base = ids[i] * dim;
    const o = outOffset + i * dim;
    for (let d = 0; d < dim; d++) out[o + d] = table[base + d];
  }
}
