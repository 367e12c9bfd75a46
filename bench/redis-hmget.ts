/**
 * The HMGET comparison of `npm run bench:redis` (redis-bench.ts), in a fresh process as a serving process
 * would run it: for each master, redis-benchmark (`-c 1 -P 32`) and this package's client (node-redis,
 * the cluster client every part of src/redis uses, 32 commands in flight) send the same HMGET (same key,
 * fields and value size), five alternating rounds; medians. The client is warmed up first (one second
 * against each master), as a serving process is: its first round otherwise measures the JIT compiling the
 * reply parser. One JSON line per master and a summary.
 *
 *   node dist/bench/redis-hmget.js <spec.json>   (written by redis-bench.ts: url, targets, valueBytes)
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { BINARY, connectCluster } from "../src/redis/cluster-client.js";

interface Spec {
  readonly url: string;
  readonly valueBytes: number;
  readonly targets: readonly { master: number; port: number; key: string; fields: string[] }[];
}

const spec = JSON.parse(readFileSync(process.argv[2], "utf8")) as Spec;
const inFlight = 32;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const print = (line: Record<string, unknown>) => console.log(JSON.stringify(line));

function redisBenchmark(port: number, args: string[], requests: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn("redis-benchmark", [
      "-p",
      String(port),
      "-c",
      "1",
      "-P",
      String(inFlight),
      "-n",
      String(requests),
      "--csv",
      ...args,
    ]);
    let text = "";
    child.stdout.on("data", (d: Buffer) => (text += d.toString()));
    child.on("exit", () => resolve(Number(/"HMGET[^"]*","([\d.]+)"/.exec(text)?.[1] ?? "NaN")));
  });
}

const client = await connectCluster({ url: spec.url });

/** Replies per second of HMGET `args` with `inFlight` commands outstanding, for `ms` milliseconds. */
async function clientRate(key: string, args: string[], fields: number, ms: number): Promise<number> {
  let replies = 0;
  const t0 = performance.now();
  const deadline = t0 + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        const reply = (await client.sendCommand(key, true, args, BINARY)) as unknown as unknown[];
        if (reply.length !== fields) throw new Error("short HMGET reply");
        replies++;
      }
    }),
  );
  return (replies * fields) / ((performance.now() - t0) / 1000);
}

let benchTotal = 0;
let clientTotal = 0;
let fields = 0;
try {
  for (const { key, fields: picked } of spec.targets) {
    await clientRate(key, ["HMGET", key, ...picked], picked.length, 1000);
  }
  for (const { master, port, key, fields: picked } of spec.targets) {
    fields = picked.length;
    const args = ["HMGET", key, ...picked];
    const requests = Math.max(5000, Math.round(1_000_000 / fields));
    const benchRates: number[] = [];
    const clientRates: number[] = [];
    for (let round = 0; round < 5; round++) {
      benchRates.push((await redisBenchmark(port, args, requests)) * fields);
      clientRates.push(await clientRate(key, args, fields, 1000));
    }
    benchTotal += median(benchRates);
    clientTotal += median(clientRates);
    print({
      kind: "hmget",
      master,
      fields_per_hmget: fields,
      value_bytes: spec.valueBytes,
      in_flight: inFlight,
      redis_benchmark_rows_per_s: Math.round(median(benchRates)),
      client_rows_per_s: Math.round(median(clientRates)),
      client_ratio: Number((median(clientRates) / median(benchRates)).toFixed(3)),
      rounds: { redis_benchmark: benchRates.map(Math.round), client: clientRates.map(Math.round) },
    });
  }
  print({
    kind: "hmget-summary",
    fields_per_hmget: fields,
    redis_benchmark_rows_per_s: Math.round(benchTotal),
    client_rows_per_s: Math.round(clientTotal),
    client_ratio: Number((clientTotal / benchTotal).toFixed(3)),
    note: "sum over masters of per-master medians; the client in a fresh process, one master at a time",
  });
} finally {
  await client.close();
}
