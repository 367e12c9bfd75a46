import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { seededRandom } from "../support/seeded-random.js";
import {
  DenseTensor,
  FeatureConfig,
  InvalidArgumentError,
  OutOfRangeError,
  RaggedTensor,
  SGD,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
  type InputStructure,
} from "../../src/index.js";
import { setKernelChoice } from "../../src/kernels/kernel-choice.js";
import { lookupPool, PARALLEL_MIN_COST } from "../../src/kernels/lookup-pool.js";
import { SMALL_LOOKUP_MAX_IDS, SmallLookup, smallLookupRuns } from "../../src/embedding/small-lookup.js";
import { general, stagedSkip, weightsFor } from "./staged-support.js";

/**
 * The small-lookup fast path (one native call for a whole request) against the general per-feature path
 * forced by the test hook, bit for bit, over randomized inputs of every form it handles; its errors,
 * `lastLookupPlans` and `applyGradients` after it, `into`, and the fallbacks. Skipped without the addon
 * or when TPU_EMBEDDING_KERNELS forces other kernels (the rest of the suite then covers the general path).
 */
const skip = stagedSkip;

const { rand, int } = seededRandom(4242);
const VOCAB = 97;

function featureConfig(dim: number, combiner: Combiner) {
  const table = (name: string) => new TableConfig({ vocabularySize: VOCAB, dim, combiner, name });
  const shared = table("a");
  return {
    bag: new FeatureConfig({ table: shared }),
    weighted: new FeatureConfig({ table: table("b") }),
    seq: new FeatureConfig({ table: table("c"), maxSequenceLength: 3 }),
    shaped: new FeatureConfig({ table: table("d"), outputShape: [2, 2] }),
    shapedSeq: new FeatureConfig({ table: table("e"), outputShape: [2, 6] }),
    dense: new FeatureConfig({ table: table("f") }),
    wide: new FeatureConfig({ table: table("g") }),
    nested: [new FeatureConfig({ table: table("h") }), { inner: new FeatureConfig({ table: shared }) }],
  };
}

function embedding(dim: number, combiner: Combiner, optimizer: SGD | null = null) {
  return new TPUEmbeddingForServing({ featureConfig: featureConfig(dim, combiner), optimizer, seed: 11 });
}

function ragged(rows: number, maxLength: number, int64 = false) {
  const nested = Array.from({ length: rows }, () =>
    Array.from({ length: int(maxLength + 1) }, () => int(VOCAB)),
  );
  const ids = RaggedTensor.fromNested(nested, int64 ? "int64" : "int32");
  return ids;
}

function inputs(rows: number) {
  const bag = ragged(rows, 12, rand() < 0.5);
  const weighted = ragged(rows, 9);
  const shapedRows = 4;
  return {
    features: {
      bag,
      weighted,
      seq: ragged(rows, 6), // rows longer than 3: truncated
      shaped: ragged(shapedRows, 5),
      shapedSeq: ragged(shapedRows, 4), // 12 / 4 = 3 per row
      dense: new DenseTensor(
        rand() < 0.5
          ? new Int32Array(6).map(() => int(VOCAB))
          : BigInt64Array.from({ length: 6 }, () => BigInt(int(VOCAB))),
        [2, 3],
      ),
      wide: ragged(rows, 3),
      nested: [ragged(rows, 4), { inner: ragged(rows, 5) }],
    },
    weights: { weighted: weightsFor(weighted, rand, rand() < 0.5), bag: null },
  };
}

/** A result's shape and float bits, leaf by leaf (keys in the result's own order). */
function bits(value: unknown): unknown {
  if (value instanceof DenseTensor)
    return {
      shape: [...value.shape],
      bits: Array.from(new Uint32Array((value.data as Float32Array).slice().buffer)),
    };
  if (Array.isArray(value)) return value.map(bits);
  if (value !== null && typeof value === "object") return Object.entries(value).map(([k, v]) => [k, bits(v)]);
  return value;
}

/** Runs `run` and returns what it threw (or fails). */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  assert.fail("expected an error");
}

