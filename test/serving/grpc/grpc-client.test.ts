import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  DenseTensor,
  EmbeddingClient,
  EmbeddingServerError,
  RaggedTensor,
  SparseTensor,
  type RunningServer,
} from "../../../src/index.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";

let server: RunningServer;

before(async () => {
  ({ server } = await serveTestModel(await buildTestModel(4, 9), { grpcPort: 0 }));
});
after(() => server.close());

test("EmbeddingClient format grpc: the same tensors as the binary REST format, status, metadata, errors", async () => {
  const features = {
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
  };
  const weights = { watched: RaggedTensor.fromRowSplits(Float32Array.of(1, 2, 0.5, 4), [0, 3, 4, 4]) };
  const grpc = new EmbeddingClient({ url: server.grpc!.url, model: "emb", format: "grpc" });
  const binary = new EmbeddingClient({ url: server.url, model: "emb", format: "binary" });
  const [a, b] = await Promise.all([grpc.predict(features, weights), binary.predict(features, weights)]);
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  for (const name of Object.keys(b)) {
    assert.deepEqual(a[name].shape, b[name].shape, name);
    assert.deepEqual(
      new Uint32Array(a[name].data.buffer),
      new Uint32Array(b[name].data.slice().buffer),
      name,
    );
  }
  assert.deepEqual(await grpc.status(), [
    { version: "4", state: "AVAILABLE", status: { error_code: "OK", error_message: "" } },
  ]);
  const metadata = (await grpc.metadata()) as {
    metadata: { signature_def: { "@type": string; signatureDef: Record<string, { methodName: string }> } };
  };
  assert.equal(
    metadata.metadata.signature_def["@type"],
    "type.googleapis.com/tensorflow.serving.SignatureDefMap",
  );
  assert.equal(
    metadata.metadata.signature_def.signatureDef.serving_default.methodName,
    "tensorflow/serving/predict",
  );

  const missing = new EmbeddingClient({ url: server.grpc!.url, model: "nope", format: "grpc" });
  await assert.rejects(missing.predict(features), (e: unknown) => {
    assert.ok(e instanceof EmbeddingServerError);
    assert.equal(e.status, 404);
    assert.match(e.message, /^gRPC NOT_FOUND: .*nope/);
    return true;
  });
});
