import { test } from "node:test";
import assert from "node:assert/strict";
import { seededRandom } from "../support/seeded-random.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  Checkpoint,
  DenseTensor,
  FeatureConfig,
  OutOfRangeError,
  RaggedTensor,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
  type InputStructure,
} from "../../src/index.js";
import { tableMemory } from "../../src/kernels/table-memory.js";
import { setKernelChoice } from "../../src/kernels/kernel-choice.js";

/**
 * The public API's fast path (native or WebAssembly kernels over the table arenas) against the same API forced
 * onto the JS reference kernels, bit for bit, for every input kind TF's CPU path distinguishes.
 */
const { rand, int } = seededRandom(2024);
const VOCAB = 120;

function embedding(dim: number, combiner: Combiner): TPUEmbeddingForServing {
  const table = (name: string, c: Combiner = combiner) =>
    new TableConfig({ vocabularySize: VOCAB, dim, combiner: c, name });
  return new TPUEmbeddingForServing({
    featureConfig: {
      ragged: new FeatureConfig({ table: table("a") }),
      sparse: new FeatureConfig({ table: table("b") }),
      plain: new FeatureConfig({ table: table("c"), validateWeightsAndIndices: false }),
      sequence: new FeatureConfig({ table: table("d", "sum"), maxSequenceLength: 4 }),
      sparseSequence: new FeatureConfig({ table: table("e", "sum"), maxSequenceLength: 5 }),
      dense: new FeatureConfig({ table: table("f") }),
      shaped: new FeatureConfig({ table: table("g"), outputShape: [6, 2] }),
    },
    optimizer: null,
    seed: 3,
  });
}

function sparseInput(rows: number, width: number, pruned: boolean, weights: boolean) {
  const indices: number[][] = [];
  const values: number[] = [];
  const w: number[] = [];
  for (let r = 0; r < rows; r++) {
    const n = int(width + 1);
    for (let j = 0; j < n; j++) {
      indices.push([r, j]);
      values.push(pruned && rand() < 0.15 ? -1 : int(VOCAB));
      w.push(rand() < 0.1 ? 0 : Math.fround(rand() * 2 - 0.5));
    }
  }
  const ids = new SparseTensor({ indices, values, denseShape: [rows, width] });
  const wt = new SparseTensor({ indices, values: Float32Array.from(w), denseShape: [rows, width] });
  return { ids, weights: weights ? wt : null };
}

function raggedInput(rows: number, maxLength: number) {
  const nested = Array.from({ length: rows }, () =>
    Array.from({ length: int(maxLength + 1) }, () => int(VOCAB)),
  );
  const weights = nested.map((r) => r.map(() => Math.fround(rand() * 3 - 1)));
  return { ids: RaggedTensor.fromNested(nested), weights: RaggedTensor.fromNested(weights, "float32") };
}

function inputs(weighted: boolean) {
  const ragged = raggedInput(6, 25);
  const sparse = sparseInput(6, 30, true, weighted);
  const plain = sparseInput(6, 12, false, weighted);
  const shaped = raggedInput(3, 5);
  return {
    features: {
      ragged: ragged.ids,
      sparse: sparse.ids,
      plain: plain.ids,
      sequence: raggedInput(6, 7).ids,
      sparseSequence: sparseInput(6, 8, false, false).ids,
      dense: new DenseTensor(
        new Int32Array(12).map(() => int(VOCAB)),
        [4, 3],
      ),
      shaped: shaped.ids,
    },
    weights: weighted
      ? { ragged: ragged.weights, sparse: sparse.weights!, plain: plain.weights! }
      : undefined,
  };
}

function lookupBits(
  e: TPUEmbeddingForServing,
  features: InputStructure,
  weights: object | undefined,
  js: boolean,
) {
  setKernelChoice(js ? "js" : undefined);
  try {
    const out = e.embeddingLookup(features, weights) as Record<string, DenseTensor>;
    return Object.fromEntries(
      Object.entries(out).map(([k, t]) => [
        k,
        { shape: [...t.shape], bits: Array.from(new Uint32Array((t.data as Float32Array).slice().buffer)) },
      ]),
    );
  } finally {
    setKernelChoice(undefined);
  }
}

test("fast path equals the reference kernels bit for bit: ragged, sparse (safe and plain), sequences, dense", () => {
  for (const dim of [4, 12, 64]) {
    for (const combiner of ["sum", "mean", "sqrtn"] as Combiner[]) {
      const e = embedding(dim, combiner);
      for (let trial = 0; trial < 4; trial++) {
        const { features, weights } = inputs(trial % 2 === 1);
        const fast = lookupBits(e, features, weights, false);
        const reference = lookupBits(e, features, weights, true);
        assert.deepEqual(fast, reference, `dim ${dim} ${combiner} trial ${trial}`);
      }
      e.dispose();
    }
  }
});

test("fast path keeps the reference's errors: out-of-range ids are still rejected", () => {
  const e = embedding(8, "sum");
  const { features } = inputs(false);
  assert.throws(
    () => e.embeddingLookup({ ...features, ragged: RaggedTensor.fromNested([[1, VOCAB + 3]]) }),
    OutOfRangeError,
  );
  e.dispose();
});

test("tables live in the kernel arenas, and Checkpoint.restore reads straight into them", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "fast-path-"));
  try {
    const source = embedding(16, "mean");
    source.build();
    for (const [, v] of source.variables) assert.ok(tableMemory(v.value.data) !== undefined, v.name);
    const prefix = await new Checkpoint({ embedding: source }).save(path.join(dir, "ckpt"));

    const target = embedding(16, "mean");
    const handed: Float32Array[] = [];
    const allocate = target.allocateVariables.bind(target);
    target.allocateVariables = (names) => {
      const given = allocate(names);
      handed.push(...given.values());
      return given;
    };
    await new Checkpoint({ embedding: target }).restore(prefix);
    assert.equal(handed.length, target.tables.length);
    for (const table of target.tables) {
      const data = target.embeddingTables.get(table)!.data;
      assert.ok(handed.includes(data), `table ${table.name} is the memory the reader filled`);
      assert.ok(tableMemory(data) !== undefined, `table ${table.name} is in an arena`);
      assert.deepEqual(data, source.embeddingTables.get(source.tables[target.tables.indexOf(table)])!.data);
    }
    const { features } = inputs(false);
    assert.deepEqual(
      lookupBits(target, features, undefined, false),
      lookupBits(source, features, undefined, true),
    );
    source.dispose();
    target.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
