/**
 * `tpu-embedding serve`: TF Serving's `tensorflow_model_server` for embedding checkpoints. Builds a
 * `FileModelRegistry` from the flags, starts the REST server on it, and owns the process signals:
 * SIGTERM/SIGINT stop accepting, drain in-flight requests, unload the model and exit 0.
 */
import { Option, type Command } from "commander";
import { InvalidArgumentError } from "../../errors.js";
import { jsonLogger, type Logger, type LogLevel } from "../../serving/log.js";
import {
  DEFAULT_BATCHING,
  DEFAULT_LIMITS,
  startServer,
  type RunningServer,
} from "../../serving/http/server.js";
import { DEFAULT_POLL_INTERVAL_SECONDS, FileModelRegistry } from "../../serving/model/file-model-registry.js";
import type { TransitionPolicy } from "../../serving/model/model-version-manager.js";
import { parseVersionLabels, parseVersionPolicy } from "../../serving/model/version-policy.js";
import { byteProgress, type ByteProgress } from "../progress.js";

export interface ServeOptions {
  modelName: string;
  modelBasePath: string;
  featureConfig?: string;
  port: number;
  host: string;
  threads: number;
  enableBatching: boolean;
  maxBatchSize: number;
  batchTimeoutMicros: number;
  maxBodyBytes: number;
  maxIdsPerRequest: number;
  maxOutputValues: number;
  requestTimeoutMs: number;
  maxConcurrentRequests: number;
  maxRequestBytes: number;
  maxInflightBytes: number;
  memoryWaitMs: number;
  pollInterval: number;
  versionPolicy: string;
  versionLabels?: string;
  transitionPolicy: TransitionPolicy;
  drainTimeoutMs: number;
  logLevel: LogLevel;
}

export interface Serving {
  readonly server: RunningServer;
  readonly registry: FileModelRegistry;
  readonly logger: Logger;
  /** Drains and closes the server, then unloads every version (what SIGTERM does, minus the exit). */
  shutdown(reason: string): Promise<void>;
}

/** A load's byte count as a bar on a terminal (big models only; see cli/progress.ts). */
function progressBars(): (model: string, version: number, bytesRead: number, totalBytes: number) => void {
  const bars = new Map<string, { bar: ByteProgress; seen: number }>();
  return (model, version, bytesRead, totalBytes) => {
    const key = `${model}/${version}`;
    let entry = bars.get(key);
    if (entry === undefined) {
      entry = { bar: byteProgress(`loading ${key}`, totalBytes, process.stderr.isTTY === true), seen: 0 };
      bars.set(key, entry);
    }
    entry.bar.add(bytesRead - entry.seen);
    entry.seen = bytesRead;
    if (bytesRead >= totalBytes) {
      entry.bar.stop();
      bars.delete(key);
    }
  };
}

/** Starts serving; resolves once the first versions are loaded and the server listens. */
export async function serve(
  options: ServeOptions,
  logger: Logger = jsonLogger({ level: options.logLevel }),
): Promise<Serving> {
  const registry = await FileModelRegistry.open({
    models: [
      {
        name: options.modelName,
        basePath: options.modelBasePath,
        featureConfig: options.featureConfig,
        versionPolicy: parseVersionPolicy(options.versionPolicy),
        versionLabels: parseVersionLabels(options.versionLabels ?? ""),
      },
    ],
    pollIntervalSeconds: options.pollInterval,
    transitionPolicy: options.transitionPolicy,
    embeddingOptions: { threads: options.threads },
    logger,
    onProgress: progressBars(),
  });
  let server: RunningServer;
  try {
    server = await startServer({
      registry,
      host: options.host,
      port: options.port,
      logger,
      limits: {
        maxBodyBytes: options.maxBodyBytes,
        maxIdsPerRequest: options.maxIdsPerRequest,
        maxOutputValues: options.maxOutputValues,
        requestTimeoutMs: options.requestTimeoutMs,
        maxConcurrentRequests: options.maxConcurrentRequests,
        maxRequestBytes: options.maxRequestBytes,
        maxInFlightBytes: options.maxInflightBytes,
        memoryWaitMs: options.memoryWaitMs,
      },
      batching: {
        enabled: options.enableBatching,
        maxBatchExamples: options.maxBatchSize,
        batchTimeoutMicros: options.batchTimeoutMicros,
      },
    });
  } catch (e) {
    await registry.close();
    throw e;
  }
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.log("info", "shutdown-start", { reason, drainTimeoutMs: options.drainTimeoutMs });
      await server.close({ drainTimeoutMs: options.drainTimeoutMs });
      await registry.close();
      logger.log("info", "shutdown-done", { reason });
    })();
    return stopping;
  };
  const status = registry.status(options.modelName);
  logger.log("info", "serving", {
    model: options.modelName,
    url: server.url,
    versions: status.map((s) => ({ version: s.version, state: s.state, errorCode: s.errorCode })),
  });
  if (!status.some((s) => s.state === "AVAILABLE")) {
    logger.log("warn", "no-version-available", {
      model: options.modelName,
      basePath: options.modelBasePath,
      hint: "requests fail until a version loads; the base path is polled for new versions",
    });
  }
  return { server, registry, logger, shutdown };
}

/** SIGTERM / SIGINT: drain, close, exit 0 (a second signal exits at once with 130). */
export function exitOnSignals(serving: Serving): void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) process.exit(130);
    received = true;
    serving.shutdown(signal).then(
      () => process.exit(0),
      (e: unknown) => {
        serving.logger.log("error", "shutdown-failed", { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
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

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`--poll-interval must be a number of seconds >= 0, got "${value}".`);
  }
  return n;
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
    .option("--enable-batching", "merge concurrent predict requests into one lookup (default)")
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
    .addOption(
      new Option("--log-level <level>", "structured JSON logs on stderr at this level and above")
        .choices(["debug", "info", "warn", "error"])
        .default("info"),
    );
}

export const registerServe = (program: Command): void => {
  const command = program
    .command("serve")
    .description(
      "serve a model's embedding tables over TF Serving's REST API, loading new versions as they appear",
    )
    .requiredOption("--model-name <name>", "the model's name in URLs (/v1/models/<name>)")
    .requiredOption(
      "--model-base-path <dir>",
      "numeric version folders (TF Serving layout), or one checkpoint directory / prefix",
    )
    .option("--feature-config <file>", "features.json for versions without their own");
  addServingOptions(command).action(async (options: ServeOptions & { enableBatching?: boolean }) => {
    const serving = await serve({ ...options, enableBatching: options.enableBatching ?? true });
    exitOnSignals(serving);
    process.stdout.write(`serving model "${options.modelName}" at ${serving.server.url}\n`);
  });
};
