import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import type { RunningServer } from "../../../src/index.js";
import { BINARY_CONTENT_TYPE } from "../../../src/serving/binary/binary-format.js";
import { encodeBinaryRequest } from "../../../src/serving/binary/request-codec.js";
import { MemoryBudget } from "../../../src/serving/http/memory-budget.js";
import { featureCost, jsonLists } from "../../../src/serving/batching/request-cost.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { call, postJson } from "../support/http.js";

/** Issue 14, item 1: every allocation a request causes is bounded before it happens. */
describe("per-request memory budget", () => {
  let server: RunningServer;
  let url: string;
  before(async () => {
    ({ server, url } = await serveTestModel(await buildTestModel(1, 5)));
  });
  after(() => server.close());

  const healthy = async () => {
    const reply = await postJson(url, { inputs: { watched: [[1, 2]] } });
    assert.equal(reply.status, 200, reply.text);
  };

  test("the 80-byte body with dense_shape [2147483647, 0, 5] gets a 400 naming the feature and size", async () => {
    const body = '{"inputs":{"watched":{"indices":[],"values":[],"dense_shape":[2147483647,0,5]}}}';
    assert.equal(body.length, 80);
    const reply = await postJson(url, body);
    assert.equal(reply.status, 400, reply.text);
    const error = (reply.json() as { error: string }).error;
    assert.match(error, /^Feature "watched": this request would need about \d+ bytes of server memory/);
    assert.match(error, /output shape \[2147483647, 0, 8\]/);
    assert.match(error, /at most 268435456 bytes per request \(--max-request-bytes\)/);
    await healthy();
  });

  test("zero-width shapes in every form: 400 in JSON, a small answer where nothing is printed per row", async () => {
    for (const body of [
      '{"inputs":{"friends":{"indices":[],"values":[],"dense_shape":[2147483647,0,0,5]}}}',
      '{"instances":[{"watched":{"indices":[],"values":[],"dense_shape":[2147483647,0,5]}}]}',
    ]) {
      const reply = await postJson(url, body);
      assert.equal(reply.status, 400, `${body} → ${reply.text}`);
    }
    // Binary: a dense [2147483647, 0] input has an empty answer (no lists to print): a real 200.
    const binary = encodeBinaryRequest(
      new Map([["friends", { kind: "dense" as const, ids: new Int32Array(0), shape: [2147483647, 0] }]]),
    );
    const reply = await call(url, { body: binary, contentType: BINARY_CONTENT_TYPE });
    assert.equal(reply.status, 200, reply.text);
    await healthy();
  });

  test("the cost counts JSON lists up to the first zero dimension, and every array, not only the output", () => {
    assert.equal(jsonLists([2147483647, 0, 8]), 1 + 2147483647);
    assert.equal(jsonLists([3, 4, 8]), 1 + 3 + 12);
    assert.equal(jsonLists([0, 5, 8]), 1);
    const feature = {
      name: "f",
      table: "t",
      vocabularySize: 10,
      dim: 8,
      combiner: "sum" as const,
      maxSequenceLength: 0,
      outputShape: null,
    };
    const empty = {
      kind: "sparse" as const,
      ids: new Int32Array(0),
      indices: new BigInt64Array(0),
      weights: null,
    };
    const zero = featureCost(feature, { ...empty, denseShape: [2147483647, 0, 5] }, true);
    assert.deepEqual(zero.outputShape, [2147483647, 0, 8]);
    assert.ok(zero.bytes > 3 * 2147483647, `${zero.bytes}`);
    assert.ok(featureCost(feature, { ...empty, denseShape: [2147483647, 0, 5] }, false).bytes < 1000);
    // [4194304, 2] → 4 Mi rows × 8 values: the float32 output, its copies and the JSON answer.
    const big = featureCost(feature, { ...empty, denseShape: [4194304, 2] }, true);
    assert.ok(big.bytes >= 4194304 * 8 * (4 + 16), `${big.bytes}`);
  });

  test("error messages quote short excerpts of the request, never the request", async () => {
    const long = "k".repeat(5000);
    const bodies = [
      { inputs: { [long]: [[1]] } },
      { signature_name: long, inputs: { watched: [[1]] } },
      { inputs: { watched: { [long]: 1 } } },
      { instances: [{ watched: [1] }, { [long]: [1] }] },
    ];
    for (const body of bodies) {
      const reply = await postJson(url, body);
      assert.equal(reply.status, 400);
      const error = (reply.json() as { error: string }).error;
      assert.ok(error.length < 400, `${error.length} characters: ${error.slice(0, 100)}`);
      assert.match(error, /k{64}… \(4936 more characters\)/);
    }
    const path = await call(`${url.replace(/:predict$/, "")}/${long}:predict`, { body: "{}" });
    assert.ok(path.text.length < 1200, `${path.text.length} characters`);
  });

  test("bodies of 1 MiB and more are decoded on a worker thread: the same answers and the same errors", async () => {
    const rows = Array.from({ length: 80_000 }, (_, i) => [i % 1000, (3 * i) % 1000, (7 * i) % 1000]);
    const small = await postJson(url, { inputs: { watched: rows.slice(0, 3) } });
    const padded = JSON.stringify({ inputs: { watched: rows } });
    assert.ok(padded.length >= 1 << 20, `${padded.length}`);
    const big = await postJson(url, padded);
    assert.equal(big.status, 200, big.text.slice(0, 200));
    const answer = (big.json() as { outputs: { watched: number[][] } }).outputs.watched;
    assert.equal(answer.length, 80_000);
    assert.deepEqual(
      answer.slice(0, 3),
      (small.json() as { outputs: { watched: number[][] } }).outputs.watched,
    );
    const errors: [string, RegExp][] = [
      [padded.slice(0, -1), /^JSON Parse error/],
      [padded.replace("[0,0,0]", "[0,0,1000]"), /^Feature "watched": id 1000 is out of range/],
      [padded.replace('"watched"', '"nope"'), /^Input "nope" is not a feature/],
    ];
    for (const [body, message] of errors) {
      const reply = await postJson(url, body);
      assert.equal(reply.status, 400, reply.text.slice(0, 200));
      assert.match((reply.json() as { error: string }).error, message);
    }
    const notUtf8 = Buffer.concat([Buffer.from(padded.slice(0, -2)), Buffer.from([0xff, 0x7d])]);
    const reply = await call(url, { body: new Uint8Array(notUtf8) });
    assert.equal(reply.status, 400);
    assert.match(reply.text, /not valid UTF-8/);
    await healthy();
  });

  test("a smaller --max-request-bytes refuses what it cannot hold", async () => {
    const small = await serveTestModel(await buildTestModel(1, 5), { limits: { maxRequestBytes: 100_000 } });
    try {
      const ok = await postJson(small.url, { inputs: { watched: [[1, 2]] } });
      assert.equal(ok.status, 200, ok.text);
      const rows = Array.from({ length: 2000 }, (_, i) => [i % 1000]);
      const reply = await postJson(small.url, { inputs: { watched: rows } });
      assert.equal(reply.status, 400);
      assert.match(
        (reply.json() as { error: string }).error,
        /^Feature "watched": .*output shape \[2000, 8\].* at most 100000 bytes per request/,
      );
    } finally {
      await small.server.close();
    }
  });
});

