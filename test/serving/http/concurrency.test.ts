import { test } from "node:test";
import assert from "node:assert/strict";
import { DenseTensor, EmbeddingClient, RaggedTensor } from "../../../src/index.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { call } from "../support/http.js";

const batchCounts = (metrics: string) => ({
  count: Number(/tpu_embedding_batch_requests_count\{model="emb"\} (\d+)/.exec(metrics)![1]),
  sum: Number(/tpu_embedding_batch_requests_sum\{model="emb"\} (\d+)/.exec(metrics)![1]),
});

test("100 concurrent requests (JSON and binary) with different bags each get their own rows; batches merge", async () => {
  const model = await buildTestModel(1, 33);
  // Small requests merge only when their batch waits (by default they are looked up at once, below).
  const { server } = await serveTestModel(model, { batching: { batchTimeoutMicros: 2000 } });
  try {
    const bags = (i: number) =>
      Array.from({ length: 1 + (i % 5) }, (_, r) =>
        Array.from({ length: (i + r) % 4 }, (_, k) => (i * 31 + r * 7 + k) % 1000),
      );
    const clients = [
      new EmbeddingClient({ url: server.url, model: "emb", format: "binary" }),
      new EmbeddingClient({ url: server.url, model: "emb", format: "json" }),
    ];
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        clients[i % 2].predict({
          watched: RaggedTensor.fromNested(bags(i)),
          friends: RaggedTensor.fromNested([[i % 100]]),
        }),
      ),
    );
    replies.forEach((got, i) => {
      const expected = model.embedding.embeddingLookup({
        watched: RaggedTensor.fromNested(bags(i)),
        friends: RaggedTensor.fromNested([[i % 100]]),
      }) as unknown as Record<string, DenseTensor<Float32Array>>;
      assert.deepEqual(got.watched.data, expected.watched.data, `request ${i}`);
      assert.deepEqual(got.friends.data, expected.friends.data, `request ${i}`);
    });
    const { count, sum } = batchCounts((await call(`${server.url}/monitoring/prometheus/metrics`)).text);
    assert.equal(sum, 100);
    assert.ok(count < 100, `100 requests ran as ${count} lookups`);
  } finally {
    await server.close();
  }
});

test("by default, concurrent small requests are looked up one by one on the event loop, not merged", async () => {
  const model = await buildTestModel(1, 33);
  const { server } = await serveTestModel(model);
  try {
    const client = new EmbeddingClient({ url: server.url, model: "emb", format: "binary" });
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.predict({ watched: RaggedTensor.fromNested([[i, i + 1]]) }),
      ),
    );
    replies.forEach((got, i) => {
      const expected = model.embedding.embeddingLookup({
        watched: RaggedTensor.fromNested([[i, i + 1]]),
      }) as unknown as Record<string, DenseTensor<Float32Array>>;
      assert.deepEqual(got.watched.data, expected.watched.data, `request ${i}`);
    });
    const { count, sum } = batchCounts((await call(`${server.url}/monitoring/prometheus/metrics`)).text);
    assert.deepEqual({ count, sum }, { count: 20, sum: 20 });
  } finally {
    await server.close();
  }
});
