import { countIds, type PredictInputs, type PredictOutputs } from "./batching/feature-input.js";
import type { MicroBatcher } from "./batching/micro-batcher.js";
import { conformInputs } from "./batching/input-kinds.js";
import { modelFeatures, requireFeature, type ModelFeatures } from "./batching/model-features.js";
import {
  checkIdLimit,
  checkOutputLimit,
  outputValues,
  validateFeatureInput,
} from "./batching/validate-inputs.js";
import type { ModelRegistry, ServableModel, VersionSelector } from "./model-registry.js";

/** Which model (and version or label) a predict call asks for, whatever the transport. */
export interface PredictTarget extends VersionSelector {
  readonly model: string;
}

export interface PredictLimits {
  readonly maxIdsPerRequest: number;
  readonly maxOutputValues: number;
}

export interface PredictResult {
  /** The version that answered (its tables may be unloaded once the promise settled: read names only). */
  readonly model: Pick<ServableModel, "name" | "version" | "features">;
  readonly outputs: PredictOutputs;
  readonly ids: number;
}

/**
 * One predict call for any transport (REST JSON, binary, gRPC): lease the version, decode the request
 * against its features (`decode` turns the transport's body into `PredictInputs`), check the limits,
 * validate every feature's input, look it up through the micro-batcher. The lease is held until the
 * lookup settles (even when the caller has given up on it), so a version is never unloaded under a lookup.
 */
export function predictService(
  registry: ModelRegistry,
  batcher: MicroBatcher,
  target: PredictTarget,
  decode: (features: ModelFeatures, model: ServableModel) => PredictInputs,
  limits: PredictLimits,
): Promise<PredictResult> {
  const lease = registry.acquire(target.model, { version: target.version, label: target.label });
  let settled: Promise<PredictResult>;
  try {
    const model = lease.model;
    const features = modelFeatures(model);
    // Each feature's declared input kind (features.json `input`) applies to every transport.
    const inputs = conformInputs(features.byName, decode(features, model));
    checkIdLimit(inputs, limits.maxIdsPerRequest);
    let values = 0;
    for (const [name, input] of inputs) {
      const feature = requireFeature(features, name);
      validateFeatureInput(feature, input, features.configs.get(name));
      values += outputValues(feature, input);
    }
    checkOutputLimit(values, limits.maxOutputValues);
    const answered = { name: model.name, version: model.version, features: model.features };
    settled = batcher
      .submit(model, inputs)
      .then((outputs) => ({ model: answered, outputs, ids: countIds(inputs) }));
  } catch (error) {
    lease.release();
    return Promise.reject(error);
  }
  return settled.finally(() => lease.release());
}
