import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { seededRandom } from "../support/seeded-random.js";
import {
  FeatureConfig,
  KeyedJaggedTensor,
  OutOfRangeError,
  RaggedTensor,
  TableConfig,
  TPUEmbeddingForServing,
  DenseTensor,
} from "../../src/index.js";
import { setKernelChoice } from "../../src/flags.js";
import { smallLookupRuns } from "../../src/embedding/small-lookup.js";
import { keyedLookupRuns } from "../../src/embedding/keyed-lookup.js";
import { nativeKernelsAvailable } from "../../src/kernels/native-addon.js";
import { general, weightsFor } from "./staged-support.js";

/**
 * One lookup route for every kernel family: with the WebAssembly or JS kernels chosen (as
 * TPU_EMBEDDING_KERNELS=wasm|js does), request-sized lookups of nested RaggedTensors and of
 * KeyedJaggedTensors take the batched (staged) route, synchronous and async, on one and two threads,
 * with the general planned path's bits and errors.
 */
const { rand, int } = seededRandom(1313);
const VOCAB = 211;

function embedding(threads: number) {
  const table = (name: string, combiner: "sum" | "mean" | "sqrtn", dim: number) =>
    new TableConfig({ vocabularySize: VOCAB, dim, combiner, name });
  const featureConfig = {
    a: new FeatureConfig({ table: table("ta", "sum", 16) }),
    b: new FeatureConfig({ table: table("tb", "mean", 8) }),
    c: new FeatureConfig({ table: table("tc", "sqrtn", 6) }), // dim 6: wasm declines, JS kernels run
    s: new FeatureConfig({ table: table("ts", "sum", 4), maxSequenceLength: 3 }),
    d: new FeatureConfig({ table: table("td", "mean", 4) }),
  };
  return new TPUEmbeddingForServing({ featureConfig, optimizer: null, seed: 5, threads });
}

function ragged(rows: number, maxLength: number) {
  return RaggedTensor.fromNested(
    Array.from({ length: rows }, () => Array.from({ length: int(maxLength + 1) }, () => int(VOCAB))),
  );
}

function request(rows: number) {
  const b = ragged(rows, 7);
  return {
    features: {
      a: ragged(rows, 9),
      b,
      c: ragged(rows, 5),
      s: ragged(rows, 5),
      d: new DenseTensor(
        Int32Array.from({ length: rows * 2 }, () => int(VOCAB)),
        [rows, 2],
      ),
    },
    weights: { b: weightsFor(b, rand) },
  };
}

function bits(result: unknown): Record<string, number[]> {
  return Object.fromEntries(
    Object.entries(result as Record<string, DenseTensor<Float32Array>>).map(([k, t]) => [
      k,
      [...t.shape, ...new Uint32Array(t.data.slice().buffer)],
    ]),
  );
}

/** Set in the child processes below, whose worker threads inherit TPU_EMBEDDING_KERNELS. */
const CHILD = "TPU_EMBEDDING_BATCHED_ROUTE_CHILD";
const inChild = process.env[CHILD] === "1";
const families: readonly ("wasm" | "js" | "native")[] = inChild
  ? [process.env.TPU_EMBEDDING_KERNELS as "wasm" | "js"]
  : nativeKernelsAvailable()
    ? ["wasm", "js", "native"]
    : ["wasm", "js"];

test(
  "worker threads run batches with the wasm and JS kernels too (TPU_EMBEDDING_KERNELS in a child)",
  {
    skip: inChild,
  },
  () => {
    for (const family of ["wasm", "js"]) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
        // Without NODE_TEST_CONTEXT the child reports in TAP instead of to this runner.
        env: { ...process.env, NODE_TEST_CONTEXT: undefined, TPU_EMBEDDING_KERNELS: family, [CHILD]: "1" },
        encoding: "utf8",
      });
      assert.equal(child.status, 0, `${family}: ${child.stdout}${child.stderr}`);
      assert.match(child.stdout, /# pass 2\b/, `${family}: both tests ran in the child`);
    }
  },
);

for (const family of families) {
  test(`${family} kernels: nested RaggedTensor lookups take the batched route with the general path's bits`, async () => {
    setKernelChoice(family);
    try {
      for (const threads of [1, 2]) {
        const e = embedding(threads);
        for (const rows of [1, 3, 64, 300]) {
          const { features, weights } = request(rows);
          const want = bits(general(() => e.embeddingLookup(features, weights)));
          const before = smallLookupRuns();
          assert.deepEqual(bits(e.embeddingLookup(features, weights)), want, `sync B=${rows} T=${threads}`);
          assert.deepEqual(
            bits(await e.embeddingLookupAsync(features, weights)),
            want,
            `async B=${rows} T=${threads}`,
          );
          assert.equal(smallLookupRuns(), before + 2, `B=${rows} T=${threads}: batched route both times`);
        }
        e.dispose();
      }
    } finally {
      setKernelChoice(undefined);
    }
  });

  test(`${family} kernels: KeyedJaggedTensor lookups take the batched route; a bad id is TF's error`, async () => {
    setKernelChoice(family);
    try {
      const e = embedding(2);
      const stride = 4;
      const keys = ["a", "b", "c"];
      const lengths = Int32Array.from({ length: keys.length * stride }, () => int(6));
      const total = lengths.reduce((x, y) => x + y, 0);
      const values = Int32Array.from({ length: total }, () => int(VOCAB));
      const kjt = new KeyedJaggedTensor({ keys, values, lengths });
      const want = bits(general(() => e.embeddingLookup(kjt)));
      const before = keyedLookupRuns();
      assert.deepEqual(bits(e.embeddingLookup(kjt)), want);
      assert.deepEqual(bits(await e.embeddingLookupAsync(kjt)), want);
      assert.equal(keyedLookupRuns(), before + 2);

      const bad = request(3);
      (bad.features.a.values as Int32Array)[0] = VOCAB; // the batch refuses it; the planner names it
      bad.features.a = RaggedTensor.fromRowSplits(Int32Array.from([VOCAB]), Int32Array.from([0, 1, 1, 1]));
      assert.throws(
        () => e.embeddingLookup(bad.features, bad.weights),
        (err: unknown) =>
          err instanceof OutOfRangeError && /a/.test(String(err)) && err.message.includes(`${VOCAB}`),
      );
      await assert.rejects(e.embeddingLookupAsync(bad.features, bad.weights), OutOfRangeError);
      e.dispose();
    } finally {
      setKernelChoice(undefined);
    }
  });
}
