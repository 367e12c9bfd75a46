import { InvalidArgumentError } from "../../errors.js";
import { DEFAULT_BATCHING, type BatchingOptions } from "../batching/micro-batcher.js";
import { canHandOffConnections } from "../loops/socket-hand-off.js";
import type { ModelRegistry } from "../model-registry.js";
import { defaultMaxConnections, defaultMaxConnectionsPerClient } from "./connections.js";

/** The server's limits and its other options' checks (startServer's `limits`, `batching`, `loops`). */

export interface ServerLimits {
  /** Largest request body; beyond → 413. */
  maxBodyBytes: number;
  /** Most ids (all features together) in one predict request; beyond → 400. */
  maxIdsPerRequest: number;
  /** Most float32 values in one predict answer (all features), checked before the lookup; beyond → 400. */
  maxOutputValues: number;
  /** From the request's arrival to its answer; beyond → 504 DEADLINE_EXCEEDED. */
  requestTimeoutMs: number;
  /**
   * Predict requests in flight (bodies read, being looked up); beyond → 429 RESOURCE_EXHAUSTED. A body
   * still arriving takes no slot: slow senders are bounded by the body deadline and connection limits.
   */
  maxConcurrentRequests: number;
  /** The request line and headers must arrive within this; beyond → 408 and the connection is closed. */
  headersTimeoutMs: number;
  /** A body must arrive within this from when reading it starts… */
  bodyTimeoutMs: number;
  /** …plus 1 s for every this many bytes received; beyond → 408 and the connection is closed. */
  minBodyBytesPerSecond: number;
  /** Open connections in all; beyond, new ones are closed as they are accepted. */
  maxConnections: number;
  /** Open connections from one remote address; beyond, its new ones are closed as they are accepted. */
  maxConnectionsPerClient: number;
  /**
   * Estimated bytes one predict request may make the server allocate (its body, decoded inputs, the
   * lookup's intermediate arrays, output and answer; request-cost.ts), checked before any of it is
   * allocated; beyond → 400 naming the feature.
   */
  maxRequestBytes: number;
  /**
   * Estimated bytes all predict requests in flight may hold together; a request that would exceed it
   * waits up to `memoryWaitMs` for others to finish, then gets 429 RESOURCE_EXHAUSTED.
   */
  maxInFlightBytes: number;
  /** How long a request waits for room in `maxInFlightBytes` before its 429. */
  memoryWaitMs: number;
}

const DEFAULT_MAX_CONNECTIONS = defaultMaxConnections();

export const DEFAULT_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxBodyBytes: 64 * 1024 * 1024,
  maxIdsPerRequest: 1_000_000,
  maxOutputValues: 32 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  maxConcurrentRequests: 1024,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  minBodyBytesPerSecond: 16_384,
  /** The file-descriptor limit less a reserve (see connections.ts), read when this module loads. */
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  /** A quarter of maxConnections, at most 256 (from maxConnections when only that is given). */
  maxConnectionsPerClient: defaultMaxConnectionsPerClient(DEFAULT_MAX_CONNECTIONS),
  maxRequestBytes: 256 * 1024 * 1024,
  maxInFlightBytes: 1024 * 1024 * 1024,
  memoryWaitMs: 5000,
});

/** `limits` over the defaults (a `maxConnections` given alone also sets the per-client default), checked. */
export function checkedLimits(given: Partial<ServerLimits> | undefined): ServerLimits {
  const defined = definedOnly(given);
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...defined };
  if (defined.maxConnections !== undefined && defined.maxConnectionsPerClient === undefined)
    limits.maxConnectionsPerClient = defaultMaxConnectionsPerClient(limits.maxConnections);
  checkPositive(limits);
  return limits;
}

/** `batching` over the defaults, checked. */
export function checkedBatching(given: Partial<BatchingOptions> | undefined): BatchingOptions {
  const batching: BatchingOptions = { ...DEFAULT_BATCHING, ...definedOnly(given) };
  checkBatching(batching);
  return batching;
}

/** The `loops` option: 1 when absent, or when the addon cannot hand connections to other threads. */
export function checkedLoops(loops: number | undefined, registry: ModelRegistry): number {
  if (loops === undefined) return 1;
  if (!Number.isSafeInteger(loops) || loops < 1 || loops > 256)
    throw new InvalidArgumentError(`startServer: loops must be an integer in [1, 256], got ${loops}.`);
  if (loops > 1 && registry.sharedMemoryTables === false) {
    throw new InvalidArgumentError(
      "startServer: loops > 1 needs tables in this process's memory; this registry's rows are in a Redis Cluster.",
    );
  }
  return loops > 1 && canHandOffConnections() ? loops : 1;
}

function definedOnly<T extends object>(values: Partial<T> | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(values ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkPositive(limits: ServerLimits): void {
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value < 0 || (value === 0 && key !== "memoryWaitMs")) {
      throw new InvalidArgumentError(`startServer: limits.${key} must be a positive number, got ${value}.`);
    }
  }
}

function checkBatching(b: BatchingOptions): void {
  if (!Number.isInteger(b.maxBatchExamples) || b.maxBatchExamples < 1) {
    throw new InvalidArgumentError(
      `startServer: batching.maxBatchExamples must be an integer >= 1, got ${b.maxBatchExamples}.`,
    );
  }
  if (!Number.isFinite(b.batchTimeoutMicros) || b.batchTimeoutMicros < 0) {
    throw new InvalidArgumentError(
      `startServer: batching.batchTimeoutMicros must be >= 0, got ${b.batchTimeoutMicros}.`,
    );
  }
}
