import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { connectCluster, type BinaryCluster } from "../../src/redis/cluster-client.js";
import { openRedisEmbedding, type RedisEmbedding } from "../../src/redis/open-redis-embedding.js";
import { publishVersion } from "../../src/redis/publish.js";
import { UnavailableError, type DenseTensor, type TPUEmbeddingForServing } from "../../src/index.js";
import { assertSameBits, inputs } from "../embedding/every-kind.js";
import { tempDir } from "../serving/model/helpers.js";
import { writeEveryKindVersion } from "./fixtures.js";
import { startCluster, type TestCluster } from "./redis-cluster.js";

let cluster: TestCluster;
let client: BinaryCluster;
let remote: RedisEmbedding;
let local: TPUEmbeddingForServing;

before(async () => {
  cluster = await startCluster({ masters: 3, replicas: 1 });
  client = await connectCluster({ url: cluster.url });
  const written = await writeEveryKindVersion(tempDir(), 1);
  local = written.embedding;
  await publishVersion(client, {
    model: "fo",
    version: 1,
    prefix: join(written.dir, "ckpt-1"),
    featureConfigPath: join(written.dir, "features.json"),
  });
  await cluster.waitForReplicas();
  remote = await openRedisEmbedding({
    url: cluster.nodes.map((n) => `redis://127.0.0.1:${n.port}`).join(","),
    model: "fo",
    cacheBytes: 0,
    timeoutMs: 800,
  });
});
after(async () => {
  await remote?.close().catch(() => undefined);
  await client?.close().catch(() => undefined);
  cluster?.stop();
});

async function lookupMatches(batch: number): Promise<void> {
  const { features, weights } = inputs(batch);
  const want = local.embeddingLookup(features, weights) as Record<string, DenseTensor>;
  const got = (await remote.embedding.embeddingLookupAsync(features, weights)) as Record<string, DenseTensor>;
  assertSameBits(got, want, `batch ${batch}`);
}

async function eventually(what: string, attempt: () => Promise<void>, ms = 30_000): Promise<number> {
  const end = Date.now() + ms;
  let failures = 0;
  for (;;) {
    try {
      await attempt();
      return failures;
    } catch (e) {
      // Only UNAVAILABLE is acceptable while the cluster fails over: never wrong bits, never another error.
      if (!(e instanceof UnavailableError)) throw e;
      failures++;
      if (Date.now() > end) throw new Error(`${what}: still failing: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

test("resharding: slots moved to another master while serving; MOVED/ASK redirects are followed, answers unchanged", async () => {
  await lookupMatches(64);
  // Masters that own slots, as the entry node sees them now (right after the cluster starts, a node that
  // is becoming a replica may still be listed as a master without slots).
  const mastersWithSlots = () =>
    spawnSync("redis-cli", ["-p", String(cluster.masterPorts()[0]), "cluster", "nodes"], { encoding: "utf8" })
      .stdout.split("\n")
      .map((l) => l.trim().split(" "))
      .filter((f) => f.length > 8 && f[2].includes("master") && !f[2].includes("fail"))
      .map((f) => f[0]);
  // redis-cli refuses to reshard until every node agrees on the slot map (gossip settles for a moment
  // after the cluster starts, or after the previous test's changes): wait for `--cluster check`, retry.
  const entry = `127.0.0.1:${cluster.masterPorts()[0]}`;
  const run = (args: string[]) => spawnSync("redis-cli", args, { encoding: "utf8", timeout: 60_000 });
  const deadline = Date.now() + 30_000;
  let reshard = run(["--version"]);
  for (;;) {
    const masters = mastersWithSlots();
    if (masters.length >= 2 && run(["--cluster", "check", entry]).status === 0) {
      reshard = run([
        "--cluster",
        "reshard",
        entry,
        "--cluster-from",
        masters[0],
        "--cluster-to",
        masters[1],
        "--cluster-slots",
        "500",
        "--cluster-yes",
      ]);
      if (reshard.status === 0) break;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(reshard.status, 0, `redis-cli --cluster reshard: ${reshard.stdout}\n${reshard.stderr}`);
  // The client still holds the old slot map: its first commands get MOVED and are redirected.
  await lookupMatches(64);
  await lookupMatches(300);
});

test("failover: a killed master's replica is promoted; lookups fail with UNAVAILABLE meanwhile, then answer the same bits with no re-publish", async () => {
  // The resharding above migrated rows to another master: its replica must hold them before the kill.
  await cluster.waitForReplicas();
  const victim = cluster.masterPorts()[0];
  cluster.kill(victim);
  const failures = await eventually("failover", async () => {
    await lookupMatches(300);
  });
  assert.ok(failures >= 1, "the lookups right after the kill failed (UNAVAILABLE)");
  await cluster.waitOk();
  await lookupMatches(64);
  assert.ok(!cluster.masterPorts().includes(victim), "a replica took over the killed master's slots");
});
