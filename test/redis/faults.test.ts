import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import calculateSlot from "cluster-key-slot";
import { connectCluster, masterMap, type BinaryCluster } from "../../src/redis/cluster-client.js";
import { fieldOf, partitionOf } from "../../src/redis/layout.js";
import { publishVersion, readManifest } from "../../src/redis/publish.js";
import { spawnCli, type Running } from "../cli/helpers.js";
import { tempDir } from "../serving/model/helpers.js";
import { writeEveryKindVersion } from "./fixtures.js";
import { startCluster, type TestCluster } from "./redis-cluster.js";

let cluster: TestCluster;
let client: BinaryCluster;
let server: Running;
const base = tempDir();
const REQUEST_TIMEOUT_MS = 5000;

const publish = () =>
  publishVersion(client, {
    model: "f",
    version: 1,
    prefix: join(base, "1", "ckpt-1"),
    featureConfigPath: join(base, "1", "features.json"),
  });

before(async () => {
  cluster = await startCluster({ masters: 3 });
  client = await connectCluster({ url: cluster.url });
  await writeEveryKindVersion(base, 1);
  await publish();
  server = await spawnCli([
    "serve",
    "--model-name",
    "f",
    "--redis",
    // Every node listed: the server can start and rediscover while any one is down.
    cluster.nodes.map((n) => `redis://127.0.0.1:${n.port}`).join(","),
    "--port",
    "0",
    "--no-grpc",
    "--cache-bytes",
    "0",
    "--redis-timeout-ms",
    "800",
    "--request-timeout-ms",
    String(REQUEST_TIMEOUT_MS),
  ]);
});
after(async () => {
  server?.proc.kill("SIGKILL");
  await client?.close().catch(() => undefined);
  cluster?.stop();
});

// Every id of table t_sum: rows on every master.
const ALL = { instances: [{ sum: Array.from({ length: 300 }, (_, i) => i) }] };
const ONE = (id: number) => ({ instances: [{ sum: [id] }] });

async function predict(body: unknown): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${server.url}/v1/models/f:predict`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), ms: performance.now() - started };
}

test("a row missing from a complete version is DATA_LOSS (500) naming the table and id, never zeros", async () => {
  const manifest = (await readManifest(client, "f", 1))!;
  const t = manifest.tables.findIndex((x) => x.name === "t_sum");
  const key = manifest.partitions[partitionOf(t, 42, manifest.partitions.length)];
  const saved = (await client.hGet(key, fieldOf(t, 42)))!;
  await client.hDel(key, fieldOf(t, 42));
  try {
    const res = await predict(ONE(42));
    assert.equal(res.status, 500);
    const error = (JSON.parse(res.text) as { error: string }).error;
    assert.match(error, /Table "t_sum", id 42: the row is missing from model f version 1/);
  } finally {
    await client.hSet(key, fieldOf(t, 42), saved);
  }
  assert.equal((await predict(ONE(42))).status, 200);
});

test("a killed master: 503 with TF Serving's error body within the request timeout; the server stays up and recovers after the master returns and the version is re-published", async () => {
  const healthy = await predict(ALL);
  assert.equal(healthy.status, 200, healthy.text);

  // The master owning id 0's partition of t_sum.
  const manifest = (await readManifest(client, "f", 1))!;
  const t = manifest.tables.findIndex((x) => x.name === "t_sum");
  const { masters, ownerOfSlot } = masterMap(client);
  const victim = Number(
    masters[
      ownerOfSlot[calculateSlot(manifest.partitions[partitionOf(t, 0, manifest.partitions.length)])]
    ].split(":")[1],
  );
  cluster.kill(victim);

  for (let i = 0; i < 3; i++) {
    const res = await predict(ALL);
    assert.equal(res.status, 503, res.text);
    const body = JSON.parse(res.text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ["error"], 'TF Serving\'s error body: {"error": message}');
    assert.match(body.error as string, /Redis node .*(failed|did not answer)/);
    assert.ok(res.ms < REQUEST_TIMEOUT_MS, `answered in ${res.ms} ms`);
  }
  // The server is up: its status and metrics answer.
  assert.equal((await fetch(`${server.url}/v1/models/f`)).status, 200);

  // The master comes back empty (no persistence): still 503 (its partitions lost their sentinel), never zeros.
  await cluster.restart(victim);
  await cluster.waitOk();
  let res = await retry(async () => {
    const r = await predict(ALL);
    return /lost its data/.test(r.text) ? r : null;
  });
  assert.equal(res.status, 503);
  assert.match(res.text, /re-publish the version/);

  // Re-publishing the same version restores the rows; the same server answers exactly as before.
  await publish();
  res = await retry(async () => {
    const r = await predict(ALL);
    return r.status === 200 ? r : null;
  });
  assert.equal(res.text, healthy.text);

  const metrics = await (await fetch(`${server.url}/monitoring/prometheus/metrics`)).text();
  assert.match(
    metrics,
    /tpu_embedding_redis_failures_total\{node="127\.0\.0\.1:\d+",code="UNAVAILABLE"\} [1-9]/,
  );
});

async function retry<T>(attempt: () => Promise<T | null>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = await attempt();
    if (got !== null) return got;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}
