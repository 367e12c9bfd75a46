import { test } from "node:test";
import assert from "node:assert/strict";
import { constant, FeatureConfig, SGD, TableConfig, truncatedNormal, zeros } from "../../src/index.js";

test("TableConfig defaults: mean combiner, no optimizer, no name, default initializer prints as null", () => {
  const table = new TableConfig({ vocabularySize: 8, dim: 4 });
  assert.equal(table.combiner, "mean");
  assert.equal(table.optimizer, null);
  assert.equal(table.name, null);
  assert.equal(
    table.toString(),
    'TableConfig(vocabularySize=8, dim=4, initializer=null, optimizer=null, combiner="mean", name=null)',
  );
});

test("TableConfig validation, in TF's order", () => {
  assert.throws(() => new TableConfig({ vocabularySize: 0, dim: 4 }), /vocabularySize.*>= 1.*Received: 0/);
  assert.throws(() => new TableConfig({ vocabularySize: 2.5, dim: 4 }), /vocabularySize.*2.5/);
  assert.throws(() => new TableConfig({ vocabularySize: 0, dim: 0 }), /vocabularySize/);
  assert.throws(() => new TableConfig({ vocabularySize: 3, dim: 0 }), /`dim`.*Received: 0/);
  assert.throws(() => new TableConfig({ vocabularySize: 3, dim: 2, initializer: 5 as never }), /initializer/);
  assert.throws(
    () => new TableConfig({ vocabularySize: 3, dim: 2, combiner: "max" as never }),
    /combiner.*"max"/,
  );
  assert.throws(() => new TableConfig({ vocabularySize: 3, dim: 2, combiner: "SUM" as never }), /combiner/);
  assert.throws(() => new TableConfig({ vocabularySize: 3, dim: 2, optimizer: {} as never }), /optimizer/);
  assert.throws(() => new TableConfig({ vocabularySize: 2 ** 31, dim: 1 }), /vocabularySize/);
});

test("default initializer is a truncated normal with stddev 1/sqrt(dim)", () => {
  const table = new TableConfig({ vocabularySize: 2000, dim: 16 });
  const values = table.initializer([2000, 16]);
  const stddev = 1 / Math.sqrt(16);
  let sum = 0;
  let sumSq = 0;
  for (const v of values) {
    assert.ok(Math.abs(v) <= 2 * stddev + 1e-7, `${v} beyond two standard deviations`);
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / values.length;
  // A normal truncated at ±2σ has standard deviation ≈ 0.8796σ.
  const sd = Math.sqrt(sumSq / values.length - mean * mean);
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(sd - 0.8796 * stddev) < 0.01, `sd ${sd}`);
});

test("seeded truncated normal is reproducible; constant lays a list out row-major", () => {
  const a = truncatedNormal({ stddev: 1, seed: 7 })([3, 2]);
  const b = truncatedNormal({ stddev: 1, seed: 7 })([3, 2]);
  const c = truncatedNormal({ stddev: 1, seed: 8 })([3, 2]);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual(Array.from(constant([0, 1, 2, 3, 4, 5])([3, 2])), [0, 1, 2, 3, 4, 5]);
  assert.throws(() => constant([1, 2, 3])([2, 2]), /3 values cannot fill/);
  const out = new Float32Array(4).fill(9);
  assert.equal(zeros()([2, 2], out), out);
  assert.deepEqual(Array.from(out), [0, 0, 0, 0]);
});

test("FeatureConfig defaults and validation", () => {
  const table = new TableConfig({ vocabularySize: 4, dim: 2, optimizer: new SGD() });
  const feature = new FeatureConfig({ table });
  assert.equal(feature.maxSequenceLength, 0);
  assert.equal(feature.validateWeightsAndIndices, true);
  assert.equal(feature.outputShape, null);
  assert.equal(feature.name, null);
  assert.deepEqual(new FeatureConfig({ table, outputShape: [] }).outputShape, []);
  assert.throws(() => new FeatureConfig({ table: {} as never }), /`table` must be a TableConfig/);
  assert.throws(() => new FeatureConfig({ table, maxSequenceLength: -1 }), /maxSequenceLength.*-1/);
  assert.throws(() => new FeatureConfig({ table, maxSequenceLength: 1.5 }), /maxSequenceLength/);
  assert.throws(
    () => new FeatureConfig({ table, validateWeightsAndIndices: 1 as never }),
    /validateWeightsAndIndices/,
  );
  assert.throws(() => new FeatureConfig({ table, outputShape: [2, -1] }), /outputShape/);
  assert.match(
    new FeatureConfig({ table, outputShape: [2, 3], name: "f" }).toString(),
    /outputShape=\[2, 3\], name="f"/,
  );
});
