import type { StoredLocation } from "./table-storage.js";

/** Messages from the pool to a worker (structured clone; table memory and outputs are shared, not copied). */
export type WorkerRequest =
  | {
      readonly type: "attach";
      readonly set: number;
      readonly tables: readonly StoredLocation[];
    }
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
      /** The request's generation: the worker joins only that request, and only while it is open. */
      readonly generation: number;
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

/**
 * A worker's mailbox (Int32Array over a SharedArrayBuffer, `MAILBOX_WORDS` long): after a run the worker
 * spins for a while (`SPINNING`) instead of sleeping in its event loop, and a synchronous caller that
 * finds it spinning hands it the next run by writing `MAILBOX_SET`/`MAILBOX_SLOT`/`MAILBOX_GENERATION` and swapping the state to
 * `HAS_RUN`: no message and no thread wake-up, which on a VM costs tens of microseconds. Every message
 * to a worker first sets `IDLE`, which sends it back to its event loop (after the run it may be in).
 * Both sides count messages. A ring depends on the table sets, slots and outputs posted before it, and a
 * worker that starts spinning just after a post stored IDLE overwrites that IDLE and spins with the post
 * still queued: so the pool rings only a worker that has handled (`MAILBOX_HANDLED`) every message but
 * synchronous runs posted to it, and otherwise posts it the run, whose IDLE sends it back to its queue.
 * Queued synchronous runs (for requests the caller finished alone) are not waited for: that made a worker
 * sent one fall behind lookup after lookup (2 threads, B=64: about 8 % slower).
 */
export const MAILBOX_WORDS = 5;
export const MAILBOX_STATE = 0;
export const MAILBOX_SET = 1;
export const MAILBOX_SLOT = 2;
export const MAILBOX_GENERATION = 3;
/** Messages the worker has handled so far (int32, wrapping), written by the worker. */
export const MAILBOX_HANDLED = 4;
export const IDLE = 0;
export const SPINNING = 1;
export const HAS_RUN = 2;
/** The caller is writing the run's words (it took the worker from SPINNING): the worker waits. */
export const RINGING = 3;

/**
 * Spinning loops (a worker's mailbox and opening waits, the caller's wait for its helpers) read the clock
 * once per `CLOCK_EVERY + 1` loads: each performance.now() allocates a heap number, and reading it on every
 * load made a spinning worker allocate ~70 MB/s (a scavenge every 25 ms on the standard workload, B=64, 2
 * threads).
 */
export const CLOCK_EVERY = 63;
