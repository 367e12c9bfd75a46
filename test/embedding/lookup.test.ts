import { test } from "node:test";
import assert from "node:assert/strict";
import {
  constant,
  DenseTensor,
  FeatureConfig,
  InvalidArgumentError,
  OutOfRangeError,
  RaggedTensor,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
  servingEmbeddingLookup,
  type Combiner,
  type FeatureConfigOptions,
} from "../../src/index.js";
import { assertClose, rowsTable, values } from "./helpers.js";

// Table rows t_r = [r + 1, 10·(r + 1)], r = 0..7, so every expected value below is hand-computable.
function model(combiner: Combiner = "mean", featureOptions: Partial<FeatureConfigOptions> = {}) {
  const table = new TableConfig({
    vocabularySize: 8,
    dim: 2,
    combiner,
    name: "video",
    initializer: constant(rowsTable(8)),
  });
  const feature = new FeatureConfig({ table, ...featureOptions });
  const embedding = new TPUEmbeddingForServing({ featureConfig: { watched: feature }, optimizer: null });
  return { table, feature, embedding };
}

// TF's SafeEmbeddingLookupSparse test rows: [0:1, 1:2, -1:1], [-1:1], [], [2:3], [0:0, 1:-0.5].
const tfCaseIds = new SparseTensor({
  indices: [
    [0, 0],
    [0, 1],
    [0, 2],
    [1, 0],
    [3, 0],
    [4, 0],
    [4, 1],
  ],
  values: [0, 1, -1, -1, 2, 0, 1],
  denseShape: [5, 3],
});
const tfCaseWeights = new SparseTensor({
  indices: [
    [0, 0],
    [0, 1],
    [0, 2],
    [1, 0],
    [3, 0],
    [4, 0],
    [4, 1],
  ],
  values: new Float32Array([1, 2, 1, 1, 3, 0, -0.5]),
  denseShape: [5, 3],
});

test("sparse safe lookup, weighted mean: TF's worked example [(t0+2t1)/3, 0, 0, t2, 0]", () => {
  const { embedding } = model("mean");
  const out = embedding.embeddingLookup({ watched: tfCaseIds }, { watched: tfCaseWeights }).watched;
  // Row 0: -1 pruned → (1·t0 + 2·t1)/3 = ([1,10] + [4,40])/3; row 1 pruned empty; row 4: weights 0, -0.5 pruned.
  assertClose(out, [5, 2], [5 / 3, 50 / 3, 0, 0, 0, 0, 3, 30, 0, 0]);
});

test("sparse safe lookup, unweighted mean: [(t0+t1)/2, 0, 0, t2, (t0+t1)/2]", () => {
  const { embedding } = model("mean");
  const out = embedding.embeddingLookup({ watched: tfCaseIds }).watched;
  assertClose(out, [5, 2], [1.5, 15, 0, 0, 0, 0, 3, 30, 1.5, 15]);
});

test("sparse safe lookup with sum keeps zero and negative weights", () => {
  const { embedding } = model("sum");
  const out = embedding.embeddingLookup({ watched: tfCaseIds }, { watched: tfCaseWeights }).watched;
  // Row 4: 0·t0 + (-0.5)·t1 = [-1, -10].
  assertClose(out, [5, 2], [5, 50, 0, 0, 0, 0, 9, 90, -1, -10]);
});

test("sparse safe lookup, sqrtn with weights: Σw·e / sqrt(Σw²)", () => {
  const { embedding } = model("sqrtn");
  const out = embedding.embeddingLookup({ watched: tfCaseIds }, { watched: tfCaseWeights }).watched;
  const s = Math.sqrt(5);
  assertClose(out, [5, 2], [5 / s, 50 / s, 0, 0, 0, 0, 3, 30, 0, 0]);
});

