import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BINARY_CONTENT_TYPE,
  DenseTensor,
  SparseTensor,
  type RunningServer,
  type ServableModel,
  type InputStructure,
} from "../../../src/index.js";
import { encodeBinaryRequest } from "../../../src/serving/binary/request-codec.js";
import { decodeBinaryResponse } from "../../../src/serving/binary/response-codec.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { call, floats, postJson } from "../support/http.js";

/**
 * Issue 20 over the REST API: a scalar dense id answers its [dim] row (JSON and binary), and a sparse id
 * at or above the vocabulary whose weight is <= 0 is pruned by mean/sqrtn (TF's safe lookup) but is an
 * error for sum and for the plain path.
 */
describe("issue 20: scalar dense ids and TF's pruning order over HTTP", () => {
  let server: RunningServer;
  let url: string;
  let model: ServableModel;

  before(async () => {
    model = await buildTestModel(1, 21);
    ({ server, url } = await serveTestModel(model, { batching: { enabled: true } }));
  });
  after(() => server.close());

  const row = (table: string, id: number, dim: number) => {
    const t = [...model.embedding.embeddingTables].find(([c]) => c.name === table)![1];
    return Array.from(t.data.subarray(id * dim, (id + 1) * dim));
  };

  test("JSON: {dense: 5} answers the [dim] row, not one float (first dense lookup of the feature)", async () => {
    const reply = await postJson(url, { inputs: { friends: { dense: 5 } } });
    assert.equal(reply.status, 200, reply.text);
    const out = (reply.json() as { outputs: { friends: number[] } }).outputs.friends;
    assert.ok(Array.isArray(out), reply.text);
    assert.deepEqual(Array.from(floats(out)), row("user", 5, 4));
    // A vector after it, then a scalar again.
    const vector = await postJson(url, { inputs: { friends: { dense: [5, 6] } } });
    assert.deepEqual(
      Array.from(floats((vector.json() as { outputs: { friends: number[] } }).outputs.friends)),
      [...row("user", 5, 4), ...row("user", 6, 4)],
    );
    const again = await postJson(url, { inputs: { friends: { dense: 7 } } });
    assert.deepEqual((again.json() as { outputs: { friends: number[] } }).outputs.friends.length, 4);
  });

  test("binary: a rank-0 dense id answers shape [dim] with dim values", async () => {
    const body = encodeBinaryRequest(
      new Map([["user/topics", { kind: "dense" as const, ids: Int32Array.of(9), shape: [] }]]),
    );
    const reply = await call(url, { body, contentType: BINARY_CONTENT_TYPE });
    assert.equal(reply.status, 200, reply.text);
    const out = decodeBinaryResponse(reply.bytes).get("user/topics")!;
    assert.deepEqual(out.shape, [2]);
    assert.deepEqual(Array.from(out.data), row("topic", 9, 2));
    // The library agrees.
    const direct = model.embedding.embeddingLookup({
      user: { topics: new DenseTensor(Int32Array.of(9), []) },
    }) as { user: { topics: DenseTensor<Float32Array> } };
    assert.deepEqual(direct.user.topics.shape, [2]);
  });

  const sparse = (ids: number[], weights: number[]) => ({
    indices: ids.map((_, i) => [i < 2 ? 0 : 1, i < 2 ? i : i - 2]),
    values: ids,
    dense_shape: [2, 4],
    weights,
  });

  test("sparse, mean (watched) and sqrtn (user/topics): id >= vocab with weight <= 0 is pruned, as in TF", async () => {
    // watched: vocab 1000, mean. Row 0: id 3 (w 2), id 5000 (w 0); row 1: id 7000 (w -1), id -2 (w 1).
    for (const [feature, big, table, dim] of [
      ["watched", 5000, "video", 8],
      ["user/topics", 500, "topic", 2],
    ] as const) {
      const reply = await postJson(url, {
        inputs: { [feature]: sparse([3, big, big + 1, -2], [2, 0, -1, 1]) },
      });
      assert.equal(reply.status, 200, `${feature}: ${reply.text}`);
      const out = floats((reply.json() as { outputs: Record<string, number[][]> }).outputs[feature]);
      assert.deepEqual(Array.from(out.subarray(0, dim)), row(table, 3, dim));
      assert.deepEqual(Array.from(out.subarray(dim)), new Array(dim).fill(0));
      const direct = model.embedding.embeddingLookup(
        { [feature.split("/")[0]]: wrap(feature, sparseTensor([3, big, big + 1, -2])) } as InputStructure,
        { [feature.split("/")[0]]: wrap(feature, sparseTensor([2, 0, -1, 1], true)) },
      ) as Record<string, unknown>;
      const leaf = (feature === "watched" ? direct.watched : (direct.user as { topics: unknown }).topics) as {
        data: Float32Array;
      };
      assert.deepEqual(Array.from(leaf.data), Array.from(out));
    }
    // Without weights nothing is pruned but negative ids: 5000 reaches the gather.
    const unweighted = await postJson(url, {
      inputs: { watched: { indices: [[0, 0]], values: [5000], dense_shape: [1, 4] } },
    });
    assert.equal(unweighted.status, 400);
    assert.match((unweighted.json() as { error: string }).error, /id 5000 is out of range for table "video"/);
  });

  test("sparse, sum (friends): id >= vocab with weight 0 still reaches the gather → 400", async () => {
    const reply = await postJson(url, { inputs: { friends: sparse([3, 500], [2, 0]) } });
    assert.equal(reply.status, 400, reply.text);
    assert.match((reply.json() as { error: string }).error, /id 500 is out of range for table "user"/);
  });

  test("sparse sequence (favorited, length 3): ids past the sequence are cut before the gather", async () => {
    const reply = await postJson(url, {
      inputs: {
        favorited: {
          indices: [
            [0, 0],
            [0, 3],
          ],
          values: [4, 99999],
          dense_shape: [1, 5],
        },
      },
    });
    assert.equal(reply.status, 200, reply.text);
    const out = floats((reply.json() as { outputs: { favorited: number[][][] } }).outputs.favorited);
    assert.deepEqual(Array.from(out.subarray(0, 8)), row("video", 4, 8));
    const inside = await postJson(url, {
      inputs: { favorited: { indices: [[0, 2]], values: [-1], dense_shape: [1, 5] } },
    });
    assert.equal(inside.status, 400, inside.text);
  });
});

function sparseTensor(values: number[], weights = false): SparseTensor {
  return new SparseTensor({
    indices: values.map((_, i) => [i < 2 ? 0 : 1, i < 2 ? i : i - 2]),
    values: weights ? Float32Array.from(values) : Int32Array.from(values),
    denseShape: [2, 4],
  });
}

function wrap(feature: string, t: SparseTensor): InputStructure {
  return feature === "watched" ? t : { topics: t };
}
