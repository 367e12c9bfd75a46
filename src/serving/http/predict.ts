import { TextDecoder } from "node:util";
import { InvalidArgumentError } from "../../errors.js";
import { countIds, type PredictInputs } from "../batching/feature-input.js";
import type { MicroBatcher } from "../batching/micro-batcher.js";
import { modelFeatures, requireFeature } from "../batching/model-features.js";
import {
  checkIdLimit,
  checkOutputLimit,
  outputValues,
  validateFeatureInput,
} from "../batching/validate-inputs.js";
import { BINARY_CONTENT_TYPE } from "../binary/binary-format.js";
import { decodeBinaryRequest } from "../binary/request-codec.js";
import { encodeBinaryResponse } from "../binary/response-codec.js";
import type { ModelRegistry } from "../model-registry.js";
import { parseJsonBody } from "./json-body.js";
import { decodeJsonPredict, type JsonFormat } from "./json-request.js";
import { encodeJsonPredict } from "./json-response.js";
import type { ModelTarget } from "./routes.js";

/** The server limits a predict checks (the server's `ServerLimits` has them; no import of server.ts, which imports this). */
export interface PredictLimits {
  readonly maxIdsPerRequest: number;
  readonly maxOutputValues: number;
}

export interface PredictReply {
  readonly contentType: string;
  readonly body: string | Uint8Array;
  readonly version: number;
  readonly ids: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** True for the binary format's content type (parameters such as `; v=1` are ignored). */
export function isBinary(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(";")[0].trim().toLowerCase() === BINARY_CONTENT_TYPE;
}

/**
 * One predict call: lease the version, decode and validate the body against its features, look it up
 * through the micro-batcher, encode the answer in the request's format. The lease is held until the
 * lookup settles (even when the caller has given up on it), so a version is never unloaded under a lookup.
 */
export function predict(
  registry: ModelRegistry,
  batcher: MicroBatcher,
  target: ModelTarget,
  contentType: string | undefined,
  body: Uint8Array,
  limits: PredictLimits,
): Promise<PredictReply> {
  const lease = registry.acquire(target.model, { version: target.version, label: target.label });
  let settled: Promise<PredictReply>;
  try {
    const model = lease.model;
    const features = modelFeatures(model);
    const binary = isBinary(contentType);
    let inputs: PredictInputs;
    let format: JsonFormat | "binary" = "binary";
    if (binary) {
      inputs = decodeBinaryRequest(body);
    } else {
      let text: string;
      try {
        text = utf8.decode(body);
      } catch {
        throw new InvalidArgumentError("JSON Parse error: the body is not valid UTF-8");
      }
      const decoded = decodeJsonPredict(parseJsonBody(text), features);
      inputs = decoded.inputs;
      format = decoded.format;
    }
    checkIdLimit(inputs, limits.maxIdsPerRequest);
    let values = 0;
    for (const [name, input] of inputs) {
      const feature = requireFeature(features, name);
      validateFeatureInput(feature, input);
      values += outputValues(feature, input);
    }
    checkOutputLimit(values, limits.maxOutputValues);
    const bare = model.features.length === 1;
    settled = batcher.submit(model, inputs).then((outputs) => ({
      contentType: format === "binary" ? BINARY_CONTENT_TYPE : "application/json",
      body: format === "binary" ? encodeBinaryResponse(outputs) : encodeJsonPredict(format, outputs, bare),
      version: model.version,
      ids: countIds(inputs),
    }));
  } catch (error) {
    lease.release();
    return Promise.reject(error);
  }
  return settled.finally(() => lease.release());
}