test("small lookups equal the general path bit for bit, and really take the fast path", { skip }, () => {
  for (const dim of [4, 20, 64]) {
    for (const combiner of ["sum", "mean", "sqrtn"] as Combiner[]) {
      const e = embedding(dim, combiner);
      for (let trial = 0; trial < 6; trial++) {
        const rows = 1 + int(5);
        const { features, weights } = inputs(rows);
        const before = smallLookupRuns();
        const fast = e.embeddingLookup(features, trial % 2 === 0 ? weights : undefined);
        assert.equal(smallLookupRuns(), before + 1, "the fast path ran");
        const slow = general(() => e.embeddingLookup(features, trial % 2 === 0 ? weights : undefined));
        assert.equal(smallLookupRuns(), before + 1, "the general path ran");
        assert.deepEqual(bits(fast), bits(slow), `dim ${dim} ${combiner} trial ${trial}`);
        assert.deepEqual(Object.keys(fast), Object.keys(features));
        assert.deepEqual(fast.shaped.shape, [2, 2, dim]);
        assert.deepEqual(fast.shapedSeq.shape, [2, 6, dim]);
        assert.deepEqual(fast.seq.shape, [rows, 3, dim]);
        assert.deepEqual(fast.dense.shape, [2, 3, dim]);
      }
      e.dispose();
    }
  }
});

test("a sequence row longer than maxSequenceLength keeps its first ids (hand-computed)", { skip }, () => {
  const table = new TableConfig({
    vocabularySize: 5,
    dim: 2,
    name: "t",
    initializer: (shape, out) => (out ?? new Float32Array(10)).map((_, i) => i),
  });
  const e = new TPUEmbeddingForServing({
    featureConfig: { s: new FeatureConfig({ table, maxSequenceLength: 2 }) },
    optimizer: null,
  });
  const before = smallLookupRuns();
  const out = e.embeddingLookup({ s: RaggedTensor.fromNested([[4, 1, 3], [2]]) });
  assert.equal(smallLookupRuns(), before + 1);
  assert.deepEqual(out.s.shape, [2, 2, 2]);
  // rows: id r = [2r, 2r + 1]; row 0 keeps ids 4, 1; row 1 is id 2 then a zero row.
  assert.deepEqual(Array.from(out.s.data), [8, 9, 2, 3, 4, 5, 0, 0]);
  e.dispose();
});

test("bad ids, weights and splits raise the general path's errors and write nothing", { skip }, () => {
  const config = featureConfig(8, "mean");
  const e = new TPUEmbeddingForServing({ featureConfig: config, optimizer: null, seed: 5 });
  e.build();
  const { features, weights } = inputs(2);
  const cases: [string, Record<string, unknown>, Record<string, unknown> | undefined][] = [
    ["int32 id out of range", { ...features, wide: RaggedTensor.fromNested([[1, VOCAB]]) }, undefined],
    ["negative id", { ...features, bag: RaggedTensor.fromNested([[-1]]) }, undefined],
    [
      "int64 id beyond int32",
      { ...features, bag: RaggedTensor.fromNested([[2n ** 40n]], "int64") },
      undefined,
    ],
    [
      "dense id out of range",
      { ...features, dense: new DenseTensor(new Int32Array([0, VOCAB + 1]), [2]) },
      undefined,
    ],
    [
      "weights with other row lengths",
      features,
      {
        weighted: RaggedTensor.fromRowSplits(new Float32Array(features.weighted.values.length), [
          0,
          features.weighted.values.length,
        ]),
      },
    ],
    [
      "int32 weights",
      features,
      {
        weighted: RaggedTensor.fromRowSplits(
          new Int32Array(features.weighted.values.length),
          features.weighted.rowSplits,
        ),
      },
    ],
    ["weights for a sequence feature", features, { seq: weightsFor(features.seq, rand, false) }],
    ["an input no feature is configured for", { ...features, nope: null }, undefined],
  ];
  const small = new SmallLookup(config, e.tables, e.embeddingTables);
  for (const [name, f, w] of cases) {
    const before = smallLookupRuns();
    const fastError = thrown(() => e.embeddingLookup(f as InputStructure, w));
    const generalError = general(() => thrown(() => e.embeddingLookup(f as InputStructure, w)));
    assert.equal(smallLookupRuns(), before, `${name}: not served by the fast path`);
    assert.equal(fastError.constructor, generalError.constructor, name);
    assert.equal(fastError.message, generalError.message, name);
    assert.ok(fastError instanceof OutOfRangeError || fastError instanceof InvalidArgumentError, name);
    // Straight into caller-owned outputs: refused before anything is written.
    const into = outputsLike(general(() => e.embeddingLookup(features, weights)));
    assert.equal(small.lookup(f, w, into), undefined, name);
    for (const leaf of leaves(into))
      assert.ok(
        leaf.data.every((v) => v === 7),
        `${name}: nothing written`,
      );
  }
  small.release();
  e.dispose();
});

