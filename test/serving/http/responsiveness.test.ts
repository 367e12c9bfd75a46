import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { DEFAULT_LIMITS } from "../../../src/index.js";
import { featureCost } from "../../../src/serving/batching/request-cost.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_MODEL_NAME } from "../../../src/cli/demo-model.js";
import { spawnCli } from "../../cli/helpers.js";
import { Worker } from "node:worker_threads";

/**
 * Issue 14, item 4: while 8 maximum-size predicts run (the largest answer the default per-request budget
 * allows, in JSON), a status request's p99 stays under 100 ms. On a loaded machine (CI, shared boxes) the
 * bound grows with the scheduling noise measured first against the idle server: 20 × the p99 or 1.5 × the
 * slowest of its status answers, if that is more than 100 ms (RESPONSIVENESS_STRICT=1: 100 ms always).
 * Before the fix, one such predict held the event loop for seconds.
 */
const PREDICTS = 8;

/**
 * Status requests, one every 10 ms, from a worker thread until `stop` is called; their latencies, sorted.
 * Measured off this thread: here the 8 answers (270 MB) arrive, and a poller on this event loop would
 * time its own reading of them, not the server.
 */
function statusLatencies(url: string): { stop(): Promise<number[]> } {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require("node:worker_threads");
    const { request } = require("node:http");
    let polling = true;
    const latencies = [];
    parentPort.on("message", () => (polling = false));
    (async () => {
      while (polling) {
        const t = performance.now();
        const status = await new Promise((resolve, reject) => {
          const req = request(workerData.url, { agent: false }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode));
          });
          req.on("error", reject);
          req.end();
        });
        latencies.push(performance.now() - t);
        if (status !== 200) throw new Error("status " + status);
        await new Promise((r) => setTimeout(r, 10));
      }
      parentPort.postMessage(latencies);
    })();
    `,
    { eval: true, workerData: { url } },
  );
  const done = new Promise<number[]>((resolve, reject) => {
    worker.once("message", (latencies: number[]) => resolve(latencies.sort((a, b) => a - b)));
    worker.once("error", reject);
  });
  return {
    stop: async () => {
      worker.postMessage("stop");
      const latencies = await done;
      await worker.terminate();
      return latencies;
    },
  };
}

const p99 = (sorted: readonly number[]) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];

/** A POST whose answer is counted, not kept (the client must not be what stalls this process). */
function drain(url: string, body: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent: false,
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
      },
      (res) => {
        let bytes = 0;
        res.on("data", (c: Buffer) => (bytes += c.length));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

test("a status request's p99 stays under 100 ms while 8 maximum-size predicts run", async () => {
  // The real server (`tpu-embedding demo`) in its own process, as clients see it; default limits but a
  // long memory wait, so every predict waits its turn in the in-flight budget rather than getting a 429.
  const dir = mkdtempSync(join(tmpdir(), "tpu-embedding-responsive-"));
  const running = await spawnCli([
    "demo",
    "--dir",
    dir,
    "--port",
    "0",
    "--memory-wait-ms",
    "120000",
    "--request-timeout-ms",
    "120000",
    "--log-level",
    "error",
  ]);
  try {
    const url = `${running.url}/v1/models/${DEMO_MODEL_NAME}:predict`;
    // The demo's "watched" feature: table "video", dim 8 (as the cost model sees it).
    const watched = {
      name: "watched",
      table: "video",
      vocabularySize: 1000,
      dim: 8,
      combiner: "mean" as const,
      maxSequenceLength: 0,
      outputShape: null,
    };
    const bodyOf = (rows: number) =>
      JSON.stringify({
        inputs: {
          watched: {
            indices: Array.from({ length: 64 }, (_, i) => [Math.floor((i * rows) / 64), i % 2]),
            values: Array.from({ length: 64 }, (_, i) => (i * 37) % 1000),
            dense_shape: [rows, 2],
          },
        },
      });
    const costOf = (rows: number) => {
      const input = {
        kind: "sparse" as const,
        ids: new Int32Array(64),
        indices: new BigInt64Array(128),
        denseShape: [rows, 2],
        weights: null,
      };
      return Buffer.byteLength(bodyOf(rows)) + featureCost(watched, input, true).bytes;
    };
    // The most rows the default per-request budget admits.
    let lo = 1;
    let hi = 1 << 24;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (costOf(mid) <= DEFAULT_LIMITS.maxRequestBytes) lo = mid;
      else hi = mid - 1;
    }
    const body = bodyOf(lo);
    assert.equal((await drain(url, bodyOf(lo + 1))).status, 400, "one more row is over the budget");
    assert.equal((await drain(url, body)).status, 200);

    const statusUrl = `${running.url}/v1/models/${DEMO_MODEL_NAME}`;
    const idlePoll = statusLatencies(statusUrl);
    await new Promise((r) => setTimeout(r, 2000));
    const idle = await idlePoll.stop();
    const poll = statusLatencies(statusUrl);
    const t0 = performance.now();
    const replies = await Promise.all(Array.from({ length: PREDICTS }, () => drain(url, body)));
    const seconds = (performance.now() - t0) / 1000;
    const latencies = await poll.stop();
    for (const r of replies) assert.equal(r.status, 200);
    const idleMax = idle[idle.length - 1];
    const bound =
      process.env.RESPONSIVENESS_STRICT === "1" ? 100 : Math.max(100, 20 * p99(idle), 1.5 * idleMax);
    console.log(
      `# ${PREDICTS} predicts of ${lo} rows (${replies[0].bytes} bytes each) in ${seconds.toFixed(1)} s; ` +
        `status p50 ${latencies[Math.floor(latencies.length / 2)].toFixed(1)} ms, p99 ${p99(latencies).toFixed(1)} ms ` +
        `over ${latencies.length} (idle: p99 ${p99(idle).toFixed(1)}, max ${idleMax.toFixed(1)} ms) → bound ${bound.toFixed(0)} ms`,
    );
    assert.ok(latencies.length >= 10, `only ${latencies.length} status requests`);
    assert.ok(p99(latencies) <= bound, `status p99 ${p99(latencies).toFixed(1)} ms > ${bound.toFixed(0)} ms`);
  } finally {
    running.proc.kill("SIGTERM");
    await running.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
