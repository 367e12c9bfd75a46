import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { CLI, spawnCli, type Running } from "../cli/helpers.js";
import { tempDir } from "../serving/model/helpers.js";
import { seededRandom } from "../support/seeded-random.js";
import { VOCAB } from "../embedding/every-kind.js";
import { writeEveryKindVersion } from "./fixtures.js";
import { startCluster, type TestCluster } from "./redis-cluster.js";

let cluster: TestCluster;
let local: Running;
let redis: Running;
const base = tempDir();

before(async () => {
  cluster = await startCluster({ masters: 3 });
  await writeEveryKindVersion(base, 1);
  const published = spawnSync(
    process.execPath,
    [CLI, "publish", `${base}/1`, "--redis", cluster.url, "--model-name", "every"],
    { encoding: "utf8" },
  );
  assert.equal(published.status, 0, published.stderr);
  const line = JSON.parse(published.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  assert.equal(line.event, "published");
  assert.equal(line.version, 1);
  assert.equal(line.rows, 7 * VOCAB);
  [local, redis] = await Promise.all([
    spawnCli(["serve", "--model-name", "every", "--model-base-path", base, "--port", "0", "--no-grpc"]),
    spawnCli([
      "serve",
      "--model-name",
      "every",
      "--redis",
      cluster.url,
      "--port",
      "0",
      "--no-grpc",
      "--cache-bytes",
      "20000",
    ]),
  ]);
});
after(() => {
  local?.proc.kill("SIGKILL");
  redis?.proc.kill("SIGKILL");
  cluster?.stop();
});

async function predict(server: Running, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}/v1/models/every:predict`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

function randomBody(seed: number, batch: number) {
  const { int, rand } = seededRandom(seed);
  const bag = (n: number) => Array.from({ length: int(n + 1) }, () => int(VOCAB));
  return {
    instances: Array.from({ length: batch }, () => {
      const ids = bag(10);
      return {
        sum: bag(12),
        mean: { ids, weights: ids.map(() => Math.fround(rand() * 2)) },
        sqrtn: bag(20),
        seq: bag(9),
        dense: [int(VOCAB), int(VOCAB), int(VOCAB)],
        sparse: bag(8),
        sparseSeq: bag(9),
      };
    }),
  };
}

test("serve --redis answers predict requests byte-identically to the same model served from local tables", async () => {
  for (const [seed, batch] of [
    [1, 1],
    [2, 7],
    [3, 64],
    [4, 200],
  ]) {
    const body = randomBody(seed, batch);
    // Twice: the second answer comes partly from the hot-row cache.
    for (let round = 0; round < 2; round++) {
      const [a, b] = await Promise.all([predict(local, body), predict(redis, body)]);
      assert.equal(a.status, 200, a.text);
      assert.equal(b.status, a.status);
      assert.equal(b.text, a.text, `seed ${seed} batch ${batch} round ${round}`);
    }
  }
  // Columnar form and an out-of-range id (TF's 400 with the same message).
  const columnar = {
    inputs: {
      sum: [[1, 2, 3], [299]],
      dense: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    },
  };
  const bad = { instances: [{ sum: [1, VOCAB] }] };
  for (const body of [columnar, bad]) {
    const [a, b] = await Promise.all([predict(local, body), predict(redis, body)]);
    assert.equal(b.status, a.status);
    assert.equal(b.text, a.text);
  }
  assert.equal((await predict(redis, bad)).status, 400);

  const metrics = await (await fetch(`${redis.url}/monitoring/prometheus/metrics`)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name}\\{model="every"\\} (\\S+)$`, "m").exec(metrics)?.[1] ?? "NaN");
  assert.ok(value("tpu_embedding_row_cache_hits_total") > 0, "cache hits counted");
  assert.ok(value("tpu_embedding_row_cache_misses_total") > 0, "misses counted");
  assert.ok(value("tpu_embedding_row_cache_bytes") > 0 && value("tpu_embedding_row_cache_bytes") <= 20000);
  assert.equal(
    new Set([...metrics.matchAll(/^tpu_embedding_redis_commands_total\{node="([^"]+)"\}/gm)].map((m) => m[1]))
      .size,
    3,
    "HMGETs went to all 3 masters",
  );
});
