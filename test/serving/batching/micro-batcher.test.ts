import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { FeatureConfig, TableConfig, type ServableModel } from "../../../src/index.js";
import type {
  FeatureInput,
  PredictInputs,
  PredictOutputs,
} from "../../../src/serving/batching/feature-input.js";
import { MicroBatcher, type BatchStats } from "../../../src/serving/batching/micro-batcher.js";
import { mergeInputs, splitOutputs } from "../../../src/serving/batching/merge-inputs.js";
import { runLookup } from "../../../src/serving/batching/run-lookup.js";
import { setInlineLookupIds } from "../../../src/flags.js";
import { buildTestModel } from "../support/test-registry.js";

const ragged = (rows: number[][], weights?: number[][]): FeatureInput => ({
  kind: "ragged",
  ids: Int32Array.from(rows.flat()),
  rowSplits: Int32Array.from([0, ...rows.map((_, i) => rows.slice(0, i + 1).flat().length)]),
  weights: weights === undefined ? null : Float32Array.from(weights.flat()),
});
const one = (name: string, input: FeatureInput): PredictInputs => new Map([[name, input]]);

test("mergeInputs offsets row splits and sparse rows; int32 and int64 ids merge as int64; missing weights are ones", () => {
  const merged = mergeInputs([
    new Map<string, FeatureInput>([
      ["a", ragged([[1, 2], [3]], [[0.5, 2], [3]])],
      [
        "s",
        {
          kind: "sparse",
          ids: Int32Array.of(4),
          indices: BigInt64Array.of(1n, 0n),
          denseShape: [2, 3],
          weights: null,
        },
      ],
    ]),
    new Map<string, FeatureInput>([
      ["a", { kind: "ragged", ids: BigInt64Array.of(7n), rowSplits: Int32Array.of(0, 0, 1), weights: null }],
      [
        "s",
        {
          kind: "sparse",
          ids: Int32Array.of(5, 6),
          indices: BigInt64Array.of(0n, 4n, 1n, 1n),
          denseShape: [2, 5],
          weights: null,
        },
      ],
    ]),
  ]);
  const a = merged.get("a")!;
  assert.equal(a.kind, "ragged");
  if (a.kind !== "ragged") return;
  assert.deepEqual(a.ids, BigInt64Array.of(1n, 2n, 3n, 7n));
  assert.deepEqual(a.rowSplits, Int32Array.of(0, 2, 3, 3, 4));
  assert.deepEqual(a.weights, Float32Array.of(0.5, 2, 3, 1));
  const s = merged.get("s")!;
  if (s.kind !== "sparse") assert.fail("sparse expected");
  assert.deepEqual(s.denseShape, [4, 5]);
  assert.deepEqual(s.indices, BigInt64Array.of(1n, 0n, 2n, 4n, 3n, 1n));
  assert.deepEqual(s.ids, Int32Array.of(4, 5, 6));
  assert.equal(s.weights, null);
});

test("splitOutputs hands each request its rows, and refuses outputs whose rows do not line up", () => {
  const requests = [one("a", ragged([[1], [2]])), one("a", ragged([[3]]))];
  const data = Float32Array.from({ length: 6 }, (_, i) => i);
  const split = splitOutputs(requests, new Map([["a", { shape: [3, 2], data }]]))!;
  assert.deepEqual(split[0].get("a"), { shape: [2, 2], data: Float32Array.of(0, 1, 2, 3) });
  assert.deepEqual(split[1].get("a"), { shape: [1, 2], data: Float32Array.of(4, 5) });
  assert.equal(splitOutputs(requests, new Map([["a", { shape: [2, 3], data }]])), null);
});

