import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A real Redis Cluster for tests and benchmarks: `masters` cluster-enabled `redis-server` processes (plus
 * `replicas` per master) on free ports in a temporary directory, joined with `redis-cli --cluster create`,
 * ready once every node reports `cluster_state:ok`. No persistence (a restarted node comes back empty,
 * keeping only its nodes.conf, so it rejoins the cluster). Every process is killed and the directory
 * removed by `stop()`, and also when this process exits, whatever the tests did.
 */
export interface TestCluster {
  /** `redis://127.0.0.1:<port>` of the first node (a client discovers the rest). */
  readonly url: string;
  readonly nodes: readonly TestNode[];
  readonly dir: string;
  /**
   * Ports of the current masters that serve slots (asks the cluster). A node still becoming a replica, or
   * a master whose slots all moved away, is listed as a master without slots: killing it changes nothing.
   */
  masterPorts(): number[];
  /**
   * Waits until every master serving slots has a replica online that acknowledged all of the master's
   * writes so far (Redis replicates asynchronously: a master killed earlier takes what its replica has not
   * received with it).
   */
  waitForReplicas(timeoutMs?: number): Promise<void>;
  /** SIGKILL one node (its port). */
  kill(port: number): void;
  /** Starts a killed node again (empty: no persistence) and waits until it answers PING. */
  restart(port: number): Promise<void>;
  /** Waits until every running node reports cluster_state:ok. */
  waitOk(timeoutMs?: number): Promise<void>;
  stop(): void;
}

export interface TestNode {
  readonly port: number;
  proc: ChildProcess | null;
}

const live = new Set<TestCluster>();
process.on("exit", () => {
  for (const cluster of live) cluster.stop();
});

export function redisAvailable(): boolean {
  return spawnSync("redis-server", ["--version"]).status === 0;
}

/** One free TCP port whose cluster bus port (+10000) is free too. */
async function freePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await listenOnce(0);
    if (port > 55_000 || taken.has(port)) continue;
    if ((await listenOnce(port + 10_000)) === -1) continue;
    taken.add(port);
    return port;
  }
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(-1));
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const got = typeof address === "object" && address !== null ? address.port : -1;
      server.close(() => resolve(got));
    });
  });
}

function cli(port: number, ...args: string[]): string {
  const out = spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8", timeout: 10_000 });
  return out.stdout ?? "";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startCluster(
  options: { masters?: number; replicas?: number } = {},
): Promise<TestCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 0;
  const dir = mkdtempSync(join(tmpdir(), "tpu-embedding-redis-"));
  const taken = new Set<number>();
  const nodes: TestNode[] = [];
  for (let i = 0; i < masters * (1 + replicas); i++) nodes.push({ port: await freePort(taken), proc: null });

  const launch = (node: TestNode): void => {
    const proc = spawn(
      "redis-server",
      [
        "--port",
        String(node.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${node.port}.conf`,
        "--cluster-node-timeout",
        "1500",
        "--save",
        "",
        "--appendonly",
        "no",
        // Replicas sync at once (the default waits 5 s for more replicas), so a failover finds them in sync.
        "--repl-diskless-sync-delay",
        "0",
        "--protected-mode",
        "no",
        "--logfile",
        join(dir, `redis-${node.port}.log`),
      ],
      { stdio: "ignore" },
    );
    node.proc = proc;
    proc.once("exit", () => {
      if (node.proc === proc) node.proc = null;
    });
  };

  const waitPing = async (port: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if (cli(port, "ping").trim() === "PONG") return;
      await sleep(25);
    }
    throw new Error(`redis-server on port ${port} did not answer PING`);
  };

  const cluster: TestCluster = {
    url: `redis://127.0.0.1:${nodes[0].port}`,
    nodes,
    dir,
    masterPorts() {
      const ports = new Set<number>();
      for (const node of nodes) {
        if (node.proc === null) continue;
        for (const line of cli(node.port, "cluster", "nodes").split("\n")) {
          const f = line.split(" ");
          // Fields 8 and on are the node's slot ranges.
          const serving = f.length > 8 && f[8] !== "";
          if (serving && f[2].includes("master") && !f[2].includes("fail") && !f[7]?.startsWith("dis"))
            ports.add(Number(f[1].split(":")[1].split("@")[0]));
        }
        break;
      }
      return [...ports].sort((a, b) => a - b);
    },
    async waitForReplicas(timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      for (const port of cluster.masterPorts()) {
        // The master's write offset now; `WAIT` from a fresh connection would wait only for its own writes.
        const offset = (info: string) => Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? NaN);
        const target = offset(cli(port, "info", "replication"));
        for (;;) {
          const info = cli(port, "info", "replication");
          const acked = [...info.matchAll(/^slave\d+:.*state=online,offset=(\d+)/gm)].map((m) =>
            Number(m[1]),
          );
          if (acked.some((a) => a >= target)) break;
          if (Date.now() > end)
            throw new Error(`the replica of master ${port} did not reach offset ${target}:\n${info}`);
          await sleep(50);
        }
      }
    },
    kill(port) {
      const node = nodes.find((n) => n.port === port);
      node?.proc?.kill("SIGKILL");
      if (node) node.proc = null;
    },
    async restart(port) {
      const node = nodes.find((n) => n.port === port)!;
      launch(node);
      await waitPing(port);
    },
    async waitOk(timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const ok = nodes.every(
          (n) => n.proc === null || cli(n.port, "cluster", "info").includes("cluster_state:ok"),
        );
        if (ok) return;
        if (Date.now() > end) throw new Error("Redis Cluster did not reach cluster_state:ok");
        await sleep(50);
      }
    },
    stop() {
      for (const node of nodes) {
        node.proc?.kill("SIGKILL");
        node.proc = null;
      }
      rmSync(dir, { recursive: true, force: true });
      live.delete(cluster);
    },
  };
  live.add(cluster);
  try {
    for (const node of nodes) launch(node);
    for (const node of nodes) await waitPing(node.port);
    const create = spawnSync(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await cluster.waitOk();
    // Every node must know every other before clients discover the topology from any of them.
    for (let i = 0; i < 200; i++) {
      const known = nodes.every(
        (n) =>
          cli(n.port, "cluster", "nodes")
            .split("\n")
            .filter((l) => l.includes("connected")).length === nodes.length,
      );
      if (known) break;
      await sleep(25);
    }
    // Replicas: wait until each has finished its first sync with its master.
    if (replicas > 0) {
      for (let i = 0; i < 400; i++) {
        const linked = nodes.filter((n) =>
          cli(n.port, "info", "replication").includes("master_link_status:up"),
        );
        if (linked.length === masters * replicas) break;
        await sleep(25);
      }
    }
    return cluster;
  } catch (e) {
    cluster.stop();
    throw e;
  }
}
