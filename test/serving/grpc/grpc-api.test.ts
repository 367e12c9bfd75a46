import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { startServer, type RunningServer, type ServableModel } from "../../../src/index.js";
import type { FeatureInput } from "../../../src/serving/batching/feature-input.js";
import { BINARY_CONTENT_TYPE } from "../../../src/serving/binary/binary-format.js";
import { encodeBinaryRequest } from "../../../src/serving/binary/request-codec.js";
import { decodeBinaryResponse } from "../../../src/serving/binary/response-codec.js";
import { SignatureDefMapSchema } from "../../../src/serving/grpc/proto/gen/tensorflow_serving/apis/get_model_metadata_pb.js";
import { DataType } from "../../../src/serving/grpc/proto/gen/tensorflow/core/framework/types_pb.js";
import { buildTestModel, serveTestModel, TestRegistry } from "../support/test-registry.js";
import { call, postJson } from "../support/http.js";
import {
  connect,
  floatTensor,
  int32Tensor,
  int64Tensor,
  readFloat,
  unary,
  type Clients,
  type Msg,
} from "./support.js";

describe("gRPC API (TF Serving's PredictionService / ModelService) with a standard gRPC client", () => {
  let server: RunningServer;
  let registry: TestRegistry;
  let clients: Clients;
  let model: ServableModel;

  before(async () => {
    model = await buildTestModel(1, 5);
    ({ server, registry } = await serveTestModel(model, { grpcPort: 0 }));
    registry.add(await buildTestModel(2, 6));
    registry.setLabel("stable", 1);
    clients = connect(server.grpc!.url);
  });
  after(async () => {
    clients.close();
    await server.close();
  });

  /** The REST binary API's answer (exact float32 bits) for the same inputs. */
  async function rest(inputs: Map<string, FeatureInput>, version = 2) {
    const reply = await call(`${server.url}/v1/models/emb/versions/${version}:predict`, {
      body: encodeBinaryRequest(inputs),
      contentType: BINARY_CONTENT_TYPE,
    });
    assert.equal(reply.status, 200, reply.text);
    return decodeBinaryResponse(reply.bytes);
  }

  async function predict(inputs: Record<string, Msg>, spec: Msg = { name: "emb" }, extra: Msg = {}) {
    return unary(clients.prediction, "Predict", { model_spec: spec, inputs, ...extra });
  }

  function assertSame(
    response: Msg,
    expected: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
  ) {
    assert.deepEqual(Object.keys(response.outputs).sort(), [...expected.keys()].sort());
    for (const [name, want] of expected) {
      const got = readFloat(response.outputs[name]);
      assert.deepEqual(got.dims, [...want.shape], name);
      assert.deepEqual(new Uint32Array(got.data.buffer), new Uint32Array(want.data.slice().buffer), name);
    }
  }

  for (const form of ["content", "int64_val"] as const) {
    test(`${form}: ragged, weighted, sequence and dense features equal the REST API bit for bit`, async () => {
      const { response, error } = await predict({
        watched: int64Tensor([3, 14, 15, 92], [4], form),
        watched_row_splits: int64Tensor([0, 3, 4, 4], [4], form),
        friends: int64Tensor([1, 2, 3], [3], form),
        friends_row_splits: int64Tensor([0, 2, 3, 3], [4], form),
        friends_weights: floatTensor([1, 0.5, 2], [3], form === "content" ? "content" : "float_val"),
        favorited: int64Tensor([7, 8, 9, 10, 11], [5], form),
        favorited_row_splits: int64Tensor([0, 2, 2, 5], [4], form),
        "user/topics": int64Tensor([1, 2, 3, 4, 5, 6], [3, 2], form),
      });
      assert.equal(error, undefined, error?.details);
      const expected = await rest(
        new Map<string, FeatureInput>([
          [
            "watched",
            {
              kind: "ragged",
              ids: Int32Array.of(3, 14, 15, 92),
              rowSplits: Int32Array.of(0, 3, 4, 4),
              weights: null,
            },
          ],
          [
            "friends",
            {
              kind: "ragged",
              ids: Int32Array.of(1, 2, 3),
              rowSplits: Int32Array.of(0, 2, 3, 3),
              weights: Float32Array.of(1, 0.5, 2),
            },
          ],
          [
            "favorited",
            {
              kind: "ragged",
              ids: Int32Array.of(7, 8, 9, 10, 11),
              rowSplits: Int32Array.of(0, 2, 2, 5),
              weights: null,
            },
          ],
          ["user/topics", { kind: "dense", ids: Int32Array.of(1, 2, 3, 4, 5, 6), shape: [3, 2] }],
        ]),
      );
      assertSame(response, expected);
      // Shapes as TF's: [batch, dim], sequences [batch, L, dim], dense ids + [dim].
      assert.deepEqual(readFloat(response.outputs.watched).dims, [3, 8]);
      assert.deepEqual(readFloat(response.outputs.favorited).dims, [3, 3, 8]);
      assert.deepEqual(readFloat(response.outputs["user/topics"]).dims, [3, 2, 2]);
      assert.equal(response.model_spec.name, "emb");
      assert.equal(response.model_spec.version.value, "2");
      assert.equal(response.model_spec.signature_name, "serving_default");
      // And the REST JSON API prints the same numbers.
      const json = await postJson(`${server.url}/v1/models/emb:predict`, {
        inputs: { watched: [[3, 14, 15], [92], []] },
      });
      assert.deepEqual(
        Float32Array.from((json.json() as Msg).outputs.watched.flat()),
        readFloat(response.outputs.watched).data,
      );
    });
  }

  test("a 1-D dense [batch] tensor gives [batch, dim]; int32 ids; one int64_val value fills the shape", async () => {
    const dense = await predict(
      { friends: int32Tensor([4, 5], [2]) },
      { name: "emb", version: { value: "1" } },
    );
    assert.equal(dense.error, undefined, dense.error?.details);
    const friends = readFloat(dense.response.outputs.friends);
    assert.deepEqual(friends.dims, [2, 4]);
    const table = [...model.embedding.embeddingTables].find(([t]) => t.name === "user")![1];
    assert.deepEqual(friends.data.subarray(0, 4), table.data.subarray(4 * 4, 5 * 4));
    assert.deepEqual(friends.data.subarray(4, 8), table.data.subarray(5 * 4, 6 * 4));

    const filled = await predict({
      friends: { dtype: "DT_INT64", tensor_shape: { dim: [{ size: "3" }] }, int64_val: ["7"] },
    });
    assert.equal(filled.error, undefined, filled.error?.details);
    const expected = await rest(
      new Map([["friends", { kind: "dense", ids: Int32Array.of(7, 7, 7), shape: [3] }]]),
    );
    assertSame(filled.response, expected);
  });

  test("a sparse batch (indices + dense_shape, weights) equals REST's", async () => {
    const { response, error } = await predict({
      watched: int64Tensor([3, 14, 15], [3], "int64_val"),
      watched_indices: int64Tensor([0, 0, 0, 1, 2, 0], [3, 2], "content"),
      watched_dense_shape: int64Tensor([3, 4], [2], "int64_val"),
      watched_weights: floatTensor([1, 2, 3], [3], "float_val"),
    });
    assert.equal(error, undefined, error?.details);
    const expected = await rest(
      new Map([
        [
          "watched",
          {
            kind: "sparse",
            ids: Int32Array.of(3, 14, 15),
            indices: BigInt64Array.of(0n, 0n, 0n, 1n, 2n, 0n),
            denseShape: [3, 4],
            weights: Float32Array.of(1, 2, 3),
          },
        ],
      ]),
    );
    assertSame(response, expected);
  });

  test("model_spec: a version, a label; output_filter selects outputs", async () => {
    const inputs = { watched: int64Tensor([3], [1], "content"), friends: int64Tensor([3], [1], "content") };
    const pinned = await predict(inputs, { name: "emb", version: { value: "1" } });
    assert.equal(pinned.error, undefined, pinned.error?.details);
    assert.equal(pinned.response.model_spec.version.value, "1");
    assertSame(
      pinned.response,
      await rest(
        new Map([
          ["watched", { kind: "dense", ids: Int32Array.of(3), shape: [1] }],
          ["friends", { kind: "dense", ids: Int32Array.of(3), shape: [1] }],
        ]),
        1,
      ),
    );
    const labelled = await predict(
      inputs,
      { name: "emb", version_label: "stable" },
      { output_filter: ["friends"] },
    );
    assert.equal(labelled.error, undefined, labelled.error?.details);
    assert.equal(labelled.response.model_spec.version.value, "1");
    assert.deepEqual(Object.keys(labelled.response.outputs), ["friends"]);
  });

  const errors: [string, () => Promise<{ error?: Msg }>, number, RegExp][] = [
    [
      "unknown model",
      () => predict({ friends: int32Tensor([1], [1]) }, { name: "nope" }),
      GrpcStatus.NOT_FOUND,
      /nope/,
    ],
    [
      "unknown version",
      () => predict({ friends: int32Tensor([1], [1]) }, { name: "emb", version: { value: "9" } }),
      GrpcStatus.NOT_FOUND,
      /Servable not found/,
    ],
    [
      "unknown label",
      () => predict({ friends: int32Tensor([1], [1]) }, { name: "emb", version_label: "canary" }),
      GrpcStatus.INVALID_ARGUMENT,
      /Unrecognized servable version label: canary/,
    ],
    [
      "empty model name",
      () => predict({ friends: int32Tensor([1], [1]) }, { name: "" }),
      GrpcStatus.INVALID_ARGUMENT,
      /ModelSpec has no name specified/,
    ],
    [
      "out-of-range id",
      () => predict({ friends: int64Tensor([1, 100], [2], "content") }),
      GrpcStatus.INVALID_ARGUMENT,
      /Feature "friends": id 100 is out of range for table "user"/,
    ],
    [
      "short tensor_content",
      () =>
        predict({
          watched: {
            dtype: "DT_INT64",
            tensor_shape: { dim: [{ size: "3" }] },
            tensor_content: Buffer.alloc(16),
          },
        }),
      GrpcStatus.INVALID_ARGUMENT,
      /Input "watched": tensor_content has 16 bytes; DT_INT64 of shape \[3\] needs 24/,
    ],
    [
      "int64_val shorter than the shape",
      () =>
        predict({
          watched: { dtype: "DT_INT64", tensor_shape: { dim: [{ size: "3" }] }, int64_val: ["1", "2"] },
        }),
      GrpcStatus.INVALID_ARGUMENT,
      /Input "watched": int64_val has 2 values but its shape holds 3/,
    ],
    [
      "float ids",
      () => predict({ watched: floatTensor([1], [1], "float_val") }),
      GrpcStatus.INVALID_ARGUMENT,
      /Input "watched" is DT_FLOAT; ids must be DT_INT64 or DT_INT32/,
    ],
    [
      "bad row splits",
      () =>
        predict({
          watched: int64Tensor([1, 2], [2], "content"),
          watched_row_splits: int64Tensor([0, 3], [2], "content"),
        }),
      GrpcStatus.INVALID_ARGUMENT,
      /Input "watched_row_splits": row_splits\[1\] is 3/,
    ],
    [
      "unknown input alias",
      () => predict({ nope: int32Tensor([1], [1]) }),
      GrpcStatus.INVALID_ARGUMENT,
      /input tensor alias not found in signature: nope/,
    ],
    [
      "unknown signature",
      () => predict({ friends: int32Tensor([1], [1]) }, { name: "emb", signature_name: "classify" }),
      GrpcStatus.FAILED_PRECONDITION,
      /Serving signature key "classify" not found\./,
    ],
    [
      "unknown output_filter alias",
      () => predict({ friends: int32Tensor([1], [1]) }, { name: "emb" }, { output_filter: ["nope"] }),
      GrpcStatus.INVALID_ARGUMENT,
      /output tensor alias not found in signature: nope/,
    ],
    [
      "HandleReloadConfigRequest on a registry that cannot reload",
      () => unary(clients.model, "HandleReloadConfigRequest", { config: {} }),
      GrpcStatus.UNIMPLEMENTED,
      /HandleReloadConfigRequest is not supported/,
    ],
    [
      "Classify",
      () => unary(clients.prediction, "Classify", { model_spec: { name: "emb" } }),
      GrpcStatus.UNIMPLEMENTED,
      /Classify is not supported/,
    ],
  ];
  for (const [what, run, code, message] of errors) {
    test(`error: ${what} → ${GrpcStatus[code]}`, async () => {
      const { error } = await run();
      assert.ok(error !== undefined, "expected an error");
      assert.equal(error.code, code, error.details);
      assert.match(error.details, message);
    });
  }

  test("GetModelStatus answers as TF Serving's (all versions, one version, NOT_FOUND)", async () => {
    registry.fail(3, "bad checkpoint");
    const all = await unary(clients.model, "GetModelStatus", { model_spec: { name: "emb" } });
    assert.equal(all.error, undefined, all.error?.details);
    assert.deepEqual(
      all.response.model_version_status.map((s: Msg) => [
        s.version,
        s.state,
        s.status.error_code ?? "OK",
        s.status.error_message ?? "",
      ]),
      [
        ["3", "END", "DATA_LOSS", "bad checkpoint"],
        ["2", "AVAILABLE", "OK", ""],
        ["1", "AVAILABLE", "OK", ""],
      ],
    );
    const one = await unary(clients.model, "GetModelStatus", {
      model_spec: { name: "emb", version: { value: "1" } },
    });
    assert.deepEqual(
      one.response.model_version_status.map((s: Msg) => s.version),
      ["1"],
    );
    const missing = await unary(clients.model, "GetModelStatus", {
      model_spec: { name: "emb", version: { value: "7" } },
    });
    assert.equal(missing.error?.code, GrpcStatus.NOT_FOUND);
    assert.equal(missing.error?.details, "Could not find version 7 of model emb");
    const unknown = await unary(clients.model, "GetModelStatus", { model_spec: { name: "nope" } });
    assert.equal(unknown.error?.code, GrpcStatus.NOT_FOUND);
    assert.equal(unknown.error?.details, "Could not find any versions of model nope");
    const noSpec = await unary(clients.model, "GetModelStatus", {});
    assert.equal(noSpec.error?.code, GrpcStatus.INVALID_ARGUMENT);
    assert.equal(noSpec.error?.details, "Missing ModelSpec");
  });

  test("GetModelMetadata: a SignatureDefMap packed in Any under signature_def", async () => {
    const { response, error } = await unary(clients.prediction, "GetModelMetadata", {
      model_spec: { name: "emb" },
      metadata_field: ["signature_def"],
    });
    assert.equal(error, undefined, error?.details);
    assert.equal(response.model_spec.name, "emb");
    assert.equal(response.model_spec.version.value, "2");
    const any = response.metadata.signature_def;
    assert.equal(any.type_url, "type.googleapis.com/tensorflow.serving.SignatureDefMap");
    const map = fromBinary(SignatureDefMapSchema, any.value);
    const signature = map.signatureDef.serving_default;
    assert.equal(signature.methodName, "tensorflow/serving/predict");
    assert.deepEqual(Object.keys(signature.outputs).sort(), [
      "favorited",
      "friends",
      "user/topics",
      "watched",
    ]);
    for (const suffix of ["", "_row_splits", "_indices", "_dense_shape"]) {
      assert.equal(signature.inputs[`friends${suffix}`].dtype, DataType.DT_INT64, suffix);
    }
    assert.equal(signature.inputs.friends_weights.dtype, DataType.DT_FLOAT);
    assert.deepEqual(
      signature.outputs.favorited.tensorShape!.dim.map((d) => d.size),
      [-1n, 3n, 8n],
    );
    const none = await unary(clients.prediction, "GetModelMetadata", { model_spec: { name: "emb" } });
    assert.equal(none.error?.code, GrpcStatus.INVALID_ARGUMENT);
    assert.equal(none.error?.details, "GetModelMetadataRequest must specify at least one metadata_field");
    const other = await unary(clients.prediction, "GetModelMetadata", {
      model_spec: { name: "emb" },
      metadata_field: ["tags"],
    });
    assert.equal(other.error?.details, "Metadata field tags is not supported");
  });

  test("health check and metrics with the gRPC API label", async () => {
    const health = await unary(clients.health, "Check", { service: "" });
    assert.equal(health.response.status, "SERVING");
    const named = await unary(clients.health, "Check", { service: "tensorflow.serving.PredictionService" });
    assert.equal(named.response.status, "SERVING");
    const unknown = await unary(clients.health, "Check", { service: "nope" });
    assert.equal(unknown.error?.code, GrpcStatus.NOT_FOUND);
    const metrics = await call(`${server.url}/monitoring/prometheus/metrics`);
    assert.match(
      metrics.text,
      /tpu_embedding_requests_total\{model="emb",api="grpc_predict",status="OK"\} \d+/,
    );
    assert.match(
      metrics.text,
      /tpu_embedding_requests_total\{model="",api="grpc_predict",status="NOT_FOUND"\} \d+/,
    );
  });
});

