/**
 * A published version as an embedding: the manifest's features.json and shapes become real
 * `TableConfig`s / `FeatureConfig`s (vocabulary sizes from the manifest, so TF's range checks are the
 * same as with local tables), and the rows come from the cluster through `RedisRowSource`.
 */
import { StoreBackedEmbedding } from "../embedding/index.js";
import { parseFeatureConfig } from "../serving/model/feature-config-json.js";
import { buildFeatureStructure, servableFeatures, type TableShape } from "../serving/model/model-loader.js";
import type { ServableFeature } from "../serving/model-registry.js";
import type { BinaryCluster } from "./cluster-client.js";
import { manifestKey, type Manifest } from "./layout.js";
import { RedisRowSource, type RedisRowsOptions } from "./redis-rows.js";

export interface RedisVersion {
  readonly manifest: Manifest;
  readonly embedding: StoreBackedEmbedding;
  readonly features: readonly ServableFeature[];
  readonly rows: RedisRowSource;
}

export function versionFromManifest(
  cluster: BinaryCluster,
  manifest: Manifest,
  options: RedisRowsOptions,
): RedisVersion {
  const source = `Redis ${manifestKey(manifest.model, manifest.version)}`;
  const spec = parseFeatureConfig(manifest.featureConfig, source);
  const shapes = new Map<string, TableShape>(
    manifest.tables.map((t) => [t.name, { vocabularySize: t.vocabularySize, dim: t.dim }]),
  );
  const structure = buildFeatureStructure(spec, shapes);
  let rows: RedisRowSource | undefined;
  const embedding = new StoreBackedEmbedding(structure, (tables) => {
    rows = new RedisRowSource(
      cluster,
      manifest,
      tables.map((t) => t.name!),
      options,
    );
    return rows;
  });
  return { manifest, embedding, features: servableFeatures(structure), rows: rows! };
}
