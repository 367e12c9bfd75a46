import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { startCluster } from "./redis-cluster.js";

test("the test harness starts a real 3-master Redis Cluster (all 16384 slots served) and removes it after", async () => {
  const cluster = await startCluster({ masters: 3 });
  let pids: number[] = [];
  try {
    assert.equal(cluster.masterPorts().length, 3);
    const info = spawnSync("redis-cli", ["-p", String(cluster.nodes[0].port), "cluster", "info"], {
      encoding: "utf8",
    }).stdout;
    assert.match(info, /cluster_state:ok/);
    assert.match(info, /cluster_slots_assigned:16384/);
    assert.match(info, /cluster_size:3/);
    pids = cluster.nodes.map((n) => n.proc!.pid!);
  } finally {
    cluster.stop();
  }
  assert.equal(existsSync(cluster.dir), false);
  await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), "every redis-server is gone");
});
