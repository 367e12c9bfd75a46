import { test } from "node:test";
import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { RunningServer, ServerLimits } from "../../../src/index.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { postJson } from "../support/http.js";

/**
 * Issue 20, items 2-4 with real sockets on 127.0.0.1: clients that send half a header and never read,
 * bodies that trickle in, too many connections from one address, and a drain under keep-alive load.
 */

const BODY = JSON.stringify({ inputs: { watched: [[1, 2, 3, 4, 5, 6, 7, 8]], friends: [[1, 2, 3]] } });

async function setup(limits: Partial<ServerLimits>) {
  return serveTestModel(await buildTestModel(1, 20), { limits });
}

/** TCP sockets open in this process (the test's client ends and the server's ends alike). */
function openSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
}

/** A hostile client: connects from `localAddress`, writes `data`, never reads, never closes its side. */
function hostile(port: number, data: string, localAddress = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress, allowHalfOpen: true });
    socket.on("error", () => {}); // reset when the server cuts it
    socket.once("connect", () => {
      socket.pause(); // never reads
      if (data !== "") socket.write(data);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

const HALF_HEADER = "POST /v1/models/emb:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le";
const SLOW_BODY =
  `POST /v1/models/emb:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${BODY.length}\r\n\r\n${BODY.slice(0, 10)}`;

test("slow headers: sockets that send half a header and never read are closed at the headers deadline", async () => {
  const { server, url } = await setup({ headersTimeoutMs: 300, maxConnectionsPerClient: 100 });
  const attackers: Socket[] = [];
  try {
    const before = openSockets();
    for (let i = 0; i < 30; i++) attackers.push(await hostile(server.port, HALF_HEADER));
    await until("the server holds the 30 connections", () => openSockets() >= before + 60, 5_000);
    // Cut at the deadline: the server's 30 ends are gone although the clients never read or close.
    await until("the server's ends closed", () => openSockets() <= before + 30, 5_000);
    assert.equal(server.connections, 0);
    assert.equal((await postJson(url, BODY)).status, 200);
  } finally {
    for (const s of attackers) s.destroy();
    await server.close();
  }
});

test("slow bodies take no predict slot; they are cut by the body deadline, not the request timeout", async () => {
  const { server, url } = await setup({
    maxConcurrentRequests: 4,
    bodyTimeoutMs: 400,
    requestTimeoutMs: 60_000,
    maxConnectionsPerClient: 100,
  });
  const attackers: Socket[] = [];
  try {
    const before = openSockets();
    for (let i = 0; i < 20; i++) attackers.push(await hostile(server.port, SLOW_BODY));
    await until("the server holds the 20 connections", () => openSockets() >= before + 40, 5_000);
    await sleep(50); // their headers parsed, their bodies being read
    // 20 bodies arriving, 4 slots: valid predicts are answered all the same.
    for (let i = 0; i < 8; i++) {
      const reply = await postJson(url, BODY);
      assert.equal(reply.status, 200, reply.text);
    }
    await until(
      "the slow bodies cut (408) and their connections closed",
      () => server.connections === 0,
      5_000,
    );
    await until("their sockets gone on the server", () => openSockets() <= before + 20, 5_000);
    assert.equal((await postJson(url, BODY)).status, 200);
  } finally {
    for (const s of attackers) s.destroy();
    await server.close();
  }
});

/** Sends `BODY` in `chunks` pieces `everyMs` apart over one connection; resolves with the status. */
function trickle(port: number, chunks: number, everyMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/v1/models/emb:predict",
        method: "POST",
        agent: false,
        headers: { "Content-Type": "application/json", "Content-Length": BODY.length },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.flushHeaders();
    const size = Math.ceil(BODY.length / chunks);
    let at = 0;
    const step = () => {
      if (req.destroyed) return;
      const piece = BODY.slice(at, at + size);
      at += size;
      if (at >= BODY.length) req.end(piece);
      else {
        req.write(piece);
        setTimeout(step, everyMs);
      }
    };
    step();
  });
}

