import { test } from "node:test";
import assert from "node:assert/strict";
import { bits, randomBatches } from "./random-batches.js";
import type { KernelJob } from "../../src/kernels/kernel-job.js";
import { jobRows, rowValues } from "../../src/kernels/kernel-job.js";
import { runJob, runReference } from "../../src/kernels/run-job.js";
import { allocateTables, tableMemory } from "../../src/kernels/table-memory.js";
import { runWasmJob, setTouchAhead, wasmKernelsAvailable } from "../../src/kernels/wasm-kernels.js";
import { LookupPool } from "../../src/kernels/lookup-pool.js";
import { runOnPool } from "../support/pool-batches.js";
import type { Combiner } from "../../src/config/table-config.js";

/**
 * The WebAssembly SIMD kernels against the JS reference kernels (the oracle, TF's float32 order): every
 * path, random inputs, compared bit for bit (including -0, NaN payloads aside: tables hold no NaN).
 */
const { rand, int, tableOf, bags } = randomBatches(4242);

function compare(job: KernelJob, table: Float32Array, dim: number, context: string): void {
  const size = jobRows(job) * rowValues(job, dim);
  const expected = new Float32Array(size + 3).fill(7);
  const actual = new Float32Array(size + 3).fill(7);
  runReference(job, table, dim, expected, 2);
  const used = runWasmJob(job, table, dim, actual, 2, () => assert.fail(`${context}: unexpected fallback`));
  assert.ok(used, `${context}: the WebAssembly kernel ran`);
  assert.deepEqual(bits(actual), bits(expected), context);
}

test("WebAssembly SIMD kernels are available and tables live in a shared arena", () => {
  assert.ok(wasmKernelsAvailable());
  const [t] = allocateTables([64]);
  assert.ok(tableMemory(t) !== undefined);
  assert.ok(t.buffer instanceof SharedArrayBuffer);
});

test("segment-order bags (sum, mean, sqrtn; bags of 0..40 ids) match the reference bit for bit", () => {
  for (const dim of [4, 8, 64, 68]) {
    const table = tableOf(500, dim);
    for (const combiner of ["sum", "mean", "sqrtn"] as Combiner[]) {
      for (const touch of [0, 16]) {
        setTouchAhead(touch);
        const batch = bags(60, 40, 500, false);
        compare({ kind: "bags", order: "segment", combiner, batch }, table, dim, `${combiner} dim ${dim}`);
      }
    }
  }
  setTouchAhead(16);
});

test("weighted bags and the ragged path (no weights) match the reference bit for bit, div_no_nan included", () => {
  for (const dim of [4, 16, 36, 64, 68]) {
    const table = tableOf(300, dim);
    for (const combiner of ["sum", "mean", "sqrtn"] as Combiner[]) {
      for (const weighted of [true, false]) {
        const batch = bags(80, 25, 300, weighted);
        // A bag whose weights cancel: div_no_nan gives zeros for mean.
        if (weighted && batch.rowSplits[2] - batch.rowSplits[1] >= 2) {
          const s = batch.rowSplits[1];
          batch.weights![s] = 1.5;
          batch.weights![s + 1] = -1.5;
          for (let j = s + 2; j < batch.rowSplits[2]; j++) batch.weights![j] = 0;
        }
        compare(
          { kind: "bags", order: "weighted", combiner, batch },
          table,
          dim,
          `${combiner} w=${weighted}`,
        );
      }
    }
  }
});

test("sequences (in-order and scattered positions, repeated positions add) match the reference", () => {
  for (const dim of [4, 64]) {
    const table = tableOf(200, dim);
    const inOrder = bags(50, 6, 200, false);
    compare({ kind: "sequence", sequenceLength: 6, batch: inOrder }, table, dim, "in order");
    const scattered = bags(50, 9, 200, false, 5);
    compare({ kind: "sequence", sequenceLength: 5, batch: scattered }, table, dim, "scattered");
  }
});

test("dense gather matches the reference; chunks larger than the scratch region are split", () => {
  const table = tableOf(1000, 64);
  compare({ kind: "gather", ids: new Int32Array(5000).map(() => int(1000)) }, table, 64, "gather");
  // 3000 × 20 × 64 floats of output (15 MB) > the 8 MiB scratch region: several chunks.
  const batch = bags(3000, 20, 1000, false);
  compare({ kind: "sequence", sequenceLength: 20, batch }, table, 64, "chunked sequence");
  compare({ kind: "gather", ids: new Int32Array(40000).map(() => int(1000)) }, table, 64, "chunked gather");
});

test("a bag too large for the scratch region, odd dims and plain arrays fall back to the reference", () => {
  const table = tableOf(50, 4);
  const big = 2_200_000; // ids alone exceed the 8 MiB scratch region
  const rowSplits = Int32Array.from([0, 3, 3 + big, 3 + big + 2]);
  const ids = new Int32Array(rowSplits[3]).map((_, i) => (i * 7) % 50);
  const job: KernelJob = {
    kind: "bags",
    order: "segment",
    combiner: "mean",
    batch: { rowSplits, ids, weights: null, positions: null },
  };
  const expected = new Float32Array(12);
  const actual = new Float32Array(12);
  runReference(job, table, 4, expected, 0);
  runJob(job, table, 4, actual, 0);
  assert.deepEqual(bits(actual), bits(expected));

  const odd = tableOf(20, 5);
  const oddJob: KernelJob = { kind: "gather", ids: Int32Array.from([3, 1]) };
  assert.equal(
    runWasmJob(oddJob, odd, 5, new Float32Array(10), 0, () => {}),
    false,
    "dim 5 is left to JS",
  );
  const plain = new Float32Array(16).map((_, i) => i);
  assert.equal(
    runWasmJob(oddJob, plain, 4, new Float32Array(8), 0, () => {}),
    false,
    "not in an arena",
  );
  const out = new Float32Array(8);
  runJob(oddJob, plain, 4, out, 0);
  assert.deepEqual(Array.from(out), [12, 13, 14, 15, 4, 5, 6, 7]);
});

test("tables spread over several arenas (as beyond 4 GiB) and oversized tables run on every thread", () => {
  // A 64 KiB arena limit stands in for wasm32's 4 GiB: 5 tables of 24 KiB need 3 arenas, and a 96 KiB
  // table fits none (its own SharedArrayBuffer, JS kernels).
  const dim = 8;
  const lengths = [6144, 6144, 6144, 6144, 6144, 24576];
  const tables = allocateTables(lengths, 65536);
  const memories = new Set(tables.slice(0, 5).map((t) => tableMemory(t)));
  assert.equal(memories.size, 3);
  assert.equal(tableMemory(tables[5]), undefined);
  assert.ok(tables[5].buffer instanceof SharedArrayBuffer);
  tables.forEach((t) => t.forEach((_, i) => (t[i] = Math.fround(rand() * 2 - 1))));
  const pool = new LookupPool();
  const set = pool.register(
    tables,
    tables.map(() => dim),
  );
  const works = tables.map((t, table) => {
    const batch = bags(900, 12, t.length / dim, table % 2 === 0);
    const job: KernelJob = { kind: "bags", order: "weighted", combiner: "mean", batch };
    return { job, table, dim };
  });
  const outputs = runOnPool(pool, set, tables, works, 3);
  works.forEach((w, i) => {
    const expected = new Float32Array(900 * dim);
    runReference(w.job, tables[i], dim, expected, 0);
    assert.deepEqual(bits(outputs[i]), bits(expected), `table ${i}`);
  });
  pool.release(set);
});
