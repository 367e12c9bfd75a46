/**
 * A lookup pool worker: holds references to registered table sets and runs kernel jobs into shared
 * output buffers. Started by `LookupPool` (lookup-pool.ts); one task at a time, in arrival order.
 */
import { parentPort } from "node:worker_threads";
import type { WorkerReply, WorkerRequest } from "./pool-messages.js";
import { runJob } from "./run-job.js";
import { viewOfLocation } from "./table-memory.js";
import { CLAIMED, COUNT, DEPARTED, FAILED, unpackPiece } from "./packed-request.js";

const port = parentPort!;
const sets = new Map<number, readonly Float32Array[]>();
const slots = new Map<number, { request: SharedArrayBuffer; out: Float32Array }>();
/** Caller-owned shared outputs, by the pool's id for them. */
const outputs = new Map<number, Float32Array>();

port.on("message", (message: WorkerRequest) => {
  switch (message.type) {
    case "attach":
      sets.set(message.set, message.tables.map(viewOfLocation));
      return;
    case "detach":
      sets.delete(message.set);
      // A dropped model's tables are freed only once this isolate collects too (gc exists when the model
      // registry enabled it: src/serving/model/release-memory.ts).
      (globalThis as { gc?: () => void }).gc?.();
      return;
    case "sets":
      reply({ task: message.task, sets: [...sets.keys()] });
      return;
    case "outputs":
      reply({ task: message.task, outputs: [...outputs.keys()] });
      return;
    case "slot":
      slots.set(message.slot, { request: message.request, out: new Float32Array(message.out) });
      return;
    case "output":
      outputs.set(message.id, new Float32Array(message.buffer));
      return;
    case "forget":
      outputs.delete(message.id);
      return;
    case "run": {
      let error: string | undefined;
      const { request, out } = slots.get(message.slot)!;
      const control = new Int32Array(request, 0, 8);
      const count = control[COUNT];
      const tables = sets.get(message.set);
      for (let k = Atomics.add(control, CLAIMED, 1); k < count; k = Atomics.add(control, CLAIMED, 1)) {
        try {
          if (tables === undefined) throw new Error(`table set ${message.set} is not attached`);
          const p = unpackPiece(request, k);
          const target = p.out === 0 ? out : outputs.get(p.out);
          if (target === undefined) throw new Error(`output buffer ${p.out} is not attached`);
          runJob(p.job, tables[p.table], p.dim, target, p.outOffset, p.rowStart, p.rowEnd);
        } catch (e) {
          error = e instanceof Error ? e.message : String(e);
          Atomics.store(control, FAILED, 1);
        }
      }
      // Leaving: every piece this worker claimed is written. The slot is reused only after all left.
      Atomics.add(control, DEPARTED, 1);
      Atomics.notify(control, DEPARTED);
      if (message.task !== 0) reply({ task: message.task, error });
      return;
    }
  }
});

function reply(r: WorkerReply): void {
  port.postMessage(r);
}
