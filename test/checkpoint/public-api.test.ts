import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  Adagrad,
  BundleReader,
  Checkpoint,
  FeatureConfig,
  latestCheckpoint,
  listCheckpointVariables,
  TableConfig,
  TPUEmbeddingForServing,
} from "../../src/index.js";
import { tempDir } from "./helpers.js";

test("the package entry point exposes the checkpoint API", async () => {
  const dir = tempDir();
  const table = new TableConfig({ vocabularySize: 3, dim: 2, name: "t" });
  const emb = new TPUEmbeddingForServing({
    featureConfig: { f: new FeatureConfig({ table }) },
    optimizer: new Adagrad({ learningRate: 0.5 }),
  });
  emb.build();
  emb.variable("t").value.data.set([1, 2, 3, 4, 5, 6]);
  await new Checkpoint({ embedding: emb }).save(join(dir, "ckpt"));
  const prefix = await latestCheckpoint(dir);
  assert.equal(prefix, join(dir, "ckpt-1"));
  const reader = await BundleReader.open(prefix!);
  const vars = await listCheckpointVariables(reader);
  assert.deepEqual(
    vars.map((v) => [v.key, v.objectPath]),
    [
      ["_CHECKPOINTABLE_OBJECT_GRAPH", undefined],
      ["embedding/t.Saccumulators/.ATTRIBUTES/VARIABLE_VALUE", "(root).embedding.t/accumulators"],
      ["embedding/t/.ATTRIBUTES/VARIABLE_VALUE", "(root).embedding.t"],
      ["save_counter/.ATTRIBUTES/VARIABLE_VALUE", "(root).save_counter"],
    ],
  );
  const rows = await reader.readRows("embedding/t/.ATTRIBUTES/VARIABLE_VALUE", 1, 2);
  assert.deepEqual(Array.from(rows.data as Float32Array), [3, 4, 5, 6]);
  const acc = await reader.readTensor("embedding/t.Saccumulators/.ATTRIBUTES/VARIABLE_VALUE");
  assert.deepEqual(Array.from(acc.data as Float32Array), new Array(6).fill(0.1).map(Math.fround));
  await reader.close();
});
