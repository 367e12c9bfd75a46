/** Test inputs covering every lookup kind (shared by the pool and `into` tests). */
import assert from "node:assert/strict";
import { seededRandom } from "../support/seeded-random.js";
import {
  DenseTensor,
  FeatureConfig,
  RaggedTensor,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
  type TPUEmbeddingForServingOptions,
} from "../../src/index.js";

const { rand, int } = seededRandom(99);

export const VOCAB = 300;

/** Features of every kind: bags with each combiner, weighted bags, a sequence and a dense gather. */
export function makeEmbedding(
  threads: number,
  dim = 8,
  tableStorage?: TPUEmbeddingForServingOptions["tableStorage"],
): TPUEmbeddingForServing {
  const table = (combiner: Combiner, name: string) =>
    new TableConfig({ vocabularySize: VOCAB, dim, combiner, name });
  const featureConfig = {
    sum: new FeatureConfig({ table: table("sum", "t_sum") }),
    mean: new FeatureConfig({ table: table("mean", "t_mean") }),
    sqrtn: new FeatureConfig({ table: table("sqrtn", "t_sqrtn") }),
    seq: new FeatureConfig({ table: table("sum", "t_seq"), maxSequenceLength: 6 }),
    dense: new FeatureConfig({ table: table("mean", "t_dense") }),
    sparse: new FeatureConfig({ table: table("sqrtn", "t_sparse") }),
    // Sparse sequence input: ids carry explicit positions (the packed request's positions array).
    sparseSeq: new FeatureConfig({ table: table("sum", "t_sparse_seq"), maxSequenceLength: 7 }),
  };
  return new TPUEmbeddingForServing({ featureConfig, optimizer: null, seed: 7, threads, tableStorage });
}

export function ragged(batch: number, maxLength: number): { ids: RaggedTensor; weights: RaggedTensor } {
  const splits = new Int32Array(batch + 1);
  for (let b = 0; b < batch; b++) splits[b + 1] = splits[b] + int(maxLength + 1);
  const values = new Int32Array(splits[batch]);
  const weights = new Float32Array(splits[batch]);
  for (let i = 0; i < values.length; i++) {
    values[i] = int(VOCAB);
    weights[i] = Math.fround(rand() * 2 - 0.25);
  }
  return {
    ids: RaggedTensor.fromRowSplits(values, splits),
    weights: RaggedTensor.fromRowSplits(weights, splits),
  };
}

export function sparse(batch: number, maxLength: number, pruned = true): SparseTensor {
  const indices: number[][] = [];
  const values: number[] = [];
  for (let b = 0; b < batch; b++) {
    const n = int(maxLength + 1);
    for (let j = 0; j < n; j++) {
      indices.push([b, j]);
      values.push(pruned && rand() < 0.1 ? -1 : int(VOCAB));
    }
  }
  return new SparseTensor({ indices, values, denseShape: [batch, maxLength] });
}

export function inputs(batch: number) {
  const sum = ragged(batch, 14);
  const mean = ragged(batch, 14);
  const dense = new Int32Array(batch * 3).map(() => int(VOCAB));
  return {
    features: {
      sum: sum.ids,
      mean: mean.ids,
      sqrtn: ragged(batch, 20).ids,
      seq: ragged(batch, 9).ids,
      dense: new DenseTensor(dense, [batch, 3]),
      sparse: sparse(batch, 12),
      sparseSeq: sparse(batch, 9, false),
    },
    weights: { sum: sum.weights, mean: mean.weights },
  };
}

export function assertSameBits(
  a: Record<string, DenseTensor>,
  b: Record<string, DenseTensor>,
  context: string,
) {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  for (const key of Object.keys(a)) {
    assert.deepEqual([...a[key].shape], [...b[key].shape], `${context} ${key} shape`);
    const x = new Uint32Array((a[key].data as Float32Array).slice().buffer);
    const y = new Uint32Array((b[key].data as Float32Array).slice().buffer);
    assert.deepEqual(x, y, `${context} ${key} values`);
  }
}
