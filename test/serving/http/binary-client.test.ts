import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BINARY_CONTENT_TYPE,
  DenseTensor,
  EmbeddingClient,
  EmbeddingServerError,
  RaggedTensor,
  SparseTensor,
  type RunningServer,
  type ServableModel,
} from "../../../src/index.js";
import { encodeBinaryRequest } from "../../../src/serving/binary/request-codec.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { call } from "../support/http.js";

describe("binary format and EmbeddingClient", () => {
  let server: RunningServer;
  let model: ServableModel;

  before(async () => {
    model = await buildTestModel(2, 11);
    ({ server } = await serveTestModel(model));
  });
  after(() => server.close());

  const features = () => ({
    watched: RaggedTensor.fromRowSplits(BigInt64Array.of(3n, 14n, 15n, 92n), [0, 3, 4, 4]),
    favorited: new SparseTensor({
      indices: [
        [0, 0],
        [0, 1],
        [2, 2],
      ],
      values: [7, 8, 9],
      denseShape: [3, 5],
    }),
    friends: DenseTensor.from([
      [1, 2],
      [3, 4],
      [5, 6],
    ]),
    "user/topics": RaggedTensor.fromNested([[1], [2, 3], [4]]),
  });
  const weights = () => ({
    watched: RaggedTensor.fromRowSplits(Float32Array.of(1, 2, 0.5, 4), [0, 3, 4, 4]),
  });
  const direct = () => {
    const f = features();
    return model.embedding.embeddingLookup(
      { watched: f.watched, favorited: f.favorited, friends: f.friends, user: { topics: f["user/topics"] } },
      { watched: weights().watched },
    ) as unknown as Record<string, DenseTensor<Float32Array>> & {
      user: { topics: DenseTensor<Float32Array> };
    };
  };

  for (const format of ["binary", "json"] as const) {
    test(`${format}: ragged int64, weighted, sparse sequence and dense features equal a direct lookup`, async () => {
      const client = new EmbeddingClient({ url: server.url, model: "emb", format });
      const got = await client.predict(features(), weights());
      const expected = direct();
      for (const name of ["watched", "favorited", "friends"]) {
        assert.deepEqual(got[name].shape, expected[name].shape, name);
        assert.deepEqual(got[name].data, expected[name].data, name);
      }
      assert.deepEqual(got["user/topics"].data, expected.user.topics.data);
      assert.deepEqual(got.favorited.shape, [3, 3, 8]);
    });
  }

  test("client status, metadata, pinned versions and errors", async () => {
    const client = new EmbeddingClient({ url: server.url, model: "emb", version: 2 });
    assert.deepEqual(
      (await client.status()).map((s) => [s.version, s.state]),
      [["2", "AVAILABLE"]],
    );
    assert.ok(JSON.stringify(await client.metadata()).includes("serving_default"));
    const missing = new EmbeddingClient({ url: server.url, model: "emb", version: 5 });
    await assert.rejects(missing.predict({ watched: RaggedTensor.fromNested([[1]]) }), (e: unknown) => {
      assert.ok(e instanceof EmbeddingServerError);
      assert.equal(e.status, 404);
      return true;
    });
    await assert.rejects(
      client.predict({ watched: RaggedTensor.fromNested([[1000]]) }),
      /HTTP 400: Feature "watched": id 1000 is out of range for table "video"/,
    );
  });

  test("every truncation of a valid binary body is a 400, and the server keeps answering", async () => {
    const body = encodeBinaryRequest(
      new Map([
        [
          "watched",
          {
            kind: "ragged" as const,
            ids: Int32Array.of(1, 2, 3),
            rowSplits: Int32Array.of(0, 2, 3),
            weights: Float32Array.of(1, 1, 2),
          },
        ],
        [
          "favorited",
          {
            kind: "sparse" as const,
            ids: BigInt64Array.of(4n),
            indices: BigInt64Array.of(1n, 0n),
            denseShape: [2, 4],
            weights: null,
          },
        ],
      ]),
    );
    const ok = await call(`${server.url}/v1/models/emb:predict`, { body, contentType: BINARY_CONTENT_TYPE });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers["content-type"], BINARY_CONTENT_TYPE);
    for (let n = 0; n < body.length; n += 3) {
      const reply = await call(`${server.url}/v1/models/emb:predict`, {
        body: body.subarray(0, n),
        contentType: BINARY_CONTENT_TYPE,
      });
      assert.equal(reply.status, 400, `${n} bytes: ${reply.text}`);
      assert.match((reply.json() as { error: string }).error, /Binary request/);
    }
    const again = await call(`${server.url}/v1/models/emb:predict`, {
      body,
      contentType: BINARY_CONTENT_TYPE,
    });
    assert.deepEqual(again.bytes, ok.bytes);
  });

  test("corrupt binary headers are named", async () => {
    const good = encodeBinaryRequest(
      new Map([
        [
          "watched",
          {
            kind: "ragged" as const,
            ids: Int32Array.of(1, 2),
            rowSplits: Int32Array.of(0, 2),
            weights: null,
          },
        ],
      ]),
    );
    const mutate = (at: number, value: number, width: 1 | 4 = 1) => {
      const copy = good.slice();
      const view = new DataView(copy.buffer);
      if (width === 4) view.setUint32(at, value, true);
      else view.setUint8(at, value);
      return copy;
    };
    const withTrailing = new Uint8Array(good.length + 8);
    withTrailing.set(good);
    const cases: [Uint8Array, RegExp][] = [
      [mutate(0, 0x41), /bad magic/],
      [mutate(4, 9), /format version 9/],
      [mutate(8, 0, 4), /0 features/],
      [mutate(16 + 2, 7), /kind 7/],
      [mutate(16 + 3, 5), /id type 5/],
      [mutate(16 + 8, 1000, 4), /truncated/], // 1000 rows of splits do not fit
      [mutate(16 + 12, 3, 4), /last row split \(2\) must equal the id count \(3\)/],
      [withTrailing, /8 bytes after the last feature/],
    ];
    for (const [body, message] of cases) {
      const reply = await call(`${server.url}/v1/models/emb:predict`, {
        body,
        contentType: BINARY_CONTENT_TYPE,
      });
      assert.equal(reply.status, 400, reply.text);
      assert.match((reply.json() as { error: string }).error, message);
    }
  });
});
