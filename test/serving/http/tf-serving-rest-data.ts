/**
 * The cases of TF Serving's REST tests (http_rest_api_handler_test.cc, json_tensor_test.cc) adapted to an
 * embedding model, replayed by tf-serving-rest-cases.test.ts (which says how they were adapted).
 */
export const VERSION = 123; // writeModel writes version 123 (TF Serving's kTestModelVersion1)

/** Table `t` of the `half` model: whole values (printed `1.0`), TF's six-digit cases, -0, NaN, ±Infinity. */
export const T_ROWS = [
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

export interface Case {
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

export const P = "/v1/models/half:predict";

export const CASES: Case[] = [
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

export const M = "/v1/models/multi:predict";

/** The two-input model `multi`: a dense `int_tensor` (table t) and `bag`, bags of ids (table u, sum). */
export const MULTI_CASES: Case[] = [
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
