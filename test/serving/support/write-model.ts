/** A model repository version written with given table values and features.json (for REST tests). */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Checkpoint, FeatureConfig, TableConfig, TPUEmbeddingForServing } from "../../../src/index.js";

/** Writes version 123 of a model: one table per entry, values as given, and its features.json. */
export async function writeModel(
  base: string,
  tables: { name: string; rows: number[][]; combiner?: "sum" | "mean" | "sqrtn" }[],
  features: Record<string, unknown>,
  version = 123,
): Promise<void> {
  const dir = join(base, String(version));
  mkdirSync(dir, { recursive: true });
  const configs = tables.map(
    (t) =>
      new TableConfig({
        vocabularySize: t.rows.length,
        dim: t.rows[0].length,
        name: t.name,
        combiner: t.combiner ?? "mean",
      }),
  );
  const featureConfig = Object.fromEntries(configs.map((c, i) => [`f${i}`, new FeatureConfig({ table: c })]));
  const embedding = new TPUEmbeddingForServing({ featureConfig, optimizer: null });
  embedding.build();
  tables.forEach((t) => embedding.variable(t.name).value.data.set(t.rows.flat()));
  await new Checkpoint({ embedding }).save(join(dir, "ckpt"));
  writeFileSync(
    join(dir, "features.json"),
    JSON.stringify({
      tables: tables.map((t) => ({ name: t.name, combiner: t.combiner ?? "mean" })),
      features,
    }),
  );
}
