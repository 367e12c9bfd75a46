import { TextDecoder } from "node:util";
import { InvalidArgumentError } from "../../errors.js";
import type { PredictInputs } from "../batching/feature-input.js";
import type { MicroBatcher } from "../batching/micro-batcher.js";
import type { ModelFeatures } from "../batching/model-features.js";
import { BINARY_CONTENT_TYPE } from "../binary/binary-format.js";
import { decodeBinaryRequest } from "../binary/request-codec.js";
import { encodeBinaryResponse } from "../binary/response-codec.js";
import type { ModelRegistry } from "../model-registry.js";
import { predictService } from "../predict-service.js";
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
 * One REST predict call: decode the body (JSON or binary) inside the transport-neutral predict service
 * (lease, validation, limits, micro-batcher), then encode the answer in the request's format.
 */
export function predict(
  registry: ModelRegistry,
  batcher: MicroBatcher,
  target: ModelTarget,
  contentType: string | undefined,
  body: Uint8Array,
  limits: PredictLimits,
): Promise<PredictReply> {
  const binary = isBinary(contentType);
  let format: JsonFormat | "binary" = "binary";
  const decode = (features: ModelFeatures): PredictInputs => {
    if (binary) return decodeBinaryRequest(body);
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      throw new InvalidArgumentError("JSON Parse error: the body is not valid UTF-8");
    }
    const decoded = decodeJsonPredict(parseJsonBody(text), features);
    format = decoded.format;
    return decoded.inputs;
  };
  return predictService(registry, batcher, target, decode, limits).then(({ model, outputs, ids }) => ({
    contentType: format === "binary" ? BINARY_CONTENT_TYPE : "application/json",
    body:
      format === "binary"
        ? encodeBinaryResponse(outputs)
        : encodeJsonPredict(format, outputs, model.features.length === 1),
    version: model.version,
    ids,
  }));
}
