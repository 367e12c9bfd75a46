/**
 * `tpu-embedding serve`: TF Serving's `tensorflow_model_server` for embedding checkpoints. Builds a
 * `FileModelRegistry` from the flags, starts the REST server on it, and owns the process signals:
 * SIGTERM/SIGINT stop accepting, drain in-flight requests, unload the model and exit 0.
 */
import type { Command } from "commander";
import { InvalidArgumentError, NotFoundError } from "../../errors.js";
import { jsonLogger, type Logger } from "../../serving/log.js";
import { startServer, type RunningServer } from "../../serving/http/server.js";
import { FileModelRegistry } from "../../serving/model/file-model-registry.js";
import { RedisModelRegistry } from "../../serving/model/redis-model-registry.js";
import { parseVersionLabels, parseVersionPolicy } from "../../serving/model/version-policy.js";
import { byteProgress, type ByteProgress } from "../progress.js";
import { METRICS_PATH } from "../../serving/http/routes.js";
import {
  checkMonitoringConfig,
  parseModelServerConfig,
  watchModelConfigFile,
  type ConfiguredModel,
} from "../../serving/model/model-server-config.js";
import { readFile } from "node:fs/promises";
import {
  addGrpcOptions,
  addRedisOptions,
  DEFAULT_CACHE_BYTES,
  DEFAULT_REDIS_TIMEOUT_MS,
  addServingOptions,
  addTfServingFlags,
  grpcPortOf,
  resolveTfServingFlags,
  type ServeOptions,
  type TfServingFlags,
} from "./serve-options.js";

// The flags live in serve-options.ts; these names stay importable from here.
export {
  DEFAULT_GRPC_PORT,
  addGrpcOptions,
  addServingOptions,
  addTfServingFlags,
  grpcPortOf,
  resolveTfServingFlags,
  type GrpcServeOptions,
  type ServeOptions,
} from "./serve-options.js";

/** The models to serve: the config file's, or the one named by --model-name / --model-base-path. */
async function configuredModels(
  options: ServeOptions,
): Promise<{ models: ConfiguredModel[]; text?: string }> {
  if (options.modelConfigFile !== undefined) {
    if (options.modelName !== undefined || options.modelBasePath !== undefined) {
      throw new InvalidArgumentError(
        "--model_config_file serves the models it lists; do not also give --model-name / --model-base-path.",
      );
    }
    let text: string;
    try {
      text = await readFile(options.modelConfigFile, "utf8");
    } catch (e) {
      throw new NotFoundError(
        `Model config file "${options.modelConfigFile}" cannot be read: ${(e as Error).message}`,
      );
    }
    return { models: parseModelServerConfig(text, options.modelConfigFile, options.featureConfig), text };
  }
  if (options.redis !== undefined) {
    if (options.modelName === undefined || options.modelBasePath !== undefined) {
      throw new InvalidArgumentError(
        "--redis serves a model published with `tpu-embedding publish`: give --model-name and no --model-base-path.",
      );
    }
    return {
      models: [
        {
          name: options.modelName,
          basePath: options.redis,
          versionPolicy: parseVersionPolicy(options.versionPolicy),
          versionLabels: new Map(),
        },
      ],
    };
  }
  if (options.modelName === undefined || options.modelBasePath === undefined) {
    throw new InvalidArgumentError(
      "Give --model-name and --model-base-path (TF Serving's --model_name / --model_base_path), or --model_config_file.",
    );
  }
  return {
    models: [
      {
        name: options.modelName,
        basePath: options.modelBasePath,
        featureConfig: options.featureConfig,
        versionPolicy: parseVersionPolicy(options.versionPolicy),
        versionLabels: parseVersionLabels(options.versionLabels ?? ""),
      },
    ],
  };
}

