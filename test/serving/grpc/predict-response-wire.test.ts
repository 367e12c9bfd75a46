import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodePredictAnswerWire } from "../../../src/serving/grpc/predict-response-wire.js";
import { PredictResponseWireSchema } from "../../../src/serving/grpc/proto/gen/tpu_embedding/serving/predict_wire_pb.js";
import { answerNames, modelSpec, outputTensors } from "../../../src/serving/grpc/grpc-messages.js";
import type { FeatureOutput } from "../../../src/serving/batching/feature-input.js";
import { seededRandom } from "../../support/seeded-random.js";

test("PredictResponseWire written by hand (the outputs' TensorProtos in place) is byte-identical to protobuf-es's toBinary, framed or not", () => {
  const { rand, int } = seededRandom(19);
  const names = ["f00", "user/topics", "é名", "x".repeat(200), "7", "watched"];
  for (let round = 0; round < 300; round++) {
    const outputs = new Map<string, FeatureOutput>();
    for (const name of names) {
      if (rand() < 0.4) continue;
      const shape = Array.from({ length: 1 + int(3) }, () => int(round % 7 === 0 ? 300 : 5));
      const size = shape.reduce((a, b) => a * b, 1);
      outputs.set(name, { shape, data: Float32Array.from({ length: size }, () => rand() - 0.5) });
    }
    const spec = modelSpec(
      ["emb", "", "模型"][int(3)],
      [0, 1, 2 ** 40][int(3)],
      ["serving_default", ""][int(2)],
    );
    // All outputs, or some in an order of the request's own (output_filter).
    const filter = round % 3 === 0 ? [...outputs.keys()].reverse().slice(0, 1 + int(outputs.size)) : [];
    const answer = { modelSpec: spec, outputs, names: answerNames(outputs, filter, []) };
    const init = { modelSpec: spec, outputs: outputTensors(outputs, answer.names) };
    const expected = toBinary(PredictResponseWireSchema, create(PredictResponseWireSchema, init));
    assert.deepEqual(encodePredictAnswerWire(answer, false), expected, `round ${round}`);
    const framed = encodePredictAnswerWire(answer, true);
    assert.equal(framed[0], 0);
    assert.equal(Buffer.from(framed).readUInt32BE(1), expected.length);
    assert.deepEqual(framed.subarray(5), expected);
  }
});
