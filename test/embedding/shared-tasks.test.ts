import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DenseTensor,
  FeatureConfig,
  InvalidArgumentError,
  KeyedJaggedTensor,
  RaggedTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
} from "../../src/index.js";
import { setKernelChoice, setShareTaskRows } from "../../src/flags.js";
import { PARALLEL_MIN_COST } from "../../src/kernels/lookup-pool.js";
import type { StorageKind } from "../../src/kernels/quantized-rows.js";
import { seededRandom } from "../support/seeded-random.js";
import { assertSameBits } from "./every-kind.js";
import { countSharedLookups, general, stagedSkip, weightsFor } from "./staged-support.js";

/**
 * Threads sharing a staged lookup claim tasks of `shareChunkRows` output rows, feature after feature
 * (native/batch.c share_run). Every chunk size, from one row to whole features, must give the general
 * path's bits for every kind of feature the staged paths run (bags of each combiner, weighted bags,
 * sequences, dense gathers, KeyedJaggedTensor segments) and every table storage.
 */
const skip = stagedSkip;
const { rand, int } = seededRandom(4242);
const VOCAB = 257;

function embedding(storage: StorageKind) {
  const table = (name: string, combiner: Combiner) =>
    new TableConfig({ vocabularySize: VOCAB, dim: 24, combiner, name });
  return new TPUEmbeddingForServing({
    featureConfig: {
      sum: new FeatureConfig({ table: table("t_sum", "sum") }),
      mean: new FeatureConfig({ table: table("t_mean", "mean") }),
      sqrtn: new FeatureConfig({ table: table("t_sqrtn", "sqrtn") }),
      seq: new FeatureConfig({ table: table("t_seq", "sum"), maxSequenceLength: 5 }),
      dense: new FeatureConfig({ table: table("t_dense", "sum") }),
    },
    optimizer: null,
    seed: 3,
    threads: 2,
    tableStorage: storage,
  });
}

function ragged(rows: number, maxLength: number): RaggedTensor {
  const lengths = Array.from({ length: rows }, () => int(maxLength + 1));
  const values = new Int32Array(lengths.reduce((a, b) => a + b, 0)).map(() => int(VOCAB));
  return RaggedTensor.fromRowLengths(values, lengths);
}

function inputs(rows: number) {
  const features = {
    sum: ragged(rows, 12),
    mean: ragged(rows, 9),
    sqrtn: ragged(Math.max(1, rows >> 3), 30), // fewer rows than the others: fewer tasks
    seq: ragged(rows, 8), // rows longer than 5 are cut
    dense: new DenseTensor(
      new Int32Array(rows * 3).map(() => int(VOCAB)),
      [rows, 3],
    ),
  };
  const weights = { sum: weightsFor(features.sum, rand), mean: null, sqrtn: null, seq: null, dense: null };
  return { features, weights };
}

/** The same bags as one KeyedJaggedTensor (keys sum, mean; weights on both). */
function keyed(rows: number) {
  const lengths = new Int32Array(2 * rows).map(() => int(11));
  const values = new Int32Array(lengths.reduce((a, b) => a + b, 0)).map(() => int(VOCAB));
  const weights = new Float32Array(values.length).map(() => Math.fround(rand() - 0.25));
  return new KeyedJaggedTensor({ keys: ["sum", "mean"], values, lengths, weights });
}

test(
  "shared lookups: every task size gives the general path's bits, on every kind and storage",
  { skip },
  () => {
    const shared = countSharedLookups();
    try {
      for (const storage of ["float32", "int8", "float16"] as const) {
        const e = embedding(storage);
        // Big enough to be shared with the worker; 1 row (every row its own task), odd sizes, the
        // default, and 0 (whole features, as before tasks existed).
        const rows = Math.ceil(PARALLEL_MIN_COST / 5);
        const { features, weights } = inputs(rows);
        const kjt = keyed(rows);
        const expected = general(() => e.embeddingLookup(features, weights));
        const expectedKeyed = general(() => e.embeddingLookup(kjt));
        const into = e.createOutputs(features, weights);
        // This thread's kernels: the native ones as the worker's, then the portable ones (the worker stays
        // native), whose runs must split the lookup as the native ones do.
        for (const family of [undefined, "wasm", "js"] as const) {
          setKernelChoice(family);
          try {
            for (const chunk of [1, 7, 64, 1000, 0]) {
              setShareTaskRows(chunk);
              const context = `${storage}, this thread ${family ?? "native"}, ${chunk} rows a task`;
              const before = shared.count;
              // Repeated: how the threads' claims interleave differs from run to run.
              for (let round = 0; round < 3; round++) {
                assertSameBits(e.embeddingLookup(features, weights), expected, context);
                for (const leaf of Object.values(into)) leaf.data.fill(Number.NaN);
                assertSameBits(e.embeddingLookup(features, weights, { into }), expected, `${context}, into`);
                assertSameBits(e.embeddingLookup(kjt), expectedKeyed, `${context}, KeyedJaggedTensor`);
              }
              assert.equal(shared.count - before, 9, `${context}: shared with the worker`);
            }
          } finally {
            setKernelChoice(undefined);
          }
        }
        e.dispose();
      }
    } finally {
      shared.restore();
      setShareTaskRows(64);
    }
    assert.throws(() => setShareTaskRows(-1), InvalidArgumentError);
    assert.throws(() => setShareTaskRows(1.5), InvalidArgumentError);
  },
);
