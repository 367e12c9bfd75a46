import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DenseTensor,
  FailedPreconditionError,
  FeatureConfig,
  InvalidArgumentError,
  KeyedJaggedTensor,
  OutOfRangeError,
  RaggedTensor,
  SGD,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
} from "../../src/index.js";
import { setKernelChoice } from "../../src/flags.js";
import { nativeKernelsAvailable } from "../../src/kernels/native-addon.js";
import { rowBytes, type StorageKind } from "../../src/kernels/quantized-rows.js";
import { inputs, VOCAB } from "./every-kind.js";
import { general } from "./staged-support.js";

/**
 * Quantized tables: a lookup is bit for bit the float32 lookup on the dequantized table, on every kernel
 * family (native dequantizes in place; wasm and JS run on dequantized rows), every lookup kind (bags of
 * each combiner, weighted, TF's sparse-segment order, sequences with ragged and explicit positions,
 * dense gathers), synchronous and async, on one and two threads, and on the general (planned) path.
 */
const KINDS: StorageKind[] = ["float16", "bfloat16", "int8"];
const families = nativeKernelsAvailable() ? (["native", "wasm", "js"] as const) : (["wasm", "js"] as const);

function makeEmbedding(threads: number, dim: number, tableStorage?: StorageKind) {
  const table = (combiner: Combiner, name: string) =>
    new TableConfig({ vocabularySize: VOCAB, dim, combiner, name });
  const featureConfig = {
    sum: new FeatureConfig({ table: table("sum", "t_sum") }),
    mean: new FeatureConfig({ table: table("mean", "t_mean") }),
    sqrtn: new FeatureConfig({ table: table("sqrtn", "t_sqrtn") }),
    seq: new FeatureConfig({ table: table("sum", "t_seq"), maxSequenceLength: 6 }),
    dense: new FeatureConfig({ table: table("mean", "t_dense") }),
    sparse: new FeatureConfig({ table: table("sqrtn", "t_sparse") }),
    sparseSeq: new FeatureConfig({ table: table("sum", "t_sparse_seq"), maxSequenceLength: 7 }),
  };
  return new TPUEmbeddingForServing({ featureConfig, seed: 11, threads, tableStorage });
}

/** A float32 embedding of the same features whose tables hold `quantized`'s dequantized values. */
function dequantizedTwin(quantized: TPUEmbeddingForServing, threads: number, dim: number) {
  const twin = makeEmbedding(threads, dim);
  const byName = new Map([...quantized.embeddingTables].map(([t, v]) => [t.name, v.data]));
  for (const [t, v] of twin.embeddingTables) v.data.set(byName.get(t.name)!);
  return twin;
}

function bits(result: unknown): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(result as Record<string, DenseTensor<Float32Array>>))
    out[k] = [...new Uint32Array(v.data.buffer, v.data.byteOffset, v.data.length)];
  return out;
}

for (const family of families) {
  test(`${family} kernels: quantized lookups equal float32 lookups on the dequantized tables, bit for bit`, async () => {
    setKernelChoice(family);
    try {
      for (const kind of KINDS) {
        for (const dim of [8, 64, 70]) {
          for (const threads of [1, 2]) {
            const q = makeEmbedding(threads, dim, kind);
            const twin = dequantizedTwin(q, threads, dim);
            for (const batch of [1, 5, 200]) {
              const { features, weights } = inputs(batch);
              const want = bits(twin.embeddingLookup(features, weights));
              const where = `${kind} dim ${dim} T=${threads} B=${batch}`;
              assert.deepEqual(bits(q.embeddingLookup(features, weights)), want, `sync ${where}`);
              assert.deepEqual(bits(await q.embeddingLookupAsync(features, weights)), want, `async ${where}`);
              assert.deepEqual(
                bits(general(() => q.embeddingLookup(features, weights))),
                want,
                `general path ${where}`,
              );
            }
            q.dispose();
            twin.dispose();
          }
        }
      }
    } finally {
      setKernelChoice(undefined);
    }
  });
}

test("KeyedJaggedTensor lookups and TF's out-of-range error on a quantized table", async () => {
  const q = makeEmbedding(2, 16, "int8");
  const twin = dequantizedTwin(q, 2, 16);
  const keys = ["sum", "mean", "sqrtn"];
  const lengths = Int32Array.from({ length: keys.length * 4 }, (_, i) => (i * 7) % 5);
  const total = lengths.reduce((a, b) => a + b, 0);
  const values = Int32Array.from({ length: total }, (_, i) => (i * 37) % VOCAB);
  const kjt = new KeyedJaggedTensor({ keys, values, lengths });
  assert.deepEqual(bits(q.embeddingLookup(kjt)), bits(twin.embeddingLookup(kjt)));
  assert.deepEqual(bits(await q.embeddingLookupAsync(kjt)), bits(twin.embeddingLookup(kjt)));
  assert.throws(
    () => q.embeddingLookup({ sum: RaggedTensor.fromNested([[1, VOCAB]]) }),
    (e: unknown) => e instanceof OutOfRangeError && e.message.includes(`${VOCAB}`),
  );
});

