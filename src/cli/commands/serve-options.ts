/**
 * The flags of `tpu-embedding serve` (and `demo`): ours, gRPC's, TF Serving's aliases, their parsers,
 * and the options they produce (see serve.ts).
 */
import { Option, type Command } from "commander";
import { InvalidArgumentError } from "../../errors.js";
import type { LogLevel } from "../../serving/log.js";
import { DEFAULT_BATCHING, DEFAULT_LIMITS } from "../../serving/http/server.js";
import { DEFAULT_POLL_INTERVAL_SECONDS } from "../../serving/model/file-model-registry.js";
import { DEFAULT_SETTLE_MS, type TransitionPolicy } from "../../serving/model/model-version-manager.js";
import { METRICS_PATH } from "../../serving/http/routes.js";
import { DEFAULT_CACHE_BYTES, DEFAULT_REDIS_TIMEOUT_MS } from "../../redis/open-redis-embedding.js";
import { isStorageKind, STORAGE_KINDS, type StorageKind } from "../../kernels/quantized-rows.js";

// gRPC and TF Serving's launch flags (issue 17) ---------------------------------------------------------

/** TF Serving's default gRPC port (its `--port`). */
export const DEFAULT_GRPC_PORT = 8500;

export interface GrpcServeOptions {
  /** gRPC port; false = no gRPC server (`--no-grpc`). */
  grpcPort?: number;
  grpc?: boolean;
  /** TF Serving's `--model_config_file`: several models from a text-format ModelServerConfig. */
  modelConfigFile?: string;
  /** Seconds between re-reads of the model config file; 0 = never (TF Serving's default). */
  modelConfigFilePollWaitSeconds?: number;
  monitoringConfigFile?: string;
}

/** `--grpc-port` and `--no-grpc` (serve and demo). */
export function addGrpcOptions(command: Command): Command {
  return command
    .option(
      "--grpc-port <port>",
      `gRPC port: TF Serving's PredictionService / ModelService / health (TF Serving's --port, default ${DEFAULT_GRPC_PORT}; with --port 0, also any free port); 0 = any free port`,
      integer("--grpc-port", 0),
    )
    .option("--no-grpc", "serve REST only");
}

/** `tensorflow_model_server`'s flag names, accepted as aliases by `serve`. */
export function addTfServingFlags(command: Command): Command {
  return command
    .option(
      "--rest_api_port <port>",
      "TF Serving's name for --port; with it, --port is the gRPC port as in TF Serving",
      integer("--rest_api_port", 0),
    )
    .option("--model_name <name>", "TF Serving's name for --model-name")
    .option("--model_base_path <dir>", "TF Serving's name for --model-base-path")
    .option(
      "--model_config_file <file>",
      "several models from a text-format ModelServerConfig (name, base_path, model_version_policy, version_labels)",
    )
    .option(
      "--model_config_file_poll_wait_seconds <seconds>",
      "re-read --model_config_file this often and apply changes; 0 = never",
      seconds,
      0,
    )
    .option("--file_system_poll_wait_seconds <seconds>", "TF Serving's name for --poll-interval", seconds)
    .option(
      "--enable_batching [bool]",
      "TF Serving's batching flag (true/false)",
      boolean("--enable_batching"),
    )
    .option(
      "--rest_api_timeout_in_ms <ms>",
      "TF Serving's name for --request-timeout-ms",
      integer("--rest_api_timeout_in_ms", 1),
    )
    .option(
      "--monitoring_config_file <file>",
      "text-format MonitoringConfig; metrics are served at " + METRICS_PATH,
    );
}

export interface TfServingFlags {
  rest_api_port?: number;
  model_name?: string;
  model_base_path?: string;
  model_config_file?: string;
  model_config_file_poll_wait_seconds?: number;
  file_system_poll_wait_seconds?: number;
  enable_batching?: boolean;
  rest_api_timeout_in_ms?: number;
  monitoring_config_file?: string;
}

