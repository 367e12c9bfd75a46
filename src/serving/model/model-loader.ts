/**
 * Loads one model version: feature config + checkpoint → a complete `ServableModel`. Loading has two
 * steps so a caller can check a version (config, index, shapes: cheap) before it frees memory for it,
 * then read the tables (restored before `build()`, so every table is read straight into its final memory).
 */
import { stat } from "node:fs/promises";
import { BundleReader } from "../../checkpoint/bundle/bundle-reader.js";
import { dtypeNameOfEnum } from "../../checkpoint/bundle/dtypes.js";
import { Checkpoint } from "../../checkpoint/checkpoint.js";
import { checkpointKey, readObjectGraph, variableKeyInGraph } from "../../checkpoint/object-graph.js";
import { FeatureConfig } from "../../config/feature-config.js";
import { MAX_VOCABULARY_SIZE, TableConfig } from "../../config/table-config.js";
import {
  flattenFeatures,
  TPUEmbeddingForServing,
  type FeatureStructure,
  type TPUEmbeddingForServingOptions,
} from "../../embedding/index.js";
import { DataLossError, InvalidArgumentError, NotFoundError, TpuEmbeddingError } from "../../errors.js";
import type { ServableFeature, ServableModel } from "../model-registry.js";
import { rowBytes, type StorageKind } from "../../kernels/quantized-rows.js";
import type { FeatureConfigSpec, FeatureSpec, FeatureSpecTree, InputKind } from "./feature-config-json.js";

/** Options the registry passes to every embedding it creates (e.g. lookup threads). */
export type EmbeddingOptions = Omit<TPUEmbeddingForServingOptions, "featureConfig" | "optimizer" | "seed">;

export interface TableShape {
  readonly vocabularySize: number;
  readonly dim: number;
}

/** A version whose config and checkpoint index check out; its tables are not in memory yet. */
export interface PreparedVersion {
  readonly model: string;
  readonly version: number;
  readonly prefix: string;
  /** The embedding's name in the checkpoint's object graph. */
  readonly checkpointObject: string;
  readonly embedding: TPUEmbeddingForServing;
  readonly features: readonly ServableFeature[];
  readonly tableBytes: number;
  readonly tableCount: number;
}

export interface ServableVersion extends ServableModel {
  /** Checkpoint keys that were not loaded (optimizer slots, other objects). */
  readonly skippedKeys: readonly string[];
}

function isFeatureSpec(node: FeatureSpecTree): node is FeatureSpec {
  return typeof (node as FeatureSpec).table === "string";
}

/**
 * Each table's `[vocabularySize, dim]` from the checkpoint's variable shapes; a size given in the config
 * must match. Errors name the config, the table, the checkpoint and the key.
 */
export async function tableShapesFromCheckpoint(
  spec: FeatureConfigSpec,
  prefix: string,
): Promise<Map<string, TableShape>> {
  const reader = await BundleReader.open(prefix);
  try {
    const graph = await readObjectGraph(reader);
    const shapes = new Map<string, TableShape>();
    for (const table of spec.tables) {
      const path = [spec.checkpointObject, table.name];
      const key = (graph && variableKeyInGraph(graph, path)) ?? checkpointKey(path);
      if (!reader.has(key)) {
        throw new NotFoundError(
          `Checkpoint "${prefix}" has no table "${table.name}" (key "${key}") for feature config "${spec.source}".`,
        );
      }
      const entry = reader.entry(key);
      const dtype = dtypeNameOfEnum(entry.dtype);
      const [rows, dim] = entry.shape;
      if (
        entry.shape.length !== 2 ||
        dtype !== "float32" ||
        rows < 1 ||
        dim < 1 ||
        rows > MAX_VOCABULARY_SIZE
      ) {
        throw new InvalidArgumentError(
          `Checkpoint "${prefix}", key "${key}": table "${table.name}" must be a float32 [vocabularySize, dim] ` +
            `matrix, the checkpoint holds ${dtype} [${entry.shape.join(", ")}].`,
        );
      }
      for (const [field, want, have] of [
        ["vocabularySize", table.vocabularySize, rows],
        ["dim", table.dim, dim],
      ] as const) {
        if (want !== undefined && want !== have) {
          throw new InvalidArgumentError(
            `Feature config "${spec.source}": table "${table.name}" has ${field} ${want}, but checkpoint ` +
              `"${prefix}" holds [${rows}, ${dim}] (key "${key}").`,
          );
        }
      }
      shapes.set(table.name, { vocabularySize: rows, dim });
    }
    await checkDeclaredBytes(reader, shapes);
    return shapes;
  } finally {
    await reader.close();
  }
}

/**
 * Checkpoint headers are untrusted: before allocating the tables, the shapes the index declares must fit
 * in the data files that exist (a few-KB index claiming a terabyte table fails here, not in the allocator).
 */
export async function checkDeclaredBytes(
  reader: Pick<BundleReader, "prefix" | "dataFiles">,
  shapes: ReadonlyMap<string, TableShape>,
): Promise<void> {
  let declared = 0;
  for (const s of shapes.values()) declared += s.vocabularySize * s.dim * 4;
  let stored = 0;
  for (const file of reader.dataFiles()) stored += (await stat(file)).size;
  if (declared > stored) {
    throw new DataLossError(
      `Checkpoint "${reader.prefix}" declares ${declared} bytes of tables, but its data files hold only ${stored} bytes.`,
    );
  }
}

