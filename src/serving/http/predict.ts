import { performance } from "node:perf_hooks";
import { TextDecoder } from "node:util";
import { InvalidArgumentError } from "../../errors.js";
import type { PredictInputs, PredictOutputs } from "../batching/feature-input.js";
import type { MicroBatcher } from "../batching/micro-batcher.js";
import type { ModelFeatures } from "../batching/model-features.js";
import { BINARY_CONTENT_TYPE } from "../binary/binary-format.js";
import { decodeBinaryRequest } from "../binary/request-codec.js";
import { encodeBinaryResponsePieces } from "../binary/response-codec.js";
import type { ModelRegistry, ServableModel } from "../model-registry.js";
import { predictService, type PredictLimits } from "../predict-service.js";
import { parseJsonBody } from "./json-body.js";
import { decodeColumnarBags } from "./json-fast-columns.js";
import { decodeJsonOffThread, OFF_THREAD_DECODE_BYTES } from "./json-decode.js";
import { encodeJsonOffThread } from "./json-encode.js";
import { decodeJsonPredict, type JsonFormat } from "./json-request.js";
import { jsonPredictChunks } from "./json-response.js";
import type { MemoryBudget } from "./memory-budget.js";
import { nextSlice } from "./slices.js";
import type { ModelTarget } from "./routes.js";

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

export type { PredictLimits };

/**
 * One REST predict call: the body (JSON, parsed on a worker thread when big, or binary) decoded inside
 * the transport-neutral predict service (lease, input kinds, validation, limits, memory budgets,
 * micro-batcher), then the answer encoded in the request's format (big JSON answers in slices, so other
 * requests are served in between).
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
  const binary = isBinary(contentType);
  let format: JsonFormat | "binary" = "binary";
  const decode = async (features: ModelFeatures, model: ServableModel): Promise<PredictInputs> => {
    if (binary) return decodeBinaryRequest(body);
    if (body.byteLength >= OFF_THREAD_DECODE_BYTES) {
      // Big bodies are parsed on a worker thread (the body's buffer goes with them).
      const decoded = await decodeJsonOffThread(body, model.features);
      format = decoded.format;
      return decoded.inputs;
    }
    const bags = decodeColumnarBags(body, features);
    if (bags !== null) {
      format = "columnar";
      return bags;
    }
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      throw new InvalidArgumentError("JSON Parse error: the body is not valid UTF-8");
    }
    const decoded = decodeJsonPredict(parseJsonBody(text, body), features);
    format = decoded.format;
    return decoded.inputs;
  };
  const costing = { budget, bodyBytes: body.byteLength, jsonAnswer: !binary };
  const { model, outputs, ids, release } = await predictService(
    registry,
    batcher,
    target,
    decode,
    limits,
    costing,
  );
  try {
    const answer =
      format === "binary"
        ? { body: encodeBinaryResponsePieces(outputs), release: null }
        : await encodeJson(format, outputs, model.features.length === 1);
    const arena = answer.release;
    return {
      contentType: format === "binary" ? BINARY_CONTENT_TYPE : "application/json",
      body: answer.body,
      version: model.version,
      ids,
      release:
        arena === null
          ? release
          : () => {
              arena();
              release();
            },
    };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * A JSON answer: big ones on the encode worker (the event loop serves other requests meanwhile), small
 * ones here, in slices.
 */
async function encodeJson(
  format: JsonFormat,
  outputs: PredictOutputs,
  bare: boolean,
): Promise<{ body: Uint8Array | Uint8Array[]; release: (() => void) | null }> {
  try {
    const answer = await encodeJsonOffThread(format, outputs, bare);
    // The arena holds the bytes until the answer is written (the reply's release).
    if (answer !== null) return { body: answer.bytes, release: answer.release };
  } catch {
    // The worker failed (the next big answer starts a new one): this answer is formatted here instead.
  }
  return { body: await encodeJsonSliced(format, outputs, bare), release: null };
}

/** Milliseconds of formatting between two yields to the event loop. */
const SLICE_MS = 2;

/** A JSON answer formatted in slices of a few milliseconds, yielding to the event loop in between. */
async function encodeJsonSliced(
  format: JsonFormat,
  outputs: PredictOutputs,
  bare: boolean,
): Promise<Uint8Array | Uint8Array[]> {
  const chunks = jsonPredictChunks(format, outputs, bare);
  const first = chunks.next();
  if (first.done === true) return new Uint8Array(0);
  let next = chunks.next();
  if (next.done === true) return first.value; // a small answer: one piece
  const pieces: Uint8Array[] = [first.value];
  let sliceStart = performance.now();
  while (next.done !== true) {
    pieces.push(next.value);
    if (performance.now() - sliceStart >= SLICE_MS) {
      await nextSlice();
      sliceStart = performance.now();
    }
    next = chunks.next();
  }
  return pieces;
}
