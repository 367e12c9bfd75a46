import { Worker } from "node:worker_threads";
import { CLOCK_EVERY } from "./pool-messages.js";
import { nextSlice } from "./event-loop-turns.js";
import { closeRequest, DEPARTED } from "./packed-request.js";

/** The lookup pool's thread plumbing (lookup-pool.ts): starting workers, waiting for helpers, yielding copies. */

/**
 * A worker with this process's Node options where a worker accepts them: `node --input-type=module -e …`
 * passes a flag a file entry point rejects, and process-wide flags (`--expose-gc`, V8 options) make the
 * Worker constructor throw, so then the worker starts with none.
 */
export function startWorker(url: URL, workerData: unknown): Worker {
  try {
    const execArgv = process.execArgv.filter((a) => !a.startsWith("--input-type"));
    return new Worker(url, { execArgv, workerData });
  } catch (e) {
    if ((e as { code?: string }).code !== "ERR_WORKER_INVALID_EXEC_ARGV") throw e;
    return new Worker(url, { execArgv: [], workerData });
  }
}

/** How long the calling thread spins for helpers to finish before it sleeps. */
const CALLER_SPIN_MS = 0.2;

/**
 * Closes a synchronous request and waits until every helper that entered it has left (spinning first:
 * they finish within microseconds of the caller, and sleeping costs a wake-up).
 */
export function waitForHelpers(control: Int32Array): void {
  const entered = closeRequest(control);
  let left = Atomics.load(control, DEPARTED);
  const spinUntil = performance.now() + CALLER_SPIN_MS;
  for (let spins = 1; left < entered; spins++) {
    left = Atomics.load(control, DEPARTED);
    if ((spins & CLOCK_EVERY) === 0 && performance.now() >= spinUntil) break;
  }
  while (left < entered) {
    Atomics.wait(control, DEPARTED, left);
    left = Atomics.load(control, DEPARTED);
  }
}

/** Float32 values copied between two yields to the event loop by `copyInSteps` (1 MiB). */
const COPY_STEP_VALUES = 1 << 18;

/**
 * `to.set(from)` for async lookups: a big output is copied a step at a time, one step per turn of the
 * event loop whoever asks (event-loop-turns.ts), so concurrent big copies and answers take turns with I/O.
 */
export async function copyInSteps(from: Float32Array, to: Float32Array): Promise<void> {
  if (from.length <= COPY_STEP_VALUES) {
    to.set(from);
    return;
  }
  for (let at = 0; at < from.length; at += COPY_STEP_VALUES) {
    if (at > 0) await nextSlice();
    to.set(from.subarray(at, Math.min(from.length, at + COPY_STEP_VALUES)), at);
  }
}