/** Sentinel-filled (7) float32 tensors of the result's shapes, all views of one SharedArrayBuffer. */
function outputsLike(result: unknown): unknown {
  const all = leaves(result);
  const total = all.reduce((a, t) => a + t.data.length, 0);
  const buffer = new SharedArrayBuffer(4 * (total + 3));
  new Float32Array(buffer).fill(7);
  let at = 1; // not at the buffer's start: offsets are the leaves' own
  const copy = (value: unknown): unknown => {
    if (value instanceof DenseTensor) {
      const data = new Float32Array(buffer, 4 * at, value.data.length);
      at += value.data.length;
      return new DenseTensor(data, value.shape);
    }
    if (Array.isArray(value)) return value.map(copy);
    if (value !== null && typeof value === "object")
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
    return value;
  };
  return copy(result);
}

function leaves(value: unknown): DenseTensor<Float32Array>[] {
  if (value instanceof DenseTensor) return [value as DenseTensor<Float32Array>];
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(leaves);
  return [];
}

test("into: the kernels write the caller's tensors, which are the result's leaves", { skip }, () => {
  const config = featureConfig(16, "sqrtn");
  const e = new TPUEmbeddingForServing({ featureConfig: config, optimizer: null, seed: 9 });
  e.build();
  const small = new SmallLookup(config, e.tables, e.embeddingTables);
  for (let trial = 0; trial < 4; trial++) {
    const { features, weights } = inputs(1 + trial);
    const expected = general(() => e.embeddingLookup(features, weights));
    const into = outputsLike(expected);
    const result = small.lookup(features, weights, into);
    assert.deepEqual(bits(result), bits(expected));
    const mine = leaves(result);
    const theirs = leaves(into);
    assert.equal(mine.length, theirs.length);
    mine.forEach((t, i) => assert.equal(t, theirs[i], "the result's leaves are the given tensors"));
    // The word before the first output and after the last are untouched.
    const whole = new Float32Array(theirs[0].data.buffer);
    assert.equal(whole[0], 7);
    assert.equal(whole[whole.length - 2], 7);
    // Outputs in separate buffers, or of another shape, are left to the general path.
    const separate = {
      ...(into as Record<string, unknown>),
      bag: new DenseTensor(new Float32Array(16), [1, 16]),
    };
    assert.equal(small.lookup(features, weights, separate), undefined);

    // A null feature stays null in the result (its keys in the inputs' order); the containers are new.
    const partial = { ...features, wide: null, nested: [null, features.nested[1]] };
    const partialExpected = general(() => e.embeddingLookup(partial, weights)) as Record<string, unknown>;
    const partialInto = outputsLike(partialExpected);
    const partialResult = small.lookup(partial, weights, partialInto) as Record<string, unknown>;
    assert.deepEqual(bits(partialResult), bits(partialExpected));
    assert.deepEqual(Object.keys(partialResult), Object.keys(partial));
    assert.equal(partialResult.wide, null);
    assert.equal((partialResult.nested as unknown[])[0], null);
    assert.notEqual(partialResult, partialInto);
    assert.notEqual(partialResult.nested, (partialInto as Record<string, unknown>).nested);
    const partialLeaves = leaves(partialInto);
    leaves(partialResult).forEach((t, i) => assert.equal(t, partialLeaves[i]));
  }
  small.release();
  const { features } = inputs(1);
  assert.equal(small.lookup(features, null), undefined, "released: nothing served");
  e.dispose();
});

test("into without code generation from strings: the same results, by the fast path", { skip }, () => {
  // DictNode.make falls back to a template copy when `new Function` is disallowed.
  const index = new URL("../../src/index.js", import.meta.url).href;
  const small = new URL("../../src/embedding/small-lookup.js", import.meta.url).href;
  const script = `
    import { FeatureConfig, RaggedTensor, TableConfig, TPUEmbeddingForServing } from ${JSON.stringify(index)};
    import { smallLookupRuns } from ${JSON.stringify(small)};
    const config = { a: 4, b: 5 };
    const featureConfig = Object.fromEntries(Object.entries(config).map(([n, rows]) =>
      [n, new FeatureConfig({ table: new TableConfig({ vocabularySize: rows, dim: 2, name: n,
        initializer: (shape) => Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => i) }) })]));
    const e = new TPUEmbeddingForServing({ featureConfig, optimizer: null });
    const features = { b: RaggedTensor.fromNested([[4, 1]]), a: RaggedTensor.fromNested([[3]]) };
    const into = e.createOutputs(features);
    const result = e.embeddingLookup(features, null, { into });
    console.log(JSON.stringify({ keys: Object.keys(result), same: result.a === into.a && result.b === into.b,
      a: Array.from(result.a.data), b: Array.from(result.b.data), runs: smallLookupRuns() }));`;
  const child = spawnSync(
    process.execPath,
    ["--disallow-code-generation-from-strings", "--input-type=module", "-e", script],
    { encoding: "utf8" },
  );
  assert.equal(child.status, 0, child.stderr);
  // Row r of a dim-2 table is [2r, 2r + 1]: b = the mean of rows 4 and 1 (the default combiner), a = row 3.
  assert.deepEqual(JSON.parse(child.stdout), {
    keys: ["b", "a"],
    same: true,
    a: [6, 7],
    b: [5, 6],
    runs: 1,
  });
});

