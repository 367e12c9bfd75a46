/**
 * A lookup pool worker: holds references to registered table sets and runs kernel jobs into shared
 * output buffers. Started by `LookupPool` (lookup-pool.ts); one task at a time, in arrival order.
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  CLOCK_EVERY,
  HAS_RUN,
  IDLE,
  MAILBOX_GENERATION,
  MAILBOX_HANDLED,
  MAILBOX_SET,
  MAILBOX_SLOT,
  MAILBOX_STATE,
  RINGING,
  SPINNING,
  type WorkerReply,
  type WorkerRequest,
} from "./pool-messages.js";
import { adoptKernelMeasurement, type FamilyMeasurementData } from "./kernel-choice.js";
import { batchKernels, nativeBatchKernels, type BatchKernels, type BatchTableSet } from "./batch-kernels.js";
import { W_REFS } from "./batch-layout.js";
import { storedOfLocation, type StoredTable } from "./table-storage.js";
import {
  STAGED_HEADER,
  STAGED_LENGTH,
  STAGED_OUT,
  STAGED_OUT_LENGTH,
  STAGED_OUT_OFFSET,
  DEPARTED,
  enterRequest,
  FAILED,
  previousGeneration,
  requestGeneration,
} from "./packed-request.js";

const port = parentPort!;
const sets = new Map<number, readonly StoredTable[]>();
const slots = new Map<number, { request: SharedArrayBuffer; out: Float32Array }>();
/** Caller-owned shared outputs, by the pool's id for them. */
const outputs = new Map<number, Float32Array>();
/** Each set's batch kernels' table set, once a staged run needs it. */
const batchSets = new Map<number, { kernels: BatchKernels; set: BatchTableSet | null }[]>();
/**
 * Messages handled so far (int32, wrapping), published in the mailbox's MAILBOX_HANDLED after each one
 * (before spinning): the pool rings this worker only once it has handled every message a run may
 * need (pool-messages.ts).
 */
let handled = 0;

port.on("message", (message: WorkerRequest) => {
  handled = (handled + 1) | 0;
  switch (message.type) {
    case "attach":
      sets.set(message.set, message.tables.map(storedOfLocation));
      break;
    case "detach": {
      sets.delete(message.set);
      for (const { kernels, set } of batchSets.get(message.set) ?? []) if (set) kernels.releaseSet(set);
      batchSets.delete(message.set);
      // A dropped model's tables are freed only once this isolate collects too (gc exists when the model
      // registry enabled it: src/serving/model/release-memory.ts).
      (globalThis as { gc?: () => void }).gc?.();
      break;
    }
    case "sets":
      reply({ task: message.task, sets: [...sets.keys()] });
      break;
    case "outputs":
      reply({ task: message.task, outputs: [...outputs.keys()] });
      break;
    case "slot":
      slots.set(message.slot, { request: message.request, out: new Float32Array(message.out) });
      break;
    case "output":
      outputs.set(message.id, new Float32Array(message.buffer));
      break;
    case "forget":
      outputs.delete(message.id);
      break;
    case "run": {
      const error = run(message.set, message.slot, message.generation);
      // Async runs are answered by message; only synchronous callers come back through the mailbox.
      if (message.task !== 0) reply({ task: message.task, error });
      break;
    }
  }
  Atomics.store(mailbox, MAILBOX_HANDLED, handled);
  if (message.type === "run" && message.task === 0) spin();
});

/**
 * Joins the slot's request of `generation` if it is still open, then claims and runs its pieces until
 * none are left; the first error, if any.
 */
function run(set: number, slot: number, generation: number, waitOpen = false): string | undefined {
  const { request, out } = slots.get(slot)!;
  const control = new Int32Array(request, 0, STAGED_HEADER);
  if (waitOpen && !awaitOpening(control, generation)) return undefined;
  if (!enterRequest(control, generation)) return undefined;
  const error = runStaged(set, request, out, control);
  // Leaving: every piece this worker claimed is written. The slot is reused only after all left.
  Atomics.add(control, DEPARTED, 1);
  Atomics.notify(control, DEPARTED);
  return error;
}

