import { test } from "node:test";
import assert from "node:assert/strict";
import { matchRoute } from "../../../src/serving/http/routes.js";

test("predict routes: TF Serving's grammar, the same answer from the cache, errors never cached", () => {
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(matchRoute("POST", "/v1/models/emb:predict"), { kind: "predict", model: "emb" });
    assert.deepEqual(matchRoute("POST", "/v1/models/emb/versions/3:predict"), {
      kind: "predict",
      model: "emb",
      version: 3,
    });
    assert.deepEqual(matchRoute("POST", "/v1/models/e%20m/labels/canary:PREDICT"), {
      kind: "predict",
      model: "e m",
      label: "canary",
    });
    assert.throws(() => matchRoute("POST", "/v1/models/emb:classify"), /classify is not supported/);
    assert.throws(() => matchRoute("POST", "/v1/models/emb/versions/99999999999999999999:predict"), {
      message: "Failed to convert version: 99999999999999999999 to numeric.",
    });
    assert.throws(() => matchRoute("POST", "/v1/models/%E0%A4%A:predict"), /Malformed URL-encoding/);
    assert.throws(() => matchRoute("POST", "/v2/models/emb:predict"), /Malformed request: POST/);
  }
  // A cached route is shared between requests: it cannot be changed by one of them.
  const route = matchRoute("POST", "/v1/models/emb:predict");
  assert.equal(route, matchRoute("POST", "/v1/models/emb:predict"));
  assert.ok(Object.isFrozen(route));
  // More distinct paths than the cache holds still route correctly.
  for (let i = 0; i < 600; i++)
    assert.deepEqual(matchRoute("POST", `/v1/models/m${i}:predict`), { kind: "predict", model: `m${i}` });
  assert.deepEqual(matchRoute("GET", "/v1/models/emb/metadata"), { kind: "metadata", model: "emb" });
});
