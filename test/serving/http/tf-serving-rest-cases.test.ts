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

const VERSION = 123; // writeModel writes version 123 (TF Serving's kTestModelVersion1)

/** Table `t` of the `half` model: whole values (printed `1.0`), TF's six-digit cases, -0, NaN, ±Infinity. */
const T_ROWS = [
  [0, 0],
  [1, 0.25],
  [2, 0.5],
  [3, 0.75],
  [4, 1],
  [5, 1.25],
  [NaN, Infinity],
  [-0, 9000000],
  [0.0003, 0.00003],
  [555557.5, 999999],
];

interface Case {
  /** TF Serving's test (file and TEST name) the case comes from. */
  readonly source: string;
  readonly method?: string;
  readonly path: string;
  readonly body?: string;
  readonly status: number;
  /** The exact answer (number tokens as TF Serving prints them). */
  readonly text?: string;
  /** The answer compared as JSON (TF Serving's CompareJson). */
  readonly json?: unknown;
  /** A substring TF Serving's test asserts in the error message (HasSubstr). */
  readonly error?: string;
}

const P = "/v1/models/half:predict";

const CASES: Case[] = [
  // ---- http_rest_api_handler_test.cc, UnsupportedApiCalls -------------------------------------------
  ...[
    ["GET", "/v1/foo", "Malformed request"],
    ["POST", "/v1/foo", "Malformed request"],
    ["GET", "/v1/models", "Missing model name"],
    ["GET", "/v1/models/debug/model_name", "Malformed request"],
    ["POST", "/v1/models", "Malformed request"],
    ["GET", "/v1/models/foo:predict", "Malformed request"],
    ["GET", "/v1/models/foo/version/50:predict", "Malformed request"],
    ["POST", "/v1/models/foo/version/50:regress", "Malformed request"],
    ["POST", "/v1/models/foo/versions/HELLO:regress", "Malformed request"],
    ["POST", "/v1/models/foo/versions/18446744073709551615:regress", "Failed to convert version"],
    ["POST", "/v1/models/foo/metadata", "Malformed request"],
    ["POST", "/v1/models/foo/label/some_label:regress", "Malformed request"],
    ["POST", "/v1/models/foo/versions/50/labels/some_label:regress", "Malformed request"],
    ["POST", "/v1/models/foo/versions/some_label:regress", "Malformed request"],
  ].map(([method, path, error]) => ({
    source: "http_rest_api_handler_test.cc UnsupportedApiCalls",
    method,
    path,
    body: method === "POST" ? "" : undefined,
    status: 400,
    error,
  })),

  // ---- PredictModelNameVersionErrors: NOT_FOUND ------------------------------------------------------
  ...["/v1/models/foo:predict", "/v1/models/foo/versions/50:predict", "/v1/models/half99:predict"].map(
    (path) => ({
      source: "http_rest_api_handler_test.cc PredictModelNameVersionErrors",
      path,
      body: '{ "instances": [1] }',
      status: 404,
    }),
  ),
  {
    source: "http_rest_api_handler_test.cc PredictModelNameVersionErrors (the model's own version 50)",
    path: "/v1/models/half/versions/50:predict",
    body: '{ "instances": [1] }',
    status: 404,
  },

  // ---- PredictRequestErrors ---------------------------------------------------------------------------
  {
    source: "http_rest_api_handler_test.cc PredictRequestErrors",
    path: P,
    body: "",
    status: 400,
    error: "JSON Parse error: The document is empty",
  },
  {
    source: "http_rest_api_handler_test.cc PredictRequestErrors",
    path: P,
    body: "instances = [1, 2]",
    status: 400,
    error: "JSON Parse error: Invalid value",
  },
  {
    source: "http_rest_api_handler_test.cc PredictRequestErrors (dtype: the ids are int64, not float)",
    path: P,
    body: '{ "instances": ["x", "y"] }',
    status: 400,
    error: "not of expected type: int64",
  },
  {
    source: "http_rest_api_handler_test.cc PredictRequestErrors",
    path: "/v1/models/half/labels/nonexistent:predict",
    body: '{ "instances": ["x", "y"] }',
    status: 400,
    error: "Unrecognized servable version label",
  },
  {
    source: "http_rest_api_handler_test.cc PredictRequestErrors",
    path: P,
    body: '{ "signature_name": 100 }',
    status: 400,
    error: "'signature_name' key must be a string value.",
  },

  // ---- Predict (TF's half_plus_two answers x/2+2; here: rows of table t, TF's gather) -------------------
  {
    source: "http_rest_api_handler_test.cc Predict",
    path: P,
    body: '{"instances": [[1, 2], [3, 4]]}',
    status: 200,
    text: '{"predictions":[[[1.0,0.25],[2.0,0.5]],[[3.0,0.75],[4.0,1.0]]]}',
  },
  ...[`/v1/models/half/versions/${VERSION}:predict`, "/v1/models/half/labels/stable:predict"].map((path) => ({
    source: "http_rest_api_handler_test.cc Predict",
    path,
    body: '{"instances": [1, 2]}',
    status: 200,
    text: '{"predictions":[[1.0,0.25],[2.0,0.5]]}',
  })),
  {
    source: "http_rest_api_handler_test.cc Predict",
    path: `/v1/models/half/versions/${VERSION}:predict`,
    body: '{"signature_name": "serving_default", "instances": [3, 4]}',
    status: 200,
    text: '{"predictions":[[3.0,0.75],[4.0,1.0]]}',
  },
  {
    source: "http_rest_api_handler_test.cc Predict",
    path: `/v1/models/half/versions/${VERSION}:predict`,
    body: '{"signature_name": "serving_default", "inputs": [3, 4]}',
    status: 200,
    text: '{"outputs":[[3.0,0.75],[4.0,1.0]]}',
  },

  // ---- GetStatus -------------------------------------------------------------------------------------
  ...["/v1/models/half", `/v1/models/half/versions/${VERSION}`, "/v1/models/half/labels/stable"].map(
    (path) => ({
      source: "http_rest_api_handler_test.cc GetStatus",
      method: "GET",
      path,
      status: 200,
      json: {
        model_version_status: [
          { version: "123", state: "AVAILABLE", status: { error_code: "OK", error_message: "" } },
        ],
      },
    }),
  ),

  // ---- json_tensor_test.cc: requests ------------------------------------------------------------------
  {
    source:
      "json_tensor_test.cc SingleUnnamedTensor / TensorFromNonNullTerminatedBuffer: a dense [3, 2] tensor",
    path: P,
    body: '{"instances": [[1,2],[3,4],[5,6]]}',
    status: 200,
    text: '{"predictions":[[[1.0,0.25],[2.0,0.5]],[[3.0,0.75],[4.0,1.0]],[[5.0,1.25],[NaN,Infinity]]]}',
  },
  {
    source: "json_tensor_test.cc DeeplyNestedWellFormed (other top-level keys are ignored)",
    path: P,
    body: `{"instances":[1], "nested":${"[".repeat(500000)}${"]".repeat(500000)}}`,
    status: 200,
    text: '{"predictions":[[1.0,0.25]]}',
  },
  {
    source: "json_tensor_test.cc DeeplyNestedMalformed",
    path: P,
    body: `{"signature_name":${"[".repeat(500000)}${"]".repeat(500000)}}`,
    status: 400,
    error: "key must be a string value",
  },
  {
    source: "json_tensor_test.cc SingleUnnamedTensorWithSignature (the model has serving_default only)",
    path: P,
    body: '{"signature_name": "predict_images", "instances": [[1,2]]}',
    status: 400,
    error: 'Serving signature name: "predict_images" not found in signature def',
  },
  {
    source: "json_tensor_test.cc SingleUnnamedTensorColumnarFormat",
    path: P,
    body: '{"inputs": {"x": [[[1,2],[3,4],[5,6]]]}}',
    status: 200,
    text: '{"outputs":[[[[1.0,0.25],[2.0,0.5]],[[3.0,0.75],[4.0,1.0]],[[5.0,1.25],[NaN,Infinity]]]]}',
  },
  {
    source: "json_tensor_test.cc SingleUnnamedTensorColumnarFormat (input name left out)",
    path: P,
    body: '{"inputs": [[[1,2],[3,4],[5,6]]]}',
    status: 200,
    text: '{"outputs":[[[[1.0,0.25],[2.0,0.5]],[[3.0,0.75],[4.0,1.0]],[[5.0,1.25],[NaN,Infinity]]]]}',
  },
  {
    source: "json_tensor_test.cc SingleUnnamedTensorErrors",
    path: P,
    body: '{"signature_name": 5, "instances": [[1,2],[3,4],[5,6,7]]}',
    status: 400,
    error: "must be a string value",
  },
  {
    source: "json_tensor_test.cc SingleUnnamedTensorErrors",
    path: P,
    body: '{"instances": [[1,2],[3,4],[5,6,7]], "inputs": [[1,2],[3,4],[5,6,7]]}',
    status: 400,
    error: "Not formatted correctly",
  },
  {
    source: "json_tensor_test.cc SingleUnnamedTensorErrors",
    path: P,
    body: '{"instances": [[1,2],[3,4],[5,6,7]]}',
    status: 400,
    error: "Expecting tensor size",
  },
  {
    source: "json_tensor_test.cc SingleUnnamedTensorErrors",
    path: P,
    body: '{"instances": [[1,2],[3,4],[[5,6]]]}',
    status: 400,
    error: "Expecting shape",
  },
  {
    source: "json_tensor_test.cc SingleUnnamedTensorErrors: [1, [1]] is not a dense tensor",
    path: P,
    body: '{"instances": [1, [1]]}',
    status: 400,
    error: "Expecting shape [] but got: [1]",
  },
  {
    source: "json_tensor_test.cc SingleUnnamedTensorErrors",
    path: P,
    body: '{"instances": [[1,2],["a", "b"]]}',
    status: 400,
    error: "not of expected type",
  },
  {
    source: "json_tensor_test.cc MultipleNamedTensorErrors (value/list then object; ints for strings)",
    path: P,
    body: '{"instances": [[1, 2], {"x": [1, 2]}]}',
    status: 400,
    error: "Expecting value/list but got object",
  },
  {
    source:
      "json_tensor.cc GetDenseTensorShape: rank-3 instances stack to a rank-4 tensor (TF's gather: + [dim])",
    path: P,
    body: '{"instances": [[[1, 2]], [[3, 4]]]}',
    status: 200,
    text: '{"predictions":[[[[1.0,0.25],[2.0,0.5]]],[[[3.0,0.75],[4.0,1.0]]]]}',
  },
  {
    source: "json_tensor.cc FillTensorProto: a scalar columnar input is a rank-0 tensor (TF's gather: [dim])",
    path: P,
    body: '{"inputs": 4}',
    status: 200,
    text: '{"outputs":[4.0,1.0]}',
  },
  {
    source: "json_tensor.cc FillTensorProto: a list at an unexpected size",
    path: P,
    body: '{"inputs": [[1, 2], [3]]}',
    status: 400,
    error: "Encountered list at unexpected size: 1 at level: 1 expected size: 2",
  },
  {
    source: "json_tensor.cc FillTensorProto: a value at an incorrect level",
    path: P,
    body: '{"inputs": [[1, 2], 3]}',
    status: 400,
    error: "JSON Value: 3 found at incorrect level: 2 in the JSON DOM. Expected at level: 2",
  },
  // int64 ids: rapidjson's IsInt64 is false for 1.0 and 1e0 (AddValueToTensor's TypeError)
  ...['{"instances": [1.0, 2]}', '{"instances": [1e0]}', '{"inputs": [[2, 1.00]]}'].map((body) => ({
    source: "json_tensor.cc AddValueToTensor DT_INT64: a float literal is not an int64",
    path: P,
    body,
    status: 400,
    error: "Type: Number is not of expected type: int64",
  })),

  // ---- json_tensor_test.cc: answers (MakeJsonFromTensors) ----------------------------------------------
  {
    source: "json_tensor_test.cc FromJsonSingleFloatTensorSixDigitPrecision (number tokens compared as text)",
    path: P,
    body: '{"instances": [7, 8, 9]}',
    status: 200,
    text: '{"predictions":[[-0.0,9e+06],[0.0003,3e-05],[555557.5,999999.0]]}',
  },
  {
    source: "json_tensor_test.cc FromJsonSingleFloatTensorNonFinite",
    path: P,
    body: '{"instances": [6, 3]}',
    status: 200,
    text: '{"predictions":[[NaN,Infinity],[3.0,0.75]]}',
  },
  {
    source: "json_tensor_test.cc FromJsonSingleZeroBatchTensor (a [0] input, TF's gather: [0, 2])",
    path: P,
    body: '{"inputs": []}',
    status: 200,
    text: '{"outputs":[]}',
  },
];

