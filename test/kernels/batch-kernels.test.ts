import { test } from "node:test";
import assert from "node:assert/strict";
import { checkBatch, runBatch, shareBatch } from "../../src/kernels/batch-runner.js";
import {
  C_WORDS,
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
  D_POSITIONS_AT,
  D_POSITIONS_REF,
  DESCRIPTOR,
  KIND_BAGS,
  KIND_GATHER,
  KIND_SEGMENT,
  KIND_SEQUENCE,
  MODE,
  W_COUNT,
  W_HEADER,
  W_REFS,
  W_REFS_AT,
} from "../../src/kernels/batch-layout.js";
import { batchKernels } from "../../src/kernels/batch-kernels.js";
import { float32Storage } from "../../src/kernels/table-storage.js";
import { setKernelChoice } from "../../src/flags.js";
import { nativeKernelsAvailable } from "../../src/kernels/native-addon.js";

/**
 * The lookup batch (src/kernels/batch-layout.ts) run by the portable runner and by every kernel family
 * through the one interface, against hand-computed values: table row r of dim 4 is [r, 10r, 100r, -r].
 */
const DIM = 4;
const ROWS = 8;
const table = new Float32Array(ROWS * DIM);
for (let r = 0; r < ROWS; r++) table.set([r, 10 * r, 100 * r, -r], r * DIM);
const set = float32Storage([table], [DIM]);

interface Feature {
  kind: number;
  ids: number[];
  splits?: number[];
  weights?: number[];
  positions?: number[];
  param?: number;
  outAt: number;
}

/** A batch of `features`, their data copied in behind the descriptors. */
function batch(features: Feature[]): Int32Array {
  const words: number[] = new Array(W_HEADER + features.length * DESCRIPTOR).fill(0);
  words[W_COUNT] = features.length;
  features.forEach((f, i) => {
    const d = W_HEADER + i * DESCRIPTOR;
    const rows = f.kind === KIND_GATHER ? f.ids.length : f.splits!.length - 1;
    words[d + D_KIND] = f.kind;
    words[d + D_TABLE] = 0;
    words[d + D_ROWS] = rows;
    words[d + D_IDS] = f.ids.length;
    words[d + D_IDS_AT] = words.length;
    words.push(...f.ids);
    words[d + D_SPLITS_AT] = words.length;
    if (f.splits) words.push(...f.splits);
    words[d + D_WEIGHTS_AT] = f.weights ? words.length : -1;
    if (f.weights) words.push(...new Int32Array(Float32Array.from(f.weights).buffer));
    words[d + D_POSITIONS_AT] = f.positions ? words.length : -1;
    if (f.positions) words.push(...f.positions);
    words[d + D_POSITIONS_REF] = -1;
    words[d + D_OUT_AT] = f.outAt;
    words[d + D_PARAM] = f.param ?? 0;
    words[d + D_IDS_REF] = -1;
    words[d + D_SPLITS_REF] = -1;
    words[d + D_WEIGHTS_REF] = -1;
  });
  words[W_REFS] = 0;
  words[W_REFS_AT] = words.length;
  return Int32Array.from(words);
}

const row = (r: number) => [r, 10 * r, 100 * r, -r];
const scale = (v: number[], s: number) => v.map((x) => x * s);
const add = (a: number[], b: number[]) => a.map((x, i) => x + b[i]);

/** A gather of [5, 0], a weighted mean of bags {1 (w 1), 3 (w 3)} and {}, sequences [2, 4] and [6] of length 2. */
const features: Feature[] = [
  { kind: KIND_GATHER, ids: [5, 0], outAt: 0 },
  { kind: KIND_BAGS, ids: [1, 3], splits: [0, 2, 2], weights: [1, 3], param: MODE.mean, outAt: 8 },
  { kind: KIND_SEQUENCE, ids: [2, 4, 6], splits: [0, 2, 3], param: 2, outAt: 16 },
];
const expected = [
  ...row(5),
  ...row(0),
  ...scale(add(row(1), scale(row(3), 3)), 1 / 4), // (1·e1 + 3·e3) / 4
  ...[0, 0, 0, 0], // an empty bag: div_no_nan gives zeros
  ...row(2),
  ...row(4),
  ...row(6),
  ...[0, 0, 0, 0], // padded to 2 positions
];
const OUT = expected.length; // 32

function families(): ("native" | "wasm" | "js")[] {
  return nativeKernelsAvailable() ? ["native", "wasm", "js"] : ["wasm", "js"];
}

test("the portable runner computes a batch of gather, weighted-bag and sequence features", () => {
  const out = new Float32Array(OUT).fill(NaN);
  assert.equal(runBatch(set, batch(features), out), 0);
  assert.deepEqual([...out], expected);
});