/**
 * Folds TF Serving's flag names into ours. `--port` is TF Serving's gRPC port but ours is REST: when
 * `--rest_api_port` is given (a TF Serving launch line), `--port` is read as TF Serving reads it.
 */
export function resolveTfServingFlags<T extends Partial<ServeOptions>>(
  options: T & TfServingFlags,
  command: Command,
): T {
  const out: T & TfServingFlags = { ...options };
  const explicit = (name: string) => command.getOptionValueSource(name) === "cli";
  if (options.rest_api_port !== undefined) {
    if (explicit("port")) {
      if (options.grpcPort !== undefined) {
        throw new InvalidArgumentError(
          "--port with --rest_api_port is the gRPC port (TF Serving's meaning); do not also give --grpc-port.",
        );
      }
      out.grpcPort = options.port;
    }
    out.port = options.rest_api_port;
  }
  const alias = <K extends keyof ServeOptions>(ours: K, theirs: keyof TfServingFlags) => {
    const value = options[theirs];
    if (value === undefined) return;
    if (explicit(ours) && options[ours] !== value) {
      throw new InvalidArgumentError(
        `--${theirs} and its alias --${ours.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} disagree.`,
      );
    }
    (out as Record<string, unknown>)[ours] = value;
  };
  alias("modelName", "model_name");
  alias("modelBasePath", "model_base_path");
  alias("modelConfigFile", "model_config_file");
  alias("modelConfigFilePollWaitSeconds", "model_config_file_poll_wait_seconds");
  alias("pollInterval", "file_system_poll_wait_seconds");
  alias("enableBatching", "enable_batching");
  alias("requestTimeoutMs", "rest_api_timeout_in_ms");
  alias("monitoringConfigFile", "monitoring_config_file");
  return out;
}

function boolean(name: string): (value: string) => boolean {
  return (value) => {
    const v = value.trim().toLowerCase();
    if (v === "true" || v === "1") return true;
    if (v === "false" || v === "0") return false;
    throw new InvalidArgumentError(`${name} must be true or false, got "${value}".`);
  };
}

/** The gRPC port to serve on, or undefined for none: --no-grpc; default 8500, or 0 when --port is 0. */
export function grpcPortOf(options: Pick<ServeOptions, "grpc" | "grpcPort" | "port">): number | undefined {
  if (options.grpc === false) return undefined;
  return options.grpcPort ?? (options.port === 0 ? 0 : DEFAULT_GRPC_PORT);
}

/** `serve --redis`: a model published into a Redis Cluster (docs/scale.md). */
export interface RedisServeOptions {
  redis?: string;
  cacheBytes: number;
  cacheMaxCount?: number;
  redisTimeoutMs: number;
}

export { DEFAULT_CACHE_BYTES, DEFAULT_REDIS_TIMEOUT_MS };

/** `--redis`, `--cache-bytes`, `--cache-max-count`, `--redis-timeout-ms` (serve). */
export function addRedisOptions(command: Command): Command {
  return command
    .option(
      "--redis <url>",
      "serve --model-name from a Redis Cluster it was published to (redis://host:port of any node; several comma-separated)",
    )
    .option(
      "--cache-bytes <bytes>",
      "with --redis: hot-row cache per loaded version (0 disables)",
      integer("--cache-bytes", 0),
      DEFAULT_CACHE_BYTES,
    )
    .option(
      "--cache-max-count <n>",
      "with --redis: the cache's GCLOCK use-count ceiling (1 = CLOCK; see docs/scale.md)",
      integer("--cache-max-count", 1),
    )
    .option(
      "--redis-timeout-ms <ms>",
      "with --redis: a row fetch not answered within this fails with 503 UNAVAILABLE",
      integer("--redis-timeout-ms", 1),
      DEFAULT_REDIS_TIMEOUT_MS,
    );
}

