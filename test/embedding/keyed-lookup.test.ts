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
import { keyedLookupRuns } from "../../src/embedding/keyed-lookup.js";

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

test("KeyedJaggedTensor fast path: really taken for small lookups, same bits, int64 ids, long sequences cut like TF", () => {
  const e = embedding(1);
  const before = keyedLookupRuns();
  const kjt = new KeyedJaggedTensor({
    keys: ["c", "s", "a"],
    values: [4, 8, 15, 16, 23, 42, 0, 49, 7, 1, 2],
    lengths: [3, 0, 1, 3, 2, 2], // batch 2; sequence rows of 1 and 3 ids (maxSequenceLength 3)
  });
  const { features } = kjt.toDict();
  assertSameBits(e.embeddingLookup(kjt), e.embeddingLookup(features) as Record<string, DenseTensor>, "int32");
  assert.equal(keyedLookupRuns(), before + 1, "the fast path ran");
  const wide = new KeyedJaggedTensor({
    keys: kjt.keys,
    values: BigInt64Array.from(kjt.values as Int32Array, (v) => BigInt(v)),
    offsets: kjt.offsets,
  });
  const expected = e.embeddingLookup(features) as Record<string, DenseTensor>;
  assertSameBits(e.embeddingLookup(wide), expected, "int64");
  assert.equal(keyedLookupRuns(), before + 2);
  // Training can back-propagate through a fast KJT lookup: its plans are made on first use.
  const plans = e.lastLookupPlans!;
  assert.equal(plans.inputs, wide);
  assert.deepEqual(
    plans.features.map((f) => f.path),
    ["a", "c", "s"], // TF's flatten order (sorted keys)
  );
  // A sequence row of 5 ids with maxSequenceLength 3: the general path cuts it, with the same result.
  const long = new KeyedJaggedTensor({ keys: ["s"], values: [1, 2, 3, 4, 5], lengths: [5] });
  const cut = e.embeddingLookup({ s: RaggedTensor.fromNested([[1, 2, 3]]) }) as Record<string, DenseTensor>;
  assertSameBits(e.embeddingLookup(long), cut, "sequence cut to 3");
  assert.equal(keyedLookupRuns(), before + 2, "the long row took the general path");
  e.dispose();
});

test("KeyedJaggedTensor fast path with into: written in place; a bad id or shape writes nothing", () => {
  const e = embedding(1);
  const kjt = keyed(2, true, ["a", "b"]);
  const into = e.createOutputs(kjt);
  const before = keyedLookupRuns();
  const result = e.embeddingLookup(kjt, null, { into });
  assert.equal(result, into, "the fast path returns the caller's outputs");
  assert.equal(keyedLookupRuns(), before + 1);
  const { features, weights } = kjt.toDict();
  assertSameBits(
    into,
    e.embeddingLookup(features, weights ?? undefined) as Record<string, DenseTensor>,
    "into",
  );
  for (const t of Object.values(into)) t.data.fill(Number.NaN);
  const bad = new KeyedJaggedTensor({ keys: ["a", "b"], values: [1, 2, 3, 99], lengths: [1, 1, 1, 1] });
  assert.throws(() => e.embeddingLookup(bad, null, { into }), OutOfRangeError);
  const wrong = { a: into.a, b: new DenseTensor(new Float32Array(3 * 8), [3, 8]) };
  assert.throws(() => e.embeddingLookup(kjt, null, { into: wrong }), InvalidArgumentError);
  assert.ok(
    Object.values(into).every((t) => t.data.every((v) => Number.isNaN(v))),
    "nothing written",
  );
  e.dispose();
});
