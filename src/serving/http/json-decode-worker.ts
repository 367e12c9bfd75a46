/**
 * Decodes big JSON predict bodies off the main thread (json-decode.ts): UTF-8, JSON.parse and the
 * conversion into typed arrays, whose buffers are transferred back (not copied).
 */
import { parentPort } from "node:worker_threads";
import { TextDecoder } from "node:util";
import type { ServableFeature } from "../model-registry.js";
import type { FeatureInput } from "../batching/feature-input.js";
import { parseJsonBody } from "./json-body.js";
import { decodeJsonPredict } from "./json-request.js";

export interface DecodeRequest {
  readonly id: number;
  readonly body: Uint8Array;
  readonly features: readonly ServableFeature[];
}

export type DecodeReply =
  | {
      readonly id: number;
      readonly ok: true;
      readonly format: "row" | "columnar";
      readonly inputs: [string, FeatureInput][];
    }
  | { readonly id: number; readonly ok: false; readonly code: string | null; readonly message: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const port = parentPort!;

port.on("message", ({ id, body, features }: DecodeRequest) => {
  try {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      throw Object.assign(new Error("JSON Parse error: the body is not valid UTF-8"), {
        code: "INVALID_ARGUMENT",
      });
    }
    const byName = new Map(features.map((f) => [f.name, f]));
    const decoded = decodeJsonPredict(parseJsonBody(text, body), { byName, configs: new Map() });
    const buffers = new Set<ArrayBuffer>();
    for (const input of decoded.inputs.values()) {
      const arrays: (ArrayBufferView | null)[] = [input.ids];
      if (input.kind === "ragged") arrays.push(input.rowSplits, input.weights);
      if (input.kind === "sparse") arrays.push(input.indices, input.weights);
      for (const a of arrays) if (a !== null && a.buffer instanceof ArrayBuffer) buffers.add(a.buffer);
    }
    const reply: DecodeReply = { id, ok: true, format: decoded.format, inputs: [...decoded.inputs] };
    port.postMessage(reply, [...buffers]);
  } catch (e) {
    const error = e as { code?: unknown; message?: unknown };
    const reply: DecodeReply = {
      id,
      ok: false,
      code: typeof error.code === "string" ? error.code : null,
      message: String(error.message ?? e),
    };
    port.postMessage(reply);
  }
});
