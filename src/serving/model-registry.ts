import type { TPUEmbeddingForServing } from "../embedding/index.js";
import type { ModelSourceOptions } from "./model/model-source.js";

/**
 * The contract between model lifecycle (src/serving/model: loading, polling, swapping versions) and the
 * request side (src/serving/http: REST/binary API, batching, metrics). Types only.
 */

/** TF Serving's ModelVersionStatus.State. */
export type VersionStateName = "START" | "LOADING" | "AVAILABLE" | "UNLOADING" | "END";

/** TF Serving's `model_version_status` entry; `error` is set when loading failed (state END). */
export interface VersionStatus {
  readonly version: number;
  readonly state: VersionStateName;
  /** TF Serving's error code name ("OK", "NOT_FOUND", "DATA_LOSS", "INVALID_ARGUMENT", ...). */
  readonly errorCode: string;
  readonly errorMessage: string;
}

/** How one servable feature is fed: its path in the feature structure and its table's shape. */
export interface ServableFeature {
  /** Path in the (flattened, sorted-key) feature structure, e.g. "watched" or "user/history". */
  readonly name: string;
  readonly table: string;
  readonly vocabularySize: number;
  readonly dim: number;
  readonly combiner: "sum" | "mean" | "sqrtn";
  readonly maxSequenceLength: number;
  readonly outputShape: readonly number[] | null;
  /**
   * The input kind `features.json` declares (`"input"`); undefined when it declares none: plain JSON
   * lists are then bags (ragged) and every explicit form (`{"dense"}`, sparse, ragged) is accepted.
   */
  readonly input?: "dense" | "ragged" | "sparse";
}

/** One loaded, complete version of a model: never visible before every table is in memory (or published). */
export interface ServableModel {
  readonly name: string;
  readonly version: number;
  /** Tables in memory, or in a Redis Cluster (`StoreBackedEmbedding`, a subclass: async lookups only). */
  readonly embedding: TPUEmbeddingForServing;
  readonly features: readonly ServableFeature[];
  /** Checkpoint prefix the version was restored from. */
  readonly checkpoint: string;
  /** Bytes of table memory this version holds. */
  readonly tableBytes: number;
}

/** A reference that keeps a version alive; `release()` exactly once when the request is done. */
export interface ModelLease {
  readonly model: ServableModel;
  release(): void;
}

/** Which version a request asks for: latest available when neither is given. */
export interface VersionSelector {
  readonly version?: number;
  readonly label?: string;
}

export type ModelEvent =
  | { readonly type: "load-start"; readonly model: string; readonly version: number }
  | {
      readonly type: "load-done";
      readonly model: string;
      readonly version: number;
      readonly seconds: number;
      readonly bytes: number;
    }
  | { readonly type: "load-failed"; readonly model: string; readonly version: number; readonly error: string }
  /** A version stops taking new requests; its memory goes once its leases are released ("unloaded"). */
  | { readonly type: "unload-start"; readonly model: string; readonly version: number }
  | { readonly type: "unloaded"; readonly model: string; readonly version: number };

export interface ModelRegistry {
  /** Names of the models this registry serves. */
  modelNames(): readonly string[];
  /** Status of every known version (newest first); throws NotFoundError for an unknown model. */
  status(model: string, version?: number): readonly VersionStatus[];
  /** Version labels ("stable" → 3). */
  labels(model: string): ReadonlyMap<string, number>;
  /**
   * Leases the selected AVAILABLE version. Throws NotFoundError (unknown model, version or label) or
   * UnavailableError (model known but no version available yet: HTTP 503, retry).
   */
  acquire(model: string, selector?: VersionSelector): ModelLease;
  /**
   * Subscribes to lifecycle events (for metrics and logs); returns an unsubscribe function. Recent past
   * events are replayed first, so a subscriber attached after the first load still counts it.
   */
  onEvent(listener: (event: ModelEvent) => void): () => void;
  /** Stops polling, waits for leases to be released, and unloads every version. */
  close(): Promise<void>;
  /**
   * Optional: serves a new set of models (TF Serving's ReloadConfig: ModelService/HandleReloadConfigRequest,
   * a changed --model_config_file). Registries without it answer that RPC with UNIMPLEMENTED.
   */
  reconfigure?(models: readonly ModelSourceOptions[]): Promise<void>;
  /**
   * False when versions' tables are not in this process's memory (a Redis row store), so the server's
   * other event loops (`loops`) cannot share them. Default true.
   */
  readonly sharedMemoryTables?: boolean;
  /** Optional: more Prometheus metrics, appended to the server's (the Redis row store's). */
  readonly extraMetrics?: { metrics(): Promise<string>; readonly contentType: string };
}
