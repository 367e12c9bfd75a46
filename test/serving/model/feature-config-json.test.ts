import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Adagrad, InvalidArgumentError, NotFoundError } from "../../../src/index.js";
import {
  parseFeatureConfig,
  readFeatureConfig,
  type FeatureSpec,
} from "../../../src/serving/model/feature-config-json.js";
import { FEATURES_JSON, tempDir } from "./helpers.js";

test("a valid feature config parses with defaults, nesting and the training optimizer", () => {
  const spec = parseFeatureConfig(FEATURES_JSON, "m/features.json");
  assert.equal(spec.checkpointObject, "embedding");
  assert.deepEqual(
    spec.tables.map((t) => [t.name, t.combiner, t.vocabularySize, t.dim]),
    [
      ["video", "mean", undefined, undefined],
      ["user", "sum", undefined, 2],
    ],
  );
  assert.ok(spec.tables[0].optimizer instanceof Adagrad);
  assert.equal((spec.tables[0].optimizer as Adagrad).learningRate, 0.1);
  assert.equal(spec.tables[1].optimizer, null);
  const features = spec.features as Record<string, unknown>;
  assert.deepEqual(features.favorited, {
    table: "video",
    input: null,
    maxSequenceLength: 3,
    outputShape: null,
    validateWeightsAndIndices: true,
    name: null,
  });
  assert.equal(((features.user as Record<string, FeatureSpec>).friends as FeatureSpec).table, "user");
});

test("arrays of features and every feature option are accepted", () => {
  const spec = parseFeatureConfig(
    {
      checkpointObject: "model_embedding",
      tables: [{ name: "t", combiner: "sqrtn", vocabularySize: 10, dim: 3 }],
      features: [
        { table: "t", outputShape: [2, 5], name: "f0", validateWeightsAndIndices: false },
        { table: "t" },
      ],
    },
    "x.json",
  );
  assert.equal(spec.checkpointObject, "model_embedding");
  const list = spec.features as FeatureSpec[];
  assert.deepEqual(list[0].outputShape, [2, 5]);
  assert.equal(list[0].validateWeightsAndIndices, false);
  assert.equal(list[0].name, "f0");
  assert.deepEqual(spec.tables[0], {
    name: "t",
    combiner: "sqrtn",
    vocabularySize: 10,
    dim: 3,
    optimizer: null,
  });
});

