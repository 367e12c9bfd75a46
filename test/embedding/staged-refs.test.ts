import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DenseTensor,
  FeatureConfig,
  KeyedJaggedTensor,
  OutOfRangeError,
  RaggedTensor,
  type InputStructure,
} from "../../src/index.js";
import { nativeAddon } from "../../src/kernels/native-addon.js";
import { PARALLEL_MIN_COST } from "../../src/kernels/lookup-pool.js";
import { smallLookupRuns } from "../../src/embedding/small-lookup.js";
import { stagedRefsRead } from "../../src/embedding/staged-executor.js";
import { REF_MIN_LENGTH } from "../../src/embedding/staging-layout.js";
import {
  D_IDS,
  D_IDS_AT,
  D_IDS_REF,
  D_KIND,
  D_OUT_AT,
  D_PARAM,
  D_ROWS,
  D_SPLITS_AT,
  D_SPLITS_REF,
  D_TABLE,
  D_WEIGHTS_AT,
  D_WEIGHTS_REF,
  DESCRIPTOR,
  KIND_BAGS,
  REF_WORDS,
  W_COUNT,
  W_HEADER,
  W_REFS,
  W_REFS_AT,
} from "../../src/kernels/batch-layout.js";
import { seededRandom } from "../support/seeded-random.js";
import { assertSameBits } from "./every-kind.js";
import { combinerEmbedding, countSharedLookups, general, stagedSkip, weightsFor } from "./staged-support.js";

/**
 * Synchronous staged lookups shared with worker threads read long arrays in place (refs,
 * staging-layout.ts) instead of copying them, and their threads check every feature before any of them
 * writes. Compared bit for bit with the general path (the staged paths off), on one and two threads; bad
 * ids write nothing; shared-memory and async inputs are still copied; the native entry points refuse what
 * they must.
 */
const skip = stagedSkip;

const { rand, int } = seededRandom(777);
const VOCAB = 301;

function embedding(threads: number) {
  return combinerEmbedding(threads, VOCAB, 8, (table) => ({
    s: new FeatureConfig({ table: table("ts", "sum"), maxSequenceLength: 4 }),
    d: new FeatureConfig({ table: table("td", "sum") }),
  }));
}

function ragged(rows: number, maxLength: number, shared = false): RaggedTensor {
  const lengths = Array.from({ length: rows }, () => int(maxLength + 1));
  const total = lengths.reduce((x, y) => x + y, 0);
  const values = shared ? new Int32Array(new SharedArrayBuffer(4 * total)) : new Int32Array(total);
  for (let i = 0; i < total; i++) values[i] = int(VOCAB);
  return RaggedTensor.fromRowLengths(values, lengths);
}

/** A lookup whose arrays are mostly longer than REF_MIN_LENGTH (refs), with a few that must be copied. */
function longInputs(rows: number, shared = false) {
  const features = {
    a: ragged(rows, 12, shared),
    b: ragged(rows, 9, shared),
    c: ragged(rows, 7, shared),
    s: rand() < 0.5 ? ragged(rows, 4, shared) : ragged(rows, 8, shared), // long rows: cut, so copied
    d: new DenseTensor(
      new Int32Array(rows * 2).map(() => int(VOCAB)),
      [rows, 2],
    ),
  };
  const weights = {
    a: weightsFor(features.a, rand),
    b: weightsFor(features.b, rand, true),
    c: null,
    s: null,
    d: null,
  };
  return { features, weights };
}

/** The arrays a synchronous staging of `longInputs` reads in place, when it is shared with a worker. */
function expectedRefs(features: ReturnType<typeof longInputs>["features"], weighted: boolean): number {
  const long = (a: { length: number; buffer: ArrayBufferLike }) =>
    a.length > REF_MIN_LENGTH && !(a.buffer instanceof SharedArrayBuffer) ? 1 : 0;
  const both = (r: RaggedTensor) => long(r.values) + long(r.rowSplits);
  const splits = features.s.rowSplits;
  let cut = false;
  for (let r = 0; r + 1 < splits.length; r++) cut ||= splits[r + 1] - splits[r] > 4;
  return (
    both(features.a) +
    both(features.b) +
    both(features.c) +
    (cut ? 0 : both(features.s)) + // a sequence with rows to cut is copied
    long(features.d.data) + // dense ids
    (weighted ? long(features.a.values) : 0) // a's float32 weights (b's float64 ones are converted)
  );
}

