import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { DEMO_REQUEST } from "../../src/cli/demo-model.js";
import { tempDir } from "../serving/model/helpers.js";
import { connect, floatTensor, int64Tensor, readFloat, unary, type Msg } from "../serving/grpc/support.js";
import { spawnCli } from "./helpers.js";

test("demo --grpc-port: a standard gRPC client gets the REST API's numbers (ragged, weighted, sequence, dense; tensor_content and int64_val)", async () => {
  const dir = tempDir("tpu-embedding-demo-");
  const server = await spawnCli(
    ["demo", "--dir", dir, "--port", "0", "--grpc-port", "0"],
    /gRPC \(TF Serving's PredictionService, ModelService\) at (http:\/\/\S+)/,
  );
  const clients = connect(server.url);
  try {
    const restUrl = server.logs.find((l) => l.event === "serving")?.url as string;
    const rest = await fetch(`${restUrl}/v1/models/demo:predict`, {
      method: "POST",
      body: JSON.stringify(DEMO_REQUEST),
    });
    assert.equal(rest.status, 200);
    const predictions = ((await rest.json()) as Msg).predictions as Record<string, number[] | number[][]>[];
    const restFloats = (name: string) =>
      Float32Array.from(predictions.flatMap((p) => (p[name] as number[]).flat()));
    // DEMO_REQUEST: watched [[3,14,15],[92]], favorited [[7,8],[9]] (a sequence), friends weighted, country one id each.
    for (const form of ["content", "int64_val"] as const) {
      const { response, error } = await unary(clients.prediction, "Predict", {
        model_spec: { name: "demo" },
        inputs: {
          watched: int64Tensor([3, 14, 15, 92], [4], form),
          watched_row_splits: int64Tensor([0, 3, 4], [3], form),
          favorited: int64Tensor([7, 8, 9], [3], form),
          favorited_row_splits: int64Tensor([0, 2, 3], [3], form),
          friends: int64Tensor([1, 2, 3], [3], form),
          friends_row_splits: int64Tensor([0, 2, 3], [3], form),
          friends_weights: floatTensor([1, 0.5, 2], [3], form === "content" ? "content" : "float_val"),
          country: int64Tensor([4, 7], [2], form), // dense [batch]: one id per example
        },
      });
      assert.equal(error, undefined, error?.details);
      for (const name of ["watched", "favorited", "friends", "country"]) {
        const got = readFloat(response.outputs[name]);
        assert.deepEqual(
          new Uint32Array(got.data.buffer),
          new Uint32Array(restFloats(name).buffer),
          `${form} ${name}`,
        );
      }
      assert.deepEqual(readFloat(response.outputs.favorited).dims, [2, 4, 8]);
      assert.deepEqual(readFloat(response.outputs.country).dims, [2, 4]);
    }
    const status = await unary(clients.model, "GetModelStatus", { model_spec: { name: "demo" } });
    assert.deepEqual(
      status.response.model_version_status.map((s: Msg) => [s.version, s.state]),
      [["1", "AVAILABLE"]],
    );
  } finally {
    clients.close();
    server.proc.kill("SIGTERM");
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
