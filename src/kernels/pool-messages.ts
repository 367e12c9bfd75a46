import type { KernelJob } from "./kernel-job.js";
import type { TableLocation } from "./table-memory.js";

/** One job of a worker task, writing into the task's output buffer from `outOffset` (float32 values). */
export interface WorkPiece {
  readonly job: KernelJob;
  readonly table: number;
  readonly dim: number;
  readonly outOffset: number;
}

/** Messages from the pool to a worker (structured clone; table memory and outputs are shared, not copied). */
export type WorkerRequest =
  | { readonly type: "attach"; readonly set: number; readonly tables: readonly TableLocation[] }
  | { readonly type: "detach"; readonly set: number }
  | {
      readonly type: "run";
      readonly set: number;
      /** 0 for synchronous callers, which wait on `done` instead of a reply. */
      readonly task: number;
      readonly pieces: readonly WorkPiece[];
      readonly out: SharedArrayBuffer;
      /** `[finished workers, failed flag]`, incremented and notified when the task ends. */
      readonly done: Int32Array | null;
    }
  | { readonly type: "sets"; readonly task: number };

/** A worker's answer to an async `run` or a `sets` query. */
export interface WorkerReply {
  readonly task: number;
  readonly error?: string;
  readonly sets?: number[];
}
