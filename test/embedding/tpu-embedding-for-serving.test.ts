import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Adagrad,
  Adam,
  constant,
  DenseTensor,
  FeatureConfig,
  FTRL,
  SGD,
  TableConfig,
  TPUEmbeddingForServing,
} from "../../src/index.js";

test("tables are ordered by first occurrence in TF's flatten order (sorted dict keys) and named table_<i>", () => {
  const a = new TableConfig({ vocabularySize: 4, dim: 2 });
  const b = new TableConfig({ vocabularySize: 4, dim: 3 });
  const c = new TableConfig({ vocabularySize: 4, dim: 1, name: "explicit" });
  // Sorted keys: "alpha" (b) < "beta" (c) < "zeta" (a); the array under "alpha" is visited in order.
  const embedding = new TPUEmbeddingForServing({
    featureConfig: {
      zeta: new FeatureConfig({ table: a }),
      alpha: [new FeatureConfig({ table: b }), new FeatureConfig({ table: a })],
      beta: new FeatureConfig({ table: c }),
    },
    optimizer: null,
  });
  assert.deepEqual(embedding.tables, [b, a, c]);
  assert.equal(b.name, "table_0");
  assert.equal(a.name, "table_1");
  assert.equal(c.name, "explicit");
});

test("the global optimizer is written into tables without one; per-table optimizers stay", () => {
  const own = new FTRL();
  const global = new Adagrad();
  const a = new TableConfig({ vocabularySize: 4, dim: 2, optimizer: own });
  const b = new TableConfig({ vocabularySize: 4, dim: 2 });
  const embedding = new TPUEmbeddingForServing({
    featureConfig: [new FeatureConfig({ table: a }), new FeatureConfig({ table: b })],
    optimizer: global,
  });
  assert.equal(a.optimizer, own);
  assert.equal(b.optimizer, global);
  assert.deepEqual(
    [...embedding.variables.keys()],
    ["table_0", "table_0/accumulators", "table_0/linears", "table_1", "table_1/accumulators"],
  );
});

test("optimizer null creates no slots; duplicate and colliding names are errors", () => {
  const a = new TableConfig({ vocabularySize: 4, dim: 2 });
  const serving = new TPUEmbeddingForServing({
    featureConfig: [new FeatureConfig({ table: a })],
    optimizer: null,
  });
  assert.deepEqual([...serving.variables.keys()], ["table_0"]);

  const x = new TableConfig({ vocabularySize: 4, dim: 2, name: "same" });
  const y = new TableConfig({ vocabularySize: 4, dim: 2, name: "same" });
  assert.throws(
    () =>
      new TPUEmbeddingForServing({
        featureConfig: [new FeatureConfig({ table: x }), new FeatureConfig({ table: y })],
      }),
    /Tables must have a unique name. Multiple tables with name same found./,
  );
  // An explicit "table_1" collides with the auto-generated name of the second table; TF never renames.
  const p = new TableConfig({ vocabularySize: 4, dim: 2, name: "table_1" });
  const q = new TableConfig({ vocabularySize: 4, dim: 2 });
  assert.throws(
    () =>
      new TPUEmbeddingForServing({
        featureConfig: [new FeatureConfig({ table: p }), new FeatureConfig({ table: q })],
      }),
    /table_1/,
  );
  assert.throws(
    () => new TPUEmbeddingForServing({ featureConfig: [1 as never] }),
    /featureConfig at "0" is number/,
  );
});

test("build is idempotent; slots start at their initial values; embeddingTables share memory", () => {
  const table = new TableConfig({ vocabularySize: 3, dim: 2, initializer: constant([0, 1, 2, 3, 4, 5]) });
  const feature = new FeatureConfig({ table });
  const embedding = new TPUEmbeddingForServing({
    featureConfig: { f: feature },
    optimizer: new Adagrad({ initialAccumulatorValue: 0.25 }),
  });
  assert.equal(embedding.built, false);
  embedding.build();
  const first = embedding.variable("table_0").value.data;
  embedding.build();
  assert.equal(embedding.variable("table_0").value.data, first);
  assert.deepEqual(
    Array.from(embedding.variable("table_0/accumulators").value.data),
    [0.25, 0.25, 0.25, 0.25, 0.25, 0.25],
  );

  const tables = embedding.embeddingTables;
  assert.deepEqual([...tables.keys()], [table]);
  const view = tables.get(table)!;
  assert.deepEqual(view.shape, [3, 2]);
  view.data[2] = 42; // row 1, column 0
  const out = embedding.embeddingLookup({ f: DenseTensor.from([1]) });
  assert.deepEqual(Array.from(out.f.data), [42, 3]);
  assert.ok(view.data.buffer instanceof SharedArrayBuffer);
});

test("Adam slots are momenta and velocities at zero; a seed makes default tables reproducible", () => {
  const make = (seed: number) => {
    const table = new TableConfig({ vocabularySize: 50, dim: 8 });
    return new TPUEmbeddingForServing({
      featureConfig: new FeatureConfig({ table }),
      optimizer: new Adam(),
      seed,
    });
  };
  const a = make(3);
  const b = make(3);
  const c = make(4);
  assert.deepEqual(a.variable("table_0").value.data, b.variable("table_0").value.data);
  assert.notDeepEqual(a.variable("table_0").value.data, c.variable("table_0").value.data);
  assert.deepEqual([...a.variables.keys()], ["table_0", "table_0/momenta", "table_0/velocities"]);
  assert.ok(a.variable("table_0/velocities").value.data.every((v) => v === 0));
});

test("trackable interface: specs before build, restore before build installs values, after build copies", () => {
  const table = new TableConfig({ vocabularySize: 2, dim: 2, initializer: constant(0) });
  const embedding = new TPUEmbeddingForServing({
    featureConfig: new FeatureConfig({ table }),
    optimizer: new SGD(),
  });
  assert.deepEqual(embedding.trackableVariables(), [
    { localName: "table_0", dtype: "float32", shape: [2, 2] },
  ]);
  assert.equal(embedding.readVariable("table_0"), undefined);
  const restored = new Float32Array([1, 2, 3, 4]);
  embedding.restoreVariables(new Map([["table_0", restored]]));
  // Foreign arrays are copied once into the kernels' shared table memory (see allocateVariable).
  assert.deepEqual(Array.from(embedding.readVariable("table_0")!), [1, 2, 3, 4]);
  const view = embedding.embeddingTables.get(table)!;
  embedding.restoreVariables(new Map([["table_0", new Float32Array([5, 6, 7, 8])]]));
  assert.deepEqual(Array.from(view.data), [5, 6, 7, 8]);
  assert.throws(
    () => embedding.restoreVariables(new Map([["table_0", new Float32Array(3)]])),
    /expected 4 float32 values/,
  );
  assert.throws(
    () => embedding.restoreVariables(new Map([["nope", new Float32Array(4)]])),
    /no such variable/,
  );
  assert.deepEqual(Array.from(view.data), [5, 6, 7, 8]);
});
