import { test } from "node:test";
import assert from "node:assert/strict";
import { DenseTensor, RaggedTensor, SparseTensor, InvalidArgumentError } from "../../src/index.js";

test("DenseTensor.from infers shape and dtype from nested arrays", () => {
  const t = DenseTensor.from([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(t.dtype, "int32");
  assert.ok(t.data instanceof Int32Array);
  assert.deepEqual(t.toArray(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.equal(DenseTensor.from([0.5, 1]).dtype, "float32");
  assert.deepEqual(DenseTensor.from(7).shape, []);
  assert.deepEqual(DenseTensor.from([1, 2, 3, 4], [2, 2]).toArray(), [
    [1, 2],
    [3, 4],
  ]);
  assert.throws(() => DenseTensor.from([[1, 2], [3]]), /not rectangular.*RaggedTensor/);
  assert.throws(() => new DenseTensor(new Int32Array(3), [2, 2]), /holds 4 values but data has 3/);
});

test("int64 ids are exact: bigints and integers beyond int32 become BigInt64Array; unsafe numbers are refused", () => {
  const big = DenseTensor.from([3000000000, 1]);
  assert.equal(big.dtype, "int64");
  assert.deepEqual(big.toArray(), [3000000000n, 1n]);
  const exact = DenseTensor.from([9007199254740993n]);
  assert.equal(exact.data[0], 9007199254740993n);
  assert.throws(() => DenseTensor.from([2 ** 60]), /not an exact integer/);
  assert.throws(
    () =>
      DenseTensor.from([1, 2], undefined, "int32").data && DenseTensor.from([2 ** 40], undefined, "int32"),
    /not an int32/,
  );
});

test("SparseTensor from nested indices; toArray densifies", () => {
  const sp = new SparseTensor({
    indices: [
      [0, 1],
      [2, 0],
    ],
    values: [5, 7],
    denseShape: [3, 2],
  });
  assert.equal(sp.nnz, 2);
  assert.equal(sp.rank, 2);
  assert.equal(sp.dtype, "int32");
  assert.deepEqual(Array.from(sp.indices), [0n, 1n, 2n, 0n]);
  assert.deepEqual(sp.toArray(), [
    [0, 5],
    [0, 0],
    [7, 0],
  ]);
  const fromTyped = new SparseTensor({
    indices: new Int32Array([0, 1, 2, 0]),
    values: new Int32Array([5, 7]),
    denseShape: [3, 2],
  });
  assert.deepEqual(fromTyped.indices, sp.indices);
});

test("SparseTensor rejects out-of-bounds and malformed indices", () => {
  assert.throws(
    () => new SparseTensor({ indices: [[3, 0]], values: [1], denseShape: [3, 2] }),
    (e: Error) =>
      e instanceof InvalidArgumentError && /index \[3, 0\].*out of bounds.*\[3, 2\]/.test(e.message),
  );
  assert.throws(
    () => new SparseTensor({ indices: [[-1, 0]], values: [1], denseShape: [3, 2] }),
    /out of bounds/,
  );
  assert.throws(() => new SparseTensor({ indices: [[0]], values: [1], denseShape: [3, 2] }), /2 coordinates/);
  assert.throws(
    () => new SparseTensor({ indices: [[0, 0]], values: [1, 2], denseShape: [3, 2] }),
    /4 index coordinates/,
  );
});

test("RaggedTensor factories and validation", () => {
  const r = RaggedTensor.fromNested([[1, 2], [], [3]]);
  assert.equal(r.nrows, 3);
  assert.deepEqual(Array.from(r.rowSplits), [0, 2, 2, 3]);
  assert.deepEqual(r.toArray(), [[1, 2], [], [3]]);
  assert.deepEqual(r.shape, [3, null]);
  const s = RaggedTensor.fromRowSplits(new BigInt64Array([1n, 2n, 3n]), [0, 1, 3]);
  assert.equal(s.dtype, "int64");
  assert.deepEqual(RaggedTensor.fromRowLengths([1, 2, 3], [2, 0, 1]).toArray(), [[1, 2], [], [3]]);
  assert.throws(() => RaggedTensor.fromRowSplits([1, 2], [0, 1]), /last row split/);
  assert.throws(() => RaggedTensor.fromRowSplits([1, 2], [1, 2]), /start with 0/);
  assert.throws(() => RaggedTensor.fromRowSplits([1, 2], [0, 2, 1, 2]), /non-decreasing/);
  const weights = RaggedTensor.fromNested([[0.5], [1.5]]);
  assert.equal(weights.dtype, "float32");
});
