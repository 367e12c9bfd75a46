import { test } from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodePredictResponseWire } from "../../../src/serving/grpc/predict-response-wire.js";
import { PredictResponseWireSchema } from "../../../src/serving/grpc/proto/gen/tpu_embedding/serving/predict_wire_pb.js";
import { modelSpec, outputTensors } from "../../../src/serving/grpc/grpc-messages.js";
import type { FeatureOutput } from "../../../src/serving/batching/feature-input.js";
import { seededRandom } from "../../support/seeded-random.js";

test("PredictResponseWire written by hand is byte-identical to protobuf-es's toBinary, framed or not", () => {
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
    const spec =
      round % 5 === 0
        ? undefined
        : modelSpec(["emb", "", "模型"][int(3)], [0, 1, 2 ** 40][int(3)], ["serving_default", ""][int(2)]);
    const init = {
      ...(spec === undefined ? {} : { modelSpec: spec }),
      outputs: outputTensors(outputs, [], []),
    };
    const expected = toBinary(PredictResponseWireSchema, create(PredictResponseWireSchema, init));
    assert.deepEqual(encodePredictResponseWire(init, false), expected, `round ${round}`);
    const framed = encodePredictResponseWire(init, true);
    assert.equal(framed[0], 0);
    assert.equal(Buffer.from(framed).readUInt32BE(1), expected.length);
    assert.deepEqual(framed.subarray(5), expected);
  }
});