test("sparse safe lookup of rank 3 gives [d0, d1, dim]; unsorted indices are fine; trailing empty rows stay", () => {
  const { embedding } = model("sum");
  const ids = new SparseTensor({
    indices: [
      [1, 2, 0],
      [0, 0, 1],
      [0, 0, 0],
      [1, 0, 3],
    ],
    values: [3, 1, 0, 7],
    denseShape: [2, 3, 4],
  });
  const out = embedding.embeddingLookup({ watched: ids }).watched;
  // Rows (0,0): t1 + t0; (1,0): t7; (1,2): t3; others (including trailing (1,1)... ) zero.
  assertClose(out, [2, 3, 2], [3, 30, 0, 0, 0, 0, 8, 80, 0, 0, 4, 40]);
});

test("sparse plain lookup (validateWeightsAndIndices false): trailing empty rows dropped, interior rows zero", () => {
  const { embedding } = model("mean", { validateWeightsAndIndices: false });
  const ids = new SparseTensor({
    indices: [
      [0, 0],
      [0, 1],
      [2, 0],
    ],
    values: [0, 2, 3],
    denseShape: [5, 2],
  });
  const out = embedding.embeddingLookup({ watched: ids }).watched;
  // Row 0: (t0 + t2)/2; row 1 (interior, empty): zeros; rows 3, 4 (trailing, empty): dropped.
  assertClose(out, [3, 2], [2, 20, 0, 0, 4, 40]);
});

test("sparse plain lookup: weights used as given, mean over zero total weight is zero", () => {
  const { embedding } = model("mean", { validateWeightsAndIndices: false });
  const ids = new SparseTensor({
    indices: [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ],
    values: [0, 1, 2, 3],
    denseShape: [2, 2],
  });
  const w = new SparseTensor({
    indices: [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ],
    values: new Float32Array([2, -1, 1, -1]),
    denseShape: [2, 2],
  });
  const out = embedding.embeddingLookup({ watched: ids }, { watched: w }).watched;
  // Row 0: (2·t0 − t1)/1 = [0, 0]; row 1: weights sum to 0 → div_no_nan → 0.
  assertClose(out, [2, 2], [0, 0, 0, 0]);
  const w2 = new SparseTensor({
    indices: [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ],
    values: new Float32Array([3, -1, 1, 1]),
    denseShape: [2, 2],
  });
  assertClose(
    embedding.embeddingLookup({ watched: ids }, { watched: w2 }).watched,
    [2, 2],
    [0.5, 5, 3.5, 35],
  );
});

test("sparse plain lookup rejects negative ids and unsorted rows", () => {
  const { embedding } = model("sum", { validateWeightsAndIndices: false });
  const negative = new SparseTensor({ indices: [[0, 0]], values: [-1], denseShape: [1, 1] });
  assert.throws(
    () => embedding.embeddingLookup({ watched: negative }),
    (e: Error) => e instanceof OutOfRangeError && /id -1/.test(e.message),
  );
  const unsorted = new SparseTensor({
    indices: [
      [1, 0],
      [0, 0],
    ],
    values: [1, 2],
    denseShape: [2, 1],
  });
  assert.throws(() => embedding.embeddingLookup({ watched: unsorted }), /sorted by row/);
});

test("safe lookup still rejects ids >= vocabularySize, naming feature, table and id", () => {
  const { embedding } = model("sum");
  const ids = new SparseTensor({ indices: [[0, 0]], values: [8], denseShape: [1, 1] });
  assert.throws(
    () => embedding.embeddingLookup({ watched: ids }),
    (e: Error) => {
      assert.ok(e instanceof OutOfRangeError);
      assert.equal(e.code, "OUT_OF_RANGE");
      assert.equal(e.feature, "watched");
      assert.equal(e.table, "video");
      assert.equal(e.id, 8);
      return true;
    },
  );
});

