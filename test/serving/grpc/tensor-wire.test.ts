import { test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "../../../src/errors.js";
import { TensorProtoSchema } from "../../../src/serving/grpc/proto/gen/tensorflow/core/framework/tensor_pb.js";
import { DataType } from "../../../src/serving/grpc/proto/gen/tensorflow/core/framework/types_pb.js";
import { readTensorProto, writeFloatTensorProto } from "../../../src/serving/grpc/tensor-wire.js";
import { decodeTensorInputs } from "../../../src/serving/grpc/tensor-inputs.js";
import { modelFeatures } from "../../../src/serving/batching/model-features.js";
import { FeatureConfig, TableConfig, TPUEmbeddingForServing } from "../../../src/index.js";

test("readTensorProto reads what protobuf-es writes (packed repeated fields, 64-bit and negative varints, skipped fields)", () => {
  const int64Val = [
    0n,
    1n,
    -1n,
    127n,
    128n,
    2n ** 31n,
    -(2n ** 31n),
    2n ** 62n + 3n,
    2n ** 63n - 1n,
    -(2n ** 63n),
  ];
  const bytes = toBinary(
    TensorProtoSchema,
    create(TensorProtoSchema, {
      dtype: DataType.DT_INT64,
      tensorShape: { dim: [{ size: 2n, name: "batch" }, { size: 5n }] },
      versionNumber: 7,
      stringVal: [new Uint8Array([1, 2, 3])],
      doubleVal: [1.5],
      int64Val,
      intVal: [-5, 2 ** 31 - 1, -(2 ** 31)],
      floatVal: [0.5, -2, 3.25],
      tensorContent: new Uint8Array([9, 8, 7]),
    }),
  );
  const t = readTensorProto(bytes, "x");
  assert.equal(t.dtype, DataType.DT_INT64);
  assert.deepEqual(t.tensorShape, { dim: [{ size: 2n }, { size: 5n }], unknownRank: false });
  assert.deepEqual(Array.from(t.int64Val), int64Val);
  assert.deepEqual(Array.from(t.intVal), [-5, 2 ** 31 - 1, -(2 ** 31)]);
  assert.deepEqual(Array.from(t.floatVal), [0.5, -2, 3.25]);
  assert.deepEqual(Array.from(t.tensorContent), [9, 8, 7]);
});

test("readTensorProto: unpacked and split repeated fields are read in order; unknown_rank", () => {
  // int64_val = 10 unpacked (tag 0x50) twice, then packed (tag 0x52) [3]; float_val = 5 unpacked (tag 0x2d).
  const f = new Uint8Array(new Float32Array([1.5]).buffer);
  const bytes = Uint8Array.from([
    0x50,
    0x01,
    0x50,
    0x02,
    0x52,
    0x01,
    0x03,
    0x2d,
    ...f,
    0x12,
    0x02,
    0x18,
    0x01,
  ]);
  const t = readTensorProto(bytes, "x");
  assert.deepEqual(Array.from(t.int64Val), [1n, 2n, 3n]);
  assert.deepEqual(Array.from(t.floatVal), [1.5]);
  assert.equal(t.tensorShape?.unknownRank, true);
});

test("readTensorProto: a truncated or malformed message is INVALID_ARGUMENT naming the input", () => {
  const bytes = toBinary(
    TensorProtoSchema,
    create(TensorProtoSchema, {
      dtype: DataType.DT_INT64,
      int64Val: [1n, 2n, 3n],
      tensorContent: new Uint8Array(16),
    }),
  );
  for (let cut = 1; cut < bytes.length; cut++) {
    let threw: unknown;
    try {
      readTensorProto(bytes.subarray(0, cut), "watched");
    } catch (e) {
      threw = e;
    }
    // Some prefixes are complete messages (e.g. cut after a whole field); the others must fail cleanly.
    if (threw !== undefined) {
      assert.ok(threw instanceof InvalidArgumentError, String(threw));
      assert.match(threw.message, /^Input "watched": not a valid TensorProto/);
    }
  }
  assert.throws(() => readTensorProto(Uint8Array.of(0x0f), "w"), /wire type 7/);
  assert.throws(() => readTensorProto(Uint8Array.of(0x22, 0x05, 0x00), "w"), /length beyond the message/);
});

test("writeFloatTensorProto is a DT_FLOAT TensorProto with tensor_shape and little-endian tensor_content", () => {
  const data = Float32Array.from({ length: 3 * 200 }, (_, i) => i / 7 - 30);
  const t = fromBinary(TensorProtoSchema, writeFloatTensorProto(data, [3, 200]));
  assert.equal(t.dtype, DataType.DT_FLOAT);
  assert.deepEqual(
    t.tensorShape?.dim.map((d) => d.size),
    [3n, 200n],
  );
  const back = new Float32Array(t.tensorContent.slice().buffer);
  assert.deepEqual(back, data);
  const empty = fromBinary(TensorProtoSchema, writeFloatTensorProto(new Float32Array(0), [0, 8]));
  assert.deepEqual(
    empty.tensorShape?.dim.map((d) => d.size),
    [0n, 8n],
  );
  assert.equal(empty.tensorContent.byteLength, 0);
});

test("tensor_content at any byte offset, short or long, int32 or int64, decodes to the values sent", () => {
  const features = modelFeatures({
    name: "m",
    version: 1,
    features: [
      {
        name: "f",
        table: "t",
        vocabularySize: 10,
        dim: 2,
        combiner: "mean",
        maxSequenceLength: 0,
        outputShape: null,
      },
    ],
    checkpoint: "",
    tableBytes: 0,
    embedding: new TPUEmbeddingForServing({
      featureConfig: {
        f: new FeatureConfig({ table: new TableConfig({ vocabularySize: 10, dim: 2, name: "t" }) }),
      },
      optimizer: null,
    }),
  });
  for (const n of [1, 3, 64, 65, 200]) {
    for (const wide of [false, true]) {
      const ids = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -(i * 7919 + 1) : i * 2654435761) | 0);
      const idTensor = create(TensorProtoSchema, {
        dtype: wide ? DataType.DT_INT64 : DataType.DT_INT32,
        tensorShape: { dim: [{ size: BigInt(n) }] },
        tensorContent: new Uint8Array((wide ? BigInt64Array.from(ids, BigInt) : Int32Array.from(ids)).buffer),
      });
      const splits = create(TensorProtoSchema, {
        dtype: DataType.DT_INT32,
        tensorShape: { dim: [{ size: 2n }] },
        tensorContent: new Uint8Array(Int32Array.of(0, n).buffer),
      });
      for (const shift of [0, 1, 2, 3, 5]) {
        // Each message copied to an odd place in a bigger buffer, as a request's bytes arrive.
        const at = (bytes: Uint8Array) => {
          const buffer = new Uint8Array(bytes.length + shift);
          buffer.set(bytes, shift);
          return buffer.subarray(shift);
        };
        const inputs = decodeTensorInputs(
          {
            f: readTensorProto(at(toBinary(TensorProtoSchema, idTensor)), "f"),
            f_row_splits: readTensorProto(at(toBinary(TensorProtoSchema, splits)), "f_row_splits"),
          },
          features,
          1e6,
        );
        const f = inputs.get("f")!;
        assert.equal(f.kind, "ragged");
        const expected = wide ? BigInt64Array.from(ids, BigInt) : Int32Array.from(ids);
        assert.deepEqual(f.ids, expected, `n ${n}, ${wide ? "int64" : "int32"}, shift ${shift}`);
        assert.deepEqual(f.kind === "ragged" ? [...f.rowSplits] : null, [0, n]);
      }
    }
  }
});
