import { test } from "node:test";
import assert from "node:assert/strict";
import { DenseTensor, EmbeddingClient, RaggedTensor } from "../../../src/index.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { call } from "../support/http.js";

test("100 concurrent requests (JSON and binary) with different bags each get their own rows; batches merge", async () => {
  const model = await buildTestModel(1, 33);
  const { server } = await serveTestModel(model);
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
    const metrics = (await call(`${server.url}/monitoring/prometheus/metrics`)).text;
    const count = Number(/tpu_embedding_batch_requests_count\{model="emb"\} (\d+)/.exec(metrics)![1]);
    const sum = Number(/tpu_embedding_batch_requests_sum\{model="emb"\} (\d+)/.exec(metrics)![1]);
    assert.equal(sum, 100);
    assert.ok(count < 100, `100 requests ran as ${count} lookups`);
  } finally {
    await server.close();
  }
});