test("int64 ids above 2^31 are reported exactly, never truncated onto a valid row", () => {
  const { embedding } = model("sum");
  const id = 2n ** 32n + 1n; // truncating to 32 bits would give the valid row 1
  const ids = new SparseTensor({ indices: [[0, 0]], values: new BigInt64Array([id]), denseShape: [1, 1] });
  assert.throws(
    () => embedding.embeddingLookup({ watched: ids }),
    (e: Error) => e instanceof OutOfRangeError && e.id === id && /4294967297/.test(e.message),
  );
  const dense = DenseTensor.from([2n ** 31n + 3n]);
  assert.throws(() => embedding.embeddingLookup({ watched: dense }), /2147483651/);
  // Valid int64 ids work.
  const ok = new SparseTensor({
    indices: [
      [0, 0],
      [0, 1],
    ],
    values: new BigInt64Array([1n, 7n]),
    denseShape: [1, 2],
  });
  assertClose(embedding.embeddingLookup({ watched: ok }).watched, [1, 2], [10, 100]);
  // Negative int64 ids are pruned by the safe path.
  const neg = new SparseTensor({
    indices: [
      [0, 0],
      [0, 1],
    ],
    values: new BigInt64Array([-(2n ** 40n), 2n]),
    denseShape: [1, 2],
  });
  assertClose(embedding.embeddingLookup({ watched: neg }).watched, [1, 2], [3, 30]);
});

test("dense lookup is a plain gather of any rank, including a scalar id; no combiner, no squeeze", () => {
  const { embedding } = model("mean");
  assertClose(
    embedding.embeddingLookup({ watched: DenseTensor.from([[1], [3]]) }).watched,
    [2, 1, 2],
    [2, 20, 4, 40],
  );
  assertClose(embedding.embeddingLookup({ watched: DenseTensor.from(5) }).watched, [2], [6, 60]);
  assertClose(
    embedding.embeddingLookup({ watched: DenseTensor.from([[0, 1, 1]]) }).watched,
    [1, 3, 2],
    [1, 10, 2, 20, 2, 20],
  );
  assert.throws(() => embedding.embeddingLookup({ watched: DenseTensor.from([-1]) }), OutOfRangeError);
  assert.throws(
    () => embedding.embeddingLookup({ watched: DenseTensor.from([0.5]) }),
    /ids must be int32 or int64/,
  );
});

test("dense input with weights or as a sequence feature is an error", () => {
  const { embedding } = model("mean");
  assert.throws(
    () => embedding.embeddingLookup({ watched: DenseTensor.from([1]) }, { watched: DenseTensor.from([1.0]) }),
    /Weight specified for watched, but input is dense./,
  );
  const seq = model("mean", { maxSequenceLength: 3 });
  assert.throws(
    () => seq.embedding.embeddingLookup({ watched: DenseTensor.from([1]) }),
    /sequence feature but a dense tensor/,
  );
});

test("weights must match the input's kind and sequence features take none", () => {
  const { embedding } = model("mean");
  const ragged = RaggedTensor.fromNested([[1]]);
  const sparseWeight = new SparseTensor({
    indices: [[0, 0]],
    values: new Float32Array([1]),
    denseShape: [1, 1],
  });
  assert.throws(
    () => embedding.embeddingLookup({ watched: ragged }, { watched: sparseWeight }),
    /Weight for watched is of type SparseTensor but it does not match type of the input which is RaggedTensor/,
  );
  const seq = model("mean", { maxSequenceLength: 2 });
  assert.throws(
    () => seq.embedding.embeddingLookup({ watched: ragged }, { watched: RaggedTensor.fromNested([[1.5]]) }),
    /this is a sequence feature/,
  );
  assert.throws(
    () =>
      embedding.embeddingLookup(
        { watched: ragged },
        { watched: RaggedTensor.fromNested([[1, 2]], "float32") },
      ),
    /same row lengths/,
  );
  assert.throws(
    () => embedding.embeddingLookup({ watched: ragged }, { watched: RaggedTensor.fromNested([[1]]) }),
    /weights must be float32/,
  );
});

test("sparse sequence feature: [B, L, dim], columns >= L truncated, missing positions zero, duplicates added", () => {
  const { embedding } = model("mean", { maxSequenceLength: 3 });
  const ids = new SparseTensor({
    indices: [
      [0, 0],
      [0, 1],
      [0, 3],
      [2, 2],
      [2, 2],
    ],
    values: [1, 2, 7, 0, 3],
    denseShape: [3, 5],
  });
  const out = embedding.embeddingLookup({ watched: ids }).watched;
  assertClose(out, [3, 3, 2], [2, 20, 3, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 50]);
});

