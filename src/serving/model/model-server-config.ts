/**
 * TF Serving's `--model_config_file`: a text-format `ModelServerConfig` (several models, each with its
 * base path, version policy and labels), parsed with protobuf-es's text-format reader against the real
 * message schema, and `--monitoring_config_file` (a text-format `MonitoringConfig`).
 */
import { fromText } from "@bufbuild/protobuf/txtpb";
import { readFile } from "node:fs/promises";
import { InvalidArgumentError, UnimplementedError } from "../../errors.js";
import { MonitoringConfigSchema } from "../grpc/proto/gen/tensorflow_serving/config/monitoring_config_pb.js";
import {
  ModelServerConfigSchema,
  type ModelConfig,
  type ModelServerConfig,
} from "../grpc/proto/gen/tensorflow_serving/config/model_server_config_pb.js";
import type { ModelSourceOptions } from "./model-version-manager.js";
import type { VersionPolicy } from "./version-policy.js";
import type { Logger } from "../log.js";

/** One model of the config file, as the registry takes it. */
export type ConfiguredModel = ModelSourceOptions;

function fail(source: string, message: string): never {
  throw new InvalidArgumentError(`Model config file "${source}": ${message}`);
}

function toVersion(source: string, where: string, value: bigint): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER))
    fail(source, `${where} is ${value}; not a version number.`);
  return Number(value);
}

function versionPolicy(source: string, model: ModelConfig): VersionPolicy | undefined {
  const choice = model.modelVersionPolicy?.policyChoice;
  const where = `model "${model.name}" model_version_policy`;
  switch (choice?.case) {
    case undefined:
      return undefined; // TF Serving's default: the latest version
    case "latest":
      // proto3 cannot tell 0 from unset: TF Serving's default num_versions is 1.
      return { kind: "latest", count: Math.max(1, choice.value.numVersions) };
    case "all":
      return { kind: "all" };
    case "specific": {
      if (choice.value.versions.length === 0) fail(source, `${where} specific { } lists no versions.`);
      return {
        kind: "specific",
        versions: choice.value.versions.map((v, i) =>
          toVersion(source, `${where} specific.versions[${i}]`, v),
        ),
      };
    }
  }
}

/**
 * Parses a `ModelServerConfig` in protobuf text format (`model_config_list { config { name: ... } }`).
 * `featureConfig` is the fallback features.json for every model (`--feature-config`). Errors name the file.
 */
export function parseModelServerConfig(
  text: string,
  source: string,
  featureConfig?: string,
): ConfiguredModel[] {
  let config;
  try {
    config = fromText(ModelServerConfigSchema, text);
  } catch (e) {
    fail(source, `not a text-format tensorflow.serving.ModelServerConfig: ${(e as Error).message}`);
  }
  return modelsOfConfig(config, source, featureConfig);
}

/** A `ModelServerConfig` message (from a file, or ModelService/HandleReloadConfigRequest) → the models. */
export function modelsOfConfig(
  config: ModelServerConfig,
  source: string,
  featureConfig?: string,
): ConfiguredModel[] {
  if (config.config.case === "customModelConfig") {
    throw new UnimplementedError(
      `Model config file "${source}": custom_model_config is not supported; use model_config_list.`,
    );
  }
  if (config.config.case === undefined) fail(source, "no model_config_list.");
  const models: ConfiguredModel[] = [];
  const names = new Set<string>();
  for (const [i, model] of config.config.value.config.entries()) {
    if (model.name === "") fail(source, `config ${i} has no name.`);
    if (names.has(model.name)) fail(source, `model "${model.name}" is configured twice.`);
    names.add(model.name);
    if (model.basePath === "") fail(source, `model "${model.name}" has no base_path.`);
    if (model.modelPlatform !== "" && model.modelPlatform !== "tensorflow") {
      fail(
        source,
        `model "${model.name}" has model_platform "${model.modelPlatform}"; only "tensorflow" is served.`,
      );
    }
    const labels = new Map<string, number>();
    for (const [label, version] of Object.entries(model.versionLabels)) {
      labels.set(label, toVersion(source, `model "${model.name}" version_labels["${label}"]`, version));
    }
    models.push({
      name: model.name,
      basePath: model.basePath,
      featureConfig,
      versionPolicy: versionPolicy(source, model),
      versionLabels: labels,
    });
  }
  if (models.length === 0) fail(source, "model_config_list has no config.");
  return models;
}

/**
 * `--monitoring_config_file`: `prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }`.
 * This server always serves Prometheus metrics at that path; another path is refused.
 */
export async function checkMonitoringConfig(path: string, metricsPath: string): Promise<void> {
  let config;
  try {
    config = fromText(MonitoringConfigSchema, await readFile(path, "utf8"));
  } catch (e) {
    throw new InvalidArgumentError(
      `Monitoring config file "${path}": not a text-format tensorflow.serving.MonitoringConfig: ${(e as Error).message}`,
    );
  }
  const wanted = config.prometheusConfig?.path ?? "";
  if (wanted !== "" && wanted !== metricsPath) {
    throw new InvalidArgumentError(
      `Monitoring config file "${path}": prometheus_config.path "${wanted}"; this server serves metrics at ${metricsPath}.`,
    );
  }
}

/** Sameness of two configured models for a reload: what needs a new manager vs. an update in place. */
export function sameSource(a: ConfiguredModel, b: ConfiguredModel): boolean {
  return a.basePath === b.basePath && a.featureConfig === b.featureConfig;
}

/**
 * `--model_config_file_poll_wait_seconds`: re-reads the file every `seconds` and, when its text changed,
 * reconfigures the registry (a file that fails to parse, or names a missing base path, is logged and
 * changes nothing). Returns a function that stops watching.
 */
export function watchModelConfigFile(options: {
  path: string;
  seconds: number;
  initialText: string;
  featureConfig?: string;
  reconfigure: (models: ConfiguredModel[]) => Promise<void>;
  logger: Logger;
}): () => void {
  const { path, logger } = options;
  let last = options.initialText;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      logger.log("warn", "model-config-read-failed", { path, error: String(e) });
      return;
    }
    if (text === last || stopped) return;
    last = text;
    try {
      const models = parseModelServerConfig(text, path, options.featureConfig);
      logger.log("info", "model-config-reload-start", { path, models: models.map((m) => m.name) });
      await options.reconfigure(models);
      logger.log("info", "model-config-reloaded", { path, models: models.map((m) => m.name) });
    } catch (e) {
      logger.log("error", "model-config-reload-failed", { path, error: (e as Error).message ?? String(e) });
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void tick().finally(schedule), options.seconds * 1000);
    timer.unref();
  };
  if (options.seconds > 0) schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
