import { test } from "node:test";
import assert from "node:assert/strict";
import { seededRandom } from "../support/seeded-random.js";
import {
  constant,
  FeatureConfig,
  RaggedTensor,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
} from "../../src/index.js";

/**
 * Compares every input kind and combiner with a deliberately plain float64 reference written here from
 * TF's documented semantics (not from the library's code), on random inputs.
 */
const { rand, int } = seededRandom(12345);

const VOCAB = 37;
const DIM = 5;
const tableValues = Array.from({ length: VOCAB * DIM }, () => Math.fround(rand() * 4 - 2));
const row = (id: number) => tableValues.slice(id * DIM, id * DIM + DIM);

function combine(entries: { id: number; w: number }[], combiner: Combiner): number[] {
  const acc = new Array(DIM).fill(0);
  let sw = 0;
  let sw2 = 0;
  for (const { id, w } of entries) {
    row(id).forEach((v, d) => (acc[d] += w * v));
    sw += w;
    sw2 += w * w;
  }
  const denominator = combiner === "sum" ? 1 : combiner === "mean" ? sw : Math.sqrt(sw2);
  return acc.map((v) => (denominator === 0 ? 0 : v / denominator));
}

function build(combiner: Combiner, options: { maxSequenceLength?: number; validate?: boolean } = {}) {
  const table = new TableConfig({
    vocabularySize: VOCAB,
    dim: DIM,
    combiner,
    initializer: constant(tableValues),
  });
  const feature = new FeatureConfig({
    table,
    maxSequenceLength: options.maxSequenceLength ?? 0,
    validateWeightsAndIndices: options.validate ?? true,
  });
  return new TPUEmbeddingForServing({ featureConfig: { f: feature }, optimizer: null });
}

function assertNear(actual: Float32Array, expected: number[], context: string): void {
  assert.equal(actual.length, expected.length, context);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 1e-5 * Math.max(1, Math.abs(expected[i]));
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tolerance,
      `${context}: element ${i} ${actual[i]} vs ${expected[i]}`,
    );
  }
}

const combiners: Combiner[] = ["sum", "mean", "sqrtn"];

test("randomized: ragged bags, every combiner, with and without weights", () => {
  for (let trial = 0; trial < 60; trial++) {
    const combiner = combiners[trial % 3];
    const weighted = trial % 2 === 0;
    const rows = Array.from({ length: 1 + int(6) }, () => Array.from({ length: int(12) }, () => int(VOCAB)));
    const weights = rows.map((r) => r.map(() => Math.fround(rand() * 3 - 0.5)));
    const ids = RaggedTensor.fromNested(rows);
    const w = weighted ? RaggedTensor.fromNested(weights, "float32") : null;
    const out = build(combiner).embeddingLookup({ f: ids }, w === null ? undefined : { f: w }).f;
    const expected = rows.flatMap((r, i) =>
      combine(
        r.map((id, j) => ({ id, w: weighted ? weights[i][j] : 1 })),
        combiner,
      ),
    );
    assertNear(out.data, expected, `trial ${trial} ${combiner} weighted=${weighted}`);
  }
});

test("randomized: sparse safe lookup prunes negative ids and (except sum) non-positive weights", () => {
  for (let trial = 0; trial < 60; trial++) {
    const combiner = combiners[trial % 3];
    const weighted = trial % 2 === 0;
    const batch = 1 + int(5);
    const width = 1 + int(10);
    const entries: { r: number; c: number; id: number; w: number }[] = [];
    for (let r = 0; r < batch; r++) {
      for (let c = 0; c < width; c++) {
        if (rand() < 0.5)
          entries.push({
            r,
            c,
            id: rand() < 0.15 ? -1 - int(3) : int(VOCAB),
            w: Math.fround(rand() * 3 - 1),
          });
      }
    }
    // Shuffle: the safe path does not need sorted indices.
    for (let i = entries.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [entries[i], entries[j]] = [entries[j], entries[i]];
    }
    const indices = entries.map((e) => [e.r, e.c]);
    const ids = new SparseTensor({ indices, values: entries.map((e) => e.id), denseShape: [batch, width] });
    const w = new SparseTensor({
      indices,
      values: Float32Array.from(entries.map((e) => e.w)),
      denseShape: [batch, width],
    });
    const out = build(combiner).embeddingLookup({ f: ids }, weighted ? { f: w } : undefined).f;
    const expected: number[] = [];
    for (let r = 0; r < batch; r++) {
      const kept = entries
        .filter((e) => e.r === r && e.id >= 0 && (!weighted || combiner === "sum" || e.w > 0))
        .map((e) => ({ id: e.id, w: weighted ? e.w : 1 }));
      expected.push(...(kept.length === 0 ? new Array(DIM).fill(0) : combine(kept, combiner)));
    }
    assertNear(out.data, expected, `trial ${trial} ${combiner} weighted=${weighted}`);
  }
});

test("randomized: sparse plain lookup keeps rows up to the last one present", () => {
  for (let trial = 0; trial < 40; trial++) {
    const combiner = combiners[trial % 3];
    const rows = Array.from({ length: 1 + int(6) }, () => Array.from({ length: int(5) }, () => int(VOCAB)));
    const indices: number[][] = [];
    const values: number[] = [];
    rows.forEach((r, i) => r.forEach((id, j) => (indices.push([i, j]), values.push(id))));
    const ids = new SparseTensor({ indices, values, denseShape: [rows.length + 2, 5] });
    const out = build(combiner, { validate: false }).embeddingLookup({ f: ids }).f;
    const last = indices.length === 0 ? -1 : indices[indices.length - 1][0];
    const expected = rows.slice(0, last + 1).flatMap((r) =>
      combine(
        r.map((id) => ({ id, w: 1 })),
        combiner,
      ),
    );
    assert.deepEqual([...out.shape], [last + 1, DIM]);
    assertNear(out.data, expected, `trial ${trial}`);
  }
});

test("randomized: sequence features from ragged and sparse inputs", () => {
  for (let trial = 0; trial < 40; trial++) {
    const length = 1 + int(5);
    const rows = Array.from({ length: 1 + int(5) }, () => Array.from({ length: int(8) }, () => int(VOCAB)));
    const expected = rows.flatMap((r) =>
      Array.from({ length }, (_, p) => (p < r.length ? row(r[p]) : new Array(DIM).fill(0))).flat(),
    );
    const embedding = build("mean", { maxSequenceLength: length });
    assertNear(
      embedding.embeddingLookup({ f: RaggedTensor.fromNested(rows) }).f.data,
      expected,
      `ragged ${trial}`,
    );
    const indices: number[][] = [];
    const values: number[] = [];
    rows.forEach((r, i) => r.forEach((id, j) => (indices.push([i, j]), values.push(id))));
    const sparse = new SparseTensor({ indices, values, denseShape: [rows.length, 8] });
    assertNear(embedding.embeddingLookup({ f: sparse }).f.data, expected, `sparse ${trial}`);
  }
});