describe("gRPC limits, deadlines and shutdown", () => {
  test("RESOURCE_EXHAUSTED beyond the shared in-flight limit, DEADLINE_EXCEEDED from the server and the client", async () => {
    const model = await buildTestModel(1, 5);
    const { server } = await serveTestModel(model, {
      grpcPort: 0,
      limits: { maxConcurrentRequests: 1, requestTimeoutMs: 300 },
      batching: { batchTimeoutMicros: 1_000_000 },
    });
    const clients = connect(server.grpc!.url);
    try {
      const request = { model_spec: { name: "emb" }, inputs: { friends: int32Tensor([1], [1]) } };
      const first = unary(clients.prediction, "Predict", request);
      await new Promise((r) => setTimeout(r, 50));
      const second = await unary(clients.prediction, "Predict", request);
      assert.equal(second.error?.code, GrpcStatus.RESOURCE_EXHAUSTED, second.error?.details);
      // REST shares the count.
      const restReply = await postJson(`${server.url}/v1/models/emb:predict`, { inputs: { friends: [[1]] } });
      assert.equal(restReply.status, 429);
      const timedOut = await first;
      assert.equal(timedOut.error?.code, GrpcStatus.DEADLINE_EXCEEDED);
      assert.match(timedOut.error!.details, /--request-timeout-ms/);
      await new Promise((r) => setTimeout(r, 800)); // the batch runs; the slot is free again
      const client = await unary(clients.prediction, "Predict", request, { deadline: Date.now() + 100 });
      assert.equal(client.error?.code, GrpcStatus.DEADLINE_EXCEEDED);
    } finally {
      clients.close();
      await server.close({ drainTimeoutMs: 2000 });
    }
  });

  test("UNAVAILABLE while no version of the model is loaded yet", async () => {
    const registry = new TestRegistry("emb");
    const server = await startServer({ registry, port: 0, grpcPort: 0 });
    const clients = connect(server.grpc!.url);
    try {
      const { error } = await unary(clients.prediction, "Predict", {
        model_spec: { name: "emb" },
        inputs: { friends: int32Tensor([1], [1]) },
      });
      assert.equal(error?.code, GrpcStatus.UNAVAILABLE, error?.details);
    } finally {
      clients.close();
      await server.close();
    }
  });

  test("a request message over --max-body-bytes is RESOURCE_EXHAUSTED", async () => {
    const { server } = await serveTestModel(await buildTestModel(1, 5), {
      grpcPort: 0,
      limits: { maxBodyBytes: 1000 },
    });
    const clients = connect(server.grpc!.url);
    try {
      const small = await unary(clients.prediction, "Predict", {
        model_spec: { name: "emb" },
        inputs: { friends: int64Tensor([1, 2], [2], "content") },
      });
      assert.equal(small.error, undefined, small.error?.details);
      const big = await unary(clients.prediction, "Predict", {
        model_spec: { name: "emb" },
        inputs: { friends: int64Tensor(new Array(200).fill(1), [200], "content") },
      });
      assert.equal(big.error?.code, GrpcStatus.RESOURCE_EXHAUSTED, big.error?.details);
    } finally {
      clients.close();
      await server.close();
    }
  });

  test("close(): a call in flight is answered, the port is then closed; Health.Watch sees NOT_SERVING", async () => {
    const model = await buildTestModel(1, 5);
    const { server } = await serveTestModel(model, {
      grpcPort: 0,
      batching: { batchTimeoutMicros: 200_000 },
    });
    const clients = connect(server.grpc!.url);
    try {
      const watched: string[] = [];
      const watch = (clients.health as Msg).Watch({ service: "" });
      const watchEnded = new Promise<void>((resolve) => {
        watch.on("data", (m: Msg) => watched.push(m.status));
        watch.on("error", () => resolve());
        watch.on("end", () => resolve());
      });
      for (let i = 0; i < 100 && watched.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(watched, ["SERVING"]);
      const inFlight = unary(clients.prediction, "Predict", {
        model_spec: { name: "emb" },
        inputs: { friends: int32Tensor([1], [1]) },
      });
      await new Promise((r) => setTimeout(r, 50));
      const closed = server.close();
      const answered = await inFlight;
      assert.equal(answered.error, undefined, answered.error?.details);
      assert.deepEqual(readFloat(answered.response.outputs.friends).dims, [1, 4]);
      await closed;
      await watchEnded;
      assert.deepEqual(watched, ["SERVING", "NOT_SERVING"]);
      const after = await unary(clients.health, "Check", { service: "" }, { deadline: Date.now() + 2000 });
      assert.equal(after.error?.code, GrpcStatus.UNAVAILABLE);
    } finally {
      clients.close();
    }
  });
});