test("ragged combiners with weights: sum, mean, sqrtn; empty rows are zero", () => {
  const ids = RaggedTensor.fromNested([[0, 1], [], [2]]);
  const weights = RaggedTensor.fromNested([[1, 3], [], [0.5]], "float32");
  const sum = model("sum").embedding.embeddingLookup({ watched: ids }, { watched: weights }).watched;
  assertClose(sum, [3, 2], [7, 70, 0, 0, 1.5, 15]);
  const mean = model("mean").embedding.embeddingLookup({ watched: ids }, { watched: weights }).watched;
  assertClose(mean, [3, 2], [7 / 4, 70 / 4, 0, 0, 3, 30]);
  const sqrtn = model("sqrtn").embedding.embeddingLookup({ watched: ids }, { watched: weights }).watched;
  assertClose(sqrtn, [3, 2], [7 / Math.sqrt(10), 70 / Math.sqrt(10), 0, 0, 3, 30]);
  const unweighted = model("mean").embedding.embeddingLookup({ watched: ids }).watched;
  assertClose(unweighted, [3, 2], [1.5, 15, 0, 0, 3, 30]);
});

test("ragged: no pruning — negative ids are errors, non-positive weights are used", () => {
  const { embedding } = model("sum");
  assert.throws(
    () => embedding.embeddingLookup({ watched: RaggedTensor.fromNested([[0, -1]]) }),
    OutOfRangeError,
  );
  const out = model("mean").embedding.embeddingLookup(
    { watched: RaggedTensor.fromNested([[0, 1]]) },
    { watched: RaggedTensor.fromNested([[-1, 1]], "float32") },
  ).watched;
  assertClose(out, [1, 2], [0, 0]); // Σw = 0 → div_no_nan → zeros
  const neg = model("sum").embedding.embeddingLookup(
    { watched: RaggedTensor.fromNested([[0, 1]]) },
    { watched: RaggedTensor.fromNested([[-1, 0.5]], "float32") },
  ).watched;
  assertClose(neg, [1, 2], [0, 0]);
});

test("ragged sequence (maxSequenceLength): truncate and zero-pad to [B, L, dim]", () => {
  const { embedding } = model("mean", { maxSequenceLength: 2 });
  const out = embedding.embeddingLookup({ watched: RaggedTensor.fromNested([[0, 1, 2], [], [3]]) }).watched;
  assertClose(out, [3, 2, 2], [1, 10, 2, 20, 0, 0, 0, 0, 4, 40, 0, 0]);
});

test("ragged outputShape equal to the batch: combined, then reshaped", () => {
  const { embedding } = model("sum", { outputShape: [2, 2] });
  const ids = RaggedTensor.fromNested([[0], [1, 2], [], [3]]);
  const out = embedding.embeddingLookup({ watched: ids }).watched;
  assertClose(out, [2, 2, 2], [1, 10, 5, 50, 0, 0, 4, 40]);
  const scalar = model("sum", { outputShape: [] }).embedding.embeddingLookup({
    watched: RaggedTensor.fromNested([[1, 2]]),
  }).watched;
  assertClose(scalar, [2], [5, 50]);
});

test("ragged outputShape a multiple of the batch: sequence of prod/B, weights and combiner ignored", () => {
  const { embedding } = model("mean", { outputShape: [2, 3] });
  const ids = RaggedTensor.fromNested([[0, 1, 2, 3], [4]]);
  const weights = RaggedTensor.fromNested([[9, 9, 9, 9], [9]], "float32");
  const out = embedding.embeddingLookup({ watched: ids }, { watched: weights }).watched;
  assertClose(out, [2, 3, 2], [1, 10, 2, 20, 3, 30, 5, 50, 0, 0, 0, 0]);
});

test("ragged outputShape that is not a multiple of the batch is an error", () => {
  const ids = RaggedTensor.fromNested([[0], [1], [2]]);
  assert.throws(
    () => model("sum", { outputShape: [4] }).embedding.embeddingLookup({ watched: ids }),
    (e: Error) =>
      e instanceof InvalidArgumentError &&
      /should be the factor of the input data batch size.*\[4\].*batch size 3/.test(e.message),
  );
  assert.throws(
    () => model("sum", { outputShape: [2] }).embedding.embeddingLookup({ watched: ids }),
    /factor/,
  );
});

