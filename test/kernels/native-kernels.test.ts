import { test } from "node:test";
import assert from "node:assert/strict";
import { bits, randomBatches } from "./random-batches.js";
import type { BagBatch } from "../../src/kernels/bag-batch.js";
import type { KernelJob } from "../../src/kernels/kernel-job.js";
import { jobRows, rowValues } from "../../src/kernels/kernel-job.js";
import { runJob, runReference } from "../../src/kernels/run-job.js";
import { kernelChoice, setKernelChoice } from "../../src/kernels/kernel-choice.js";
import { nativeKernelsAvailable, runNativeJob, setNativeMinIds } from "../../src/kernels/native-kernels.js";
import { InvalidArgumentError } from "../../src/errors.js";
import type { Combiner } from "../../src/config/table-config.js";

/**
 * The native N-API kernels against the JS reference kernels (the oracle, TF's float32 order): every job
 * kind, combiner, weighted and unweighted, dims 4..68 (multiples of 16 and not), random inputs, compared
 * bit for bit (including -0). Skipped only when the addon was not built (see scripts/build-native.mjs).
 */
const skip = nativeKernelsAvailable()
  ? false
  : "native addon not built (build/Release/lookup_kernels.node missing; run `node scripts/build-native.mjs`)";

setNativeMinIds(0); // small jobs too: every job below must run natively

const { int, tableOf, bags } = randomBatches(777);

/** Runs rows [r0, r1) natively at offset 3 of a sentinel-filled output and compares with the reference. */
function compare(
  job: KernelJob,
  table: Float32Array,
  dim: number,
  context: string,
  r0 = 0,
  r1 = jobRows(job),
) {
  const size = (r1 - r0) * rowValues(job, dim);
  const whole = jobRows(job) * rowValues(job, dim);
  const reference = new Float32Array(whole);
  runReference(job, table, dim, reference, 0);
  const expected = new Float32Array(size + 5).fill(7);
  expected.set(reference.subarray(r0 * rowValues(job, dim), r1 * rowValues(job, dim)), 3);
  const actual = new Float32Array(size + 5).fill(7);
  assert.ok(runNativeJob(job, table, dim, actual, 3, r0, r1), `${context}: the native kernel ran`);
  assert.deepEqual(bits(actual), bits(expected), context);
}

// Every chunk path of every ISA level (native/kernels.c): scalar tails, one vector (4, 8 or 16 lanes), one
// chunk (32 lanes on x86-64-v2, 64 elsewhere), several chunks with and without a tail.
const DIMS = [4, 8, 12, 16, 20, 36, 48, 64, 68, 100, 128];
const COMBINERS: Combiner[] = ["sum", "mean", "sqrtn"];

test(
  "native segment-order bags (sum, mean, sqrtn; bags of 0..40 ids) match the reference bit for bit",
  { skip },
  () => {
    setKernelChoice("native");
    for (const dim of DIMS) {
      const table = tableOf(400, dim, dim % 8 === 0);
      for (const combiner of COMBINERS) {
        const batch = bags(50, 40, 400, false);
        compare({ kind: "bags", order: "segment", combiner, batch }, table, dim, `${combiner} dim ${dim}`);
        compare(
          { kind: "bags", order: "segment", combiner, batch },
          table,
          dim,
          `${combiner} rows 7..31`,
          7,
          31,
        );
      }
    }
  },
);