function idsOf(features: ReturnType<typeof longInputs>["features"]): number {
  return Object.values(features).reduce(
    (n, f) => n + (f instanceof RaggedTensor ? f.values.length : f.data.length),
    0,
  );
}

test("lookups shared with workers read long arrays in place, with the general path's bits", { skip }, () => {
  for (const threads of [1, 2]) {
    const e = embedding(threads);
    for (const rows of [70, 200, 900]) {
      for (const weighted of [false, true]) {
        const { features, weights } = longInputs(rows);
        const w = weighted ? weights : undefined;
        const context = `threads ${threads}, rows ${rows}, weighted ${weighted}`;
        const expected = general(() => e.embeddingLookup(features, w));
        const [runs, refs] = [smallLookupRuns(), stagedRefsRead()];
        assertSameBits(e.embeddingLookup(features, w), expected, context);
        assert.equal(smallLookupRuns(), runs + 1, `${context}: the staged path ran`);
        // Only lookups shared with the worker use refs (on one thread copying is cheaper).
        const shared = threads === 2 && idsOf(features) >= PARALLEL_MIN_COST;
        assert.equal(rows < 900 || threads === 1 || shared, true, "900 rows are shared");
        assert.equal(
          stagedRefsRead() - refs,
          shared ? expectedRefs(features, weighted) : 0,
          `${context}: read in place`,
        );
        const into = e.createOutputs(features, w);
        assertSameBits(e.embeddingLookup(features, w, { into }), expected, `${context} into`);
      }
    }
    if (threads === 2) {
      // Big enough to be shared with the worker (and so the refs are read by both threads).
      const { features, weights } = longInputs(Math.ceil(PARALLEL_MIN_COST / 4));
      const expected = general(() => e.embeddingLookup(features, weights));
      const into = e.createOutputs(features, weights);
      const shared = countSharedLookups();
      try {
        for (let k = 0; k < 5; k++)
          assertSameBits(e.embeddingLookup(features, weights, { into }), expected, `shared, round ${k}`);
      } finally {
        shared.restore();
      }
      assert.equal(shared.count, 5, "shared with the worker");
      // An `into` outside shared memory (an earlier result) is written by this thread only, refs and all.
      const local = e.embeddingLookup(features, weights);
      for (const leaf of Object.values(local)) leaf.data.fill(7);
      const refs = stagedRefsRead();
      assertSameBits(e.embeddingLookup(features, weights, { into: local }), expected, "non-shared into");
      assert.equal(stagedRefsRead() - refs, expectedRefs(features, true), "read in place on this thread");
    }
    e.dispose();
  }
});

test(
  "shared lookups mixing refs with int64 ids, outputShape and cut sequences: the general path's bits",
  { skip },
  () => {
    const e = combinerEmbedding(2, VOCAB, 4, (table) => ({
      wide: new FeatureConfig({ table: table("tw", "mean"), outputShape: [300, 4] }),
      tall: new FeatureConfig({ table: table("tt", "sum"), outputShape: [600, 3] }),
    }));
    for (let round = 0; round < 3; round++) {
      const int64 = (r: RaggedTensor) =>
        RaggedTensor.fromRowSplits(
          BigInt64Array.from(r.values as Int32Array, (v) => BigInt(v)),
          r.rowSplits,
        );
      const features = {
        a: int64(ragged(1200, 9)), // int64 ids: copied, its splits a ref
        b: ragged(1200, 7),
        c: ragged(1200, 5),
        wide: ragged(1200, 6), // bags reshaped to [300, 4]
        tall: ragged(600, 4), // 1800 rows of 600: a sequence of 3 per row, long rows cut (copied)
      };
      const weights = { b: weightsFor(features.b, rand), c: null, a: null, wide: null, tall: null };
      const expected = general(() => e.embeddingLookup(features, weights));
      const refs = stagedRefsRead();
      const runs = smallLookupRuns();
      const result = e.embeddingLookup(features, weights, { into: e.createOutputs(features, weights) });
      assertSameBits(result, expected, `round ${round}`);
      assert.equal(smallLookupRuns(), runs + 1, "the staged path ran");
      const tallSplits = features.tall.rowSplits;
      let cut = false;
      for (let r = 0; r + 1 < tallSplits.length; r++) cut ||= tallSplits[r + 1] - tallSplits[r] > 3;
      // a's splits; b's ids, splits and weights; c's and wide's ids and splits; tall's unless cut.
      assert.equal(stagedRefsRead() - refs, 8 + (cut ? 0 : 2), "read in place");
      assert.deepEqual([...result.wide.shape], [300, 4, 16]);
      assert.deepEqual([...result.tall.shape], [600, 3, 16]);
    }
    e.dispose();
  },
);