/** Each case: a broken config and the fragments its error must contain (file, field, offending value). */
const BAD: [string, unknown, string[]][] = [
  ["root not an object", [], ["must be an object"]],
  ["unknown root field", { ...FEATURES_JSON, tabels: [] }, ["(root).tabels", "not a known field"]],
  ["no tables", { ...FEATURES_JSON, tables: [] }, ["tables", "non-empty array"]],
  [
    "bad combiner",
    { ...FEATURES_JSON, tables: [{ name: "video", combiner: "max" }, FEATURES_JSON.tables[1]] },
    ["tables[0].combiner", '"max"'],
  ],
  [
    "negative dim",
    { ...FEATURES_JSON, tables: [FEATURES_JSON.tables[0], { name: "user", dim: -2 }] },
    ["tables[1].dim", "positive integer", "-2"],
  ],
  [
    "fractional vocabulary size",
    { ...FEATURES_JSON, tables: [{ name: "video", vocabularySize: 2.5 }, FEATURES_JSON.tables[1]] },
    ["tables[0].vocabularySize", "2.5"],
  ],
  [
    "table without a name",
    { ...FEATURES_JSON, tables: [{ combiner: "sum" }, FEATURES_JSON.tables[1]] },
    ["tables[0].name", "non-empty string"],
  ],
  [
    "duplicate table",
    { ...FEATURES_JSON, tables: [FEATURES_JSON.tables[0], { name: "video" }, FEATURES_JSON.tables[1]] },
    ["tables[1].name", '"video" is used by more than one table'],
  ],
  [
    "unknown optimizer",
    {
      ...FEATURES_JSON,
      tables: [{ name: "video", optimizer: { type: "rmsprop" } }, FEATURES_JSON.tables[1]],
    },
    ["tables[0].optimizer.type", '"rmsprop"', '"adagrad"'],
  ],
  [
    "bad optimizer hyperparameter",
    {
      ...FEATURES_JSON,
      tables: [{ name: "video", optimizer: { type: "adam", beta1: "x" } }, FEATURES_JSON.tables[1]],
    },
    ["tables[0].optimizer", "beta1"],
  ],
  [
    "feature on an unknown table",
    { ...FEATURES_JSON, features: { ...FEATURES_JSON.features, clicked: { table: "item" } } },
    ['"item"', 'not in "tables"'],
  ],
  [
    "unused table",
    { ...FEATURES_JSON, features: { watched: { table: "video" } } },
    ["tables[1]", '"user"', "not used by any feature"],
  ],
  [
    "negative maxSequenceLength",
    {
      ...FEATURES_JSON,
      features: { watched: { table: "video", maxSequenceLength: -1 }, u: { table: "user" } },
    },
    ["features.watched.maxSequenceLength", "-1"],
  ],
  [
    "bad outputShape",
    {
      ...FEATURES_JSON,
      features: { watched: { table: "video", outputShape: [2, "a"] }, u: { table: "user" } },
    },
    ["features.watched.outputShape"],
  ],
  [
    "typo in a feature field",
    { ...FEATURES_JSON, features: { watched: { table: "video", maxSeqLength: 2 }, u: { table: "user" } } },
    ["features.watched.maxSeqLength", "not a known field"],
  ],
  [
    "a feature that is not an object",
    { ...FEATURES_JSON, features: { watched: "video", u: { table: "user" } } },
    ["features.watched", "must be an object", '"video"'],
  ],
  [
    "an empty nested level",
    { ...FEATURES_JSON, features: { watched: { table: "video" }, u: { table: "user" }, extra: {} } },
    ["features.extra", "must not be empty"],
  ],
  [
    "nested checkpoint object",
    { ...FEATURES_JSON, checkpointObject: "model/emb" },
    ["checkpointObject", "model/emb"],
  ],
];

for (const [name, json, fragments] of BAD) {
  test(`feature config error: ${name}`, () => {
    assert.throws(
      () => parseFeatureConfig(json, "models/m/7/features.json"),
      (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError, String(e));
        assert.match(e.message, /^Feature config "models\/m\/7\/features\.json": /);
        for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" should mention ${f}`);
        return true;
      },
    );
  });
}

test("readFeatureConfig names the file for missing files and invalid JSON", async () => {
  const dir = tempDir();
  const missing = join(dir, "nope.json");
  await assert.rejects(readFeatureConfig(missing), (e: unknown) => {
    return e instanceof NotFoundError && e.message.includes(missing);
  });
  const broken = join(dir, "features.json");
  writeFileSync(broken, '{ "tables": [ ');
  await assert.rejects(readFeatureConfig(broken), (e: unknown) => {
    return (
      e instanceof InvalidArgumentError && e.message.includes(broken) && e.message.includes("not valid JSON")
    );
  });
  writeFileSync(broken, JSON.stringify(FEATURES_JSON));
  assert.equal((await readFeatureConfig(broken)).tables.length, 2);
});

test('"input" declares a feature\'s input kind; dense sequence features and unknown kinds are refused', () => {
  const config = (feature: Record<string, unknown>) => ({
    tables: [{ name: "t", vocabularySize: 10, dim: 3 }],
    features: { f: { table: "t", ...feature } },
  });
  for (const kind of ["dense", "ragged", "sparse"]) {
    const spec = parseFeatureConfig(config({ input: kind }), "x.json");
    assert.equal((spec.features as Record<string, FeatureSpec>).f.input, kind);
  }
  assert.throws(
    () => parseFeatureConfig(config({ input: "bags" }), "x.json"),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      e.message ===
        'Feature config "x.json": features.f.input must be one of "dense", "ragged", "sparse", got "bags".',
  );
  assert.throws(
    () => parseFeatureConfig(config({ input: "dense", maxSequenceLength: 4 }), "x.json"),
    /features\.f\.input is "dense" but the feature is a sequence feature \(maxSequenceLength 4\)/,
  );
  assert.equal(
    parseFeatureConfig(config({ input: "ragged", maxSequenceLength: 4 }), "x.json").tables.length,
    1,
  );
});
