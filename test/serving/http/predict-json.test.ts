import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  DenseTensor,
  RaggedTensor,
  SparseTensor,
  type RunningServer,
  type ServableModel,
} from "../../../src/index.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { floats, postJson } from "../support/http.js";

describe("predict over JSON equals a direct embeddingLookup", () => {
  let server: RunningServer;
  let model: ServableModel;
  let url: string;

  before(async () => {
    model = await buildTestModel(1, 7);
    ({ server, url } = await serveTestModel(model));
  });
  after(() => server.close());

  const lookup = (features: Record<string, unknown>, weights?: Record<string, unknown>) =>
    model.embedding.embeddingLookup(features as never, weights) as unknown as Record<
      string,
      DenseTensor<Float32Array>
    >;

  test("columnar bags of several features → outputs keyed by feature, exact float32", async () => {
    const reply = await postJson(url, {
      inputs: {
        watched: [[3, 14, 15], [92], []],
        friends: [[1, 2], [3], [4]],
        "user/topics": [[5, 6], [7], []],
      },
    });
    assert.equal(reply.status, 200, reply.text);
    const outputs = (reply.json() as { outputs: Record<string, unknown> }).outputs;
    const expected = lookup({
      watched: RaggedTensor.fromNested([[3, 14, 15], [92], []]),
      friends: RaggedTensor.fromNested([[1, 2], [3], [4]]),
      user: { topics: RaggedTensor.fromNested([[5, 6], [7], []]) },
    }) as unknown as {
      watched: DenseTensor<Float32Array>;
      friends: DenseTensor<Float32Array>;
      user: { topics: DenseTensor<Float32Array> };
    };
    assert.deepEqual(floats(outputs.watched), expected.watched.data);
    assert.deepEqual(floats(outputs.friends), expected.friends.data);
    assert.deepEqual(floats(outputs["user/topics"]), expected.user.topics.data);
    assert.equal((outputs.watched as unknown[]).length, 3);
    assert.equal(((outputs.watched as unknown[])[0] as unknown[]).length, 8);
    // The empty bag is a zero vector (div_no_nan), as in TF.
    assert.deepEqual((outputs.watched as number[][])[2], [0, 0, 0, 0, 0, 0, 0, 0]);
  });

  test("row format → one prediction object per instance", async () => {
    const reply = await postJson(url, {
      instances: [
        { watched: [1, 2], friends: 5 },
        { watched: [999], friends: [6, 7] },
      ],
    });
    assert.equal(reply.status, 200, reply.text);
    const predictions = (reply.json() as { predictions: Record<string, number[]>[] }).predictions;
    assert.equal(predictions.length, 2);
    const expected = lookup({
      watched: RaggedTensor.fromNested([[1, 2], [999]]),
      friends: RaggedTensor.fromNested([[5], [6, 7]]),
    });
    assert.deepEqual(
      Float32Array.from([...predictions[0].watched, ...predictions[1].watched]),
      expected.watched.data,
    );
    assert.deepEqual(
      Float32Array.from([...predictions[0].friends, ...predictions[1].friends]),
      expected.friends.data,
    );
  });

  test("weights: {ids, weights}, flat ragged, sibling <feature>_weights and row {ids, weights} agree", async () => {
    const expected = lookup(
      { watched: RaggedTensor.fromNested([[1, 2], [3]]) },
      { watched: RaggedTensor.fromRowSplits(Float32Array.of(0.5, 2, 3), [0, 2, 3]) },
    ).watched.data;
    const bodies = [
      { inputs: { watched: { ids: [[1, 2], [3]], weights: [[0.5, 2], [3]] } } },
      { inputs: { watched: { values: [1, 2, 3], row_splits: [0, 2, 3], weights: [0.5, 2, 3] } } },
      { inputs: { watched: [[1, 2], [3]], watched_weights: [[0.5, 2], [3]] } },
      {
        instances: [{ watched: { ids: [1, 2], weights: [0.5, 2] } }, { watched: { ids: [3], weights: [3] } }],
      },
      {
        instances: [
          { watched: [1, 2], watched_weights: [0.5, 2] },
          { watched: [3], watched_weights: [3] },
        ],
      },
    ];
    for (const body of bodies) {
      const reply = await postJson(url, body);
      assert.equal(reply.status, 200, `${JSON.stringify(body)}: ${reply.text}`);
      const json = reply.json() as { outputs?: { watched: unknown }; predictions?: { watched: unknown }[] };
      const got =
        json.outputs !== undefined
          ? floats(json.outputs.watched)
          : floats(json.predictions!.map((p) => p.watched));
      assert.deepEqual(got, expected, JSON.stringify(body));
    }
    // Weights really matter: unweighted mean differs.
    assert.notDeepEqual(lookup({ watched: RaggedTensor.fromNested([[1, 2], [3]]) }).watched.data, expected);
  });

  test("sequence feature → [B, L, dim]; sparse and dense forms follow TF's paths", async () => {
    let reply = await postJson(url, { inputs: { favorited: [[1, 2, 3, 4], [5]] } });
    assert.equal(reply.status, 200, reply.text);
    let outputs = (reply.json() as { outputs: Record<string, unknown> }).outputs;
    const seq = lookup({ favorited: RaggedTensor.fromNested([[1, 2, 3, 4], [5]]) }).favorited;
    assert.deepEqual(seq.shape, [2, 3, 8]);
    assert.deepEqual(floats(outputs.favorited), seq.data);
    assert.equal((outputs.favorited as unknown[][])[0].length, 3);

    reply = await postJson(url, {
      inputs: {
        watched: {
          indices: [
            [0, 0],
            [0, 1],
            [2, 0],
          ],
          values: [4, -1, 9],
          dense_shape: [3, 2],
        },
        friends: {
          dense: [
            [1, 2],
            [3, 4],
          ],
        },
      },
    });
    assert.equal(reply.status, 200, reply.text);
    outputs = (reply.json() as { outputs: Record<string, unknown> }).outputs;
    const expected = lookup({
      watched: new SparseTensor({
        indices: [
          [0, 0],
          [0, 1],
          [2, 0],
        ],
        values: [4, -1, 9],
        denseShape: [3, 2],
      }),
      friends: DenseTensor.from([
        [1, 2],
        [3, 4],
      ]),
    });
    assert.deepEqual(floats(outputs.watched), expected.watched.data); // -1 pruned by the safe lookup
    assert.deepEqual(expected.friends.shape, [2, 2, 4]);
    assert.deepEqual(floats(outputs.friends), expected.friends.data);
  });

  test("ids as decimal strings and numbers are the same ids; int64 beyond 2^53 is reported exactly", async () => {
    const a = await postJson(url, { inputs: { watched: [["3", "14"], ["999"]] } });
    const b = await postJson(url, { inputs: { watched: [[3, 14], [999]] } });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json(), b.json());
    for (const raw of [
      '{"inputs":{"watched":[[9007199254740993]]}}',
      '{"inputs":{"watched":[["9007199254740993"]]}}',
    ]) {
      const reply = await postJson(url, raw);
      assert.equal(reply.status, 400);
      const error = (reply.json() as { error: string }).error;
      assert.match(error, /Feature "watched": id 9007199254740993 is out of range for table "video"/);
    }
  });

  test("a pinned version and the signature name are honoured", async () => {
    const reply = await postJson(`${server.url}/v1/models/emb/versions/1:predict`, {
      signature_name: "serving_default",
      inputs: { watched: [[1]] },
    });
    assert.equal(reply.status, 200, reply.text);
    const row = model.embedding.variable("video").value.data.subarray(8, 16);
    assert.deepEqual(
      floats((reply.json() as { outputs: { watched: unknown } }).outputs.watched),
      Float32Array.from(row),
    );
  });
});