test(
  "a KeyedJaggedTensor shared with workers: its values and weights read in place, same bits",
  { skip },
  () => {
    for (const threads of [1, 2]) {
      const e = embedding(threads);
      for (const batch of [30, 1000]) {
        const keys = ["c", "a", "b"];
        const lengths = new Int32Array(keys.length * batch).map(() => int(9));
        const total = lengths.reduce((x, y) => x + y, 0);
        const kjt = new KeyedJaggedTensor({
          keys,
          values: new Int32Array(total).map(() => int(VOCAB)),
          lengths,
          weights: new Float32Array(total).map(() => Math.fround(rand() * 2)),
        });
        const { features, weights } = kjt.toDict();
        const expected = general(() => e.embeddingLookup(features, weights ?? undefined));
        const refs = stagedRefsRead();
        assertSameBits(e.embeddingLookup(kjt), expected, `threads ${threads}, batch ${batch}`);
        const shared = threads === 2 && total >= PARALLEL_MIN_COST;
        assert.equal(shared, threads === 2 && batch === 1000);
        assert.equal(stagedRefsRead(), refs + (shared ? 2 : 0), "values and weights: one ref each");
      }
      e.dispose();
    }
  },
);

test(
  "inputs in shared memory and async lookups are copied, not read in place; same bits",
  { skip },
  async () => {
    const e = embedding(2);
    const { features, weights } = longInputs(1000, true);
    const plain = { ...weights, a: null, b: null }; // only shared ids, no weights
    const expected = general(() => e.embeddingLookup(features, plain));
    const refs = stagedRefsRead();
    const runs = smallLookupRuns();
    assertSameBits(e.embeddingLookup(features, plain), expected, "shared ids");
    assert.equal(smallLookupRuns(), runs + 1, "the staged path ran");
    // Only the row splits and d's dense ids (not shared) are read in place.
    assert.equal(stagedRefsRead() - refs, expectedRefs(features, false));
    assert.ok(expectedRefs(features, false) >= 4 && expectedRefs(features, false) <= 5);

    const own = longInputs(1000);
    // The general path's synchronous batches read in place too: its answer is taken before counting.
    const want = general(() => e.embeddingLookup(own.features, own.weights));
    const before = stagedRefsRead();
    assertSameBits(await e.embeddingLookupAsync(own.features, own.weights), want, "async");
    assert.equal(stagedRefsRead(), before, "async lookups copy their inputs");
    e.dispose();
  },
);

test("a bad id in a long array: TF's error, and nothing written on any thread", { skip }, () => {
  for (const threads of [1, 2]) {
    const e = embedding(threads);
    const rows = Math.ceil(PARALLEL_MIN_COST / 4); // shared with the worker on two threads
    const { features, weights } = longInputs(rows);
    const into = e.createOutputs(features, weights);
    // First, middle and last feature: with two threads the worker checks from the back.
    for (const key of ["a", "c", "d"] as const) {
      const input = features[key];
      const data = input instanceof RaggedTensor ? (input.values as Int32Array) : (input.data as Int32Array);
      assert.ok(data.length > REF_MIN_LENGTH);
      const at = int(data.length);
      const good = data[at];
      data[at] = VOCAB + 5;
      for (const leaf of Object.values(into)) leaf.data.fill(7);
      const general_ = general(() => {
        try {
          e.embeddingLookup(features as InputStructure, weights);
        } catch (error) {
          return error as Error;
        }
        return assert.fail("the general path accepts the bad id");
      });
      assert.throws(
        () => e.embeddingLookup(features, weights, { into }),
        (error: Error) => error instanceof OutOfRangeError && error.message === general_.message,
        `threads ${threads}, feature ${key}`,
      );
      for (const [name, leaf] of Object.entries(into))
        assert.ok(
          leaf.data.every((v) => v === 7),
          `threads ${threads}, bad id in ${key}: nothing written to ${name}`,
        );
      data[at] = good;
    }
    e.dispose();
  }
});

