/**
 * Memory under a long mixed load (`npm run bench:memory`; issue 14): the real demo server
 * (`tpu-embedding demo`) in a child process, a warm-up of mixed requests, then `--requests` (default
 * 50,000) more: valid JSON in row and columnar forms, binary bodies, malformed bodies, bodies over the
 * budgets and now and then a big answer, `--connections` at a time. Prints the server's RSS (from
 * /proc/<pid>/status) after the warm-up and every 10 %, one JSON line at the end, and exits 1 when the
 * RSS at the end exceeds 1.5 × the RSS after the warm-up.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BINARY_CONTENT_TYPE } from "../src/index.js";
import { encodeBinaryRequest } from "../src/serving/binary/request-codec.js";
import type { FeatureInput } from "../src/serving/batching/feature-input.js";
import { arg } from "./workload.js";

const REQUESTS = Number(arg("requests", "50000"));
const WARMUP = Number(arg("warmup", "3000"));
const CONNECTIONS = Number(arg("connections", "16"));
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

let seed = 12345;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 4294967296;
};
const int = (n: number) => Math.floor(rand() * n);
const bag = (vocab: number) => Array.from({ length: 1 + int(5) }, () => int(vocab));

/** One request of the mix: [body, content type]. */
function nextRequest(): [string | Uint8Array, string] {
  const roll = rand();
  const rows = 1 + int(64);
  if (roll < 0.35) {
    // columnar JSON, every form
    return [
      JSON.stringify({
        inputs: {
          watched: Array.from({ length: rows }, () => bag(1000)),
          friends: {
            ids: Array.from({ length: rows }, () => [int(100)]),
            weights: Array.from({ length: rows }, () => [0.5]),
          },
          favorited: {
            indices: [
              [0, 0],
              [rows - 1, 2],
            ],
            values: [int(1000), int(1000)],
            dense_shape: [rows, 5],
          },
          country: { dense: Array.from({ length: rows }, () => int(50)) },
        },
      }),
      "application/json",
    ];
  }
  if (roll < 0.6) {
    return [
      JSON.stringify({
        instances: Array.from({ length: rows }, () => ({
          watched: bag(1000),
          favorited: bag(1000),
          friends: bag(100),
          country: int(50),
        })),
      }),
      "application/json",
    ];
  }
  if (roll < 0.8) {
    const ids = Int32Array.from({ length: rows * 3 }, () => int(1000));
    const splits = Int32Array.from({ length: rows + 1 }, (_, i) => 3 * i);
    const inputs = new Map<string, FeatureInput>([
      ["watched", { kind: "ragged", ids, rowSplits: splits, weights: null }],
      ["country", { kind: "dense", ids: Int32Array.from({ length: rows }, () => int(50)), shape: [rows] }],
    ]);
    return [encodeBinaryRequest(inputs), BINARY_CONTENT_TYPE];
  }
  if (roll < 0.95) {
    // malformed or over a budget
    return [
      rand() < 0.5
        ? `{"inputs":{"watched":{"indices":[],"values":[],"dense_shape":[${2 ** 31 - 1},0,5]}}}`
        : `{"inputs":{"watched":[[${int(5000)}]], "nope": 1}`,
      "application/json",
    ];
  }
  // a big answer: 20k-200k rows of a sparse input
  const big = 20_000 + int(180_000);
  return [
    JSON.stringify({ inputs: { watched: { indices: [[0, 0]], values: [1], dense_shape: [big, 2] } } }),
    "application/json",
  ];
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

function send(url: string, body: string | Uint8Array, type: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", agent, headers: { "Content-Type": type, "Content-Length": Buffer.byteLength(body) } },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function run(url: string, count: number, statuses: Map<number, number>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < count) {
        next++;
        const [body, type] = nextRequest();
        const status = await send(url, body, type);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), "tpu-embedding-memory-bench-"));
const child = spawn(process.execPath, [CLI, "demo", "--dir", dir, "--port", "0", "--log-level", "error"], {
  stdio: ["ignore", "pipe", "inherit"],
});
try {
  const base = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (c: string) => {
      out += c;
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  const url = `${base}/v1/models/demo:predict`;
  const statuses = new Map<number, number>();
  const t0 = performance.now();
  await run(url, WARMUP, statuses);
  const warm = rssMiB(child.pid!);
  console.error(`after ${WARMUP} warm-up requests: RSS ${warm.toFixed(0)} MiB`);
  let peak = warm;
  const step = Math.ceil(REQUESTS / 10);
  for (let done = 0; done < REQUESTS; done += step) {
    await run(url, Math.min(step, REQUESTS - done), statuses);
    const rss = rssMiB(child.pid!);
    peak = Math.max(peak, rss);
    console.error(`after ${done + Math.min(step, REQUESTS - done)} requests: RSS ${rss.toFixed(0)} MiB`);
  }
  const end = rssMiB(child.pid!);
  const result = {
    bench: "memory",
    requests: REQUESTS,
    warmup: WARMUP,
    connections: CONNECTIONS,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    statuses: Object.fromEntries(statuses),
    rssAfterWarmupMiB: Math.round(warm),
    rssPeakMiB: Math.round(peak),
    rssEndMiB: Math.round(end),
    ratio: Math.round((end / warm) * 100) / 100,
  };
  console.log(JSON.stringify(result));
  if (statuses.has(500) || result.ratio > 1.5) process.exitCode = 1;
} finally {
  child.kill("SIGTERM");
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
}