test(
  "into: results in each request's key order, for more key orders than a dict keeps ready",
  { skip },
  () => {
    // Keys needing quotes and escapes in a literal, and an integer-like key (enumerated first).
    const names = ['a"b', "c\\d", "e\u2028f", "7", "g h", "constructor"];
    const featureConfig = Object.fromEntries(
      names.map((n, t) => [
        n,
        new FeatureConfig({ table: new TableConfig({ vocabularySize: VOCAB, dim: 4, name: `t${t}` }) }),
      ]),
    );
    const e = new TPUEmbeddingForServing({ featureConfig, optimizer: null, seed: 5 });
    e.build();
    const orders = [0, 1, 2, 3, 4, 5, 6].map((r) => [...names.slice(r % 6), ...names.slice(0, r % 6)]);
    orders.push([...names].reverse(), names.slice(1, 4));
    for (let round = 0; round < 2; round++) {
      const previous = new Set<unknown>();
      for (const order of orders) {
        const features: Record<string, RaggedTensor> = {};
        for (const n of order) features[n] = ragged(1, 4);
        const expected = general(() => e.embeddingLookup(features));
        const into = e.createOutputs(features);
        const before = smallLookupRuns();
        const result = e.embeddingLookup(features, null, { into }) as Record<string, unknown>;
        assert.equal(smallLookupRuns(), before + 1, "the fast path ran");
        assert.deepEqual(Object.keys(result), Object.keys(features));
        assert.deepEqual(bits(result), bits(expected));
        for (const n of order) assert.equal(result[n], (into as Record<string, unknown>)[n]);
        assert.equal(Object.getPrototypeOf(result), Object.prototype);
        assert.ok(!previous.has(result), "a new result container per lookup");
        previous.add(result);
      }
    }
  },
);

test("lastLookupPlans and applyGradients after a fast lookup match the general path's", { skip }, () => {
  const fast = embedding(8, "mean", new SGD({ learningRate: 0.5 }));
  const slow = embedding(8, "mean", new SGD({ learningRate: 0.5 }));
  for (let step = 0; step < 3; step++) {
    const { features, weights } = inputs(3);
    const before = smallLookupRuns();
    const a = fast.embeddingLookup(features, weights);
    assert.equal(smallLookupRuns(), before + 1);
    const b = general(() => slow.embeddingLookup(features, weights));
    assert.deepEqual(bits(a), bits(b));
    const planned = fast.lastLookupPlans!;
    assert.deepEqual(
      planned.features.map((f) => f.path),
      slow.lastLookupPlans!.features.map((f) => f.path),
    );
    assert.equal(planned.inputs, features);
    // Gradients: the outputs' own values, so every looked-up row moves.
    fast.applyGradients(mapLeaves(a));
    slow.applyGradients(mapLeaves(b));
  }
  for (const [name, v] of fast.variables) {
    assert.deepEqual(
      new Uint32Array(v.value.data.buffer, v.value.data.byteOffset, v.value.data.length),
      new Uint32Array(
        slow.variable(name).value.data.buffer,
        slow.variable(name).value.data.byteOffset,
        v.value.data.length,
      ),
      name,
    );
  }
  fast.dispose();
  slow.dispose();
});

/** The same structure with every tensor replaced by a copy of its values (as gradients). */
function mapLeaves(value: unknown): unknown {
  if (value instanceof DenseTensor) return new DenseTensor((value.data as Float32Array).slice(), value.shape);
  if (Array.isArray(value)) return value.map(mapLeaves);
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapLeaves(v)]));
  return value;
}