/** A one-feature staging buffer (a bag of ids, its ids and splits as refs 0 and 1) for the native entry points. */
function oneFeatureWork(rows: number, n: number): Int32Array {
  const work = new Int32Array(W_HEADER + DESCRIPTOR + 2 * REF_WORDS);
  work[W_COUNT] = 1;
  work[W_REFS] = 2;
  work[W_REFS_AT] = W_HEADER + DESCRIPTOR;
  const d = W_HEADER;
  work[d + D_KIND] = KIND_BAGS;
  work[d + D_TABLE] = 0;
  work[d + D_ROWS] = rows;
  work[d + D_IDS] = n;
  work[d + D_IDS_AT] = 0;
  work[d + D_IDS_REF] = 0;
  work[d + D_SPLITS_AT] = 0;
  work[d + D_SPLITS_REF] = 1;
  work[d + D_WEIGHTS_AT] = -1;
  work[d + D_WEIGHTS_REF] = -1;
  work[d + D_OUT_AT] = 0;
  work[d + D_PARAM] = 0;
  return work;
}

test(
  "native refs: resolved only from non-shared int32/float32 arrays; checks run before any write",
  { skip },
  () => {
    const addon = nativeAddon()!;
    const dim = 4;
    const table = new Float32Array(10 * dim).map((_, i) => i);
    const set = addon.createTableSet([table], Int32Array.from([dim]))!;
    const ids = Int32Array.from([1, 2, 9, 0]);
    const splits = Int32Array.from([0, 3, 4]);
    const out = new Float32Array(2 * dim).fill(7);

    const work = oneFeatureWork(2, 4);
    assert.equal(addon.smallLookup(set, work, out), 1, "unresolved refs do not fit");
    assert.equal(addon.resolveRefs(work, ids), false, "one ref for two");
    assert.equal(addon.resolveRefs(work, ids, Float64Array.from(splits) as unknown as Int32Array), false);
    assert.equal(addon.resolveRefs(work, new Int32Array(new SharedArrayBuffer(16)), splits), false, "shared");
    assert.equal(addon.resolveRefs(work, splits, ids), true);
    assert.equal(addon.smallLookup(set, work, out), 1, "splits [1, 2, 9, 0] are not row splits");
    assert.ok(out.every((v) => v === 7));
    assert.equal(addon.resolveRefs(work, ids, splits), true);
    assert.equal(addon.smallLookup(set, work, out), 0);
    // Row r of the table is [4r, 4r + 1, 4r + 2, 4r + 3]: bag 0 = rows 1 + 2 + 9, bag 1 = row 0.
    assert.deepEqual(Array.from(out), [48, 51, 54, 57, 0, 1, 2, 3]);

    // Two phases through the control words: a thread finding a bad feature stops every thread writing.
    ids[2] = 10; // out of the table's 10 rows
    out.fill(7);
    assert.equal(addon.resolveRefs(work, ids, splits), true);
    const control = new Int32Array(16);
    assert.equal(addon.smallLookupShare(set, work, out, control), 1, "this thread found feature 0");
    assert.equal(control[2], 1, "failed");
    assert.equal(
      addon.smallLookupShare(set, work, out, control, true),
      -2,
      "a later thread: another found it",
    );
    assert.ok(
      out.every((v) => v === 7),
      "nothing written",
    );
    ids[2] = 9;
    control.fill(0);
    assert.equal(addon.smallLookupShare(set, work, out, control, true), 0);
    assert.deepEqual(Array.from(out), [48, 51, 54, 57, 0, 1, 2, 3]);
    addon.releaseTableSet(set);
  },
);