test("nested structures: a subset of features is accepted and the inputs' structure is returned", () => {
  const t1 = new TableConfig({
    vocabularySize: 8,
    dim: 2,
    combiner: "sum",
    initializer: constant(rowsTable(8)),
  });
  const t2 = new TableConfig({
    vocabularySize: 4,
    dim: 1,
    combiner: "sum",
    initializer: constant([5, 6, 7, 8]),
  });
  const embedding = new TPUEmbeddingForServing({
    featureConfig: {
      user: { history: new FeatureConfig({ table: t1 }), country: new FeatureConfig({ table: t2 }) },
      items: [new FeatureConfig({ table: t1 }), new FeatureConfig({ table: t2 })],
    },
    optimizer: null,
  });
  const out = embedding.embeddingLookup({
    user: { history: RaggedTensor.fromNested([[0, 1]]) },
    items: [null, DenseTensor.from([3])],
  });
  assert.deepEqual(Object.keys(out), ["user", "items"]);
  assert.deepEqual(Object.keys(out.user), ["history"]);
  assert.deepEqual(values(out.user.history!), [3, 30]);
  assert.equal(out.items[0], null);
  assert.deepEqual(values(out.items[1]!), [8]);

  assert.throws(
    () => embedding.embeddingLookup({ user: { age: DenseTensor.from([1]) } } as never),
    /not a subset of featureConfig: no feature is configured at "?user\/age/,
  );
  assert.throws(
    () => embedding.embeddingLookup({ user: { history: [[1, 2]] } } as never),
    /Input user\/history is type Array. DenseTensor, SparseTensor or RaggedTensor expected./,
  );
  assert.throws(
    () => embedding.embeddingLookup({ user: { history: DenseTensor.from([9]) } }),
    (e: Error) => e instanceof OutOfRangeError && e.feature === "user/history" && e.table === "table_0",
  );
  assert.throws(
    () =>
      embedding.embeddingLookup({
        items: [DenseTensor.from([1]), DenseTensor.from([1]), DenseTensor.from([1])],
      } as never),
    /3 entries but only 2 features/,
  );
  assert.throws(
    () => embedding.embeddingLookup({ user: { history: RaggedTensor.fromNested([[0]]) } }, { user: [] }),
    /Weights do not have the structure of the inputs at user/,
  );
});

test("a single FeatureConfig takes a single tensor", () => {
  const table = new TableConfig({
    vocabularySize: 8,
    dim: 2,
    combiner: "sum",
    initializer: constant(rowsTable(8)),
  });
  const embedding = new TPUEmbeddingForServing({
    featureConfig: new FeatureConfig({ table }),
    optimizer: null,
  });
  const out = embedding.embeddingLookup(RaggedTensor.fromNested([[1, 1]]));
  assert.deepEqual(values(out), [4, 40]);
});

test("servingEmbeddingLookup works on tables given as a Map", () => {
  const table = new TableConfig({ vocabularySize: 2, dim: 2, combiner: "sum", name: "t" });
  const feature = new FeatureConfig({ table });
  const tables = new Map([[table, new Float32Array([1, 2, 3, 4])]]);
  const out = servingEmbeddingLookup({ f: RaggedTensor.fromNested([[0, 1]]) }, null, tables, { f: feature });
  assert.deepEqual(values(out.f), [4, 6]);
  assert.throws(
    () => servingEmbeddingLookup({ f: RaggedTensor.fromNested([[0]]) }, null, new Map(), { f: feature }),
    /No table values given for table "t"/,
  );
  assert.throws(
    () =>
      servingEmbeddingLookup(
        { f: RaggedTensor.fromNested([[0]]) },
        null,
        new Map([[table, new Float32Array(3)]]),
        { f: feature },
      ),
    /must be 2 × 2 float32 values/,
  );
});