test(
  "other kernels take the batched route; sparse inputs and large lookups the general path; unchanged results",
  { skip },
  () => {
    const e = embedding(12, "sum");
    const { features, weights } = inputs(2);
    const native = e.embeddingLookup(features, weights);
    let before = smallLookupRuns();
    for (const family of ["wasm", "js"] as const) {
      setKernelChoice(family); // what TPU_EMBEDDING_KERNELS=wasm (js) selects
      try {
        assert.deepEqual(bits(e.embeddingLookup(features, weights)), bits(native), family);
      } finally {
        setKernelChoice(undefined);
      }
      assert.equal(smallLookupRuns(), before + 1, `${family} kernels chosen: the same batched route`);
      before = smallLookupRuns();
    }

    const sparse = new SparseTensor({ indices: [[0, 0]], values: [3], denseShape: [1, 2] });
    e.embeddingLookup({ ...features, bag: sparse });
    assert.equal(smallLookupRuns(), before, "SparseTensor: general path");

    const big = RaggedTensor.fromRowLengths(
      new Int32Array(SMALL_LOOKUP_MAX_IDS + 1).map(() => int(VOCAB)),
      [SMALL_LOOKUP_MAX_IDS + 1],
    );
    const large = e.embeddingLookup({ bag: big });
    assert.equal(smallLookupRuns(), before, "too many ids: general path");
    assert.deepEqual(large.bag.shape, [1, 12]);

    // At the threshold (the first such lookup also grows the staging buffer): fast, same bits.
    const edge = {
      bag: RaggedTensor.fromRowLengths(
        new Int32Array(SMALL_LOOKUP_MAX_IDS - 8).map(() => int(VOCAB)),
        [3, SMALL_LOOKUP_MAX_IDS - 11],
      ),
      dense: new DenseTensor(
        new Int32Array(8).map(() => int(VOCAB)),
        [8],
      ),
    };
    before = smallLookupRuns();
    const edgeFast = e.embeddingLookup(edge);
    assert.equal(smallLookupRuns(), before + 1, "at the threshold: fast path");
    assert.deepEqual(bits(edgeFast), bits(general(() => e.embeddingLookup(edge))));
    e.dispose();
  },
);

test(
  "embeddingLookup's into (createOutputs or an earlier result) is written in place by the fast path",
  { skip },
  () => {
    const e = embedding(16, "mean");
    const { features, weights } = inputs(3);
    const into = e.createOutputs(features, weights);
    const expected = general(() => e.embeddingLookup(features, weights));
    for (const target of [into, e.embeddingLookup(features, weights)]) {
      for (const leaf of leaves(target)) leaf.data.fill(7);
      const before = smallLookupRuns();
      const result = e.embeddingLookup(features, weights, { into: target });
      assert.equal(smallLookupRuns(), before + 1, "the fast path ran");
      assert.deepEqual(bits(result), bits(expected));
      const mine = leaves(result);
      leaves(target).forEach((t, i) => assert.equal(mine[i], t, "the result's leaves are the given tensors"));
    }
    // A wrong shape is the general path's error, and nothing is written.
    for (const leaf of leaves(into)) leaf.data.fill(7);
    const other = inputs(2);
    const before = smallLookupRuns();
    assert.throws(() => e.embeddingLookup(other.features, other.weights, { into }), InvalidArgumentError);
    assert.equal(smallLookupRuns(), before);
    for (const leaf of leaves(into)) assert.ok(leaf.data.every((v) => v === 7));
    e.dispose();
  },
);

test(
  "with worker threads, lookups the pool would split run staged on the workers, same bits",
  { skip },
  () => {
    const e = new TPUEmbeddingForServing({
      featureConfig: featureConfig(8, "sum"),
      optimizer: null,
      seed: 2,
      threads: 2,
    });
    const ids = (n: number) =>
      RaggedTensor.fromRowLengths(
        new Int32Array(n).map(() => int(VOCAB)),
        [n],
      );
    let before = smallLookupRuns();
    const large = { bag: ids(PARALLEL_MIN_COST + 1) };
    // The general path runs lookup batches on the same pool: its answer is taken before counting.
    const want = bits(general(() => e.embeddingLookup(large)));
    before = smallLookupRuns();
    const staged = lookupPool().runStaged.bind(lookupPool());
    let shared = 0;
    lookupPool().runStaged = (...args) => {
      shared++;
      return staged(...args);
    };
    try {
      assert.deepEqual(bits(e.embeddingLookup(large)), want);
    } finally {
      lookupPool().runStaged = staged;
    }
    assert.equal(smallLookupRuns(), before + 1, "the fast path ran it");
    assert.equal(shared, 1, "as a staged request shared with the workers");
    before = smallLookupRuns();
    const { features } = inputs(1);
    assert.deepEqual(bits(e.embeddingLookup(features)), bits(general(() => e.embeddingLookup(features))));
    assert.equal(smallLookupRuns(), before + 1, "a request stays on the fast path");
    e.dispose();
  },
);