export interface Serving {
  readonly server: RunningServer;
  readonly registry: FileModelRegistry | RedisModelRegistry;
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
  if (options.monitoringConfigFile !== undefined)
    await checkMonitoringConfig(options.monitoringConfigFile, METRICS_PATH);
  const { models, text } = await configuredModels(options);
  const registry =
    options.redis !== undefined
      ? await RedisModelRegistry.open({
          url: options.redis,
          models: models.map((m) => m.name),
          pollIntervalMs: options.pollInterval > 0 ? options.pollInterval * 1000 : 2 ** 31 - 1,
          cacheBytes: options.cacheBytes ?? DEFAULT_CACHE_BYTES,
          cacheMaxCount: options.cacheMaxCount,
          timeoutMs: options.redisTimeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS,
          logger,
        })
      : await FileModelRegistry.open({
          models,
          pollIntervalSeconds: options.pollInterval,
          settleMs: options.versionSettleMs,
          transitionPolicy: options.transitionPolicy,
          embeddingOptions: { threads: options.threads, tableStorage: options.tableStorage },
          logger,
          onProgress: progressBars(),
        });
  let server: RunningServer;
  try {
    server = await startServer({
      registry,
      host: options.host,
      port: options.port,
      grpcPort: grpcPortOf(options),
      loops: options.eventLoops,
      logger,
      limits: {
        maxBodyBytes: options.maxBodyBytes,
        maxIdsPerRequest: options.maxIdsPerRequest,
        maxOutputValues: options.maxOutputValues,
        requestTimeoutMs: options.requestTimeoutMs,
        maxConcurrentRequests: options.maxConcurrentRequests,
        headersTimeoutMs: options.headersTimeoutMs,
        bodyTimeoutMs: options.bodyTimeoutMs,
        minBodyBytesPerSecond: options.minBodyBytesPerSecond,
        maxConnections: options.maxConnections,
        maxConnectionsPerClient: options.maxConnectionsPerClient,
        maxRequestBytes: options.maxRequestBytes,
        maxInFlightBytes: options.maxInflightBytes,
        memoryWaitMs: options.memoryWaitMs,
      },
      batching: {
        enabled: options.enableBatching,
        maxBatchExamples: options.maxBatchSize,
        batchTimeoutMicros: options.batchTimeoutMicros,
      },
      corsAllowedOrigins: options.corsAllowedOrigins,
    });
  } catch (e) {
    await registry.close();
    throw e;
  }
  const stopWatching =
    options.modelConfigFile === undefined
      ? () => {}
      : watchModelConfigFile({
          path: options.modelConfigFile,
          seconds: options.modelConfigFilePollWaitSeconds ?? 0,
          initialText: text ?? "",
          featureConfig: options.featureConfig,
          reconfigure: (m) => (registry as FileModelRegistry).reconfigure(m),
          logger,
        });
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      stopWatching();
      logger.log("info", "shutdown-start", { reason, drainTimeoutMs: options.drainTimeoutMs });
      await server.close({ drainTimeoutMs: options.drainTimeoutMs });
      await registry.close();
      logger.log("info", "shutdown-done", { reason });
    })();
    return stopping;
  };
  for (const model of models) {
    const status = registry.status(model.name);
    logger.log("info", "serving", {
      model: model.name,
      url: server.url,
      grpcUrl: server.grpc?.url,
      versions: status.map((s) => ({ version: s.version, state: s.state, errorCode: s.errorCode })),
    });
    if (!status.some((s) => s.state === "AVAILABLE")) {
      logger.log("warn", "no-version-available", {
        model: model.name,
        basePath: model.basePath,
        hint: "requests fail until a version loads; the base path is polled for new versions",
      });
    }
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

export const registerServe = (program: Command): void => {
  const command = program
    .command("serve")
    .description(
      "serve a model's embedding tables over TF Serving's REST API, loading new versions as they appear",
    )
    .option("--model-name <name>", "the model's name in URLs (/v1/models/<name>)")
    .option(
      "--model-base-path <dir>",
      "numeric version folders (TF Serving layout), or one checkpoint directory / prefix",
    )
    .option("--feature-config <file>", "features.json for versions without their own");
  addRedisOptions(command);
  addTfServingFlags(addGrpcOptions(addServingOptions(command))).action(
    async (raw: ServeOptions & TfServingFlags, cmd: Command) => {
      const options = resolveTfServingFlags(raw, cmd);
      const serving = await serve({ ...options, enableBatching: options.enableBatching ?? true });
      exitOnSignals(serving);
      const names = serving.registry.modelNames().map((n) => `"${n}"`);
      process.stdout.write(
        `serving model${names.length > 1 ? "s" : ""} ${names.join(", ")} at ${serving.server.url}\n`,
      );
      if (serving.server.grpc !== undefined)
        process.stdout.write(`gRPC (TF Serving's PredictionService) at ${serving.server.grpc.url}\n`);
    },
  );
};
