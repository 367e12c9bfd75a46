import type { EmbeddingReplicaSpec } from "../../embedding/index.js";
import type { ErrorCode } from "../../errors.js";
import type { LogLevel } from "../log.js";
import type { ServableFeature, VersionStatus } from "../model-registry.js";
import type { BatchingOptions } from "../batching/micro-batcher.js";
import type { ServerLimits } from "../http/server-limits.js";
import type { ModelSourceOptions } from "../model/model-source.js";

/** The messages between the main event loop (loop-hub.ts) and the other loops (loop-worker.ts). */

/** What a loop is started with (its `workerData`). */
export interface LoopSettings {
  readonly loop: number;
  readonly limits: ServerLimits;
  readonly batching: BatchingOptions;
  readonly corsAllowedOrigins: readonly string[];
  /** The levels the main loop's logger writes: a loop posts only those. */
  readonly logLevels: readonly LogLevel[];
  /** Whether the server serves gRPC (each loop then serves the gRPC connections handed to it too). */
  readonly grpc: boolean;
  /** Whether the main loop's registry takes a new set of models (gRPC's HandleReloadConfigRequest). */
  readonly reconfigurable: boolean;
}

/** One model's versions and labels as the main loop's registry reports them. */
export interface ModelState {
  readonly name: string;
  readonly status: readonly VersionStatus[];
  readonly labels: readonly (readonly [string, number])[];
}

/** A loaded version, to serve from the same table memory. */
export interface VersionReplica {
  readonly model: string;
  readonly version: number;
  readonly embedding: EmbeddingReplicaSpec;
  readonly features: readonly ServableFeature[];
  readonly checkpoint: string;
  readonly tableBytes: number;
}

export type ToLoop =
  | { readonly type: "state"; readonly models: readonly ModelState[] }
  | { readonly type: "version"; readonly replica: VersionReplica }
  /** Stop leasing the version; answer "retired" once its last request is done. */
  | { readonly type: "retire"; readonly model: string; readonly version: number }
  /** A connection accepted by the main loop (on the REST or gRPC port): a duplicate of its descriptor, now this loop's. */
  | { readonly type: "socket"; readonly fd: number; readonly kind: ConnectionKind }
  | { readonly type: "metrics"; readonly id: number }
  | {
      readonly type: "metrics-text";
      readonly id: number;
      readonly text: string;
      readonly contentType: string;
    }
  | { readonly type: "drain"; readonly drainTimeoutMs?: number; readonly idleGraceMs?: number }
  /** The main loop's answer to a "reconfigure": null, or the error (its code, INTERNAL for any other). */
  | {
      readonly type: "reconfigured";
      readonly id: number;
      readonly error: { readonly code: ErrorCode; readonly message: string } | null;
    };

export type ConnectionKind = "rest" | "grpc";

export type FromLoop =
  | { readonly type: "ready" }
  | { readonly type: "retired"; readonly model: string; readonly version: number }
  | { readonly type: "closed"; readonly address: string; readonly kind: ConnectionKind }
  | {
      readonly type: "log";
      readonly level: LogLevel;
      readonly event: string;
      readonly fields: Record<string, unknown>;
    }
  /** This loop's own request metrics (prom-client's JSON), for the main loop to add up. */
  | { readonly type: "metrics"; readonly id: number; readonly json: unknown }
  /** A scrape reached this loop: the main loop answers with every loop's metrics added up. */
  | { readonly type: "metrics-request"; readonly id: number }
  | { readonly type: "drained" }
  /** A HandleReloadConfigRequest reached this loop: the main loop's registry takes the models. */
  | { readonly type: "reconfigure"; readonly id: number; readonly models: readonly ModelSourceOptions[] };