export interface ServeOptions extends GrpcServeOptions, Partial<RedisServeOptions> {
  /** One model (TF Serving's --model_name / --model_base_path), or `modelConfigFile` for several. */
  modelName?: string;
  modelBasePath?: string;
  featureConfig?: string;
  port: number;
  host: string;
  threads: number;
  /** Event loops serving REST and gRPC: this thread and `eventLoops - 1` worker threads over the same tables. */
  eventLoops: number;
  /** Storage of every table a features.json does not give one (`tables[].storage`); default float32. */
  tableStorage?: StorageKind;
  enableBatching: boolean;
  maxBatchSize: number;
  batchTimeoutMicros: number;
  maxBodyBytes: number;
  maxIdsPerRequest: number;
  maxOutputValues: number;
  requestTimeoutMs: number;
  maxConcurrentRequests: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  minBodyBytesPerSecond: number;
  maxConnections?: number;
  maxConnectionsPerClient?: number;
  maxRequestBytes: number;
  maxInflightBytes: number;
  memoryWaitMs: number;
  pollInterval: number;
  versionSettleMs: number;
  versionPolicy: string;
  versionLabels?: string;
  transitionPolicy: TransitionPolicy;
  drainTimeoutMs: number;
  logLevel: LogLevel;
  /** `*` or exact origins; undefined: no CORS headers. */
  corsAllowedOrigins?: string[];
}

function integer(name: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${value}".`);
    }
    return n;
  };
}

function storageKind(value: string): StorageKind {
  if (!isStorageKind(value)) {
    throw new InvalidArgumentError(
      `--table-storage must be one of ${STORAGE_KINDS.join(", ")}, got "${value}".`,
    );
  }
  return value;
}

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`--poll-interval must be a number of seconds >= 0, got "${value}".`);
  }
  return n;
}

function origins(value: string): string[] {
  const list = value
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  for (const o of list) {
    if (o !== "*" && !/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new InvalidArgumentError(
        `--cors-allowed-origins takes '*' or origins such as https://app.example.com (scheme and host, no path), got "${o}".`,
      );
    }
  }
  if (list.length === 0) throw new InvalidArgumentError("--cors-allowed-origins is empty.");
  return list;
}