test("quantized answers are close to float32 and not identical (really quantized)", () => {
  const f = makeEmbedding(1, 64);
  const { features, weights } = inputs(50);
  const exact = f.embeddingLookup(features, weights) as Record<string, DenseTensor<Float32Array>>;
  const limits: Record<string, number> = { float16: 0.002, bfloat16: 0.01, int8: 0.01 };
  for (const kind of KINDS) {
    const q = makeEmbedding(1, 64, kind);
    const got = q.embeddingLookup(features, weights) as Record<string, DenseTensor<Float32Array>>;
    let largest = 0;
    let worst = 0;
    let differ = 0;
    for (const key of Object.keys(exact)) {
      exact[key].data.forEach((x, i) => {
        largest = Math.max(largest, Math.abs(x));
        worst = Math.max(worst, Math.abs(x - got[key].data[i]));
        if (x !== got[key].data[i]) differ++;
      });
    }
    assert.ok(differ > 0, `${kind}: some values differ`);
    assert.ok(worst <= limits[kind] * largest, `${kind}: worst error ${worst} of ${largest}`);
  }
});

test("memory: int8 tables take 72 of float32's 256 bytes a row at dim 64, float16 half", () => {
  const f = makeEmbedding(1, 64);
  const tables = f.tables.length;
  assert.equal(f.tableBytes, tables * VOCAB * 256);
  assert.equal(makeEmbedding(1, 64, "int8").tableBytes, tables * VOCAB * rowBytes("int8", 64));
  assert.equal(makeEmbedding(1, 64, "float16").tableBytes, tables * VOCAB * 128);
});

test("tableStorage per table name; unknown names and kinds are refused; training needs float32", () => {
  const t1 = new TableConfig({ vocabularySize: 10, dim: 4, name: "a" });
  const t2 = new TableConfig({ vocabularySize: 10, dim: 4, name: "b" });
  const featureConfig = { x: new FeatureConfig({ table: t1 }), y: new FeatureConfig({ table: t2 }) };
  const mixed = new TPUEmbeddingForServing({ featureConfig, tableStorage: { b: "bfloat16" } });
  assert.deepEqual([...mixed.tableStorage.values()], ["float32", "bfloat16"]);
  assert.equal(mixed.tableBytes, 10 * 16 + 10 * 8);
  assert.throws(
    () => new TPUEmbeddingForServing({ featureConfig, tableStorage: { c: "int8" } }),
    (e: unknown) => e instanceof InvalidArgumentError && /"c"/.test(e.message) && /a, b/.test(e.message),
  );
  assert.throws(
    () => new TPUEmbeddingForServing({ featureConfig, tableStorage: "int4" as StorageKind }),
    (e: unknown) => e instanceof InvalidArgumentError && /int4/.test(e.message),
  );
  const trained = new TPUEmbeddingForServing({
    featureConfig,
    optimizer: new SGD({ learningRate: 0.1 }),
    tableStorage: "int8",
  });
  trained.embeddingLookup({ x: RaggedTensor.fromNested([[1]]) });
  assert.throws(
    () => trained.applyGradients({ x: new DenseTensor(new Float32Array(4), [1, 4]) }),
    (e: unknown) => e instanceof FailedPreconditionError && /"a" is stored as int8/.test(e.message),
  );
});

test("restore after build quantizes the restored values again", () => {
  const q = makeEmbedding(1, 8, "float16");
  q.build();
  const name = q.tables[0].name!;
  const values = new Float32Array(VOCAB * 8).map((_, i) => i / 64);
  q.restoreVariables(new Map([[name, values]]));
  assert.deepEqual([...q.embeddingTables.get(q.tables[0])!.data.subarray(0, 4)], [0, 1 / 64, 2 / 64, 3 / 64]);
  assert.equal(q.readVariable(name)![5], 5 / 64);
});

test("a sequence row larger than the WebAssembly scratch region still dequantizes like the reference", () => {
  setKernelChoice("wasm");
  try {
    const table = new TableConfig({ vocabularySize: 50, dim: 64, name: "long" });
    const featureConfig = { s: new FeatureConfig({ table, maxSequenceLength: 40000 }) };
    const q = new TPUEmbeddingForServing({ featureConfig, seed: 3, tableStorage: "int8" });
    const twin = new TPUEmbeddingForServing({
      featureConfig: {
        s: new FeatureConfig({
          table: new TableConfig({ vocabularySize: 50, dim: 64, name: "long" }),
          maxSequenceLength: 40000,
        }),
      },
    });
    twin.embeddingTables.values().next().value!.data.set(q.embeddingTables.get(table)!.data);
    const ids = RaggedTensor.fromNested([[1, 2, 3], [4]]);
    assert.deepEqual(bits(q.embeddingLookup({ s: ids })), bits(twin.embeddingLookup({ s: ids })));
  } finally {
    setKernelChoice(undefined);
  }
});
