/** Model repositories for tests: versions written with the project's own checkpoint writer. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Checkpoint } from "../../../src/checkpoint/checkpoint.js";
import { Adagrad, FeatureConfig, TableConfig, TPUEmbeddingForServing } from "../../../src/index.js";
import type { ModelEvent } from "../../../src/serving/model-registry.js";
import type { LogLevel, Logger } from "../../../src/serving/log.js";

export const VIDEO_ROWS = 20;
export const VIDEO_DIM = 4;
export const USER_ROWS = 6;
export const USER_DIM = 2;

export function tempDir(prefix = "tpu-embedding-model-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The value every element of version `v`'s table holds at flat index `i`: tells versions apart. */
export function cellValue(version: number, table: "video" | "user", i: number): number {
  return Math.fround(version * 1000 + (table === "video" ? 0 : 500) + i / 8);
}

/** The features.json of the test model: a nested structure, sizes taken from the checkpoint. */
export const FEATURES_JSON = {
  tables: [
    { name: "video", combiner: "mean", optimizer: { type: "adagrad", learningRate: 0.1 } },
    { name: "user", combiner: "sum", dim: USER_DIM },
  ],
  features: {
    watched: { table: "video" },
    favorited: { table: "video", maxSequenceLength: 3 },
    user: { friends: { table: "user" } },
  },
};

/** Writes `dir/ckpt-1` (+ the `checkpoint` state file) with Adagrad slots, like a TPU training job. */
export async function writeCheckpoint(dir: string, version: number, videoRows = VIDEO_ROWS): Promise<string> {
  const video = new TableConfig({ vocabularySize: videoRows, dim: VIDEO_DIM, name: "video" });
  const user = new TableConfig({ vocabularySize: USER_ROWS, dim: USER_DIM, name: "user" });
  const trainer = new TPUEmbeddingForServing({
    featureConfig: { a: new FeatureConfig({ table: video }), b: new FeatureConfig({ table: user }) },
    optimizer: new Adagrad(),
  });
  trainer.build();
  const v = trainer.variable("video").value.data;
  for (let i = 0; i < v.length; i++) v[i] = cellValue(version, "video", i);
  const u = trainer.variable("user").value.data;
  for (let i = 0; i < u.length; i++) u[i] = cellValue(version, "user", i);
  return new Checkpoint({ embedding: trainer }).save(join(dir, "ckpt"));
}

/** `base/<version>/` with a checkpoint and (unless `features: null`) its own features.json. */
export async function writeVersion(
  base: string,
  version: number,
  options: { features?: unknown; videoRows?: number } = {},
): Promise<string> {
  const dir = join(base, String(version));
  mkdirSync(dir, { recursive: true });
  await writeCheckpoint(dir, version, options.videoRows);
  if (options.features !== null) {
    writeFileSync(join(dir, "features.json"), JSON.stringify(options.features ?? FEATURES_JSON));
  }
  return dir;
}

export interface CapturedLog {
  level: LogLevel;
  event: string;
  fields: Record<string, unknown>;
}

export function captureLogger(): { logger: Logger; lines: CapturedLog[] } {
  const lines: CapturedLog[] = [];
  return { logger: { log: (level, event, fields = {}) => lines.push({ level, event, fields }) }, lines };
}

export function describeEvent(e: ModelEvent): string {
  return `${e.type} ${e.version}`;
}
