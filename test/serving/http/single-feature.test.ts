import { test } from "node:test";
import assert from "node:assert/strict";
import { FeatureConfig, RaggedTensor, startServer, TableConfig } from "../../../src/index.js";
import { buildTestModel, TestRegistry } from "../support/test-registry.js";
import { floats, postJson } from "../support/http.js";

test("a one-feature model takes bare values and answers with bare tensors, as TF Serving does; labels select versions", async () => {
  const features = () => ({
    video: new FeatureConfig({
      table: new TableConfig({ vocabularySize: 30, dim: 3, combiner: "sum", name: "v" }),
    }),
  });
  const v1 = await buildTestModel(1, 1, features, "one");
  const v2 = await buildTestModel(2, 2, features, "one");
  const registry = new TestRegistry("one");
  registry.add(v1);
  registry.add(v2);
  registry.setLabel("stable", 1);
  const server = await startServer({ registry, port: 0, batching: { enabled: false } });
  try {
    const lookup = (version: typeof v1, bags: number[][]) =>
      (
        version.embedding.embeddingLookup({ video: RaggedTensor.fromNested(bags) }) as {
          video: { data: Float32Array };
        }
      ).video.data;

    const rows = await postJson(`${server.url}/v1/models/one:predict`, { instances: [[3, 14], [29], []] });
    assert.equal(rows.status, 200, rows.text);
    const predictions = (rows.json() as { predictions: number[][] }).predictions;
    assert.equal(predictions.length, 3);
    assert.equal(predictions[0].length, 3);
    assert.deepEqual(floats(predictions), lookup(v2, [[3, 14], [29], []]));

    const columns = await postJson(`${server.url}/v1/models/one/labels/stable:predict`, {
      inputs: [[3, 14], [29]],
    });
    assert.equal(columns.status, 200, columns.text);
    const outputs = (columns.json() as { outputs: number[][] }).outputs;
    assert.ok(Array.isArray(outputs));
    assert.deepEqual(floats(outputs), lookup(v1, [[3, 14], [29]]));
    assert.notDeepEqual(lookup(v1, [[3]]), lookup(v2, [[3]])); // the label really picked another version

    const named = await postJson(`${server.url}/v1/models/one:predict`, { instances: [{ video: [1] }] });
    const namedPredictions = (named.json() as { predictions: number[][] }).predictions;
    assert.equal(namedPredictions.length, 1);
    assert.deepEqual(floats(namedPredictions), lookup(v2, [[1]]));
  } finally {
    await server.close();
  }
});
