import type { TableLocation } from "./table-memory.js";

/** Messages from the pool to a worker (structured clone; table memory and outputs are shared, not copied). */
export type WorkerRequest =
  | { readonly type: "attach"; readonly set: number; readonly tables: readonly TableLocation[] }
  | { readonly type: "detach"; readonly set: number }
  | {
      /** A reusable request/output buffer pair (sent when created or grown). */
      readonly type: "slot";
      readonly slot: number;
      readonly request: SharedArrayBuffer;
      readonly out: SharedArrayBuffer;
    }
  | {
      /** A caller-owned shared output buffer, addressed by `id` in packed pieces (sent once per worker). */
      readonly type: "output";
      readonly id: number;
      readonly buffer: SharedArrayBuffer;
    }
  | { readonly type: "forget"; readonly id: number }
  | {
      readonly type: "run";
      readonly set: number;
      /** 0 for synchronous callers, which wait on the request's DEPARTED word instead of a reply. */
      readonly task: number;
      /** The slot holding the packed request (packed-request.ts); pieces are claimed atomically. */
      readonly slot: number;
    }
  | { readonly type: "sets"; readonly task: number }
  | { readonly type: "outputs"; readonly task: number };

/** A worker's answer to an async `run` or a `sets` query. */
export interface WorkerReply {
  readonly task: number;
  readonly error?: string;
  readonly sets?: number[];
  readonly outputs?: number[];
}
