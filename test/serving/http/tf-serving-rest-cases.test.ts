/**
 * TF Serving's own REST test cases, replayed against this server with an embedding model in their place
 * (tensorflow_serving/model_servers/http_rest_api_handler_test.cc, tensorflow_serving/util/json_tensor_test.cc,
 * and the CORS preflight of model_servers/http_server.cc). Each case names its source test. TF Serving's
 * test model `saved_model_half_plus_two` (one float input `x`, output `x / 2 + 2`, version 123, label
 * `stable`) becomes `half`: one int64 input `x` declared `"input": "dense"` in features.json, looked up by
 * TF's gather in a 10 × 2 table whose row i is given below. Where TF Serving compares JSON semantically
 * (CompareJson) the answer is parsed and compared; where it compares number tokens as text
 * (CompareJsonAllValuesAsStrings) the text is compared. Cases about float or string inputs, base64,
 * classify/regress and the C++ API alone do not apply to an embedding model and are left out; the
 * deliberate differences are listed in docs (TF Serving REST compatibility).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileModelRegistry, startServer, type RunningServer } from "../../../src/index.js";
import { writeModel } from "../support/write-model.js";
import { call, postJson, type Reply } from "../support/http.js";

import { CASES, M, MULTI_CASES, P, T_ROWS, VERSION, type Case } from "./tf-serving-rest-data.js";

async function check(server: RunningServer, c: Case): Promise<Reply> {
  const url = server.url + c.path;
  const reply =
    c.body === undefined
      ? await call(url, { method: c.method ?? "GET" })
      : await call(url, { method: c.method ?? "POST", body: c.body });
  const what = `${c.source}: ${c.method ?? (c.body === undefined ? "GET" : "POST")} ${c.path} ${
    (c.body ?? "").length > 200 ? (c.body ?? "").slice(0, 60) + "…" : (c.body ?? "")
  } → ${reply.status} ${reply.text.slice(0, 300)}`;
  assert.equal(reply.status, c.status, what);
  assert.equal(reply.headers["content-type"], "application/json", what);
  if (c.text !== undefined) assert.equal(reply.text, c.text, what);
  if (c.json !== undefined) assert.deepEqual(reply.json(), c.json, what);
  if (c.error !== undefined) {
    const body = reply.json() as { error: string };
    assert.ok(body.error.includes(c.error), `${what}\nexpected the error to contain: ${c.error}`);
  }
  if (c.status >= 400) assert.deepEqual(Object.keys(reply.json() as object), ["error"], what);
  return reply;
}

describe("TF Serving's REST test cases, replayed with an embedding model", () => {
  let base: string;
  let registry: FileModelRegistry;
  let server: RunningServer;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), "tf-serving-cases-"));
    await writeModel(join(base, "half"), [{ name: "t", rows: T_ROWS }], {
      x: { table: "t", input: "dense" },
    });
    await writeModel(
      join(base, "multi"),
      [
        { name: "t", rows: T_ROWS },
        {
          name: "u",
          rows: [
            [0, 0],
            [1, 10],
            [2, 20],
            [3, 30],
          ],
          combiner: "sum",
        },
      ],
      { int_tensor: { table: "t", input: "dense" }, bag: { table: "u" } },
    );
    registry = await FileModelRegistry.open({
      models: [
        { name: "half", basePath: join(base, "half"), versionLabels: new Map([["stable", VERSION]]) },
        { name: "multi", basePath: join(base, "multi") },
      ],
      pollIntervalSeconds: 0,
    });
    server = await startServer({ registry, port: 0 });
  });
  after(async () => {
    await server.close();
    await registry.close();
    rmSync(base, { recursive: true, force: true });
  });

  test(`${CASES.length} cases on the one-input model`, async () => {
    for (const c of CASES) {
      await check(server, c);
    }
  });

  test(`${MULTI_CASES.length} cases on the two-input model`, async () => {
    for (const c of MULTI_CASES) await check(server, c);
  });

  test("http_rest_api_handler_test.cc GetModelMetadata: TF's GetModelMetadataResponse for the dense input", async () => {
    const reply = await call(`${server.url}/v1/models/half/metadata`);
    assert.equal(reply.status, 200);
    assert.equal(reply.headers["content-type"], "application/json");
    const body = reply.json() as {
      model_spec: unknown;
      metadata: {
        signature_def: { signature_def: Record<string, Record<string, unknown>> };
        tpu_embedding: { features: Record<string, unknown>[] };
      };
    };
    assert.deepEqual(body.model_spec, { name: "half", signature_name: "", version: "123" });
    const signature = body.metadata.signature_def.signature_def.serving_default;
    assert.deepEqual(signature.inputs, {
      x: { dtype: "DT_INT64", tensor_shape: { dim: [], unknown_rank: true }, name: "x:0" },
    });
    assert.deepEqual(signature.outputs, {
      x: { dtype: "DT_FLOAT", tensor_shape: { dim: [], unknown_rank: true }, name: "x_embedding:0" },
    });
    assert.equal(signature.method_name, "tensorflow/serving/predict");
    assert.equal(body.metadata.tpu_embedding.features[0].input, "dense");
    assert.equal(body.metadata.tpu_embedding.features[0].input_declared, true);
    const multi = (await call(`${server.url}/v1/models/multi/metadata`)).json() as typeof body;
    const inputs = multi.metadata.signature_def.signature_def.serving_default.inputs as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(inputs).sort(), ["bag", "bag_weights", "int_tensor"]);
    assert.deepEqual(
      multi.metadata.tpu_embedding.features.map((f) => [f.name, f.input, f.input_declared]),
      [
        ["bag", "ragged", false],
        ["int_tensor", "dense", true],
      ],
    );
  });

  test("json_tensor_test.cc MakeJsonFromTensors StatusError: error bodies are JSON with quotes escaped", async () => {
    const reply = await postJson(`${server.url}${M}`, '{"inputs": {"nope": [1]}}');
    assert.equal(reply.status, 400);
    assert.equal(
      (reply.json() as { error: string }).error,
      'Input "nope" is not a feature of this model. Inputs: bag, int_tensor.',
    );
  });
});

describe("CORS (http_server.cc: OPTIONS preflight, --rest_api_enable_cors_support)", () => {
  let base: string;
  let registry: FileModelRegistry;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), "tf-serving-cors-"));
    await writeModel(join(base, "half"), [{ name: "t", rows: T_ROWS }], {
      x: { table: "t", input: "dense" },
    });
    registry = await FileModelRegistry.open({
      models: [{ name: "half", basePath: join(base, "half") }],
      pollIntervalSeconds: 0,
    });
  });
  after(async () => {
    await registry.close();
    rmSync(base, { recursive: true, force: true });
  });

  test("without CORS: a preflight with an http(s) Origin is 200, without one 400; no Access-Control headers", async () => {
    const server = await startServer({ registry, port: 0 });
    try {
      const ok = await call(`${server.url}${P}`, {
        method: "OPTIONS",
        headers: { Origin: "https://app.test" },
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.text, "");
      assert.equal(ok.headers["access-control-allow-origin"], undefined);
      const missing = await call(`${server.url}${P}`, { method: "OPTIONS" });
      assert.equal(missing.status, 400);
      assert.deepEqual(missing.json(), { error: "Origin header is missing in CORS preflight" });
    } finally {
      await server.close();
    }
  });

  test("corsAllowedOrigins ['*']: TF Serving's three headers on every answer, errors included", async () => {
    const server = await startServer({ registry, port: 0, corsAllowedOrigins: ["*"] });
    try {
      for (const reply of [
        await call(`${server.url}${P}`, { method: "OPTIONS", headers: { Origin: "http://localhost:3000" } }),
        await call(`${server.url}/v1/models/half`, { headers: { Origin: "http://localhost:3000" } }),
        await postJson(`${server.url}${P}`, '{"instances": [1]}'),
        await postJson(`${server.url}${P}`, '{"instances": [1.5]}'),
      ]) {
        assert.equal(reply.headers["access-control-allow-origin"], "*");
        assert.equal(reply.headers["access-control-allow-methods"], "POST, GET");
        assert.equal(reply.headers["access-control-allow-headers"], "Content-Type");
      }
    } finally {
      await server.close();
    }
  });

  test("corsAllowedOrigins with a list: the request's Origin is echoed only when listed (Vary: Origin)", async () => {
    const server = await startServer({ registry, port: 0, corsAllowedOrigins: ["https://app.test"] });
    try {
      const listed = await call(`${server.url}/v1/models/half`, { headers: { Origin: "https://app.test" } });
      assert.equal(listed.headers["access-control-allow-origin"], "https://app.test");
      assert.equal(listed.headers.vary, "Origin");
      const other = await call(`${server.url}/v1/models/half`, { headers: { Origin: "https://evil.test" } });
      assert.equal(other.status, 200);
      assert.equal(other.headers["access-control-allow-origin"], undefined);
    } finally {
      await server.close();
    }
  });
});
