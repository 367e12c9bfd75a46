import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demoFeatures, runDemo } from "../../src/cli/commands/demo.js";
import { Adagrad, TPUEmbeddingForServing } from "../../src/index.js";

test("the demo writes a checkpoint once, restores it and looks up what the trainer saved", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tpu-embedding-demo-"));
  try {
    const lines: string[] = [];
    const first = await runDemo({ dir, log: (l) => lines.push(l) });
    assert.match(lines[0], /wrote demo checkpoint .*ckpt-1/);
    // The trainer side is reproducible from its seed: the restored tables must hold its values.
    const trainer = new TPUEmbeddingForServing({
      featureConfig: demoFeatures(),
      optimizer: new Adagrad(),
      seed: 42,
    });
    const video = trainer.variable("video").value.data;
    // "watched" row 1 is the bag [92] with the mean combiner: exactly table row 92.
    assert.deepEqual(
      Array.from(first.watched.data.subarray(8, 16)),
      Array.from(video.subarray(92 * 8, 93 * 8)),
    );
    assert.deepEqual(first.favorited.shape, [3, 3, 8]);
    assert.deepEqual(Array.from(first.watched.data.subarray(16, 24)), new Array(8).fill(0));

    const again: string[] = [];
    const second = await runDemo({ dir, log: (l) => again.push(l) });
    assert.ok(!again.some((l) => l.startsWith("wrote")), "the second run reuses the checkpoint");
    assert.deepEqual(second.watched.data, first.watched.data);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
