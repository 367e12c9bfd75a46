/** A worker for WorkerCalls' tests: echoes `value` back, or exits with `exit` as its code. */
import { parentPort } from "node:worker_threads";

parentPort!.on("message", (m: { id: number; value?: unknown; exit?: number }) => {
  if (m.exit !== undefined) process.exit(m.exit);
  parentPort!.postMessage({ id: m.id, value: m.value });
});
