import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DenseTensor,
  FeatureConfig,
  InvalidArgumentError,
  ResourceExhaustedError,
  TpuEmbeddingError,
  RaggedTensor,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
} from "../../src/index.js";
import { seededRandom } from "../support/seeded-random.js";

/**
 * A failed lookup leaves nothing behind (issue 14, item 3): after an `embeddingLookupAsync` whose shared
 * buffers cannot be allocated, or one that fails on its input, every later async lookup still equals the
 * synchronous lookup of the same inputs.
 */

// Shared memory above this size "cannot be allocated" (what a real out-of-memory RangeError looks like),
// so the test needs no gigabytes. Installed only while a test runs.
const LIMIT = 64 * 1024 * 1024;
const RealShared = globalThis.SharedArrayBuffer;
class FailingShared extends RealShared {
  constructor(bytes: number) {
    if (bytes > LIMIT) throw new RangeError("Array buffer allocation failed");
    super(bytes);
  }
}

function embedding(threads: number): TPUEmbeddingForServing {
  const a = new TableConfig({ vocabularySize: 300, dim: 8, combiner: "sum", name: "a" });
  const b = new TableConfig({ vocabularySize: 200, dim: 4, combiner: "mean", name: "b" });
  const e = new TPUEmbeddingForServing({
    featureConfig: {
      bag: new FeatureConfig({ table: a }),
      seq: new FeatureConfig({ table: a, maxSequenceLength: 3 }),
      other: new FeatureConfig({ table: b }),
    },
    optimizer: null,
    seed: 7,
    threads,
  });
  e.build();
  return e;
}

type Inputs = Record<string, RaggedTensor | SparseTensor | DenseTensor>;

function validInputs(int: (n: number) => number): { features: Inputs; weights: Inputs | undefined } {
  const rows = 1 + int(40);
  const lengths = Array.from({ length: rows }, () => int(5));
  const n = lengths.reduce((x, y) => x + y, 0);
  const bag = RaggedTensor.fromRowLengths(
    new Int32Array(n).map(() => int(300)),
    lengths,
  );
  const features: Inputs = { bag };
  let weights: Inputs | undefined;
  switch (int(3)) {
    case 0: {
      features.seq = RaggedTensor.fromRowLengths(
        new Int32Array(n).map(() => int(300)),
        lengths,
      );
      weights = {
        bag: RaggedTensor.fromRowSplits(
          new Float32Array(n).map(() => Math.fround(int(100) / 10)),
          bag.rowSplits,
        ),
      };
      break;
    }
    case 1: {
      const entries = int(12);
      const indices = new BigInt64Array(entries * 2);
      for (let e = 0; e < entries; e++) {
        indices[2 * e] = BigInt(int(rows));
        indices[2 * e + 1] = BigInt(int(6));
      }
      features.other = new SparseTensor({
        indices,
        values: new Int32Array(entries).map(() => int(200)),
        denseShape: [rows, 6],
      });
      break;
    }
    default:
      features.other = new DenseTensor(
        new Int32Array(rows * 2).map(() => int(200)),
        [rows, 2],
      );
  }
  return { features, weights };
}

/** Inputs that fail: outputs too big for the (patched) shared memory, and plain input errors. */
function failingInputs(int: (n: number) => number): Inputs {
  switch (int(4)) {
    case 0: // planned path: the request slot grows, its output (4 Mi × 8 floats) cannot
      return {
        bag: new SparseTensor({
          indices: new BigInt64Array(0),
          values: new Int32Array(0),
          denseShape: [1 << 22, 2],
        }),
      };
    case 1: // staged path: the same, for 4 Mi empty bags
      return { bag: RaggedTensor.fromRowSplits(new Int32Array(0), new Int32Array((1 << 22) + 1)) };
    case 2: // an out-of-range id
      return { bag: RaggedTensor.fromRowSplits(Int32Array.of(1, 300), Int32Array.of(0, 2)) };
    default: // a dense input for a sequence feature
      return { seq: new DenseTensor(Int32Array.of(1, 2), [2]) };
  }
}

function assertSame(actual: unknown, expected: unknown, where: string): void {
  const a = actual as Record<string, DenseTensor<Float32Array>>;
  const e = expected as Record<string, DenseTensor<Float32Array>>;
  assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), where);
  for (const key of Object.keys(e)) {
    assert.deepEqual(a[key].shape, e[key].shape, `${where}: ${key} shape`);
    assert.deepEqual(a[key].data, e[key].data, `${where}: ${key} values`);
  }
}

for (const threads of [1, 2]) {
  test(`threads ${threads}: async lookups after failed ones equal the synchronous lookup`, async () => {
    const e = embedding(threads);
    const { int } = seededRandom(1400 + threads);
    globalThis.SharedArrayBuffer = FailingShared as SharedArrayBufferConstructor;
    try {
      let failures = 0;
      for (let round = 0; round < 30; round++) {
        // A failing lookup alone (it takes a slot the workers know) or among valid ones, then valid ones.
        const alone = round % 2 === 0;
        const batch = Array.from({ length: 1 + int(4) }, () => validInputs(int));
        const expected = batch.map(({ features, weights }) => e.embeddingLookup(features, weights));
        const bad = e.embeddingLookupAsync(failingInputs(int)).then(
          () => assert.fail("a failing lookup resolved"),
          (error: unknown) => {
            // Allocation failures are typed too (RESOURCE_EXHAUSTED), not bare RangeErrors.
            assert.ok(
              error instanceof ResourceExhaustedError || error instanceof TpuEmbeddingError,
              String(error),
            );
            failures++;
          },
        );
        if (alone) await bad;
        const results = await Promise.all(
          batch.map(({ features, weights }) => e.embeddingLookupAsync(features, weights)),
        );
        await bad;
        results.forEach((r, i) => assertSame(r, expected[i], `round ${round}, lookup ${i}`));
      }
      assert.equal(failures, 30);
    } finally {
      globalThis.SharedArrayBuffer = RealShared;
    }
  });
}

test("inputs whose outputs cannot exist throw typed errors before allocating; zero-width ones just work", async () => {
  const e = embedding(1);
  const M = 2147483647;
  const empty = { indices: new BigInt64Array(0), values: new Int32Array(0) };
  const tooBig: Inputs[] = [
    { bag: new SparseTensor({ ...empty, denseShape: [M, 5] }) },
    { seq: new SparseTensor({ ...empty, denseShape: [M, 5] }) }, // sequence: M × 3 × 8 values
    { seq: new SparseTensor({ ...empty, denseShape: [1 << 27, 5] }) }, // 2^27 × 3 × 8 > 2^31 - 1
  ];
  for (const inputs of tooBig) {
    assert.throws(() => e.embeddingLookup(inputs), InvalidArgumentError);
    await assert.rejects(e.embeddingLookupAsync(inputs), InvalidArgumentError);
  }
  // The 80-byte request of issue 14: an empty output of shape [M, 0, 8].
  const zero = { bag: new SparseTensor({ ...empty, denseShape: [M, 0, 5] }) };
  assert.deepEqual(e.embeddingLookup(zero).bag.shape, [M, 0, 8]);
  assert.deepEqual((await e.embeddingLookupAsync(zero)).bag.shape, [M, 0, 8]);
});