/** A staged request (a lookup batch): this thread's share of its features, claimed by the batch kernels. */
function runStaged(
  set: number,
  request: SharedArrayBuffer,
  out: Float32Array,
  control: Int32Array,
): string | undefined {
  const tables = sets.get(set);
  const work = new Int32Array(request, STAGED_HEADER * 4, control[STAGED_LENGTH]);
  // Refs (caller arrays read in place) come only from a caller running the native kernels.
  const kernels = work.length > W_REFS && work[W_REFS] > 0 ? nativeBatchKernels() : batchKernels();
  let batch = kernels === null ? undefined : batchSets.get(set)?.find((b) => b.kernels === kernels);
  if (batch === undefined && kernels !== null && tables !== undefined) {
    batch = { kernels, set: kernels.createSet({ tables }) };
    batchSets.set(set, [...(batchSets.get(set) ?? []), batch]);
  }
  const outId = control[STAGED_OUT];
  const buffer = outId === 0 ? out.buffer : outputs.get(outId)?.buffer;
  if (batch === undefined || batch.set === null || buffer === undefined) {
    Atomics.store(control, FAILED, 1);
    return `staged run: ${buffer === undefined ? `output ${outId} not attached` : `table set ${set} not attached`}`;
  }
  const target = new Float32Array(buffer, control[STAGED_OUT_OFFSET] * 4, control[STAGED_OUT_LENGTH]);
  const code = batch.kernels.share(batch.set, work, target, control, true);
  if (code === 0) return undefined;
  Atomics.store(control, FAILED, 1);
  return `staged run failed (${code})`;
}

/**
 * A mailbox run is rung before its request is packed: waits (spinning) while the slot still holds the
 * request before it; false once the slot holds any other one (the caller finished this one alone and
 * moved on) or after 50 ms.
 */
function awaitOpening(control: Int32Array, generation: number): boolean {
  const before = previousGeneration(generation);
  const giveUp = performance.now() + 50;
  for (let spins = 1; ; spins++) {
    const seen = requestGeneration(control);
    if (seen === generation) return true;
    if (seen !== before && seen !== 0) return false;
    if ((spins & CLOCK_EVERY) === 0 && performance.now() > giveUp) return false;
  }
}

adoptKernelMeasurement(workerData.kernels as FamilyMeasurementData);
const mailbox = new Int32Array(workerData.mailbox as SharedArrayBuffer);
const spinMs = workerData.spinMs as number;

/**
 * Waits for the next synchronous run by spinning on the mailbox for `spinMs` (like OpenMP's spinning
 * threads), so back-to-back lookups reach this worker without a message or a wake-up; then returns to
 * the event loop. Failures of mailbox runs show in the request's FAILED word.
 */
function spin(): void {
  if (spinMs <= 0) return;
  Atomics.store(mailbox, MAILBOX_STATE, SPINNING);
  let deadline = performance.now() + spinMs;
  for (let spins = 1; ; spins++) {
    const state = Atomics.load(mailbox, MAILBOX_STATE);
    if (state === RINGING) continue; // the caller is writing the run's words
    if (state === HAS_RUN) {
      run(mailbox[MAILBOX_SET], mailbox[MAILBOX_SLOT], mailbox[MAILBOX_GENERATION], true);
      // A message posted meanwhile set IDLE: go and read it.
      if (Atomics.compareExchange(mailbox, MAILBOX_STATE, HAS_RUN, SPINNING) !== HAS_RUN) return;
      deadline = performance.now() + spinMs;
    } else if (state === IDLE) {
      return; // sent back to the event loop: a message is waiting
    } else if ((spins & CLOCK_EVERY) === 0 && performance.now() >= deadline) {
      if (Atomics.compareExchange(mailbox, MAILBOX_STATE, SPINNING, IDLE) === SPINNING) return;
    }
  }
}

function reply(r: WorkerReply): void {
  port.postMessage(r);
}
