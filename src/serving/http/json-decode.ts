import { InvalidArgumentError, TpuEmbeddingError, type ErrorCode } from "../../errors.js";
import type { PredictInputs } from "../batching/feature-input.js";
import type { ServableFeature } from "../model-registry.js";
import type { DecodeReply, DecodeRequest } from "./json-decode-worker.js";
import type { JsonFormat } from "./json-request.js";
import { WorkerCalls } from "./worker-calls.js";

/** Bodies at least this big are decoded on the decode worker; smaller ones on the main thread. */
export const OFF_THREAD_DECODE_BYTES = 1 << 20;

const calls = new WorkerCalls<DecodeReply>(
  new URL("./json-decode-worker.js", import.meta.url),
  "JSON decode",
);

/**
 * Decodes a big JSON predict body on a worker thread (JSON.parse of tens of megabytes would hold the
 * event loop for a second): the same decoder and the same errors as on the main thread. The body's
 * buffer is transferred to the worker (the caller must not use it afterwards).
 */
export async function decodeJsonOffThread(
  body: Uint8Array,
  features: readonly ServableFeature[],
): Promise<{ format: JsonFormat; inputs: PredictInputs }> {
  const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
  const message: Omit<DecodeRequest, "id"> = { body, features };
  const reply = await calls.call(message, own && body.buffer instanceof ArrayBuffer ? [body.buffer] : []);
  if (reply.ok) return { format: reply.format, inputs: new Map(reply.inputs) };
  throw rebuild(reply.code, reply.message);
}

/** The worker's error as the main thread's decoder would have thrown it. */
function rebuild(code: string | null, message: string): Error {
  if (code === "INVALID_ARGUMENT") return new InvalidArgumentError(message);
  if (code !== null) return new TpuEmbeddingError(code as ErrorCode, message);
  return new Error(message);
}
