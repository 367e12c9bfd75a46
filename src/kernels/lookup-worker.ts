/**
 * A lookup pool worker: holds references to registered table sets and runs kernel jobs into shared
 * output buffers. Started by `LookupPool` (lookup-pool.ts); one task at a time, in arrival order.
 */
import { parentPort } from "node:worker_threads";
import type { WorkerReply, WorkerRequest } from "./pool-messages.js";
import { runJob } from "./run-job.js";
import { viewOfLocation } from "./table-memory.js";

const port = parentPort!;
const sets = new Map<number, readonly Float32Array[]>();

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
    case "run": {
      let error: string | undefined;
      try {
        const tables = sets.get(message.set);
        if (tables === undefined) throw new Error(`table set ${message.set} is not attached`);
        const out = new Float32Array(message.out);
        for (const p of message.pieces) runJob(p.job, tables[p.table], p.dim, out, p.outOffset);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      if (message.done !== null) {
        if (error !== undefined) Atomics.store(message.done, 1, 1);
        Atomics.add(message.done, 0, 1);
        Atomics.notify(message.done, 0);
      }
      if (message.task !== 0) reply({ task: message.task, error });
      return;
    }
  }
});

function reply(r: WorkerReply): void {
  port.postMessage(r);
}