describe("MicroBatcher against the real embedding", () => {
  let model: ServableModel;
  before(async () => {
    model = await buildTestModel(1, 21);
  });

  test("concurrent requests with different bags are merged into one lookup and each gets its own rows", async () => {
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher({ enabled: true, maxBatchExamples: 1000, batchTimeoutMicros: 0 }, (s) =>
      stats.push(s),
    );
    const requests: PredictInputs[] = Array.from(
      { length: 20 },
      (_, i) =>
        new Map<string, FeatureInput>([
          [
            "watched",
            ragged(
              Array.from({ length: (i % 3) + 1 }, (_, r) =>
                Array.from({ length: r + (i % 4) }, (_, k) => (i * 37 + r * 11 + k) % 1000),
              ),
            ),
          ],
          [
            "favorited",
            ragged([
              [i, i + 1, i + 2, i + 3].slice(0, (i % 4) + 1),
              ...Array.from({ length: i % 3 }, () => [i]),
            ]),
          ],
          [
            "friends",
            {
              kind: "sparse",
              ids: Int32Array.of(i % 100, (i * 7) % 100),
              indices: BigInt64Array.of(0n, 0n, 0n, 1n),
              denseShape: [1 + (i % 2), 2],
              weights: i % 2 === 0 ? Float32Array.of(0.5, 2) : null,
            },
          ],
        ]),
    );
    const batched = await Promise.all(requests.map((r) => batcher.submit(model, r)));
    const alone = await Promise.all(requests.map((r) => runLookup(model, r)));
    batched.forEach((outputs, i) => {
      for (const [name, o] of alone[i]) {
        assert.deepEqual(outputs.get(name)!.shape, o.shape, `request ${i} ${name}`);
        assert.deepEqual(outputs.get(name)!.data, o.data, `request ${i} ${name}`);
      }
    });
    assert.ok(
      stats.some((s) => s.requests > 1),
      `merged batches: ${JSON.stringify(stats)}`,
    );
    assert.equal(
      stats.reduce((n, s) => n + s.requests, 0),
      20,
    );
  });

  test("maxBatchExamples caps a batch; disabled batching looks up each request alone", async () => {
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher({ enabled: true, maxBatchExamples: 4, batchTimeoutMicros: 0 }, (s) =>
      stats.push(s),
    );
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => batcher.submit(model, one("watched", ragged([[i], [i + 1]])))),
    );
    assert.deepEqual(
      stats.map((s) => [s.requests, s.examples]),
      [
        [2, 4],
        [2, 4],
        [2, 4],
      ],
    );
    const off: BatchStats[] = [];
    const unbatched = new MicroBatcher({ enabled: false, maxBatchExamples: 4, batchTimeoutMicros: 0 }, (s) =>
      off.push(s),
    );
    await Promise.all(
      Array.from({ length: 3 }, (_, i) => unbatched.submit(model, one("watched", ragged([[i]])))),
    );
    assert.deepEqual(
      off.map((s) => s.requests),
      [1, 1, 1],
    );
  });

  test("lookups on the event loop (under the inline bound) and on a worker give the same floats and errors", async () => {
    const inputs = new Map<string, FeatureInput>([
      ["watched", ragged([[1, 2], [3]], [[0.5, 2], [3]])],
      ["favorited", ragged([[4, 5, 6, 7], []])],
      ["user/topics", ragged([[9], [10, 11]])],
    ]);
    const bad = one("watched", ragged([[1], [5000]]));
    const results: [PredictOutputs, string][] = [];
    try {
      for (const bound of [4096, 0]) {
        setInlineLookupIds(bound);
        const error = await runLookup(model, bad).then(
          () => "",
          (e: unknown) => String(e),
        );
        results.push([await runLookup(model, inputs), error]);
      }
    } finally {
      setInlineLookupIds(undefined);
    }
    const [[inline, inlineError], [pooled, pooledError]] = results;
    assert.deepEqual(inline, pooled);
    // watched row 0: the weighted mean of rows 1 and 2 (weights 0.5 and 2, dim 8) in float32, TF's order:
    // products summed in id order, then divided by the weights' sum.
    const video = model.embedding.variable("video").value.data;
    const f = Math.fround;
    const expected = Float32Array.from({ length: 8 }, (_, d) =>
      f(f(f(0.5 * video[8 + d]) + f(2 * video[16 + d])) / 2.5),
    );
    assert.deepEqual(inline.get("watched")!.data.subarray(0, 8), expected);
    assert.match(inlineError, /id 5000 is out of range for table "video"/);
    assert.equal(inlineError, pooledError);
  });

  test("batchTimeoutMicros > 0 waits for requests arriving later", async () => {
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher(
      { enabled: true, maxBatchExamples: 100, batchTimeoutMicros: 50_000 },
      (s) => stats.push(s),
    );
    const first = batcher.submit(model, one("watched", ragged([[1]])));
    await new Promise((r) => setImmediate(r));
    const second = batcher.submit(model, one("watched", ragged([[2]])));
    await Promise.all([first, second]);
    assert.deepEqual(
      stats.map((s) => s.requests),
      [2],
    );
  });

  test("a request that fails inside the kernel fails alone; the rest of its batch is answered", async () => {
    const batcher = new MicroBatcher({ enabled: true, maxBatchExamples: 100, batchTimeoutMicros: 0 });
    const results = await Promise.allSettled([
      batcher.submit(model, one("watched", ragged([[1]]))),
      batcher.submit(model, one("watched", ragged([[5000]]))), // not validated here: the kernel throws
      batcher.submit(model, one("watched", ragged([[2]]))),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled"],
    );
    assert.match(
      String((results[1] as PromiseRejectedResult).reason),
      /id 5000 is out of range for table "video"/,
    );
    const row2 = model.embedding.variable("video").value.data.slice(16, 24);
    assert.deepEqual((results[2] as PromiseFulfilledResult<PredictOutputs>).value.get("watched")!.data, row2);
  });

  test("features with outputShape are never merged (their rows do not follow the input rows)", async () => {
    const table = new TableConfig({ vocabularySize: 10, dim: 2, name: "t", combiner: "sum" });
    const shaped = await buildTestModel(1, 3, () => ({ f: new FeatureConfig({ table, outputShape: [2] }) }));
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher({ enabled: true, maxBatchExamples: 100, batchTimeoutMicros: 0 }, (s) =>
      stats.push(s),
    );
    const outs = await Promise.all([
      batcher.submit(shaped, one("f", ragged([[1], [2]]))),
      batcher.submit(shaped, one("f", ragged([[3], [4]]))),
    ]);
    assert.deepEqual(
      stats.map((s) => s.requests),
      [1, 1],
    );
    assert.deepEqual(outs[1].get("f")!.shape, [2, 2]);
  });
});