/** The real config objects: one `TableConfig` per table (optimizer `null`: slots stay on disk). */
export function buildFeatureStructure(
  spec: FeatureConfigSpec,
  shapes: ReadonlyMap<string, TableShape>,
): FeatureStructure {
  const tables = new Map<string, TableConfig>();
  for (const t of spec.tables) {
    const shape = shapes.get(t.name);
    if (shape === undefined) throw new NotFoundError(`No shape for table "${t.name}" of "${spec.source}".`);
    tables.set(t.name, new TableConfig({ ...shape, combiner: t.combiner, name: t.name, optimizer: null }));
  }
  const build = (node: FeatureSpecTree): FeatureStructure => {
    if (isFeatureSpec(node)) {
      const config = new FeatureConfig({
        table: tables.get(node.table)!,
        maxSequenceLength: node.maxSequenceLength,
        outputShape: node.outputShape,
        validateWeightsAndIndices: node.validateWeightsAndIndices,
        name: node.name,
      });
      if (node.input !== null && node.input !== undefined) declaredInputs.set(config, node.input);
      return config;
    }
    if (Array.isArray(node)) return node.map(build);
    const out: Record<string, FeatureStructure> = {};
    for (const [key, child] of Object.entries(node)) out[key] = build(child);
    return out;
  };
  try {
    return build(spec.features);
  } catch (e) {
    if (e instanceof TpuEmbeddingError && !(e instanceof NotFoundError)) {
      throw new InvalidArgumentError(`Feature config "${spec.source}": ${e.message}`, { cause: e });
    }
    throw e;
  }
}

/** The `"input"` kinds features.json declares, by the FeatureConfig built for the feature. */
const declaredInputs = new WeakMap<FeatureConfig, InputKind>();

export function servableFeatures(structure: FeatureStructure): ServableFeature[] {
  return flattenFeatures(structure).map(({ path, value }) => {
    const input = declaredInputs.get(value);
    return {
      name: path,
      table: value.table.name!,
      vocabularySize: value.table.vocabularySize,
      dim: value.table.dim,
      combiner: value.table.combiner,
      maxSequenceLength: value.maxSequenceLength,
      outputShape: value.outputShape,
      ...(input === undefined ? {} : { input }),
    };
  });
}

/**
 * Each table's storage: features.json's `tables[].storage`, else the server's (`--table-storage`: one kind,
 * or kinds by table name), else float32.
 */
function tableStorageOf(
  config: FeatureConfigSpec,
  server: EmbeddingOptions["tableStorage"],
): Record<string, StorageKind> {
  const out: Record<string, StorageKind> = {};
  for (const t of config.tables) {
    const fallback = typeof server === "string" ? server : server?.[t.name];
    out[t.name] = t.storage ?? fallback ?? "float32";
  }
  return out;
}

/** Step 1: config + index + shapes; allocates nothing big. */
export async function prepareVersion(options: {
  model: string;
  version: number;
  prefix: string;
  config: FeatureConfigSpec;
  embeddingOptions?: EmbeddingOptions;
}): Promise<PreparedVersion> {
  const shapes = await tableShapesFromCheckpoint(options.config, options.prefix);
  const structure = buildFeatureStructure(options.config, shapes);
  const embedding = new TPUEmbeddingForServing({
    ...options.embeddingOptions,
    tableStorage: tableStorageOf(options.config, options.embeddingOptions?.tableStorage),
    featureConfig: structure,
    optimizer: null,
  });
  const storage = embedding.tableStorage;
  const tableBytes = embedding.tables.reduce(
    (a, t) => a + t.vocabularySize * rowBytes(storage.get(t)!, t.dim),
    0,
  );
  return {
    model: options.model,
    version: options.version,
    prefix: options.prefix,
    checkpointObject: options.config.checkpointObject,
    embedding,
    features: servableFeatures(structure),
    tableBytes,
    tableCount: embedding.tables.length,
  };
}

/**
 * Step 2: reads every table into its final memory (before `build()`: no staging copy, peak ≈ the tables)
 * and returns the complete version. On any error nothing is kept.
 */
export async function restoreVersion(
  prepared: PreparedVersion,
  onProgress?: (bytesRead: number, totalBytes: number) => void,
): Promise<ServableVersion> {
  const embedding = prepared.embedding;
  const result = await new Checkpoint({ [prepared.checkpointObject]: embedding }).restore(prepared.prefix, {
    onProgress,
  });
  return {
    name: prepared.model,
    version: prepared.version,
    embedding,
    features: prepared.features,
    checkpoint: result.path,
    tableBytes: prepared.tableBytes,
    skippedKeys: result.unusedKeys,
  };
}

/** Both steps. */
export async function loadVersion(options: {
  model: string;
  version: number;
  prefix: string;
  config: FeatureConfigSpec;
  embeddingOptions?: EmbeddingOptions;
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}): Promise<ServableVersion> {
  return restoreVersion(await prepareVersion(options), options.onProgress);
}