test("the body deadline grows with the bytes received (minimum data rate)", async () => {
  // 300 ms plus 1 s per 200 bytes. The body (~75 bytes) sent in 8 pieces 100 ms apart (~100 B/s for
  // 0.7 s) earns 0.3 s + 75/200 s ≈ 0.68 s... so a bit faster passes; far slower fails.
  const { server } = await setup({ bodyTimeoutMs: 300, minBodyBytesPerSecond: 200 });
  try {
    assert.ok(BODY.length > 60 && BODY.length < 100, `${BODY.length}`);
    const steady = await trickle(server.port, 4, 100); // ~0.3 s: within 0.3 s + 0.3 s earned
    assert.equal(steady.status, 200, steady.text);
    const slow = await trickle(server.port, 10, 250); // 2.25 s for ~75 bytes: far below 200 B/s
    assert.equal(slow.status, 408, slow.text);
    assert.match(JSON.parse(slow.text).error, /request body arrived too slowly: \d+ of \d+ bytes/);
  } finally {
    await server.close();
  }
});

test("per-client connection limit: one address cannot take every connection; others are still served", async () => {
  const { server, url } = await setup({ maxConnectionsPerClient: 5 });
  const held: Socket[] = [];
  try {
    for (let i = 0; i < 12; i++) held.push(await hostile(server.port, ""));
    await sleep(100);
    assert.equal(server.connections, 5);
    // Another client (another loopback address) is served.
    const other = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${url}`,
        {
          method: "POST",
          agent: false,
          localAddress: "127.0.0.2",
          headers: { "Content-Type": "application/json", "Content-Length": BODY.length },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(BODY);
    });
    assert.equal(other, 200);
    // The crowded address is refused until its connections close.
    await assert.rejects(postJson(url, BODY), /ECONNRESET|socket hang up/);
    for (const s of held) s.destroy();
    await until("the held connections closed", () => server.connections === 0, 5_000);
    assert.equal((await postJson(url, BODY)).status, 200);
  } finally {
    for (const s of held) s.destroy();
    await server.close();
  }
});

/** Keep-alive clients posting in a loop until the server is gone; counts answers and failures. */
function keepAliveLoad(server: RunningServer, url: string, clients: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const stats = { ok: 0, other: 0, closeHeaders: 0, refused: 0, failures: [] as string[] };
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        {
          method: "POST",
          agent,
          headers: { "Content-Type": "application/json", "Content-Length": BODY.length },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode === 200) stats.ok++;
            else stats.other++;
            if (res.headers.connection === "close") stats.closeHeaders++;
            resolve();
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(BODY);
    });
  const loops = Array.from({ length: clients }, async () => {
    for (;;) {
      try {
        await one();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ECONNREFUSED") stats.refused++;
        else stats.failures.push(`${code}: ${(e as Error).message}`);
        return;
      }
    }
  });
  return { stats, done: Promise.all(loops).finally(() => agent.destroy()) };
}

test("close() under keep-alive load: every request on an open connection is answered, none reset", async () => {
  for (let round = 0; round < 3; round++) {
    const { server, url } = await setup({});
    const load = keepAliveLoad(server, url, 8);
    await until("the load runs", () => load.stats.ok >= 40, 10_000);
    await server.close({ drainTimeoutMs: 10_000 });
    await load.done;
    const { stats } = load;
    assert.deepEqual(stats.failures, [], `round ${round}: ${JSON.stringify(stats)}`);
    assert.equal(stats.other, 0);
    assert.equal(stats.refused, 8, "each client stops at a refused connection once the server is gone");
    assert.ok(stats.closeHeaders >= 1, JSON.stringify(stats));
  }
});

test("close() answers pipelined requests, the last one with Connection: close", async () => {
  const { server } = await setup({});
  const socket = connect({ host: "127.0.0.1", port: server.port });
  let received = "";
  socket.setEncoding("latin1").on("data", (c: string) => (received += c));
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const one =
    `POST /v1/models/emb:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${BODY.length}\r\n\r\n${BODY}`;
  socket.write(one + one + one);
  const closed = server.close({ drainTimeoutMs: 10_000 });
  await ended;
  await closed;
  const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ["200", "200", "200"], received);
  const connectionHeaders = [...received.matchAll(/\r\nConnection: (\S+)/gi)].map((m) => m[1]);
  assert.deepEqual(connectionHeaders, ["keep-alive", "keep-alive", "close"]);
});
