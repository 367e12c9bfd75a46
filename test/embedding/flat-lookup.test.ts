import { test } from "node:test";
import assert from "node:assert/strict";
import { seededRandom } from "../support/seeded-random.js";
import {
  DenseTensor,
  FeatureConfig,
  RaggedTensor,
  TableConfig,
  TPUEmbeddingForServing,
} from "../../src/index.js";
import type { FlatFeature } from "../../src/embedding/index.js";
import { flatLookupRuns } from "../../src/embedding/small-lookup.js";
import { general } from "./staged-support.js";

/**
 * The server's flat route (features by path as typed arrays, no tensor objects) against the general
 * planned path fed the same inputs as tensors: the same bits for every input form it takes (ragged bags
 * with and without weights, sequences cut and padded, `outputShape` reshapes and sequences, dense ids of
 * any rank, int32 and int64 ids, nested paths), and it declines (nothing run) what TF refuses.
 */
const { rand, int } = seededRandom(2718);
const VOCAB = 131;

function embedding(threads: number) {
  const table = (name: string, dim: number, combiner: "sum" | "mean" | "sqrtn") =>
    new TableConfig({ vocabularySize: VOCAB, dim, combiner, name });
  const shared = table("shared", 8, "mean");
  return new TPUEmbeddingForServing({
    featureConfig: {
      bag: new FeatureConfig({ table: shared }),
      weighted: new FeatureConfig({ table: table("w", 4, "sqrtn") }),
      seq: new FeatureConfig({ table: table("s", 4, "sum"), maxSequenceLength: 3 }),
      shaped: new FeatureConfig({ table: table("o", 4, "sum"), outputShape: [2, 2] }),
      dense: new FeatureConfig({ table: table("d", 12, "sum") }),
      user: {
        history: [new FeatureConfig({ table: shared }), new FeatureConfig({ table: table("h", 4, "sum") })],
      },
    },
    optimizer: null,
    seed: 3,
    threads,
  });
}

function raggedArrays(rows: number, maxLength: number, int64: boolean) {
  const lengths = Array.from({ length: rows }, () => int(maxLength + 1));
  const splits = new Int32Array(rows + 1);
  lengths.forEach((l, r) => (splits[r + 1] = splits[r] + l));
  const n = splits[rows];
  const ids = int64
    ? BigInt64Array.from({ length: n }, () => BigInt(int(VOCAB)))
    : Int32Array.from({ length: n }, () => int(VOCAB));
  return { ids, splits };
}

/** A random flat request and the same request as tensors (nested as the feature structure). */
function request(rows: number) {
  const bag = raggedArrays(rows, 9, rand() < 0.5);
  const weighted = raggedArrays(rows, 5, false);
  const weights = Float32Array.from({ length: weighted.ids.length }, () => (rand() < 0.1 ? 0 : rand() * 2));
  const seq = raggedArrays(rows, 6, false);
  const shaped = raggedArrays(4, 3, false); // outputShape [2, 2]: 4 rows combined
  const denseShape = rand() < 0.3 ? [] : rand() < 0.5 ? [rows] : [rows, 3];
  const denseCount = denseShape.reduce((a, b) => a * b, 1);
  const dense = Int32Array.from({ length: denseCount }, () => int(VOCAB));
  const h0 = raggedArrays(rows, 4, false);
  const h1 = raggedArrays(rows, 4, true);
  const flat: FlatFeature[] = [
    { path: "bag", ids: bag.ids, rowSplits: bag.splits, denseShape: [], weights: null },
    { path: "weighted", ids: weighted.ids, rowSplits: weighted.splits, denseShape: [], weights },
    { path: "seq", ids: seq.ids, rowSplits: seq.splits, denseShape: [], weights: null },
    { path: "shaped", ids: shaped.ids, rowSplits: shaped.splits, denseShape: [], weights: null },
    { path: "dense", ids: dense, rowSplits: null, denseShape, weights: null },
    { path: "user/history/0", ids: h0.ids, rowSplits: h0.splits, denseShape: [], weights: null },
    { path: "user/history/1", ids: h1.ids, rowSplits: h1.splits, denseShape: [], weights: null },
  ];
  const r = (a: { ids: Int32Array | BigInt64Array; splits: Int32Array }) =>
    RaggedTensor.fromRowSplits(a.ids, a.splits);
  const features = {
    bag: r(bag),
    weighted: r(weighted),
    seq: r(seq),
    shaped: r(shaped),
    dense: new DenseTensor(dense, denseShape),
    user: { history: [r(h0), r(h1)] },
  };
  const tensorWeights = { weighted: RaggedTensor.fromRowSplits(weights, weighted.splits) };
  return { flat, features, weights: tensorWeights };
}

function leaves(result: unknown): DenseTensor<Float32Array>[] {
  const out = result as Record<string, DenseTensor<Float32Array>> & {
    user: { history: DenseTensor<Float32Array>[] };
  };
  return [out.bag, out.weighted, out.seq, out.shaped, out.dense, ...out.user.history];
}

const bits = (data: Float32Array) => [...new Uint32Array(data.slice().buffer)];

test("flat lookups equal the general path fed tensors, bit for bit, on one and two threads", async () => {
  for (const threads of [1, 2]) {
    const e = embedding(threads);
    for (const rows of [1, 2, 17, 64, 700]) {
      const { flat, features, weights } = request(rows);
      const want = leaves(general(() => e.embeddingLookup(features, weights)));
      const before = flatLookupRuns();
      const pending = e.lookupFlatAsync(flat);
      assert.ok(pending !== undefined, `B=${rows} T=${threads}: the flat route takes it`);
      const got = await pending;
      assert.equal(flatLookupRuns(), before + 1);
      assert.equal(got.length, want.length);
      got.forEach((o, i) => {
        assert.deepEqual([...o.shape], [...want[i].shape], `${flat[i].path} B=${rows} T=${threads}: shape`);
        assert.deepEqual(bits(o.data), bits(want[i].data), `${flat[i].path} B=${rows} T=${threads}: bits`);
      });
    }
    e.dispose();
  }
});

test("the flat route declines, running nothing, what the general path must refuse with TF's errors", () => {
  const e = embedding(1);
  const { flat } = request(3);
  const before = flatLookupRuns();
  const cases: [string, FlatFeature[]][] = [
    [
      "an id = vocabulary size",
      [{ ...flat[0], ids: Int32Array.from(flat[0].ids as Int32Array, () => VOCAB) }],
    ],
    [
      "an int64 id above int32",
      [{ ...flat[6], ids: BigInt64Array.from(flat[6].ids as BigInt64Array, () => 2n ** 32n + 1n) }],
    ],
    ["an unknown path", [{ ...flat[0], path: "nope" }]],
    ["a container path", [{ ...flat[0], path: "user/history" }]],
    ["weights on a sequence feature", [{ ...flat[2], weights: new Float32Array(flat[2].ids.length) }]],
    [
      "an outputShape that does not divide the rows",
      [{ ...flat[3], rowSplits: Int32Array.of(0, 1, 2, 3), ids: Int32Array.of(1, 2, 3) }],
    ],
  ];
  for (const [what, features] of cases) {
    if (features[0].ids.length === 0) continue; // nothing to break in an empty draw
    assert.equal(e.lookupFlatAsync(features), undefined, what);
  }
  assert.equal(flatLookupRuns(), before);
  e.dispose();
});
