/**
 * Formats big JSON predict answers off the main thread (json-encode.ts): the same writer and bytes as
 * `jsonPredictChunks` on the main thread, read from and written into a shared arena.
 */
import { parentPort } from "node:worker_threads";
import type { FeatureOutput } from "../batching/feature-input.js";
import type { JsonFormat } from "./json-request.js";
import { encodeJsonAnswer } from "./json-response.js";

export interface EncodeRequest {
  readonly id: number;
  readonly format: JsonFormat;
  readonly bare: boolean;
  /** The outputs' values (float32, from byte 0) and room for the text after them. */
  readonly arena: SharedArrayBuffer;
  /** Name, shape and first float32 index in the arena of each output, in the answer's order. */
  readonly outputs: [string, number[], number][];
  /** Where the text goes: arena bytes [textAt, textAt + textBytes). */
  readonly textAt: number;
  readonly textBytes: number;
}

export type EncodeReply =
  | { readonly id: number; readonly ok: true; readonly length: number }
  | { readonly id: number; readonly ok: false; readonly message: string };

const port = parentPort!;

port.on("message", (request: EncodeRequest) => {
  const { id, format, bare, arena, outputs, textAt, textBytes } = request;
  try {
    const answer = new Map<string, FeatureOutput>();
    for (const [name, shape, at] of outputs) {
      let size = 1;
      for (const d of shape) size *= d;
      answer.set(name, { shape, data: new Float32Array(arena, 4 * at, size) });
    }
    const target = Buffer.from(arena, textAt, textBytes);
    const bytes = encodeJsonAnswer(format, answer, bare, undefined, target);
    if (bytes.buffer !== arena || bytes.byteOffset !== textAt)
      throw new Error("the answer outgrew its arena");
    const reply: EncodeReply = { id, ok: true, length: bytes.byteLength };
    port.postMessage(reply);
  } catch (e) {
    const reply: EncodeReply = { id, ok: false, message: String((e as { message?: unknown }).message ?? e) };
    port.postMessage(reply);
  }
});
