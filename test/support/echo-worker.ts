/**
 * A worker for WorkerCalls' tests: echoes `value` back, or exits with `exit` as its code. (The test runner
 * also loads every file under test/ as a test file: on the main thread it does nothing.)
 */
import { parentPort } from "node:worker_threads";

const port = parentPort;
port?.on("message", (m: { id: number; value?: unknown; exit?: number }) => {
  if (m.exit !== undefined) process.exit(m.exit);
  port.postMessage({ id: m.id, value: m.value });
});
