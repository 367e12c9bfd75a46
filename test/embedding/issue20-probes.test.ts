import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DenseTensor,
  FeatureConfig,
  OutOfRangeError,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
} from "../../src/index.js";
import { setSmallLookupEnabled } from "../../src/embedding/small-lookup.js";

/**
 * Issue 20, library side: a rank-0 dense id looks up one row of shape [dim] on every route, and TF's
 * safe sparse lookup prunes ids < 0, then (mean, sqrtn) weights <= 0, before any id reaches the gather.
 */

function embedding(combiner: Combiner, threads = 1, validate = true) {
  const table = new TableConfig({ vocabularySize: 10, dim: 3, combiner, name: "t" });
  return new TPUEmbeddingForServing({
    featureConfig: { f: new FeatureConfig({ table, validateWeightsAndIndices: validate }) },
    optimizer: null,
    seed: 5,
    threads,
  });
}

function row(e: TPUEmbeddingForServing, id: number): number[] {
  const t = [...e.embeddingTables.values()][0];
  return Array.from(t.data.subarray(id * 3, id * 3 + 3));
}

test("a scalar dense id gives shape [dim] on the first lookup, sync and async, staged or planned", async () => {
  for (const staged of [true, false]) {
    setSmallLookupEnabled(staged);
    try {
      for (const threads of [1, 2]) {
        const e = embedding("sum", threads);
        try {
          // The very first lookup of this feature is a scalar: no earlier shape to fall back on.
          const out = e.embeddingLookup({ f: new DenseTensor(Int32Array.of(4), []) }) as {
            f: DenseTensor<Float32Array>;
          };
          assert.deepEqual(out.f.shape, [3], `staged=${staged} threads=${threads}`);
          assert.deepEqual(Array.from(out.f.data), row(e, 4));
          const e2 = embedding("sum", threads);
          const outAsync = (await e2.embeddingLookupAsync({ f: new DenseTensor(Int32Array.of(7), []) })) as {
            f: DenseTensor<Float32Array>;
          };
          assert.deepEqual(outAsync.f.shape, [3]);
          assert.deepEqual(Array.from(outAsync.f.data), row(e2, 7));
          e2.dispose();
          // Then a vector and a scalar again: each keeps its own shape.
          const v = e.embeddingLookup({ f: new DenseTensor(Int32Array.of(1, 2), [2]) }) as {
            f: DenseTensor<Float32Array>;
          };
          assert.deepEqual(v.f.shape, [2, 3]);
          const s = e.embeddingLookup({ f: new DenseTensor(Int32Array.of(2), []) }) as {
            f: DenseTensor<Float32Array>;
          };
          assert.deepEqual(s.f.shape, [3]);
        } finally {
          e.dispose();
        }
      }
    } finally {
      setSmallLookupEnabled(true);
    }
  }
});

function sparse(ids: number[], weights: number[] | null) {
  // One row per entry pair: row 0 holds ids[0], ids[1]; row 1 holds the rest.
  const indices = BigInt64Array.from(
    ids.flatMap((_, i) => [BigInt(i < 2 ? 0 : 1), BigInt(i < 2 ? i : i - 2)]),
  );
  const denseShape = [2, 4];
  return {
    ids: new SparseTensor({ indices, values: Int32Array.from(ids), denseShape }),
    weights:
      weights === null ? null : new SparseTensor({ indices, values: Float32Array.from(weights), denseShape }),
  };
}

test("safe sparse lookup: an id >= vocab with weight <= 0 is pruned for mean and sqrtn, an error for sum", async () => {
  for (const threads of [1, 2]) {
    for (const combiner of ["mean", "sqrtn"] as const) {
      const e = embedding(combiner, threads);
      try {
        // Row 0: id 3 (w 2) and id 99 (w 0, pruned); row 1: id 50 (w -1, pruned), id -4 (pruned as an id).
        const { ids, weights } = sparse([3, 99, 50, -4], [2, 0, -1, 5]);
        for (const out of [
          e.embeddingLookup({ f: ids }, { f: weights }),
          await e.embeddingLookupAsync({ f: ids }, { f: weights }),
        ] as { f: DenseTensor<Float32Array> }[]) {
          assert.deepEqual(out.f.shape, [2, 3]);
          // mean: 2·t3 / 2 = t3; sqrtn: 2·t3 / sqrt(4) = t3; row 1 emptied by pruning → zeros.
          const t3 = row(e, 3);
          assert.deepEqual(Array.from(out.f.data.subarray(0, 3)), t3, combiner);
          assert.deepEqual(Array.from(out.f.data.subarray(3)), [0, 0, 0]);
        }
        // NaN is not > 0: TF's _prune_invalid_weights (greater(w, 0)) prunes it too.
        const nan = sparse([3, 99], [2, Number.NaN]);
        const out = e.embeddingLookup({ f: nan.ids }, { f: nan.weights }) as { f: DenseTensor<Float32Array> };
        assert.deepEqual(Array.from(out.f.data.subarray(0, 3)), row(e, 3));
        // Without weights nothing but negative ids is pruned: 99 reaches the gather.
        assert.throws(() => e.embeddingLookup({ f: nan.ids }), OutOfRangeError);
      } finally {
        e.dispose();
      }
    }
    const sum = embedding("sum", threads);
    try {
      const { ids, weights } = sparse([3, 99], [2, 0]);
      assert.throws(() => sum.embeddingLookup({ f: ids }, { f: weights }), OutOfRangeError);
      await assert.rejects(sum.embeddingLookupAsync({ f: ids }, { f: weights }), OutOfRangeError);
    } finally {
      sum.dispose();
    }
    // The plain path (validateWeightsAndIndices false, rank 2) prunes nothing.
    const plain = embedding("mean", threads, false);
    try {
      const { ids, weights } = sparse([3, 99], [2, 0]);
      assert.throws(() => plain.embeddingLookup({ f: ids }, { f: weights }), OutOfRangeError);
    } finally {
      plain.dispose();
    }
  }
});
