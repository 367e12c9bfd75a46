import { test } from "node:test";
import assert from "node:assert/strict";
import {
  reduceBagsSegmentOrder,
  reduceBagsWeighted,
  scatterSequence,
  gatherRows,
} from "../../src/kernels/index.js";

const f = Math.fround;

function batch(
  rowSplits: number[],
  ids: number[],
  weights: number[] | null = null,
  positions: number[] | null = null,
) {
  return {
    rowSplits: Int32Array.from(rowSplits),
    ids: Int32Array.from(ids),
    weights: weights === null ? null : Float32Array.from(weights),
    positions: positions === null ? null : Int32Array.from(positions),
  };
}

test("segment order: a mean of fewer than 10 rows multiplies by float32(1/num) (TF's SparseSegmentMean)", () => {
  const table = Float32Array.from([1, 2]);
  const out = new Float32Array(1);
  reduceBagsSegmentOrder(table, 1, batch([0, 3], [0, 1, 1]), "mean", out);
  // (1 + 2 + 2) · f(1/3) = 1.6666667461…, whereas 5 / 3 rounds to 1.6666666269…
  assert.equal(out[0], f(5 * f(1 / 3)));
  assert.notEqual(out[0], f(5 / 3));
});

test("weighted order: the ragged mean divides by Σw (div_no_nan), giving the other rounding", () => {
  const table = Float32Array.from([1, 2]);
  const out = new Float32Array(1);
  reduceBagsWeighted(table, 1, batch([0, 3], [0, 1, 1]), "mean", out);
  assert.equal(out[0], f(5 / 3));
});

test("segment order: groups of 8 after a first group of 9 are summed before being added", () => {
  // 2^24 + 1 rounds back to 2^24 in float32, so left-to-right order would lose every 1.
  const table = Float32Array.from([2 ** 24, 1]);
  const ids = [0, ...new Array(16).fill(1)];
  const out = new Float32Array(1);
  reduceBagsSegmentOrder(table, 1, batch([0, 17], ids), "sum", out);
  // First group: 2^24 + eight 1s → 2^24 (each 1 lost); second group: eight 1s = 8 → 2^24 + 8.
  assert.equal(out[0], 2 ** 24 + 8);
  const sequential = new Float32Array(1);
  reduceBagsWeighted(table, 1, batch([0, 17], ids), "sum", sequential);
  assert.equal(sequential[0], 2 ** 24);
});

test("segment order: 10 or more rows divide by num (mean) or float32(sqrt(num)) (sqrtn)", () => {
  const table = Float32Array.from([1, 2]);
  const ids = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]; // sum 19
  const out = new Float32Array(1);
  reduceBagsSegmentOrder(table, 1, batch([0, 10], ids), "mean", out);
  assert.equal(out[0], f(19 / 10));
  reduceBagsSegmentOrder(table, 1, batch([0, 10], ids), "sqrtn", out);
  assert.equal(out[0], f(19 / f(Math.sqrt(10))));
  reduceBagsSegmentOrder(table, 1, batch([0, 3], [0, 1, 1]), "sqrtn", out);
  assert.equal(out[0], f(5 * f(1 / f(Math.sqrt(3)))));
});

test("a bag of one row is copied and an empty bag is zero, whatever the combiner", () => {
  const table = Float32Array.from([3, 4, 5, 6]);
  const out = new Float32Array(4).fill(9);
  reduceBagsSegmentOrder(table, 2, batch([0, 0, 1], [1]), "sqrtn", out);
  assert.deepEqual(Array.from(out), [0, 0, 5, 6]);
});

test("weighted: Σ f(w·e) in order, sqrtn divides by f(sqrt(Σ f(w²))), zero denominators give zeros", () => {
  const table = Float32Array.from([0.1, 0.7]);
  const out = new Float32Array(2);
  reduceBagsWeighted(table, 1, batch([0, 2, 4], [0, 1, 0, 1], [0.3, 1.1, 1, -1]), "sqrtn", out);
  const numerator = f(f(0.3 * f(0.1)) + f(f(1.1) * f(0.7)));
  const denominator = f(Math.sqrt(f(f(f(0.3) * f(0.3)) + f(f(1.1) * f(1.1)))));
  assert.equal(out[0], f(numerator / denominator));
  reduceBagsWeighted(table, 1, batch([0, 2], [0, 1], [1, -1]), "mean", out);
  assert.equal(out[0], 0);
});

test("sequence scatter writes at positions and adds duplicates; gather copies rows", () => {
  const table = Float32Array.from([1, 10, 2, 20, 3, 30]);
  const out = new Float32Array(2 * 3 * 2).fill(7);
  scatterSequence(table, 2, batch([0, 2, 4], [0, 1, 2, 2], null, [2, 0, 1, 1]), 3, out);
  assert.deepEqual(Array.from(out), [2, 20, 0, 0, 1, 10, 0, 0, 6, 60, 0, 0]);
  const gathered = new Float32Array(4);
  gatherRows(table, 2, Int32Array.from([2, 0]), gathered);
  assert.deepEqual(Array.from(gathered), [3, 30, 1, 10]);
});
