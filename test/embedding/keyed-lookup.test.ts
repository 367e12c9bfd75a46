import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DenseTensor,
  FeatureConfig,
  InvalidArgumentError,
  KeyedJaggedTensor,
  OutOfRangeError,
  RaggedTensor,
  TableConfig,
  TPUEmbeddingForServing,
} from "../../src/index.js";
import { seededRandom } from "../support/seeded-random.js";
import { assertSameBits } from "./every-kind.js";

const { rand, int } = seededRandom(2024);

function embedding(threads: number) {
  const table = (name: string, combiner: "sum" | "mean" | "sqrtn") =>
    new TableConfig({ vocabularySize: 50, dim: 8, combiner, name });
  const featureConfig = {
    a: new FeatureConfig({ table: table("ta", "sum") }),
    b: new FeatureConfig({ table: table("tb", "mean") }),
    c: new FeatureConfig({ table: table("tc", "sqrtn") }),
    s: new FeatureConfig({ table: table("ts", "sum"), maxSequenceLength: 3 }),
  };
  return new TPUEmbeddingForServing({ featureConfig, optimizer: null, seed: 3, threads });
}

function keyed(batch: number, weighted: boolean, keys = ["c", "a", "s", "b"]) {
  const lengths = new Int32Array(keys.length * batch).map(() => int(6));
  const total = lengths.reduce((x, y) => x + y, 0);
  return new KeyedJaggedTensor({
    keys,
    values: new Int32Array(total).map(() => int(50)),
    lengths,
    weights: weighted ? new Float32Array(total).map(() => Math.fround(rand() * 2)) : null,
  });
}

test("embeddingLookup(KeyedJaggedTensor) equals the lookup of its per-key RaggedTensors, bit for bit", async () => {
  for (const threads of [1, 2]) {
    const e = embedding(threads);
    for (const batch of [1, 5, 900]) {
      for (const weighted of [false, true]) {
        const kjt = keyed(batch, weighted, weighted ? ["c", "a", "b"] : undefined);
        const { features, weights } = kjt.toDict();
        const expected = e.embeddingLookup(features, weights ?? undefined) as Record<string, DenseTensor>;
        const context = `threads ${threads}, batch ${batch}, weighted ${weighted}`;
        const result = e.embeddingLookup(kjt);
        assert.deepEqual(Object.keys(result), kjt.keys, `${context}: keys in the KJT's order`);
        assertSameBits(result, expected, context);
        assertSameBits(await e.embeddingLookupAsync(kjt), expected, `${context} async`);
        const into = e.createOutputs(kjt);
        assert.equal(e.embeddingLookup(kjt, null, { into }).a, into.a);
        assertSameBits(into, expected, `${context} into`);
      }
    }
    e.dispose();
  }
});

test("embeddingLookup(KeyedJaggedTensor): TF's errors name the key; weights come only from the KJT", () => {
  const e = embedding(1);
  const bad = new KeyedJaggedTensor({ keys: ["a", "b"], values: [1, 50, 2], lengths: [1, 2] });
  assert.throws(
    () => e.embeddingLookup(bad),
    (err: unknown) => err instanceof OutOfRangeError && /b/.test(err.message),
  );
  const unknown = new KeyedJaggedTensor({ keys: ["a", "zz"], values: [1, 2], lengths: [1, 1] });
  assert.throws(
    () => e.embeddingLookup(unknown),
    (err: unknown) => err instanceof InvalidArgumentError && /zz/.test(err.message),
  );
  const kjt = keyed(2, false);
  assert.throws(
    () => e.embeddingLookup(kjt, { a: RaggedTensor.fromNested([[1]], "float32") } as never),
    (err: unknown) => err instanceof InvalidArgumentError && /carries its weights/.test(err.message),
  );
  e.dispose();
});
