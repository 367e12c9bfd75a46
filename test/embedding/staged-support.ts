import {
  FeatureConfig,
  RaggedTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
} from "../../src/index.js";
import { kernelChoice } from "../../src/kernels/kernel-choice.js";
import { nativeKernelsAvailable } from "../../src/kernels/native-addon.js";
import { setSmallLookupEnabled } from "../../src/embedding/small-lookup.js";
import { lookupPool } from "../../src/kernels/lookup-pool.js";

/**
 * Why the staged paths' tests cannot run here, or false: they need the native addon, and the native
 * kernels chosen (with TPU_EMBEDDING_KERNELS forcing others the rest of the suite covers the general path).
 */
export const stagedSkip: string | false = !nativeKernelsAvailable()
  ? "native addon not built (run `npm run build:native`)"
  : kernelChoice() !== "native"
    ? "other kernels forced (TPU_EMBEDDING_KERNELS): no staged path to test"
    : false;

/**
 * An embedding with features a, b and c on tables of dim 16 that sum, average and sqrtn-combine, plus
 * `more` (given the table maker).
 */
export function combinerEmbedding(
  threads: number,
  vocabularySize: number,
  seed: number,
  more: (
    table: (name: string, combiner: Combiner) => TableConfig,
  ) => Record<string, FeatureConfig> = () => ({}),
): TPUEmbeddingForServing {
  const table = (name: string, combiner: Combiner) =>
    new TableConfig({ vocabularySize, dim: 16, combiner, name });
  const featureConfig = {
    a: new FeatureConfig({ table: table("ta", "sum") }),
    b: new FeatureConfig({ table: table("tb", "mean") }),
    c: new FeatureConfig({ table: table("tc", "sqrtn") }),
    ...more(table),
  };
  return new TPUEmbeddingForServing({ featureConfig, optimizer: null, seed, threads });
}

/** Counts the lookups shared with the pool's workers (`runStaged` calls) until `restore()`. */
export function countSharedLookups(): { count: number; restore(): void } {
  const pool = lookupPool();
  const runStaged = pool.runStaged.bind(pool);
  const counter = {
    count: 0,
    restore: () => {
      pool.runStaged = runStaged;
    },
  };
  pool.runStaged = (...args) => {
    counter.count++;
    return runStaged(...args);
  };
  return counter;
}

/** `run` with the staged paths off: what the general (planned) path returns or throws. */
export function general<T>(run: () => T): T {
  setSmallLookupEnabled(false);
  try {
    return run();
  } finally {
    setSmallLookupEnabled(true);
  }
}

/**
 * Ragged weights for `ids` (the same row splits) drawn with `rand`, some zero and some negative (div_no_nan
 * rows and sqrtn's squares); float64 ones are converted, so never read in place.
 */
export function weightsFor(ids: RaggedTensor, rand: () => number, float64 = false): RaggedTensor {
  const n = ids.values.length;
  const values = float64 ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = rand() < 0.1 ? 0 : rand() * 3 - 1;
  return RaggedTensor.fromRowSplits(values, ids.rowSplits.slice());
}