describe("server-wide in-flight memory budget", () => {
  test("MemoryBudget: first come first served, waits for room, 429 after the wait, releases once", async () => {
    const budget = new MemoryBudget(100);
    const a = await budget.reserve(60, 0);
    assert.equal(budget.inUse, 60);
    const order: string[] = [];
    const b = budget.reserve(50, 1000).then((release) => (order.push("b"), release));
    const c = budget.reserve(10, 1000).then((release) => (order.push("c"), release)); // waits behind b
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(order, []);
    assert.equal(budget.queued, 2);
    await assert.rejects(budget.reserve(90, 0), (e: { status?: number; message: string }) => {
      assert.equal(e.status, 429);
      assert.match(e.message, /--max-inflight-bytes/);
      return true;
    });
    a();
    a(); // idempotent
    const [releaseB, releaseC] = await Promise.all([b, c]);
    assert.deepEqual(order, ["b", "c"]);
    assert.equal(budget.inUse, 60);
    releaseB();
    releaseC();
    assert.equal(budget.inUse, 0);
  });

  test("concurrent requests beyond the budget wait their turn; the budget is all given back", async () => {
    // Each request costs ~0.7 MB here (2000 rows of JSON): two at a time fit in 1.5 MB.
    const { server, url } = await serveTestModel(await buildTestModel(1, 5), {
      limits: { maxInFlightBytes: 1_500_000, memoryWaitMs: 20_000 },
      batching: { enabled: false },
    });
    try {
      const rows = Array.from({ length: 2000 }, (_, i) => [i % 1000, (7 * i) % 1000]);
      const replies = await Promise.all(
        Array.from({ length: 8 }, () => postJson(url, { inputs: { watched: rows } })),
      );
      for (const r of replies) assert.equal(r.status, 200, r.text.slice(0, 200));
      const first = replies[0].text;
      for (const r of replies) assert.equal(r.text, first);
      // With nothing leaked, the largest request that fits the budget alone still gets in.
      const alone = await postJson(url, { inputs: { watched: rows } });
      assert.equal(alone.status, 200);
    } finally {
      await server.close();
    }
  });

  test("on a keep-alive connection each answer gives its memory back (30 requests, room for 3)", async () => {
    const { server, url } = await serveTestModel(await buildTestModel(1, 5), {
      limits: { maxInFlightBytes: 300_000, memoryWaitMs: 0 },
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const body = JSON.stringify({ inputs: { watched: Array.from({ length: 300 }, (_, i) => [i]) } });
      for (let i = 0; i < 30; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = request(
            url,
            {
              method: "POST",
              agent,
              headers: { "Content-Type": "application/json", "Content-Length": body.length },
            },
            (res) => {
              res.resume();
              res.on("end", () => resolve(res.statusCode ?? 0));
            },
          );
          req.on("error", reject);
          req.end(body);
        });
        assert.equal(status, 200, `request ${i}`);
      }
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  test("with no time to wait, requests beyond the budget get 429 and the others their answers", async () => {
    const { server, url } = await serveTestModel(await buildTestModel(1, 5), {
      limits: { maxInFlightBytes: 1_500_000, memoryWaitMs: 0 },
      batching: { enabled: false },
    });
    try {
      const rows = Array.from({ length: 2000 }, (_, i) => [i % 1000]);
      const replies = await Promise.all(
        Array.from({ length: 12 }, () => postJson(url, { inputs: { watched: rows } })),
      );
      const statuses = replies.map((r) => r.status);
      assert.ok(
        statuses.every((s) => s === 200 || s === 429),
        statuses.join(","),
      );
      for (const r of replies.filter((r) => r.status === 429)) {
        assert.match((r.json() as { error: string }).error, /in-flight memory budget/);
      }
      const after = await postJson(url, { inputs: { watched: rows } });
      assert.equal(after.status, 200);
    } finally {
      await server.close();
    }
  });
});
