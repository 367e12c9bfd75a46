import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Adam,
  DenseTensor,
  FeatureConfig,
  RaggedTensor,
  SGD,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
  zeros,
  type Combiner,
} from "../../src/index.js";
import { assertNear, assertUnchanged, f, grad, row, snapshot, variable } from "./helpers.js";

/*
 * Back-propagation is read off through SGD with lr = 1 on zero tables: after one step every row holds
 * −(its summed gradient), so `w = −Σ occurrences (upstream gradient × combiner factor)`.
 */

function sgdTable(combiner: Combiner = "sum", rows = 8, dim = 2): TableConfig {
  return new TableConfig({ vocabularySize: rows, dim, initializer: zeros(), combiner, name: "t" });
}

function embed(featureConfig: Record<string, FeatureConfig>): TPUEmbeddingForServing {
  return new TPUEmbeddingForServing({ featureConfig, optimizer: new SGD({ learningRate: 1 }) });
}

test("dense gather: duplicate ids in a batch sum their gradients; other rows stay zero", () => {
  const table = sgdTable();
  const e = embed({ f: new FeatureConfig({ table }) });
  e.embeddingLookup({ f: DenseTensor.from(Int32Array.from([1, 1, 3])) });
  // row 1: −([1, 2] + [3, 4]) = [−4, −6]; row 3: −[5, 6]
  const result = e.applyGradients({ f: grad([1, 2, 3, 4, 5, 6], [3, 2]) });
  assert.deepEqual(Array.from(variable(e, "t")), [0, 0, -4, -6, 0, 0, -5, -6, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...result.rowsUpdated], [["t", 2]]);
});

test("dense gather of rank 2: output [2, 2, dim], each position's gradient goes to its id", () => {
  const table = sgdTable();
  const e = embed({ f: new FeatureConfig({ table }) });
  e.embeddingLookup({
    f: DenseTensor.from(
      [
        [0, 1],
        [1, 2],
      ],
      undefined,
      "int32",
    ),
  });
  e.applyGradients({ f: grad([1, 1, 2, 2, 3, 3, 4, 4], [2, 2, 2]) });
  // row 0: −1; row 1: −(2 + 3) = −5; row 2: −4
  assert.deepEqual(Array.from(variable(e, "t")).slice(0, 6), [-1, -1, -5, -5, -4, -4]);
});

function sparse(indices: number[][], values: number[], denseShape: number[]): SparseTensor {
  return new SparseTensor({ indices, values: Int32Array.from(values), denseShape });
}
function sparseWeights(indices: number[][], values: number[], denseShape: number[]): SparseTensor {
  return new SparseTensor({ indices, values: Float32Array.from(values), denseShape });
}

test("sum combiner (unweighted sparse): each id gets the bag's gradient", () => {
  const e = embed({ f: new FeatureConfig({ table: sgdTable("sum") }) });
  e.embeddingLookup({
    f: sparse(
      [
        [0, 0],
        [0, 1],
        [1, 0],
      ],
      [0, 2, 2],
      [2, 2],
    ),
  });
  // row 0: −g0 = −[1, 2]; row 2: −(g0 + g1) = −[11, 22]
  e.applyGradients({ f: grad([1, 2, 10, 20], [2, 2]) });
  assert.deepEqual(row(e, "t", 0, 2), [-1, -2]);
  assert.deepEqual(row(e, "t", 2, 2), [-11, -22]);
});

test("mean combiner (unweighted sparse): ×1/n per id, duplicates inside a bag count twice", () => {
  const e = embed({ f: new FeatureConfig({ table: sgdTable("mean") }) });
  // bag 0 = [0, 2, 2] (n = 3), bag 1 = [2] (n = 1)
  e.embeddingLookup({
    f: sparse(
      [
        [0, 0],
        [0, 1],
        [0, 2],
        [1, 0],
      ],
      [0, 2, 2, 2],
      [2, 3],
    ),
  });
  e.applyGradients({ f: grad([3, 6, 1, 1], [2, 2]) });
  // row 0: −g0/3 = −[1, 2]; row 2: −(2·g0/3 + g1) = −[3, 5]   (1/3 taken in float32)
  const third = f(1 / 3);
  assertNear(row(e, "t", 0, 2), [-f(3 * third), -f(6 * third)]);
  assertNear(row(e, "t", 2, 2), [-3, -5]);
});

