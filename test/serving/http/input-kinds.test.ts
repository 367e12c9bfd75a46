/**
 * features.json's `"input"` (dense | ragged | sparse) honoured by JSON and binary requests, int64 ids
 * written as integers only, and the README's "rows with weights" example sent exactly as documented.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DenseTensor,
  EmbeddingClient,
  EmbeddingServerError,
  FileModelRegistry,
  RaggedTensor,
  startServer,
  type RunningServer,
} from "../../../src/index.js";
import { postJson } from "../support/http.js";
import { writeModel } from "../support/write-model.js";

/** Row i of table `video` is [i, -i/2]: exact in float32, easy to combine by hand. */
const VIDEO = Array.from({ length: 100 }, (_, i) => [i, -i / 2]);
const f32 = (values: number[]) => values.map(Math.fround);

describe('features.json "input" kinds over REST and binary', () => {
  let base: string;
  let registry: FileModelRegistry;
  let server: RunningServer;
  let url: string;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), "input-kinds-"));
    await writeModel(
      join(base, "ranker"),
      [{ name: "video", rows: VIDEO }],
      {
        watched: { table: "video" },
        sp: { table: "video", input: "sparse" },
        d: { table: "video", input: "dense" },
        r: { table: "video", input: "ragged" },
      },
      1,
    );
    registry = await FileModelRegistry.open({
      models: [{ name: "ranker", basePath: join(base, "ranker") }],
      pollIntervalSeconds: 0,
    });
    server = await startServer({ registry, port: 0 });
    url = `${server.url}/v1/models/ranker:predict`;
  });
  after(async () => {
    await server.close();
    await registry.close();
    rmSync(base, { recursive: true, force: true });
  });

  test("the README's 'rows with weights' example, exactly as documented: an example without weights weighs 1", async () => {
    const documented = '{"instances": [{"watched": {"ids": [3, 14], "weights": [0.5, 2]}}, {"watched": 92}]}';
    const reply = await postJson(url, documented);
    assert.equal(reply.status, 200, reply.text);
    // mean of weighted ids: (0.5·row3 + 2·row14) / 2.5 = [29.5, -14.75] / 2.5; row 92 alone.
    const expected = [f32([29.5 / 2.5, -14.75 / 2.5]), f32([92, -46])];
    const predictions = (reply.json() as { predictions: { watched: number[] }[] }).predictions;
    assert.deepEqual(
      predictions.map((p) => f32(p.watched)),
      expected,
    );
    assert.equal(reply.text, '{"predictions":[{"watched":[11.8,-5.9]},{"watched":[92.0,-46.0]}]}');
    // Spelled out with weight 1, and with the weightless example first: the same answers.
    const explicit = await postJson(
      url,
      '{"instances": [{"watched": {"ids": [3, 14], "weights": [0.5, 2]}}, {"watched": {"ids": [92], "weights": [1]}}]}',
    );
    assert.equal(explicit.text, reply.text);
    const reversed = await postJson(
      url,
      '{"instances": [{"watched": 92}, {"watched": {"ids": [3, 14], "weights": [0.5, 2]}}]}',
    );
    assert.equal(reversed.text, '{"predictions":[{"watched":[92.0,-46.0]},{"watched":[11.8,-5.9]}]}');
  });

  test("sparse: bags are SparseTensor rows (TF's safe lookup prunes negative ids); undeclared bags refuse them", async () => {
    const sparse = await postJson(url, { inputs: { sp: [[3, -1], [92]] } });
    assert.equal(sparse.status, 200, sparse.text);
    assert.deepEqual((sparse.json() as { outputs: { sp: number[][] } }).outputs.sp, [
      [3, -1.5],
      [92, -46],
    ]);
    const ragged = await postJson(url, { inputs: { watched: [[3, -1], [92]] } });
    assert.equal(ragged.status, 400);
    assert.match((ragged.json() as { error: string }).error, /Feature "watched": id -1 is out of range/);
  });

  test('dense: plain lists are TF\'s gather; bag forms and weights are refused; {"dense"} still works', async () => {
    const gather = await postJson(url, { inputs: { d: [[1, 2]] } });
    assert.equal(gather.status, 200, gather.text);
    assert.equal(gather.text, '{"outputs":{"d":[[[1.0,-0.5],[2.0,-1.0]]]}}');
    const explicit = await postJson(url, { inputs: { d: { dense: [[1, 2]] } } });
    assert.equal(explicit.text, gather.text);
    const bags = await postJson(url, { inputs: { d: { ids: [[1]] } } });
    assert.equal(bags.status, 400);
    assert.match(
      (bags.json() as { error: string }).error,
      /^Feature "d" takes dense input \(features.json "input": "dense"\), but the request sends a ragged input/,
    );
    const weighted = await postJson(url, { inputs: { d: [[1, 2]], d_weights: [[1, 1]] } });
    assert.equal(weighted.status, 400);
    assert.match((weighted.json() as { error: string }).error, /^Weight specified for d, but input is dense/);
    const rows = await postJson(url, { instances: [{ d: [1, 2] }, { d: [3] }] });
    assert.equal(rows.status, 400);
    assert.match(
      (rows.json() as { error: string }).error,
      /Failed to process element: 1 key: d of 'instances' list\. Error: INVALID_ARGUMENT: Feature "d": Expecting tensor size: 2 but got: 1/,
    );
  });

  test("ragged declared: other forms are refused; undeclared features keep every explicit form", async () => {
    const dense = await postJson(url, { inputs: { r: { dense: [[1]] } } });
    assert.equal(dense.status, 400);
    assert.match((dense.json() as { error: string }).error, /Feature "r" takes ragged input/);
    const undeclared = await postJson(url, { inputs: { watched: { dense: [[1]] } } });
    assert.equal(undeclared.status, 200, undeclared.text);
    assert.equal(undeclared.text, '{"outputs":{"watched":[[[1.0,-0.5]]]}}');
    // A rectangular list for an undeclared feature stays bags (compatible): [2, dim], not [2, 2, dim].
    const bags = await postJson(url, {
      inputs: {
        watched: [
          [1, 3],
          [2, 4],
        ],
      },
    });
    assert.equal(bags.text, '{"outputs":{"watched":[[2.0,-1.0],[3.0,-1.5]]}}');
  });

  test("binary requests: a dense feature refuses a RaggedTensor, a sparse one reads it as rows", async () => {
    const client = new EmbeddingClient({ url: server.url, model: "ranker" });
    await assert.rejects(
      client.predict({ d: RaggedTensor.fromNested([[1, 2]]) }),
      (e: unknown) =>
        e instanceof EmbeddingServerError && e.status === 400 && /takes dense input/.test(e.message),
    );
    const out = await client.predict({
      d: DenseTensor.from([
        [1, 2],
        [3, 4],
      ]),
      sp: RaggedTensor.fromNested([[3, 14], [92]]),
    });
    assert.deepEqual(out.d.shape, [2, 2, 2]);
    assert.deepEqual(Array.from(out.d.data), [1, -0.5, 2, -1, 3, -1.5, 4, -2]);
    assert.deepEqual(out.sp.shape, [2, 2]);
    assert.deepEqual(Array.from(out.sp.data), [8.5, -4.25, 92, -46]);
  });

  test("ids are integers only: 1.0 and 1e0 are refused as TF Serving refuses them; weights may be 1.0", async () => {
    for (const body of [
      '{"inputs": {"watched": [[1.0]]}}',
      '{"inputs": {"watched": [[1e0]]}}',
      '{"instances": [{"watched": 2.00}]}',
      '{"inputs": {"sp": [[1E1]]}}',
    ]) {
      const reply = await postJson(url, body);
      assert.equal(reply.status, 400, body);
      assert.match(
        (reply.json() as { error: string }).error,
        /is (1\.0|1e0|2\.00|1E1): JSON Value: (1|2|10)\.0 Type: Number is not of expected type: int64/,
        body,
      );
    }
    const weights = await postJson(
      url,
      '{"inputs": {"watched": {"ids": [[3, 14]], "weights": [[1.0, 3e0]]}}}',
    );
    assert.equal(weights.status, 200, weights.text);
    // (1·row3 + 3·row14) / 4 = [45, -22.5] / 4
    assert.equal(weights.text, '{"outputs":{"watched":[[11.25,-5.625]]}}');
  });
});
