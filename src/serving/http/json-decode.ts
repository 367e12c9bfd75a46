import { Worker } from "node:worker_threads";
import { InvalidArgumentError, TpuEmbeddingError, type ErrorCode } from "../../errors.js";
import type { PredictInputs } from "../batching/feature-input.js";
import type { ServableFeature } from "../model-registry.js";
import type { DecodeReply, DecodeRequest } from "./json-decode-worker.js";
import type { JsonFormat } from "./json-request.js";

/** Bodies at least this big are decoded on the decode worker; smaller ones on the main thread. */
export const OFF_THREAD_DECODE_BYTES = 1 << 20;

interface Pending {
  resolve(value: { format: JsonFormat; inputs: PredictInputs }): void;
  reject(error: unknown): void;
}

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

/**
 * Decodes a big JSON predict body on a worker thread (JSON.parse of tens of megabytes would hold the
 * event loop for a second): the same decoder and the same errors as on the main thread. The body's
 * buffer is transferred to the worker (the caller must not use it afterwards).
 */
export function decodeJsonOffThread(
  body: Uint8Array,
  features: readonly ServableFeature[],
): Promise<{ format: JsonFormat; inputs: PredictInputs }> {
  const w = decodeWorker();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    if (pending.size === 1) w.ref();
    const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    const message: DecodeRequest = { id, body, features };
    w.postMessage(message, own && body.buffer instanceof ArrayBuffer ? [body.buffer] : []);
  });
}

function decodeWorker(): Worker {
  if (worker !== null) return worker;
  const w = new Worker(new URL("./json-decode-worker.js", import.meta.url));
  w.unref();
  w.on("message", (reply: DecodeReply) => {
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
    if (reply.ok) p.resolve({ format: reply.format, inputs: new Map(reply.inputs) });
    else p.reject(rebuild(reply.code, reply.message));
  });
  const fail = (error: Error) => {
    if (worker === w) worker = null;
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(error);
    }
  };
  w.on("error", fail);
  w.on("exit", (code) => fail(new Error(`The JSON decode worker exited with code ${code}.`)));
  worker = w;
  return w;
}

/** The worker's error as the main thread's decoder would have thrown it. */
function rebuild(code: string | null, message: string): Error {
  if (code === "INVALID_ARGUMENT") return new InvalidArgumentError(message);
  if (code !== null) return new TpuEmbeddingError(code as ErrorCode, message);
  return new Error(message);
}
