import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { RunningServer, ServableModel } from "../../../src/index.js";
import { modelFeatures } from "../../../src/serving/batching/model-features.js";
import { parseJsonBody } from "../../../src/serving/http/json-body.js";
import { decodeJsonPredict } from "../../../src/serving/http/json-request.js";
import { encodeJsonPredict } from "../../../src/serving/http/json-response.js";
import { directLookup } from "../support/direct-lookup.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import { postJson } from "../support/http.js";
import { seededRandom } from "../../support/seeded-random.js";

/**
 * Issue 14, item 3, through the server: requests whose lookup fails inside the worker pool (its shared
 * memory cannot be allocated: simulated above 8 MiB) get 429 RESOURCE_EXHAUSTED, malformed ones 400, and
 * every valid request around them, before, after and at the same time, gets exactly the library's direct
 * synchronous lookup.
 */
const LIMIT = 8 * 1024 * 1024;
const RealShared = globalThis.SharedArrayBuffer;
class FailingShared extends RealShared {
  constructor(bytes: number) {
    if (bytes > LIMIT) throw new RangeError("Array buffer allocation failed");
    super(bytes);
  }
}

let model: ServableModel;
let server: RunningServer;
let url: string;
before(async () => {
  model = await buildTestModel(1, 55);
  ({ server, url } = await serveTestModel(model));
  globalThis.SharedArrayBuffer = FailingShared as SharedArrayBufferConstructor;
});
after(async () => {
  globalThis.SharedArrayBuffer = RealShared;
  await server.close();
});

test("valid answers between failing and malformed requests equal the direct lookup", async () => {
  const { int } = seededRandom(314);
  const features = modelFeatures(model);
  const valid = () =>
    JSON.stringify({
      inputs: {
        watched: Array.from({ length: 1 + int(6) }, () => Array.from({ length: int(4) }, () => int(1000))),
        friends: { indices: [[0, int(3)]], values: [int(100)], dense_shape: [1 + int(3), 3] },
      },
    });
  // 300,000 rows × 8 values: the pool's output slot (9.6 MB) cannot be allocated.
  const failing = () =>
    JSON.stringify({
      inputs: { watched: { indices: [[0, 0]], values: [int(1000)], dense_shape: [300_000, 2] } },
    });
  const malformed = () => JSON.stringify({ inputs: { watched: [[int(5) + 1000]] } });
  const statuses = new Map<number, number>();
  for (let round = 0; round < 40; round++) {
    const bodies = [valid(), round % 2 === 0 ? failing() : malformed(), valid(), failing(), valid()];
    const replies = round % 3 === 0 ? [] : await Promise.all(bodies.map((b) => postJson(url, b)));
    if (round % 3 === 0) for (const b of bodies) replies.push(await postJson(url, b));
    replies.forEach((reply, i) => {
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (bodies[i].includes("300000")) {
        assert.equal(reply.status, 429, reply.text.slice(0, 200));
        assert.match(reply.text, /memory could not be allocated/);
      } else if (reply.status === 200) {
        const { format, inputs } = decodeJsonPredict(parseJsonBody(bodies[i]), features);
        assert.equal(
          reply.text,
          encodeJsonPredict(format, directLookup(model, inputs), false),
          `round ${round}`,
        );
      } else {
        assert.equal(reply.status, 400, reply.text.slice(0, 200));
      }
    });
  }
  assert.equal(statuses.get(200), 120);
});