test("every kernel family runs the same batch through the one interface, same bits", () => {
  for (const family of families()) {
    setKernelChoice(family);
    try {
      const kernels = batchKernels();
      assert.equal(kernels.family, family);
      assert.equal(kernels.readsInPlace, family === "native");
      const tableSet = kernels.createSet(float32Storage([table], [DIM]))!;
      const out = new Float32Array(OUT).fill(NaN);
      assert.equal(kernels.run(tableSet, batch(features), out), 0, family);
      assert.deepEqual([...out], expected, family);
      assert.equal(kernels.check(tableSet, batch(features), OUT), 0);
      assert.equal(
        kernels.check(tableSet, batch(features), OUT - 1),
        3,
        `${family}: output too short for feature 3`,
      );
      kernels.releaseSet(tableSet);
    } finally {
      setKernelChoice(undefined);
    }
  }
});

test("a batch that does not fit is refused whole: the failing feature's code, nothing written", () => {
  for (const family of families()) {
    setKernelChoice(family);
    try {
      const kernels = batchKernels();
      const tableSet = kernels.createSet(float32Storage([table], [DIM]))!;
      const cases: [string, Feature[], number][] = [
        ["id = vocabulary size", [features[0], { ...features[1], ids: [1, ROWS] }], 2],
        ["negative id", [{ ...features[0], ids: [-1, 0] }, features[1]], 1],
        ["decreasing row splits", [features[0], features[1], { ...features[2], splits: [0, 3, 2] }], 3],
        ["sequence row longer than its length", [{ ...features[2], splits: [0, 3, 3], outAt: 0 }], 1],
        ["unknown combiner", [{ ...features[1], param: 3 }], 1],
        ["splits not ending at the id count", [{ ...features[1], splits: [0, 1, 1] }], 1],
      ];
      for (const [what, fs, code] of cases) {
        const out = new Float32Array(OUT).fill(NaN);
        assert.equal(kernels.run(tableSet, batch(fs), out), code, `${family}: ${what}`);
        assert.ok(
          out.every((v) => Number.isNaN(v)),
          `${family}: ${what}: nothing written`,
        );
      }
      const malformed = batch(features);
      malformed[W_COUNT] = 1000;
      assert.equal(kernels.run(tableSet, malformed, new Float32Array(OUT)), -1, `${family}: bad header`);
    } finally {
      setKernelChoice(undefined);
    }
  }
});

test("segment-order bags and sequences at explicit positions, in every family", () => {
  // Bags {1, 2, 3} and {4}: mean in TF's segment order ((e1 + e2 + e3) · float32(1/3), then e4);
  // a sequence of 3 positions with ids 5 at 2, 6 at 0 and 7 at 2 again (repeats add).
  const fs: Feature[] = [
    { kind: KIND_SEGMENT, ids: [1, 2, 3, 4], splits: [0, 3, 4], param: MODE.mean, outAt: 0 },
    { kind: KIND_SEQUENCE, ids: [5, 6, 7], splits: [0, 3], positions: [2, 0, 2], param: 3, outAt: 8 },
  ];
  const third = Math.fround(1 / 3);
  const want = [
    ...row(1).map((v, i) => Math.fround(Math.fround(Math.fround(v + row(2)[i]) + row(3)[i]) * third)),
    ...row(4),
    ...row(6),
    ...[0, 0, 0, 0],
    ...add(row(5), row(7)),
  ];
  for (const family of families()) {
    setKernelChoice(family);
    try {
      const kernels = batchKernels();
      const tableSet = kernels.createSet(float32Storage([table], [DIM]))!;
      const out = new Float32Array(want.length).fill(NaN);
      assert.equal(kernels.run(tableSet, batch(fs), out), 0, family);
      assert.deepEqual([...out], want, family);
      const bad = [fs[0], { ...fs[1], positions: [2, 3, 0] }]; // position 3 of a sequence of 3
      assert.equal(kernels.run(tableSet, batch(bad), out.fill(NaN)), 2, `${family}: position out of range`);
      assert.ok(out.every((v) => Number.isNaN(v)));
    } finally {
      setKernelChoice(undefined);
    }
  }
});

test("portable batches never hold refs (caller arrays in place need the native addon)", () => {
  const w = batch(features);
  w[W_REFS] = 1;
  assert.equal(checkBatch(set, w, OUT), -1);
  const first = batch(features);
  first[W_HEADER + D_IDS_REF] = 0;
  assert.equal(checkBatch(set, first, OUT), 1);
});

test("shared runs: the first thread checks and runs every feature, a late one finds nothing left", () => {
  const control = new Int32Array(C_WORDS);
  const out = new Float32Array(OUT).fill(NaN);
  const w = batch(features);
  assert.equal(shareBatch(set, w, out, control, false), 0);
  assert.deepEqual([...out], expected);
  assert.equal(shareBatch(set, w, out, control, true), 0);

  // A feature that does not fit: the thread that checked it reports it; nothing is written.
  const bad = batch([features[0], { ...features[1], ids: [1, 99] }, features[2]]);
  const control2 = new Int32Array(C_WORDS);
  const out2 = new Float32Array(OUT).fill(NaN);
  assert.equal(shareBatch(set, bad, out2, control2, true), 2);
  assert.equal(shareBatch(set, bad, out2, control2, false), -2);
  assert.ok(out2.every((v) => Number.isNaN(v)));
});
