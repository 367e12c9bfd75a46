import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BundleReader } from "../../src/checkpoint/bundle/bundle-reader.js";
import { Checkpoint } from "../../src/checkpoint/checkpoint.js";
import {
  DenseTensor,
  FeatureConfig,
  FTRL,
  RaggedTensor,
  TableConfig,
  TPUEmbeddingForServing,
} from "../../src/index.js";
import { grad, snapshot } from "./helpers.js";

/*
 * Training state survives checkpoints: tables and slots saved after training use TF's keys, and an
 * embedding restored from them continues training bit-identically to the one that never stopped.
 */
function make(): TPUEmbeddingForServing {
  const video = new TableConfig({ vocabularySize: 6, dim: 3, name: "video", combiner: "mean" });
  return new TPUEmbeddingForServing({
    featureConfig: { watched: new FeatureConfig({ table: video }) },
    optimizer: new FTRL({ learningRate: 0.1, l1RegularizationStrength: 0.01 }),
    seed: 7,
  });
}

function trainStep(e: TPUEmbeddingForServing, k: number): void {
  e.embeddingLookup({ watched: RaggedTensor.fromNested([[k % 6, (k + 2) % 6], [(k + 1) % 6]], "int32") });
  e.applyGradients({ watched: grad([0.5, -1, 0.25, k, 1, -0.5], [2, 3]) });
}

test("train, save, restore into a new embedding, continue: identical to uninterrupted training", async () => {
  const dir = mkdtempSync(join(tmpdir(), "training-ckpt-"));
  try {
    const a = make();
    trainStep(a, 0);
    trainStep(a, 1);
    const saved = await new Checkpoint({ embedding: a }).save(join(dir, "ckpt"));

    const reader = await BundleReader.open(saved);
    const keys = reader.listVariables().map((v) => v.key);
    await reader.close();
    for (const key of ["video", "video.Saccumulators", "video.Slinears"]) {
      assert.ok(keys.includes(`embedding/${key}/.ATTRIBUTES/VARIABLE_VALUE`), key);
    }

    const b = make();
    await new Checkpoint({ embedding: b }).restore(saved);
    assert.deepEqual(snapshot(b), snapshot(a));
    trainStep(a, 2);
    trainStep(b, 2);
    assert.deepEqual(snapshot(b), snapshot(a));
    // and training changed something after the restore
    assert.notDeepEqual(snapshot(b).get("video/linears"), new Uint32Array(18));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("DenseTensor from the lookup result can be fed back after scaling (loss = Σ act²/2 → grad = act)", () => {
  const e = make();
  const act = e.embeddingLookup({ watched: RaggedTensor.fromNested([[1]], "int32") });
  const before = Array.from(e.variable("video").value.data.subarray(3, 6));
  e.applyGradients({ watched: new DenseTensor(act.watched.data.slice(), act.watched.shape) });
  assert.notDeepEqual(Array.from(e.variable("video").value.data.subarray(3, 6)), before);
});
