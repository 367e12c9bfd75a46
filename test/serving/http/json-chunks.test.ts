import { test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeJsonPredict,
  formatFloat32,
  jsonPredictChunks,
} from "../../../src/serving/http/json-response.js";
import type { FeatureOutput } from "../../../src/serving/batching/feature-input.js";
import {
  decodeBinaryResponse,
  encodeBinaryResponse,
  encodeBinaryResponsePieces,
} from "../../../src/serving/binary/response-codec.js";
import { seededRandom } from "../../support/seeded-random.js";

/** The nested lists a tensor stands for, built the obvious recursive way (the reference). */
function nested(shape: readonly number[], data: Float32Array, offset = 0): unknown {
  if (shape.length === 0) return Number(formatFloat32(data[offset]));
  const stride = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nested(shape.slice(1), data, offset + i * stride));
}

test("JSON answers in chunks: the same text as one piece, the nested lists of every shape (zero dimensions too)", () => {
  const { rand, int } = seededRandom(77);
  for (let round = 0; round < 300; round++) {
    const rank = 1 + int(4);
    const shape = Array.from({ length: rank }, () => int(4));
    const size = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: size }, () => Math.fround((rand() - 0.5) * 10));
    const output: FeatureOutput = { shape, data };
    const other: FeatureOutput = { shape: [shape[0], 2], data: new Float32Array(shape[0] * 2).fill(0.5) };
    for (const format of ["columnar", "row"] as const) {
      for (const bare of [true, false]) {
        const outputs = new Map(
          bare
            ? [["a", output]]
            : [
                ["a", output],
                ["b", other],
              ],
        );
        const whole = encodeJsonPredict(format, outputs, bare);
        const pieces = [...jsonPredictChunks(format, outputs, bare, 1 + int(20))];
        assert.equal(Buffer.concat(pieces).toString("utf8"), whole);
        const parsed = JSON.parse(whole) as Record<string, unknown>;
        const where = `shape [${shape.join(", ")}], ${format}, bare ${bare}`;
        if (format === "columnar") {
          const value = bare ? parsed.outputs : (parsed.outputs as Record<string, unknown>).a;
          assert.deepEqual(value, nested(shape, data), where);
        } else {
          const rows = parsed.predictions as unknown[];
          const expected = nested(shape, data) as unknown[];
          assert.equal(rows.length, shape[0], where);
          rows.forEach((row, r) =>
            assert.deepEqual(bare ? row : (row as Record<string, unknown>).a, expected[r], where),
          );
        }
      }
    }
  }
});

test("a huge shape with a zero dimension costs one [] per list, not one step per row of the shape", () => {
  const output: FeatureOutput = { shape: [3, 0, 8], data: new Float32Array(0) };
  assert.equal(encodeJsonPredict("columnar", new Map([["a", output]]), true), '{"outputs":[[],[],[]]}');
  const wide: FeatureOutput = { shape: [0, 2147483647, 8], data: new Float32Array(0) };
  assert.equal(encodeJsonPredict("columnar", new Map([["a", wide]]), true), '{"outputs":[]}');
});

test("binary answers in pieces (values as views, not copies) or copied into one are byte-identical", () => {
  const { rand, int } = seededRandom(78);
  for (let round = 0; round < 100; round++) {
    const outputs = new Map<string, FeatureOutput>();
    const count = int(4);
    for (let k = 0; k < count; k++) {
      const shape = Array.from({ length: 1 + int(3) }, () => int(4));
      const size = shape.reduce((a, b) => a * b, 1);
      outputs.set("f".repeat(1 + int(9)) + k, {
        shape,
        data: Float32Array.from({ length: size }, () => rand()),
      });
    }
    const whole = encodeBinaryResponse(outputs);
    // Small answers are one copied buffer; with the copy bound at 0 every answer is views.
    for (const copyBelow of [undefined, 0]) {
      const pieces = encodeBinaryResponsePieces(outputs, copyBelow);
      if (copyBelow === undefined) assert.equal(pieces.length, 1);
      else if (count > 0) assert.ok(pieces.length >= count, `${pieces.length} pieces for ${count} outputs`);
      assert.deepEqual(new Uint8Array(Buffer.concat(pieces)), whole);
      assert.deepEqual(decodeBinaryResponse(Buffer.concat(pieces)), decodeBinaryResponse(whole));
    }
  }
});

test("small answers (written into a buffer of their own) keep names with escapes and non-ASCII text exact", () => {
  const names = ['é\u0000"x', "特征/一", "plain"];
  const outputs = new Map<string, FeatureOutput>(
    names.map((n, i) => [n, { shape: [1, 3], data: Float32Array.of(i, 0.1, -2.5) }]),
  );
  const whole = encodeJsonPredict("columnar", outputs, false);
  const pieces = [...jsonPredictChunks("columnar", outputs, false)];
  assert.equal(pieces.length, 1);
  assert.equal(Buffer.concat(pieces).toString("utf8"), whole);
  const parsed = JSON.parse(whole) as { outputs: Record<string, number[][]> };
  assert.deepEqual(Object.keys(parsed.outputs), names);
  assert.deepEqual(parsed.outputs["特征/一"], [[1, 0.1, -2.5]]);
  assert.ok(whole.startsWith('{"outputs":{"é\\u0000\\"x":[[0.0,0.1,-2.5]],'), whole);
});

test("answers formatted in interleaved slices stay exact when another answer grows the shared buffer", () => {
  const rows: FeatureOutput = { shape: [200, 8], data: Float32Array.from({ length: 1600 }, (_, i) => i / 7) };
  const wide: FeatureOutput = {
    shape: [1, 20000],
    data: Float32Array.from({ length: 20000 }, (_, i) => i / 3),
  };
  const first = new Map([["a", rows]]);
  const expected = encodeJsonPredict("columnar", first, true);
  const slices = jsonPredictChunks("columnar", first, true, 512); // several chunks, the shared buffer
  const pieces = [slices.next().value!];
  // A 20,000-value row needs more than the shared buffer holds: it grows while the first is suspended.
  for (const _ of jsonPredictChunks("columnar", new Map([["b", wide]]), true));
  for (let r = slices.next(); r.done !== true; r = slices.next()) pieces.push(r.value);
  assert.equal(Buffer.concat(pieces).toString("utf8"), expected);
});