test("sqrtn combiner (unweighted sparse): ×1/√n per id", () => {
  const e = embed({ f: new FeatureConfig({ table: sgdTable("sqrtn") }) });
  e.embeddingLookup({
    f: sparse(
      [
        [0, 0],
        [0, 1],
        [0, 2],
        [0, 3],
      ],
      [0, 1, 2, 3],
      [1, 4],
    ),
  });
  e.applyGradients({ f: grad([2, 4], [1, 2]) });
  // n = 4: each row −g/√4 = −[1, 2]
  for (let r = 0; r < 4; r++) assert.deepEqual(row(e, "t", r, 2), [-1, -2]);
});

test("weighted sum / mean / sqrtn: ×w, ×w/Σw, ×w/√Σw²", () => {
  const cases: [Combiner, number[], number[], number[][]][] = [
    // sum, w = [0.5, 2], g = [2, 4]: rows −0.5·g, −2·g
    [
      "sum",
      [0.5, 2],
      [2, 4],
      [
        [-1, -2],
        [-4, -8],
      ],
    ],
    // mean, w = [1, 3], Σw = 4, g = [4, 8]: rows −(1/4)·g, −(3/4)·g
    [
      "mean",
      [1, 3],
      [4, 8],
      [
        [-1, -2],
        [-3, -6],
      ],
    ],
    // sqrtn, w = [3, 4], √Σw² = 5, g = [5, 10]: rows −(3/5)·g, −(4/5)·g
    [
      "sqrtn",
      [3, 4],
      [5, 10],
      [
        [-3, -6],
        [-4, -8],
      ],
    ],
  ];
  for (const [combiner, w, g, expected] of cases) {
    const e = embed({ f: new FeatureConfig({ table: sgdTable(combiner) }) });
    const indices = [
      [0, 0],
      [0, 1],
    ];
    e.embeddingLookup({ f: sparse(indices, [4, 5], [1, 2]) }, { f: sparseWeights(indices, w, [1, 2]) });
    e.applyGradients({ f: grad(g, [1, 2]) });
    assertNear(row(e, "t", 4, 2), expected[0], 2e-7, `${combiner} row 4`);
    assertNear(row(e, "t", 5, 2), expected[1], 2e-7, `${combiner} row 5`);
  }
});

test("ragged mean without weights: ragged weights default to 1, ×1/n", () => {
  const e = embed({ f: new FeatureConfig({ table: sgdTable("mean") }) });
  e.embeddingLookup({ f: RaggedTensor.fromNested([[0, 1], [1]], "int32") });
  e.applyGradients({ f: grad([2, 2, 1, 1], [2, 2]) });
  // row 0: −g0/2 = −[1, 1]; row 1: −(g0/2 + g1) = −[2, 2]
  assert.deepEqual(row(e, "t", 0, 2), [-1, -1]);
  assert.deepEqual(row(e, "t", 1, 2), [-2, -2]);
});

test("ragged sequence feature: position gradients go to their ids; truncated ids and padding get nothing", () => {
  const table = sgdTable("mean");
  const e = embed({ f: new FeatureConfig({ table, maxSequenceLength: 3 }) });
  // row 0 = [0, 1, 0, 2] truncated to [0, 1, 0]; row 1 = [3] then two padding positions
  e.embeddingLookup({ f: RaggedTensor.fromNested([[0, 1, 0, 2], [3]], "int32") });
  const before = snapshot(e);
  e.applyGradients({ f: grad([1, 1, 2, 2, 4, 4, 8, 8, 100, 100, 200, 200], [2, 3, 2]) });
  // id 0: −(pos 0 + pos 2) = −5; id 1: −2; id 3: −8; id 2 (truncated): untouched
  assert.deepEqual(row(e, "t", 0, 2), [-5, -5]);
  assert.deepEqual(row(e, "t", 1, 2), [-2, -2]);
  assert.deepEqual(row(e, "t", 3, 2), [-8, -8]);
  assertUnchanged(e, before, { table: "t", rows: [0, 1, 3], dim: 2 });
});

test("sparse sequence feature: ids land at their column; columns past maxSequenceLength get nothing", () => {
  const e = embed({ f: new FeatureConfig({ table: sgdTable(), maxSequenceLength: 3 }) });
  // id 5 at [0, 1], id 6 at [0, 3] (dropped), id 7 at [1, 0]
  e.embeddingLookup({
    f: sparse(
      [
        [0, 1],
        [0, 3],
        [1, 0],
      ],
      [5, 6, 7],
      [2, 4],
    ),
  });
  e.applyGradients({ f: grad([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6], [2, 3, 2]) });
  assert.deepEqual(row(e, "t", 5, 2), [-2, -2]); // row 0, position 1
  assert.deepEqual(row(e, "t", 7, 2), [-4, -4]); // row 1, position 0
  assert.deepEqual(row(e, "t", 6, 2), [0, 0]);
});

