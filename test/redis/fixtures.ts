/** A model of every lookup kind written as a version folder (checkpoint + features.json) for Redis tests. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Checkpoint } from "../../src/checkpoint/checkpoint.js";
import type { TPUEmbeddingForServing } from "../../src/index.js";
import { makeEmbedding } from "../embedding/every-kind.js";

export const EVERY_KIND_FEATURES = {
  tables: [
    { name: "t_sum", combiner: "sum" },
    { name: "t_mean", combiner: "mean" },
    { name: "t_sqrtn", combiner: "sqrtn" },
    { name: "t_seq", combiner: "sum" },
    { name: "t_dense", combiner: "mean" },
    { name: "t_sparse", combiner: "sqrtn" },
    { name: "t_sparse_seq", combiner: "sum" },
  ],
  features: {
    sum: { table: "t_sum" },
    mean: { table: "t_mean" },
    sqrtn: { table: "t_sqrtn" },
    seq: { table: "t_seq", maxSequenceLength: 6 },
    dense: { table: "t_dense", input: "dense" },
    sparse: { table: "t_sparse", input: "sparse" },
    sparseSeq: { table: "t_sparse_seq", maxSequenceLength: 7, input: "sparse" },
  },
};

/** `base/<version>/ckpt-1` + features.json holding `makeEmbedding`'s seeded tables (one value changed per version). */
export async function writeEveryKindVersion(
  base: string,
  version: number,
): Promise<{ dir: string; embedding: TPUEmbeddingForServing }> {
  const embedding = makeEmbedding(1);
  embedding.build();
  // Versions differ in every row (so a mixed answer is visible): row r of every table gets + version.
  for (const [, table] of embedding.embeddingTables) {
    const data = table.data;
    for (let i = 0; i < data.length; i++) data[i] = Math.fround(data[i] + version);
  }
  const dir = join(base, String(version));
  mkdirSync(dir, { recursive: true });
  await new Checkpoint({ embedding }).save(join(dir, "ckpt"));
  writeFileSync(join(dir, "features.json"), JSON.stringify(EVERY_KIND_FEATURES));
  return { dir, embedding };
}
