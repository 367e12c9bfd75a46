import { InvalidArgumentError } from "../errors.js";
import { countIds, type PredictInputs, type PredictOutputs } from "./batching/feature-input.js";
import { conformInputs } from "./batching/input-kinds.js";
import type { MicroBatcher } from "./batching/micro-batcher.js";
import { modelFeatures, requireFeature, type ModelFeatures } from "./batching/model-features.js";
import { featureCost, type FeatureCost } from "./batching/request-cost.js";
import {
  checkIdLimit,
  checkOutputLimit,
  outputValues,
  validateFeatureInput,
} from "./batching/validate-inputs.js";
import type { MemoryBudget } from "./http/memory-budget.js";
import { nextSlice } from "./http/slices.js";
import type { ModelRegistry, ServableModel, VersionSelector } from "./model-registry.js";

/** Which model (and version or label) a predict call asks for, whatever the transport. */
export interface PredictTarget extends VersionSelector {
  readonly model: string;
}

export interface PredictLimits {
  readonly maxIdsPerRequest: number;
  readonly maxOutputValues: number;
  /** Estimated server memory one request may take (request-cost.ts); 400 beyond. */
  readonly maxRequestBytes: number;
  /** How long a request waits for room in the server-wide budget before its 429. */
  readonly memoryWaitMs: number;
}

/** How a transport's request is costed and held. */
export interface PredictCosting {
  /** The server-wide in-flight memory budget, or null for none. */
  readonly budget: MemoryBudget | null;
  /** The request body's size in bytes (held too). */
  readonly bodyBytes: number;
  /** Whether the answer is JSON text (its formatting costs memory too). */
  readonly jsonAnswer: boolean;
}

export interface PredictResult {
  /** The version that answered (its tables may be unloaded once the promise settled: read names only). */
  readonly model: Pick<ServableModel, "name" | "version" | "features">;
  readonly outputs: PredictOutputs;
  readonly ids: number;
  /** Gives the request's memory back to the server-wide budget once its answer is written (idempotent). */
  release(): void;
}

/** Requests estimated at this many bytes or more start their lookup in a turn of their own. */
const BIG_REQUEST_BYTES = 16 * 1024 * 1024;

/**
 * One predict call for any transport (REST JSON, binary, gRPC): lease the version, decode the request
 * against its features (`decode` turns the transport's body into `PredictInputs`), apply each feature's
 * declared input kind, check the limits, validate every feature's input, check its cost against the
 * per-request budget (400) and hold it in the server-wide one (wait, or 429), look it up through the
 * micro-batcher. The lease is held until the lookup settles (even when the caller has given up on it), so
 * a version is never unloaded under a lookup; the memory until `release`.
 */
export async function predictService(
  registry: ModelRegistry,
  batcher: MicroBatcher,
  target: PredictTarget,
  decode: (features: ModelFeatures, model: ServableModel) => PredictInputs | Promise<PredictInputs>,
  limits: PredictLimits,
  costing: PredictCosting = { budget: null, bodyBytes: 0, jsonAnswer: false },
): Promise<PredictResult> {
  const lease = registry.acquire(target.model, { version: target.version, label: target.label });
  let release = (): void => {};
  try {
    const model = lease.model;
    const features = modelFeatures(model);
    // Each feature's declared input kind (features.json `input`) applies to every transport.
    const inputs = conformInputs(features.byName, await decode(features, model));
    checkIdLimit(inputs, limits.maxIdsPerRequest);
    let values = 0;
    const costs: FeatureCost[] = [];
    for (const [name, input] of inputs) {
      const feature = requireFeature(features, name);
      validateFeatureInput(feature, input, features.configs.get(name));
      values += outputValues(feature, input);
      costs.push(featureCost(feature, input, costing.jsonAnswer));
    }
    checkOutputLimit(values, limits.maxOutputValues);
    const cost = costing.bodyBytes + costs.reduce((n, c) => n + c.bytes, 0);
    checkRequestBytes(cost, costs, limits.maxRequestBytes);
    if (costing.budget !== null) release = await costing.budget.reserve(cost, limits.memoryWaitMs);
    // A big lookup's planning (on this thread) takes its own turn of the event loop: requests granted
    // memory at once would otherwise all plan in one go.
    if (cost >= BIG_REQUEST_BYTES) await nextSlice();
    const outputs = await batcher.submit(model, inputs);
    const answered = { name: model.name, version: model.version, features: model.features };
    return { model: answered, outputs, ids: countIds(inputs), release };
  } catch (error) {
    release();
    throw error;
  } finally {
    // Every await is above: the lookup, if started, has settled.
    lease.release();
  }
}

/** The per-request budget: a 400 naming the costliest feature, its output shape and the sizes. */
function checkRequestBytes(cost: number, costs: readonly FeatureCost[], maxBytes: number): void {
  if (cost <= maxBytes) return;
  const worst = costs.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  throw new InvalidArgumentError(
    `Feature "${worst.feature}": this request would need about ${cost} bytes of server memory ` +
      `(output shape [${worst.outputShape.join(", ")}] alone about ${worst.bytes}); this server allows at ` +
      `most ${maxBytes} bytes per request (--max-request-bytes).`,
  );
}
