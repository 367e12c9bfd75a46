/**
 * The demo model `npm start` serves: a few tables "trained on TPU" (seeded tables plus Adagrad slots,
 * saved like `tf.train.Checkpoint` with the project's own writer) in TF Serving's layout, with its
 * features.json, and a predict request that exercises every kind of feature.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Checkpoint } from "../checkpoint/checkpoint.js";
import { Adagrad } from "../config/optimizers.js";
import { FeatureConfig } from "../config/feature-config.js";
import { TableConfig } from "../config/table-config.js";
import type { FeatureStructure } from "../embedding/feature-structure.js";
import { TPUEmbeddingForServing } from "../embedding/tpu-embedding-for-serving.js";

export const DEMO_MODEL_NAME = "demo";
export const DEMO_VERSION = 1;

/** features.json of the demo: what the trainer below uses, minus the sizes (read from the checkpoint). */
export const DEMO_FEATURES_JSON = {
  tables: [
    { name: "video", combiner: "mean", optimizer: { type: "adagrad", learningRate: 0.1 } },
    { name: "user", combiner: "sum", optimizer: { type: "adagrad", learningRate: 0.1 } },
    { name: "country", combiner: "sqrtn", optimizer: { type: "adagrad", learningRate: 0.1 } },
  ],
  features: {
    watched: { table: "video" },
    favorited: { table: "video", maxSequenceLength: 4 },
    friends: { table: "user" },
    country: { table: "country" },
  },
};

/** The trainer side: same tables, with sizes and the optimizer whose slots land in the checkpoint. */
export function demoFeatures(): FeatureStructure {
  const video = new TableConfig({ vocabularySize: 1000, dim: 8, combiner: "mean", name: "video" });
  const user = new TableConfig({ vocabularySize: 100, dim: 4, combiner: "sum", name: "user" });
  const country = new TableConfig({ vocabularySize: 50, dim: 4, combiner: "sqrtn", name: "country" });
  return {
    watched: new FeatureConfig({ table: video }),
    favorited: new FeatureConfig({ table: video, maxSequenceLength: 4 }),
    friends: new FeatureConfig({ table: user }),
    country: new FeatureConfig({ table: country }),
  };
}

export function demoTrainer(): TPUEmbeddingForServing {
  return new TPUEmbeddingForServing({
    featureConfig: demoFeatures(),
    optimizer: new Adagrad({ learningRate: 0.1 }),
    seed: 42,
  });
}

/** A row-format predict body: a bag of ids, a sequence, weighted ids, and one id per example. */
export const DEMO_REQUEST = {
  instances: [
    {
      watched: [3, 14, 15],
      favorited: [7, 8],
      friends: { ids: [1, 2], weights: [1.0, 0.5] },
      country: 4,
    },
    { watched: [92], favorited: [9], friends: { ids: [3], weights: [2.0] }, country: 7 },
  ],
};

/**
 * Creates `dir/1/` (checkpoint + features.json) unless a version is already there. Written into a
 * temporary folder and renamed, the way a model should be published into a served base path.
 */
export async function ensureDemoModel(dir: string): Promise<{ created: boolean; versionDir: string }> {
  const base = resolve(dir);
  const versionDir = join(base, String(DEMO_VERSION));
  if (existsSync(join(versionDir, "features.json"))) return { created: false, versionDir };
  await mkdir(base, { recursive: true });
  const staging = await mkdtemp(join(base, ".staging-"));
  try {
    const trainer = demoTrainer();
    trainer.build();
    await new Checkpoint({ embedding: trainer }).save(join(staging, "ckpt"));
    await writeFile(join(staging, "features.json"), JSON.stringify(DEMO_FEATURES_JSON, null, 2) + "\n");
    await rm(versionDir, { recursive: true, force: true });
    await rename(staging, versionDir);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
  return { created: true, versionDir };
}

/** The ready-to-paste command lines `npm start` prints. */
export function demoCurl(url: string, model = DEMO_MODEL_NAME): string[] {
  return [
    `curl -s ${url}/v1/models/${model}`,
    `curl -s ${url}/v1/models/${model}:predict -d '${JSON.stringify(DEMO_REQUEST)}'`,
  ];
}
