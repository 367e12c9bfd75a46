import { performance } from "node:perf_hooks";
import { TextDecoder } from "node:util";
import { InvalidArgumentError } from "../../errors.js";
import { countIds, type PredictInputs, type PredictOutputs } from "../batching/feature-input.js";
import { featureCost, type FeatureCost } from "../batching/request-cost.js";
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
import { encodeBinaryResponsePieces } from "../binary/response-codec.js";
import type { ModelRegistry } from "../model-registry.js";
import { parseJsonBody } from "./json-body.js";
import { decodeJsonOffThread, OFF_THREAD_DECODE_BYTES } from "./json-decode.js";
import { decodeJsonPredict, type JsonFormat } from "./json-request.js";
import { jsonPredictChunks } from "./json-response.js";
import type { MemoryBudget } from "./memory-budget.js";
import { nextSlice } from "./slices.js";
import type { ModelTarget } from "./routes.js";
import type { ServerLimits } from "./server.js";

export interface PredictReply {
  readonly contentType: string;
  /** The answer: one piece, or pieces formatted in slices (a big JSON answer). */
  readonly body: string | Uint8Array | readonly Uint8Array[];
  readonly version: number;
  readonly ids: number;
  /** Gives the request's memory back to the server-wide budget once the answer is written (idempotent). */
  release(): void;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** True for the binary format's content type (parameters such as `; v=1` are ignored). */
export function isBinary(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(";")[0].trim().toLowerCase() === BINARY_CONTENT_TYPE;
}

export type PredictLimits = Pick<
  ServerLimits,
  "maxIdsPerRequest" | "maxOutputValues" | "maxRequestBytes" | "memoryWaitMs"
>;

/**
 * One predict call: lease the version, decode and validate the body against its features, check its
 * cost against the per-request budget (400) and hold it in the server-wide one (wait, or 429), look it up
 * through the micro-batcher, encode the answer in the request's format (big JSON answers in slices, so
 * other requests are served in between). The lease is held until the lookup settles (even when the
 * caller has given up on it), so a version is never unloaded under a lookup; the memory until `release`.
 */
export async function predict(
  registry: ModelRegistry,
  batcher: MicroBatcher,
  target: ModelTarget,
  contentType: string | undefined,
  body: Uint8Array,
  limits: PredictLimits,
  budget: MemoryBudget | null = null,
): Promise<PredictReply> {
  const lease = registry.acquire(target.model, { version: target.version, label: target.label });
  let release = (): void => {};
  try {
    const model = lease.model;
    const features = modelFeatures(model);
    const binary = isBinary(contentType);
    let inputs: PredictInputs;
    let format: JsonFormat | "binary" = "binary";
    const bodyBytes = body.byteLength;
    if (binary) {
      inputs = decodeBinaryRequest(body);
    } else if (bodyBytes >= OFF_THREAD_DECODE_BYTES) {
      // Big bodies are parsed on a worker thread (the body's buffer goes with them).
      const decoded = await decodeJsonOffThread(body, model.features);
      inputs = decoded.inputs;
      format = decoded.format;
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
    const costs: FeatureCost[] = [];
    for (const [name, input] of inputs) {
      const feature = requireFeature(features, name);
      validateFeatureInput(feature, input);
      values += outputValues(feature, input);
      costs.push(featureCost(feature, input, !binary));
    }
    checkOutputLimit(values, limits.maxOutputValues);
    const cost = bodyBytes + costs.reduce((n, c) => n + c.bytes, 0);
    checkRequestBytes(cost, costs, limits.maxRequestBytes);
    if (budget !== null) release = await budget.reserve(cost, limits.memoryWaitMs);
    // A big lookup's planning (on this thread) takes its own turn of the event loop: requests granted
    // memory at once would otherwise all plan in one go.
    if (cost >= BIG_REQUEST_BYTES) await nextSlice();
    const bare = model.features.length === 1;
    const outputs = await batcher.submit(model, inputs);
    const answer =
      format === "binary"
        ? encodeBinaryResponsePieces(outputs)
        : await encodeJsonSliced(format, outputs, bare);
    return {
      contentType: format === "binary" ? BINARY_CONTENT_TYPE : "application/json",
      body: answer,
      version: model.version,
      ids: countIds(inputs),
      release,
    };
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

/** Requests estimated at this many bytes or more start their lookup in a turn of their own. */
const BIG_REQUEST_BYTES = 16 * 1024 * 1024;

/** Milliseconds of formatting between two yields to the event loop. */
const SLICE_MS = 2;

/** A JSON answer formatted in slices of a few milliseconds, yielding to the event loop in between. */
async function encodeJsonSliced(
  format: JsonFormat,
  outputs: PredictOutputs,
  bare: boolean,
): Promise<string | Uint8Array[]> {
  const chunks = jsonPredictChunks(format, outputs, bare);
  const first = chunks.next();
  if (first.done === true) return "";
  const head = first.value;
  let next = chunks.next();
  if (next.done === true) return head; // a small answer: one piece
  const pieces: Uint8Array[] = [Buffer.from(head)];
  let sliceStart = performance.now();
  while (next.done !== true) {
    pieces.push(Buffer.from(next.value));
    if (performance.now() - sliceStart >= SLICE_MS) {
      await nextSlice();
      sliceStart = performance.now();
    }
    next = chunks.next();
  }
  return pieces;
}
