import { test } from "node:test";
import assert from "node:assert/strict";
import { request, type ClientRequest } from "node:http";
import { startServer, type RunningServer } from "../../../src/index.js";
import { buildTestModel, serveTestModel, TestRegistry } from "../support/test-registry.js";
import { call, postJson, type Reply } from "../support/http.js";

const BODY = JSON.stringify({ inputs: { watched: [[1, 2]] } });

/** Starts a predict request and sends only the first half of its body; `finish()` sends the rest. */
function halfSent(url: string): { req: ClientRequest; reply: Promise<Reply>; finish(): void } {
  let req!: ClientRequest;
  const reply = new Promise<Reply>((resolve, reject) => {
    req = request(
      url,
      {
        method: "POST",
        agent: false,
        headers: { "Content-Type": "application/json", "Content-Length": BODY.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            bytes: new Uint8Array(),
            json: () => JSON.parse(text),
          });
        });
      },
    );
    req.on("error", reject);
    req.write(BODY.slice(0, 10));
    req.flushHeaders();
  });
  return { req, reply, finish: () => req.end(BODY.slice(10)) };
}

async function setup(limits: object, batching: object = {}) {
  return serveTestModel(await buildTestModel(1, 9), { limits, batching });
}

/** Waits until the server holds `n` connections. */
async function untilConnections(server: RunningServer, n: number): Promise<void> {
  while (server.connections < n) await new Promise((r) => setTimeout(r, 5));
}

test("beyond maxConcurrentRequests → 429 RESOURCE_EXHAUSTED; the held request still completes", async () => {
  // A lone request waits 0.3 s in the micro-batcher for company: it holds the only slot meanwhile.
  const { server, url } = await setup({ maxConcurrentRequests: 1 }, { batchTimeoutMicros: 300_000 });
  try {
    const held = postJson(url, BODY);
    let refused: Reply;
    do refused = await postJson(url, BODY);
    while (refused.status !== 429);
    assert.match((refused.json() as { error: string }).error, /Too many requests in flight \(limit 1/);
    // Status and metrics are not predict calls and stay available.
    assert.equal((await call(`${server.url}/v1/models/emb`)).status, 200);
    assert.equal((await held).status, 200);
    assert.equal((await postJson(url, BODY)).status, 200);
  } finally {
    await server.close();
  }
});

test("a request that outlives requestTimeoutMs → 504 DEADLINE_EXCEEDED; its lease is released", async () => {
  const { server, url, registry } = await setup({ requestTimeoutMs: 100 });
  try {
    const stalled = halfSent(url);
    const reply = await stalled.reply;
    assert.equal(reply.status, 504);
    assert.match((reply.json() as { error: string }).error, /Request timed out after 100 ms/);
    stalled.req.destroy();
    assert.equal((await postJson(url, BODY)).status, 200);
    assert.equal(registry.leases(1), 0);
  } finally {
    await server.close();
  }
});

test("close() drains in-flight requests, refuses new ones, then stops listening", async () => {
  const { server, url, registry } = await setup({ maxConcurrentRequests: 1 });
  const held = halfSent(url);
  await untilConnections(server, 1);
  const closed = server.close({ drainTimeoutMs: 10_000 });
  held.finish();
  const reply = await held.reply;
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.headers.connection, "close");
  await closed;
  await assert.rejects(postJson(url, BODY), /ECONNREFUSED/);
  assert.equal(registry.leases(1), 0);
  assert.ok(registry.released >= 1);
});

test("invalid limits are rejected at start", async () => {
  const registry = new TestRegistry("emb");
  await assert.rejects(
    startServer({ registry, port: 0, limits: { maxBodyBytes: 0 } }),
    /limits\.maxBodyBytes must be a positive number/,
  );
  await assert.rejects(
    startServer({ registry, port: 0, batching: { maxBatchExamples: 0 } }),
    /maxBatchExamples must be an integer >= 1/,
  );
});

test(
  "a client that hangs up mid-body is counted at once (499 in the metrics), not at the deadline",
  { timeout: 20_000 },
  async () => {
    const { server, url } = await setup({ maxConcurrentRequests: 1, requestTimeoutMs: 600_000 });
    try {
      const held = halfSent(url);
      held.reply.catch(() => {}); // the socket is destroyed: no reply
      await untilConnections(server, 1);
      await new Promise((r) => setTimeout(r, 50)); // its headers parsed, the body being read
      held.req.destroy();
      for (;;) {
        const metrics = (await call(`${server.url}/monitoring/prometheus/metrics`)).text;
        if (/tpu_embedding_requests_total\{model="emb",api="predict",status="499"\} 1/.test(metrics)) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal((await postJson(url, BODY)).status, 200);
    } finally {
      await server.close();
    }
  },
);