test("native weighted and ragged bags match the reference bit for bit, div_no_nan included", { skip }, () => {
  setKernelChoice("native");
  for (const dim of DIMS) {
    const table = tableOf(300, dim, dim % 8 !== 0);
    for (const combiner of COMBINERS) {
      for (const weighted of [true, false]) {
        const batch = bags(60, 25, 300, weighted);
        const job: KernelJob = { kind: "bags", order: "weighted", combiner, batch };
        compare(job, table, dim, `${combiner} weighted=${weighted} dim ${dim}`);
        compare(job, table, dim, `${combiner} weighted=${weighted} rows 1..9`, 1, 9);
      }
      // Weights that cancel (mean divides by 0), all-zero weights (sqrtn by 0), an empty bag.
      const zeros: BagBatch = {
        rowSplits: Int32Array.of(0, 2, 5, 5, 6),
        ids: Int32Array.of(3, 7, 1, 2, 3, 9),
        weights: Float32Array.of(1.5, -1.5, 0, 0, 0, -2),
        positions: null,
      };
      compare(
        { kind: "bags", order: "weighted", combiner, batch: zeros },
        table,
        dim,
        `${combiner} zero divisors`,
      );
    }
  }
});

test(
  "native sequences (in order, scattered and repeated positions) and dense gathers match the reference",
  { skip },
  () => {
    setKernelChoice("native");
    for (const dim of [4, 20, 64, 68]) {
      const table = tableOf(200, dim, true);
      const inOrder = bags(40, 6, 200, false);
      compare({ kind: "sequence", sequenceLength: 6, batch: inOrder }, table, dim, `in order dim ${dim}`);
      const scattered = bags(40, 9, 200, false, 5);
      compare({ kind: "sequence", sequenceLength: 5, batch: scattered }, table, dim, `scattered dim ${dim}`);
      compare(
        { kind: "sequence", sequenceLength: 5, batch: scattered },
        table,
        dim,
        "scattered rows 3..8",
        3,
        8,
      );
      const ids = new Int32Array(300).map(() => int(200));
      compare({ kind: "gather", ids }, table, dim, `gather dim ${dim}`);
      compare({ kind: "gather", ids }, table, dim, "gather rows 10..20", 10, 20);
    }
  },
);

test("native kernels refuse inputs they cannot run safely and write nothing", { skip }, () => {
  setKernelChoice("native");
  const dim = 16;
  const table = tableOf(10, dim, false);
  const out = new Float32Array(4 * dim).fill(7);
  const splits = Int32Array.of(0, 2, 3);
  const bad = (ids: Int32Array): KernelJob => ({
    kind: "bags",
    order: "segment",
    combiner: "sum",
    batch: { rowSplits: splits, ids, weights: null, positions: null },
  });
  assert.equal(runNativeJob(bad(Int32Array.of(1, 10, 2)), table, dim, out, 0), false, "id = rows");
  assert.equal(runNativeJob(bad(Int32Array.of(1, -1, 2)), table, dim, out, 0), false, "negative id");
  assert.equal(runNativeJob(bad(Int32Array.of(1, 2)), table, dim, out, 0), false, "splits past ids");
  assert.equal(
    runNativeJob(bad(Int32Array.of(1, 2, 3)), table, dim, out, 3 * dim),
    false,
    "output too small",
  );
  const longRow: KernelJob = {
    kind: "sequence",
    sequenceLength: 1,
    batch: { rowSplits: splits, ids: Int32Array.of(1, 2, 3), weights: null, positions: null },
  };
  assert.equal(runNativeJob(longRow, table, dim, out, 0), false, "2 ids in a sequence of length 1");
  const ids = new Int32Array(300).fill(3);
  ids[257] = 10;
  assert.equal(
    runNativeJob({ kind: "gather", ids }, table, dim, new Float32Array(300 * dim), 0),
    false,
    "gather",
  );
  ids[257] = -(2 ** 31);
  assert.equal(
    runNativeJob({ kind: "gather", ids }, table, dim, new Float32Array(300 * dim), 0),
    false,
    "gather",
  );
  assert.ok(out.every((v) => v === 7));
  // Through runJob the fallback then gives the reference's result.
  const job = bad(Int32Array.of(9, 0, 4));
  const expected = new Float32Array(2 * dim);
  runReference(job, table, dim, expected, 0);
  const actual = new Float32Array(2 * dim);
  runJob(job, table, dim, actual, 0);
  assert.deepEqual(bits(actual), bits(expected));
});

