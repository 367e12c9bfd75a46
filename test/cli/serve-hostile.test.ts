import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { CLI, type Running } from "./helpers.js";
import { tempDir, writeVersion } from "../serving/model/helpers.js";

/**
 * Issue 20 against the real CLI process: SIGTERM under keep-alive load answers every request that
 * reaches an open connection and resets none; and under 1,000 slow-header plus 1,000 slow-body
 * connections from one address, with the server at a 1,024-descriptor limit, another client is served.
 */

const BODY = JSON.stringify({ inputs: { watched: [[2, 5], [7]], "user/friends": [[1, 3], []] } });

/** Spawns `serve` on a fresh model, optionally under `prlimit --nofile=<fds>`. */
async function serveModel(extra: string[] = [], fds?: number): Promise<Running> {
  const base = tempDir();
  await writeVersion(base, 1);
  const args = [CLI, "serve", "--model-name", "rank", "--model-base-path", base, "--port", "0", ...extra];
  const proc =
    fds === undefined
      ? spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
      : spawn("prlimit", [`--nofile=${fds}:${fds}`, process.execPath, ...args], {
          stdio: ["ignore", "pipe", "pipe"],
        });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    let nl;
    while ((nl = stderr.indexOf("\n")) >= 0) {
      const line = stderr.slice(0, nl);
      stderr = stderr.slice(nl + 1);
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ text: line });
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const m = /at (http:\/\/\S+)/.exec(stdout);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${JSON.stringify(logs)}`)));
  });
  return { proc, url, logs, exited };
}

function post(
  url: string,
  agent: Agent | false,
  localAddress?: string,
): Promise<{ status: number; close: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/models/rank:predict`,
      {
        method: "POST",
        agent,
        localAddress,
        headers: { "Content-Type": "application/json", "Content-Length": BODY.length },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, close: res.headers.connection === "close" }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(BODY);
  });
}

test(
  "SIGTERM under keep-alive load: exit 0, every request answered, none reset",
  { timeout: 60_000 },
  async () => {
    for (let round = 0; round < 2; round++) {
      const server = await serveModel(["--threads", "1"]);
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      const stats = { ok: 0, other: 0, close: 0, refused: 0, failures: [] as string[] };
      const loops = Array.from({ length: 8 }, async () => {
        for (;;) {
          try {
            const reply = await post(server.url, agent);
            if (reply.status === 200) stats.ok++;
            else stats.other++;
            if (reply.close) stats.close++;
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === "ECONNREFUSED") stats.refused++;
            else stats.failures.push(`${code}: ${(e as Error).message}`);
            return;
          }
        }
      });
      try {
        while (stats.ok < 200) await sleep(5);
        server.proc.kill("SIGTERM");
        assert.equal(await server.exited, 0);
        await Promise.all(loops);
      } finally {
        agent.destroy();
        server.proc.kill("SIGKILL");
      }
      assert.deepEqual(stats.failures, [], `round ${round}: ${JSON.stringify(stats)}`);
      assert.equal(stats.other, 0);
      assert.equal(stats.refused, 8, JSON.stringify(stats));
      assert.ok(stats.close >= 1, JSON.stringify(stats));
      assert.ok(server.logs.some((l) => l.event === "shutdown-done"));
    }
  },
);

/** A connection from 127.0.0.1 that sends `data` and then nothing, never reading; reopened when cut. */
function attacker(
  port: number,
  data: string,
  stop: { stopped: boolean },
  sockets: Set<Socket>,
): Promise<void> {
  return new Promise((resolve) => {
    const open = () => {
      if (stop.stopped) return resolve();
      const socket = connect({ host: "127.0.0.1", port, localAddress: "127.0.0.1", allowHalfOpen: true });
      sockets.add(socket);
      socket.on("error", () => {});
      socket.once("connect", () => {
        socket.pause();
        socket.write(data);
      });
      socket.once("close", () => {
        sockets.delete(socket);
        setTimeout(open, 1000); // a persistent attacker comes back
      });
    };
    open();
  });
}

test(
  "1,000 slow-header and 1,000 slow-body connections at a 1,024-descriptor limit: another client is still served",
  { timeout: 120_000 },
  async (t) => {
    const server = await serveModel([], 1024);
    const port = Number(new URL(server.url).port);
    const stop = { stopped: false };
    const sockets = new Set<Socket>();
    const attacks: Promise<void>[] = [];
    try {
      // The server's own descriptor limit as it sees it.
      const listening = server.logs.find((l) => l.event === "server-listening") as
        { limits: { maxConnections: number; maxConnectionsPerClient: number } } | undefined;
      assert.deepEqual(
        [listening?.limits.maxConnections, listening?.limits.maxConnectionsPerClient],
        [896, 224],
      );
      const halfHeader = "POST /v1/models/rank:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le";
      const slowBody =
        `POST /v1/models/rank:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${BODY.length}\r\n\r\n${BODY.slice(0, 10)}`;
      for (let i = 0; i < 1000; i++) {
        attacks.push(attacker(port, halfHeader, stop, sockets), attacker(port, slowBody, stop, sockets));
      }
      await sleep(2_000);
      // Another client (127.0.0.2) during the attack: every request answered.
      const during: number[] = [];
      let slowest = 0;
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        during.push((await post(server.url, false, "127.0.0.2")).status);
        slowest = Math.max(slowest, performance.now() - started);
      }
      assert.deepEqual(during, new Array(20).fill(200));
      t.diagnostic(`slowest of 20 predicts during the attack: ${slowest.toFixed(1)} ms`);
      stop.stopped = true;
      for (const s of sockets) s.destroy();
      await Promise.all(attacks);
      await sleep(500); // the server has seen the attackers' connections close
      const after: number[] = [];
      for (let i = 0; i < 20; i++)
        after.push((await post(server.url, false, i % 2 ? "127.0.0.1" : "127.0.0.2")).status);
      assert.deepEqual(after, new Array(20).fill(200));
      assert.ok(server.logs.some((l) => l.event === "connection-refused"));
    } finally {
      stop.stopped = true;
      for (const s of sockets) s.destroy();
      server.proc.kill("SIGKILL");
      await server.exited;
    }
  },
);