const M = "/v1/models/multi:predict";

/** The two-input model `multi`: a dense `int_tensor` (table t) and `bag`, bags of ids (table u, sum). */
const MULTI_CASES: Case[] = [
  {
    source: "json_tensor_test.cc MultipleNamedTensor (the int tensor; a bag beside it)",
    path: M,
    body: JSON.stringify({
      instances: [
        {
          int_tensor: [
            [1, 2],
            [3, 4],
            [5, 0],
          ],
          bag: [1, 2],
        },
        {
          int_tensor: [
            [7, 8],
            [9, 0],
            [1, 2],
          ],
          bag: [3],
        },
      ],
    }),
    status: 200,
    text:
      '{"predictions":[{"int_tensor":[[[1.0,0.25],[2.0,0.5]],[[3.0,0.75],[4.0,1.0]],[[5.0,1.25],[0.0,0.0]]],' +
      '"bag":[3.0,30.0]},{"int_tensor":[[[-0.0,9e+06],[0.0003,3e-05]],[[555557.5,999999.0],[0.0,0.0]],' +
      '[[1.0,0.25],[2.0,0.5]]],"bag":[3.0,30.0]}]}',
  },
  {
    source: "json_tensor_test.cc MultipleNamedTensorColumnarFormat (the int tensor)",
    path: M,
    body: '{"inputs": {"int_tensor": [[[1,2],[3,4],[5,0]]]}}',
    status: 200,
    // a model with several outputs answers with an object by output name (TF Serving's kColumnar rule)
    text: '{"outputs":{"int_tensor":[[[[1.0,0.25],[2.0,0.5]],[[3.0,0.75],[4.0,1.0]],[[5.0,1.25],[0.0,0.0]]]]}}',
  },
  {
    source: "json_tensor_test.cc MultipleNamedTensorErrors: different shapes across instances",
    path: M,
    body: JSON.stringify({
      instances: [
        {
          int_tensor: [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          bag: [1],
        },
        {
          int_tensor: [
            [
              [7, 8],
              [9, 0],
              [1, 2],
            ],
          ],
          bag: [2],
        },
      ],
    }),
    status: 400,
    error: "Expecting shape",
  },
  {
    source: "json_tensor_test.cc MultipleNamedTensorErrors: different sizes across instances",
    path: M,
    body: JSON.stringify({
      instances: [
        {
          int_tensor: [
            [1, 2],
            [3, 4],
            [5, 6],
            [7, 8],
          ],
          bag: [1],
        },
        {
          int_tensor: [
            [7, 8],
            [9, 0],
            [1, 2],
          ],
          bag: [2],
        },
      ],
    }),
    status: 400,
    error: "Expecting tensor size",
  },
  {
    source: "json_tensor_test.cc MultipleNamedTensorErrors: object then list",
    path: M,
    body: JSON.stringify({
      instances: [{ int_tensor: [[1, 2]], bag: [1] }, [1, 20, 30], { int_tensor: [[1, 2]], bag: [1] }],
    }),
    status: 400,
    error: "Expecting object but got list",
  },
  {
    source: "http_rest_api_handler_test.cc / json_tensor.cc: a plain list for a two-input model",
    path: M,
    body: '{"instances": [[1, 2]]}',
    status: 400,
    error: "instances is a plain list, but expecting list of objects",
  },
];

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
