import { FeatureConfig } from "../config/feature-config.js";
import { TableConfig, type Combiner } from "../config/table-config.js";
import { FailedPreconditionError } from "../errors.js";
import { locateStored, storedOfLocation, type StoredLocation } from "../kernels/table-storage.js";
import type { StorageKind } from "../kernels/quantized-rows.js";
import type { FeatureStructure } from "./feature-structure.js";
import { replicaAccess, TPUEmbeddingForServing } from "./tpu-embedding-for-serving.js";

/**
 * A built embedding described so that another thread can look up in the very same table memory (the
 * server's other event loops): plain data that `postMessage` can carry. The tables' configs keep what a
 * lookup reads (sizes, combiner, name); initializers and optimizers stay with the original.
 */
export interface EmbeddingReplicaSpec {
  readonly tables: readonly {
    readonly vocabularySize: number;
    readonly dim: number;
    readonly combiner: Combiner;
    readonly name: string;
    readonly stored: StoredLocation;
  }[];
  readonly structure: ReplicaNode;
  readonly threads: number;
}

type ReplicaNode =
  | {
      readonly feature: {
        readonly table: number;
        readonly maxSequenceLength: number;
        readonly validateWeightsAndIndices: boolean;
        readonly outputShape: readonly number[] | null;
        readonly name: string | null;
      };
    }
  | { readonly list: readonly ReplicaNode[] }
  | { readonly map: readonly (readonly [string, ReplicaNode])[] };

/**
 * Describes a built embedding whose tables are in shared memory (every `TPUEmbeddingForServing` built
 * here). Throws FailedPreconditionError for one that is not built, disposed, or whose rows are elsewhere
 * (a Redis-backed store).
 */
export function describeReplica(embedding: TPUEmbeddingForServing): EmbeddingReplicaSpec {
  if (Object.getPrototypeOf(embedding) !== TPUEmbeddingForServing.prototype || !embedding.built) {
    throw new FailedPreconditionError(
      "Only a built TPUEmbeddingForServing with its tables in this process's memory can be shared between threads.",
    );
  }
  if (embedding.isDisposed) throw new FailedPreconditionError("The embedding was disposed.");
  const index = new Map(embedding.tables.map((t, i) => [t, i]));
  const stored = replicaAccess.stored(embedding);
  const node = (s: FeatureStructure): ReplicaNode => {
    if (s instanceof FeatureConfig) {
      return {
        feature: {
          table: index.get(s.table)!,
          maxSequenceLength: s.maxSequenceLength,
          validateWeightsAndIndices: s.validateWeightsAndIndices,
          outputShape: s.outputShape === null ? null : [...s.outputShape],
          name: s.name,
        },
      };
    }
    if (Array.isArray(s)) return { list: s.map(node) };
    return { map: Object.entries(s as Record<string, FeatureStructure>).map(([k, v]) => [k, node(v)]) };
  };
  return {
    tables: embedding.tables.map((t) => ({
      vocabularySize: t.vocabularySize,
      dim: t.dim,
      combiner: t.combiner,
      name: t.name!,
      stored: locateStored(stored.get(t)!),
    })),
    structure: node(embedding.featureConfig),
    threads: embedding.threads,
  };
}

/** An embedding built over the memory `spec` describes: lookups give the original's results, bit for bit. */
export function embeddingReplica(spec: EmbeddingReplicaSpec): TPUEmbeddingForServing {
  const tables = spec.tables.map(
    (t) =>
      new TableConfig({ vocabularySize: t.vocabularySize, dim: t.dim, combiner: t.combiner, name: t.name }),
  );
  const node = (n: ReplicaNode): FeatureStructure => {
    if ("feature" in n) {
      const { table, ...options } = n.feature;
      return new FeatureConfig({ table: tables[table], ...options });
    }
    if ("list" in n) return n.list.map(node);
    return Object.fromEntries(n.map.map(([k, v]) => [k, node(v)]));
  };
  const tableStorage: Record<string, StorageKind> = {};
  for (const t of spec.tables) tableStorage[t.name] = t.stored.kind;
  const embedding = new TPUEmbeddingForServing({
    featureConfig: node(spec.structure),
    optimizer: null,
    threads: spec.threads,
    tableStorage,
  });
  replicaAccess.adopt(embedding, new Map(tables.map((t, i) => [t, storedOfLocation(spec.tables[i].stored)])));
  return embedding;
}
