import { test } from "node:test";
import assert from "node:assert/strict";
import { DenseTensor, KeyedJaggedTensor, OutOfRangeError, RaggedTensor } from "../../src/index.js";
import { smallLookupRuns } from "../../src/embedding/small-lookup.js";
import { keyedLookupRuns } from "../../src/embedding/keyed-lookup.js";
import { seededRandom } from "../support/seeded-random.js";
import { assertSameBits } from "./every-kind.js";
import { combinerEmbedding, stagedSkip } from "./staged-support.js";

const skip = stagedSkip;
const { rand, int } = seededRandom(4242);
const VOCAB = 400;

function embedding(threads: number) {
  return combinerEmbedding(threads, VOCAB, 9);
}

function batch(rows: number) {
  const ragged = () => {
    const lengths = Array.from({ length: rows }, () => int(7));
    const n = lengths.reduce((x, y) => x + y, 0);
    return RaggedTensor.fromRowLengths(
      new Int32Array(n).map(() => int(VOCAB)),
      lengths,
    );
  };
  const features = { a: ragged(), b: ragged(), c: ragged() };
  const weights = {
    a: RaggedTensor.fromRowSplits(
      new Float32Array(features.a.values.length).map(() => Math.fround(rand() * 2)),
      features.a.rowSplits,
    ),
  };
  return { features, weights };
}

test(
  "embeddingLookupAsync takes the staged path on the workers: same bits, many at once",
  { skip },
  async () => {
    for (const threads of [1, 2]) {
      const e = embedding(threads);
      const cases = [1, 3, 700, 2000, 1, 900].map(batch);
      const expected = cases.map(({ features, weights }) => e.embeddingLookup(features, weights));
      const before = smallLookupRuns();
      const results = await Promise.all(
        [...cases, ...cases].map(({ features, weights }) => e.embeddingLookupAsync(features, weights)),
      );
      assert.equal(smallLookupRuns(), before + 2 * cases.length, "every async lookup was staged");
      results.forEach((r, i) =>
        assertSameBits(
          r as Record<string, DenseTensor>,
          expected[i % cases.length] as Record<string, DenseTensor>,
          `threads ${threads}, call ${i}`,
        ),
      );
      // KeyedJaggedTensors too.
      const { features } = cases[3];
      const kjt = new KeyedJaggedTensor({
        keys: ["a", "b"],
        values: Int32Array.from([...features.a.values, ...features.b.values] as number[]),
        lengths: Int32Array.from([
          ...Array.from({ length: features.a.nrows }, (_, r) => features.a.rowLength(r)),
          ...Array.from({ length: features.b.nrows }, (_, r) => features.b.rowLength(r)),
        ]),
      });
      const keyedBefore = keyedLookupRuns();
      const keyed = await e.embeddingLookupAsync(kjt);
      assert.equal(keyedLookupRuns(), keyedBefore + 1);
      assertSameBits(
        keyed,
        e.embeddingLookup({ a: features.a, b: features.b }) as Record<string, DenseTensor>,
        `threads ${threads}, KJT`,
      );
      e.dispose();
    }
  },
);

test(
  "staged lookups never write outside the caller's into views, sync or async, 2 threads",
  { skip },
  async () => {
    const e = embedding(2);
    const { features } = batch(1500); // over 4096 ids: the workers take part
    const expected = e.embeddingLookup(features) as Record<string, DenseTensor<Float32Array>>;
    // The outputs are views inside one larger plain ArrayBuffer, with other data between and around them.
    const size = 1500 * 16;
    const memory = new Float32Array(3 * size + 300).fill(-7);
    const into = {
      a: new DenseTensor(memory.subarray(100, 100 + size), [1500, 16]),
      b: new DenseTensor(memory.subarray(200 + size, 200 + 2 * size), [1500, 16]),
      c: new DenseTensor(memory.subarray(300 + 2 * size, 300 + 3 * size), [1500, 16]),
    };
    const untouched = () =>
      memory.subarray(0, 100).every((v) => v === -7) &&
      memory.subarray(100 + size, 200 + size).every((v) => v === -7) &&
      memory.subarray(200 + 2 * size, 300 + 2 * size).every((v) => v === -7);
    assertSameBits(e.embeddingLookup(features, undefined, { into }) as never, expected, "sync");
    assert.ok(untouched(), "sync: the data around the outputs is intact");
    memory.fill(-7);
    assertSameBits((await e.embeddingLookupAsync(features, undefined, { into })) as never, expected, "async");
    assert.ok(untouched(), "async: the data around the outputs is intact");
    e.dispose();
  },
);

test(
  "a bad id through the staged async path rejects with TF's error and writes nothing",
  { skip },
  async () => {
    const e = embedding(2);
    const { features } = batch(900);
    const into = e.createOutputs(features);
    for (const t of Object.values(into)) t.data.fill(Number.NaN);
    const values = Int32Array.from(features.b.values as Int32Array);
    values[values.length - 1] = VOCAB;
    const bad = { ...features, b: RaggedTensor.fromRowSplits(values, features.b.rowSplits) };
    await assert.rejects(e.embeddingLookupAsync(bad, undefined, { into }), OutOfRangeError);
    assert.ok(Object.values(into).every((t) => t.data.every((v) => Number.isNaN(v))));
    e.dispose();
  },
);