test("small jobs in an arena go to the WebAssembly kernels, other small jobs stay native", { skip }, () => {
  setKernelChoice("native");
  const job: KernelJob = { kind: "gather", ids: Int32Array.of(1, 2, 3) };
  const out = new Float32Array(3 * 16);
  try {
    setNativeMinIds(4);
    assert.equal(runNativeJob(job, tableOf(10, 16, true), 16, out, 0), false, "3 ids < 4, arena table");
    assert.equal(runNativeJob(job, tableOf(10, 16, false), 16, out, 0), true, "plain table: wasm cannot run");
    setNativeMinIds(3);
    assert.equal(runNativeJob(job, tableOf(10, 16, true), 16, out, 0), true, "3 ids ≥ 3");
    const saved = process.env.TPU_EMBEDDING_NATIVE_MIN_IDS;
    for (const bad of ["-1", "1.5", "many", ""]) {
      process.env.TPU_EMBEDDING_NATIVE_MIN_IDS = bad;
      setNativeMinIds(undefined);
      assert.throws(
        () => runNativeJob(job, tableOf(10, 16, true), 16, out, 0),
        (e: unknown) =>
          e instanceof InvalidArgumentError && /TPU_EMBEDDING_NATIVE_MIN_IDS must be/.test(e.message),
        bad,
      );
    }
    if (saved === undefined) delete process.env.TPU_EMBEDDING_NATIVE_MIN_IDS;
    else process.env.TPU_EMBEDDING_NATIVE_MIN_IDS = saved;
  } finally {
    setNativeMinIds(0);
  }
});

test("TPU_EMBEDDING_KERNELS selects the kernels; a bad value is an InvalidArgumentError", () => {
  const saved = process.env.TPU_EMBEDDING_KERNELS;
  try {
    for (const value of ["native", "wasm", "js"] as const) {
      process.env.TPU_EMBEDDING_KERNELS = value;
      setKernelChoice(undefined);
      assert.equal(kernelChoice(), value);
    }
    const table = tableOf(10, 16, true);
    const job: KernelJob = { kind: "gather", ids: Int32Array.of(3) };
    assert.equal(runNativeJob(job, table, 16, new Float32Array(16), 0), false, "js: native does not run");
    process.env.TPU_EMBEDDING_KERNELS = "gpu";
    setKernelChoice(undefined);
    assert.throws(() => kernelChoice(), InvalidArgumentError);
    assert.throws(
      () => kernelChoice(),
      /TPU_EMBEDDING_KERNELS must be "native", "wasm", "js" or "auto", got "gpu"/,
    );
  } finally {
    if (saved === undefined) delete process.env.TPU_EMBEDDING_KERNELS;
    else process.env.TPU_EMBEDDING_KERNELS = saved;
    setKernelChoice(undefined);
  }
});

test(
  "native sequences with outputs over 4 MiB (streamed stores) match the reference bit for bit, -0 included",
  { skip },
  () => {
    setKernelChoice("native");
    for (const dim of [16, 20, 64]) {
      const table = tableOf(300, dim, true);
      table[5] = -0;
      const length = Math.ceil((5 << 20) / (1100 * dim * 4));
      const batch = bags(1100, length, 300, false); // rows of 0..length ids (the planner truncates longer)
      batch.ids[0] = 0; // row 0 holds the -0
      const job: KernelJob = { kind: "sequence", sequenceLength: length, batch };
      const expected = new Float32Array(1100 * length * dim);
      runReference(job, table, dim, expected, 0);
      const actual = new Float32Array(expected.length).fill(7); // aligned output: the streamed path
      assert.ok(runNativeJob(job, table, dim, actual, 0), "the native kernel ran");
      assert.deepEqual(bits(actual), bits(expected), `dim ${dim}`);
      assert.ok(Object.is(actual[5], 0), "0 + -0 is +0, as in the reference");
    }
    setKernelChoice(undefined);
  },
);