test("ids shared by two features on one table sum across features (and with a second table untouched)", () => {
  const table = sgdTable("sum");
  const other = new TableConfig({ vocabularySize: 4, dim: 2, initializer: zeros(), name: "u" });
  const e = embed({
    a: new FeatureConfig({ table }),
    b: new FeatureConfig({ table }),
    c: new FeatureConfig({ table: other }),
  });
  e.embeddingLookup({
    a: DenseTensor.from(Int32Array.from([2, 3])),
    b: sparse(
      [
        [0, 0],
        [0, 1],
      ],
      [2, 4],
      [1, 2],
    ),
    c: DenseTensor.from(Int32Array.from([1])),
  });
  e.applyGradients({ a: grad([1, 2, 3, 4], [2, 2]), b: grad([10, 20], [1, 2]), c: null });
  // row 2: −([1, 2] from a + [10, 20] from b); row 3: −[3, 4]; row 4: −[10, 20]
  assert.deepEqual(row(e, "t", 2, 2), [-11, -22]);
  assert.deepEqual(row(e, "t", 3, 2), [-3, -4]);
  assert.deepEqual(row(e, "t", 4, 2), [-10, -20]);
  assert.deepEqual(Array.from(variable(e, "u")), [0, 0, 0, 0, 0, 0, 0, 0]);
});

test("pruned ids (negative, or non-positive weights with mean) are not updated and not touched", () => {
  // Adam touches every looked-up row even with zero gradient, so an untouched Adam row proves pruning.
  const table = new TableConfig({
    vocabularySize: 8,
    dim: 2,
    initializer: zeros(),
    combiner: "mean",
    name: "t",
  });
  const e = new TPUEmbeddingForServing({
    featureConfig: { f: new FeatureConfig({ table }) },
    optimizer: new Adam({ learningRate: 0.1 }),
  });
  const indices = [
    [0, 0],
    [0, 1],
    [0, 2],
    [1, 0],
  ];
  // bag 0 = [−1 (pruned), 2 (w 1), 3 (w 0, pruned for mean)]; bag 1 = [4 (w −2, pruned)] → empty
  e.embeddingLookup(
    { f: sparse(indices, [-1, 2, 3, 4], [2, 3]) },
    { f: sparseWeights(indices, [1, 1, 0, -2], [2, 3]) },
  );
  const before = snapshot(e);
  e.applyGradients({ f: grad([1, 1, 1, 1], [2, 2]) });
  // Only row 2 (the whole mean gradient, Σw = 1) is updated.
  assert.notDeepEqual(row(e, "t/momenta", 2, 2), [0, 0]);
  assertUnchanged(e, before, { table: "t", rows: [2], dim: 2 });
});

test("a null gradient sends zeros: rows are touched (lazy Adam decays their slots), SGD is unchanged", () => {
  const table = new TableConfig({ vocabularySize: 4, dim: 1, initializer: zeros(), name: "t" });
  const e = new TPUEmbeddingForServing({
    featureConfig: { a: new FeatureConfig({ table }), b: new FeatureConfig({ table }) },
    optimizer: new Adam({ learningRate: 0.1, beta1: 0.5, beta2: 0.75 }),
  });
  const ids = { a: DenseTensor.from(Int32Array.from([1])), b: DenseTensor.from(Int32Array.from([2])) };
  e.embeddingLookup(ids);
  e.applyGradients({ a: grad([2], [1, 1]), b: grad([4], [1, 1]) });
  e.embeddingLookup(ids);
  e.applyGradients({ a: grad([2], [1, 1]), b: null });
  // row 2 after step 1: m = (1 − 0.5)·4 = 2, v = (1 − 0.75)·16 = 4; step 2 (g = 0): m = 0.5·2 = 1, v = 0.75·4 = 3
  assertNear(row(e, "t/momenta", 2, 1), [1]);
  assertNear(row(e, "t/velocities", 2, 1), [3]);

  const s = new TableConfig({ vocabularySize: 4, dim: 1, initializer: zeros(), name: "s" });
  const sgd = new TPUEmbeddingForServing({
    featureConfig: { a: new FeatureConfig({ table: s }) },
    optimizer: new SGD({ learningRate: 1 }),
  });
  sgd.embeddingLookup({ a: DenseTensor.from(Int32Array.from([1])) });
  const before = snapshot(sgd);
  sgd.applyGradients({ a: null });
  assertUnchanged(sgd, before);
});