/** The serving flags, shared by `serve` and `demo`. */
export function addServingOptions(command: Command): Command {
  return command
    .option(
      "--port <port>",
      "REST port (TF Serving's --rest_api_port); 0 = any free port",
      integer("--port", 0),
      8501,
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option(
      "--threads <n>",
      "lookup threads (worker threads sharing the tables' memory)",
      integer("--threads", 1),
      1,
    )
    .option(
      "--event-loops <n>",
      "event loops serving REST and gRPC (this thread and n-1 worker threads sharing the tables' memory; needs the native addon)",
      integer("--event-loops", 1),
      1,
    )
    .option(
      "--table-storage <kind>",
      `how tables are stored: ${STORAGE_KINDS.join(", ")} (quantized at load; features.json tables[].storage wins per table; default float32)`,
      storageKind,
    )
    .option(
      "--enable-batching",
      "merge concurrent predict requests into one lookup (default; with --batch-timeout-micros 0, requests under 4096 ids are looked up at once)",
    )
    .option("--no-enable-batching", "look every request up on its own")
    .option(
      "--max-batch-size <examples>",
      "most examples merged into one batched lookup",
      integer("--max-batch-size", 1),
      DEFAULT_BATCHING.maxBatchExamples,
    )
    .option(
      "--batch-timeout-micros <us>",
      "how long a batch waits for more requests",
      integer("--batch-timeout-micros", 0),
      DEFAULT_BATCHING.batchTimeoutMicros,
    )
    .option(
      "--max-body-bytes <bytes>",
      "largest request body (413 beyond)",
      integer("--max-body-bytes", 1),
      DEFAULT_LIMITS.maxBodyBytes,
    )
    .option(
      "--max-ids-per-request <n>",
      "most ids in one request (400 beyond)",
      integer("--max-ids-per-request", 1),
      DEFAULT_LIMITS.maxIdsPerRequest,
    )
    .option(
      "--max-output-values <n>",
      "most float32 values in one answer, checked before the lookup (400 beyond)",
      integer("--max-output-values", 1),
      DEFAULT_LIMITS.maxOutputValues,
    )
    .option(
      "--request-timeout-ms <ms>",
      "per-request deadline (504 beyond)",
      integer("--request-timeout-ms", 1),
      DEFAULT_LIMITS.requestTimeoutMs,
    )
    .option(
      "--max-concurrent-requests <n>",
      "predict requests in flight (429 beyond)",
      integer("--max-concurrent-requests", 1),
      DEFAULT_LIMITS.maxConcurrentRequests,
    )
    .option(
      "--headers-timeout-ms <ms>",
      "the request line and headers must arrive within this (408 and the connection closed beyond)",
      integer("--headers-timeout-ms", 1),
      DEFAULT_LIMITS.headersTimeoutMs,
    )
    .option(
      "--body-timeout-ms <ms>",
      "a request body must arrive within this, plus 1 s per --min-body-bytes-per-second bytes received (408 beyond)",
      integer("--body-timeout-ms", 1),
      DEFAULT_LIMITS.bodyTimeoutMs,
    )
    .option(
      "--min-body-bytes-per-second <bytes>",
      "each this many body bytes received extend the body deadline by 1 s",
      integer("--min-body-bytes-per-second", 1),
      DEFAULT_LIMITS.minBodyBytesPerSecond,
    )
    .option(
      "--max-connections <n>",
      `open connections in all; more are closed as accepted (default: the fd limit less a reserve, ${DEFAULT_LIMITS.maxConnections} here)`,
      integer("--max-connections", 1),
    )
    .option(
      "--max-connections-per-client <n>",
      "open connections from one remote address; more are closed as accepted (default: a quarter of --max-connections, at most 256)",
      integer("--max-connections-per-client", 1),
    )
    .option(
      "--max-request-bytes <bytes>",
      "estimated memory one predict request may take (body, inputs, lookup arrays, output, answer); 400 beyond",
      integer("--max-request-bytes", 1),
      DEFAULT_LIMITS.maxRequestBytes,
    )
    .option(
      "--max-inflight-bytes <bytes>",
      "estimated memory all predict requests in flight may take together; beyond, a request waits, then 429",
      integer("--max-inflight-bytes", 1),
      DEFAULT_LIMITS.maxInFlightBytes,
    )
    .option(
      "--memory-wait-ms <ms>",
      "how long a request waits for room in --max-inflight-bytes before its 429",
      integer("--memory-wait-ms", 0),
      DEFAULT_LIMITS.memoryWaitMs,
    )
    .option(
      "--poll-interval <seconds>",
      "seconds between scans for new versions (TF Serving's --file_system_poll_wait_seconds); 0 = never",
      seconds,
      DEFAULT_POLL_INTERVAL_SECONDS,
    )
    .option(
      "--version-settle-ms <ms>",
      "read a version only once its files have not changed (size, mtime) for this long; 0 = at once",
      integer("--version-settle-ms", 0),
      DEFAULT_SETTLE_MS,
    )
    .option("--version-policy <policy>", "latest | latest:N | all | specific:V1,V2", "latest")
    .option("--version-labels <labels>", "label=version pairs, e.g. stable=3,canary=4")
    .addOption(
      new Option("--transition-policy <policy>", "how a new version replaces the old one")
        .choices(["availability-preserving", "resource-preserving"])
        .default("availability-preserving"),
    )
    .option(
      "--drain-timeout-ms <ms>",
      "on SIGTERM/SIGINT, how long in-flight requests may finish",
      integer("--drain-timeout-ms", 0),
      30_000,
    )
    .option(
      "--cors-allowed-origins <origins>",
      "answer browsers' CORS: '*' for any origin (TF Serving's --rest_api_enable_cors_support) or a comma-separated list of origins",
      origins,
    )
    .addOption(
      new Option("--log-level <level>", "structured JSON logs on stderr at this level and above")
        .choices(["debug", "info", "warn", "error"])
        .default("info"),
    );
}
