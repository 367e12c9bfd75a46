import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  DenseTensor,
  RaggedTensor,
  SparseTensor,
  type RunningServer,
  type ServableModel,
} from "../../../src/index.js";
import { flatLookupRuns } from "../../../src/embedding/small-lookup.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { floats, postJson } from "../support/http.js";

/**
 * A predict request reaches the kernels flat: its decoded typed arrays go straight into the lookup batch
 * (no tensor objects, docs/architecture.md), with the library's answers; sparse inputs and inputs TF
 * refuses take the tensor route, whose planner raises TF's errors.
 */
describe("predict requests take the flat route", () => {
  let server: RunningServer;
  let model: ServableModel;
  let url: string;

  before(async () => {
    model = await buildTestModel(1, 7);
    ({ server, url } = await serveTestModel(model));
  });
  after(() => server.close());

  test("ragged, weighted, sequence, nested and dense features: one flat lookup, the library's floats", async () => {
    const before = flatLookupRuns();
    const reply = await postJson(url, {
      inputs: {
        watched: { ids: [[3, 14, 15], [92], []], weights: [[1, 0.5, 2], [3], []] },
        favorited: [[1, 2, 3, 4], [5], [6]],
        friends: {
          dense: [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
        },
        "user/topics": [[5, 6], [7], []],
      },
    });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(flatLookupRuns(), before + 1, "one flat lookup for the whole request");
    const outputs = (reply.json() as { outputs: Record<string, unknown> }).outputs;
    const want = model.embedding.embeddingLookup(
      {
        watched: RaggedTensor.fromNested([[3, 14, 15], [92], []]),
        favorited: RaggedTensor.fromNested([[1, 2, 3, 4], [5], [6]]),
        friends: DenseTensor.from([
          [1, 2],
          [3, 4],
          [5, 6],
        ]),
        user: { topics: RaggedTensor.fromNested([[5, 6], [7], []]) },
      },
      { watched: RaggedTensor.fromNested([[1, 0.5, 2], [3], []], "float32") },
    ) as unknown as Record<string, DenseTensor<Float32Array>> & {
      user: { topics: DenseTensor<Float32Array> };
    };
    assert.deepEqual(floats(outputs.watched), want.watched.data);
    assert.deepEqual(floats(outputs.favorited), want.favorited.data);
    assert.deepEqual(floats(outputs.friends), want.friends.data);
    assert.deepEqual(floats(outputs["user/topics"]), want.user.topics.data);
    assert.deepEqual(want.friends.shape, [3, 2, 4], "dense ids: TF's gather shape");
  });

  test("sparse inputs and out-of-range ids take the tensor route: the library's answer or TF's error", async () => {
    const before = flatLookupRuns();
    const sparse = await postJson(url, {
      inputs: {
        watched: {
          indices: [
            [0, 0],
            [1, 1],
          ],
          values: [3, 4],
          dense_shape: [2, 2],
        },
      },
    });
    assert.equal(sparse.status, 200, sparse.text);
    const want = model.embedding.embeddingLookup({
      watched: new SparseTensor({
        indices: [
          [0, 0],
          [1, 1],
        ],
        values: [3, 4],
        denseShape: [2, 2],
      }),
    }) as unknown as Record<string, DenseTensor<Float32Array>>;
    assert.deepEqual(
      floats((sparse.json() as { outputs: Record<string, unknown> }).outputs.watched),
      want.watched.data,
    );

    const bad = await postJson(url, { inputs: { watched: [[3], [100000]] } });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /watched/);
    assert.match(bad.text, /100000/);
    assert.equal(flatLookupRuns(), before, "neither ran flat");
  });
});
