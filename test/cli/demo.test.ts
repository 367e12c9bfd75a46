import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Checkpoint } from "../../src/checkpoint/checkpoint.js";
import { RaggedTensor, TPUEmbeddingForServing } from "../../src/index.js";
import {
  DEMO_FEATURES_JSON,
  DEMO_REQUEST,
  demoCurl,
  demoFeatures,
  demoTrainer,
  ensureDemoModel,
} from "../../src/cli/demo-model.js";
import { readFeatureConfig } from "../../src/serving/model/feature-config-json.js";
import { loadVersion } from "../../src/serving/model/model-loader.js";
import { tempDir } from "../serving/model/helpers.js";
import { spawnCli } from "./helpers.js";

test("the demo model is created once, in TF Serving's layout, and holds what the trainer saved", async () => {
  const dir = tempDir("tpu-embedding-demo-");
  try {
    const first = await ensureDemoModel(dir);
    assert.deepEqual(first, { created: true, versionDir: join(dir, "1") });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "1", "features.json"), "utf8")), DEMO_FEATURES_JSON);
    assert.match(readFileSync(join(dir, "1", "checkpoint"), "utf8"), /model_checkpoint_path: "ckpt-1"/);
    assert.equal((await ensureDemoModel(dir)).created, false);

    // Sizes come from the checkpoint; the values are the seeded trainer's.
    const model = await loadVersion({
      model: "demo",
      version: 1,
      prefix: join(dir, "1", "ckpt-1"),
      config: await readFeatureConfig(join(dir, "1", "features.json")),
    });
    const trainer = demoTrainer();
    trainer.build();
    for (const table of ["video", "user", "country"]) {
      assert.deepEqual(model.embedding.variable(table).value.data, trainer.variable(table).value.data);
    }
    assert.ok(
      model.skippedKeys.some((k) => k.includes("video.Saccumulators")),
      "Adagrad slots are on disk",
    );
    // The trainer side restores everything, slots included (a real tf.train.Checkpoint).
    const again = new TPUEmbeddingForServing({
      featureConfig: demoFeatures(),
      optimizer: trainer.tables[0].optimizer,
    });
    await new Checkpoint({ embedding: again }).restore(join(dir, "1"));
    assert.deepEqual(
      again.variable("user/accumulators").value.data,
      trainer.variable("user/accumulators").value.data,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("demo (npm start) serves the demo model and its printed request answers like a direct lookup", async () => {
  const dir = tempDir("tpu-embedding-demo-");
  const server = await spawnCli(
    ["demo", "--dir", dir, "--port", "0", "--log-level", "warn"],
    /at (http:\/\/\S+)/,
  );
  try {
    const res = await fetch(`${server.url}/v1/models/demo:predict`, {
      method: "POST",
      body: JSON.stringify(DEMO_REQUEST),
    });
    assert.equal(res.status, 200);
    const { predictions } = (await res.json()) as { predictions: Record<string, unknown>[] };
    const trainer = demoTrainer();
    const expected = trainer.embeddingLookup(
      {
        watched: RaggedTensor.fromNested([[3, 14, 15], [92]]),
        favorited: RaggedTensor.fromNested([[7, 8], [9]]),
        friends: RaggedTensor.fromNested([[1, 2], [3]]),
        country: RaggedTensor.fromNested([[4], [7]]),
      },
      { friends: RaggedTensor.fromNested([[1, 0.5], [2]]) },
    );
    for (const name of ["watched", "favorited", "friends", "country"] as const) {
      const got = predictions.flatMap((row) => [row[name]].flat(2) as number[]).map(Math.fround);
      assert.deepEqual(got, Array.from(expected[name].data), name);
    }
    assert.deepEqual(expected.favorited.shape, [2, 4, 8]);
    assert.ok(demoCurl(server.url)[1].includes(`${server.url}/v1/models/demo:predict`));
    server.proc.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  } finally {
    server.proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
