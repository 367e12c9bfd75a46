import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Checkpoint } from "../../checkpoint/checkpoint.js";
import {
  Adagrad,
  DenseTensor,
  FeatureConfig,
  RaggedTensor,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type FeatureStructure,
} from "../../index.js";

/**
 * The newcomer's first run: writes a small "trained" model as a real TF checkpoint (once), restores it
 * into a serving object without optimizer slots, and prints lookups of every input kind.
 */

/** The demo model's features; the same function builds the trainer side and the serving side. */
export function demoFeatures(): FeatureStructure {
  const video = new TableConfig({ vocabularySize: 1000, dim: 8, combiner: "mean", name: "video" });
  const user = new TableConfig({ vocabularySize: 100, dim: 4, combiner: "sum", name: "user" });
  return {
    watched: new FeatureConfig({ table: video }),
    favorited: new FeatureConfig({ table: video, maxSequenceLength: 3 }),
    friends: new FeatureConfig({ table: user }),
  };
}

export async function runDemo(options: {
  dir: string;
  log?: (line: string) => void;
}): Promise<Record<string, DenseTensor<Float32Array>>> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = resolve(options.dir);
  if (!existsSync(join(dir, "checkpoint"))) {
    // Stands in for a model trained on TPU: seeded tables plus Adagrad slots, saved like tf.train.Checkpoint.
    const trainer = new TPUEmbeddingForServing({
      featureConfig: demoFeatures(),
      optimizer: new Adagrad(),
      seed: 42,
    });
    trainer.build();
    const path = await new Checkpoint({ embedding: trainer }).save(join(dir, "ckpt"));
    log(`wrote demo checkpoint ${path}`);
  }
  const serving = new TPUEmbeddingForServing({ featureConfig: demoFeatures(), optimizer: null });
  await new Checkpoint({ embedding: serving }).restore(dir);
  log(`restored ${dir} (tables: ${[...serving.variables.keys()].join(", ")})`);

  const inputs = {
    watched: RaggedTensor.fromNested([[3, 14, 15], [92], []]),
    favorited: new SparseTensor({
      indices: [
        [0, 0],
        [0, 1],
        [2, 0],
      ],
      values: [7, 8, 9],
      denseShape: [3, 5],
    }),
    friends: DenseTensor.from([[1], [2], [3]]),
  };
  const outputs = serving.embeddingLookup(inputs);
  for (const [name, tensor] of Object.entries(outputs)) {
    log(`${name}: shape [${tensor.shape.join(", ")}]`);
    log(`  ${JSON.stringify(roundNested(tensor.toArray()))}`);
  }
  return outputs;
}

function roundNested(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(roundNested);
  return typeof value === "number" ? Math.round(value * 1e4) / 1e4 : value;
}

export const registerDemo = (program: Command): void => {
  program
    .command("demo")
    .description("write a small demo checkpoint (once), restore it and print lookups of every input kind")
    .option("--dir <dir>", "where the demo checkpoint lives", "demo-model")
    .action(async (options: { dir: string }) => {
      await runDemo({ dir: options.dir });
    });
};
