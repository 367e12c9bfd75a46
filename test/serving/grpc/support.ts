/** A standard gRPC client (grpc-js + proto-loader, independent of the server's connect/protobuf-es code). */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

export const PROTO_DIR = fileURLToPath(new URL("../../../../src/serving/grpc/proto", import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- messages are plain objects checked field by field
export type Msg = any;

export interface Clients {
  prediction: grpc.Client;
  model: grpc.Client;
  health: grpc.Client;
  close(): void;
}

let definition: grpc.GrpcObject | undefined;

function load(): grpc.GrpcObject {
  definition ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(
      [
        "tensorflow_serving/apis/prediction_service.proto",
        "tensorflow_serving/apis/model_service.proto",
        "grpc/health/v1/health.proto",
      ],
      {
        keepCase: true,
        longs: String,
        enums: String,
        defaults: false,
        oneofs: true,
        includeDirs: [PROTO_DIR],
      },
    ),
  );
  return definition;
}

/** Clients for the gRPC server at `url` ("http://127.0.0.1:PORT"). */
export function connect(url: string, channelOptions: grpc.ChannelOptions = {}): Clients {
  const pkg = load() as Msg;
  const address = url.replace(/^http:\/\//, "");
  const credentials = grpc.credentials.createInsecure();
  const options = { "grpc.max_receive_message_length": -1, ...channelOptions };
  const prediction = new pkg.tensorflow.serving.PredictionService(address, credentials, options);
  const model = new pkg.tensorflow.serving.ModelService(address, credentials, options);
  const health = new pkg.grpc.health.v1.Health(address, credentials, options);
  return {
    prediction,
    model,
    health,
    close() {
      prediction.close();
      model.close();
      health.close();
    },
  };
}

/** Calls a unary method; resolves with the response or the gRPC error (code, details). */
export function unary(
  client: grpc.Client,
  method: string,
  request: Msg,
  options: grpc.CallOptions = {},
): Promise<{ response?: Msg; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    (client as Msg)[method](
      request,
      new grpc.Metadata(),
      options,
      (error: grpc.ServiceError | null, response: Msg) => resolve(error === null ? { response } : { error }),
    );
  });
}

/** An int64 TensorProto: `tensor_content` (little-endian) or `int64_val`. */
export function int64Tensor(
  values: readonly number[],
  dims: readonly number[],
  form: "content" | "int64_val",
): Msg {
  const tensor_shape = { dim: dims.map((size) => ({ size: String(size) })) };
  if (form === "content") {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return { dtype: "DT_INT64", tensor_shape, tensor_content: Buffer.from(data.buffer) };
  }
  return { dtype: "DT_INT64", tensor_shape, int64_val: values.map(String) };
}

export function int32Tensor(values: readonly number[], dims: readonly number[]): Msg {
  return {
    dtype: "DT_INT32",
    tensor_shape: { dim: dims.map((size) => ({ size: String(size) })) },
    tensor_content: Buffer.from(Int32Array.from(values).buffer),
  };
}

export function floatTensor(
  values: readonly number[],
  dims: readonly number[],
  form: "content" | "float_val",
): Msg {
  const tensor_shape = { dim: dims.map((size) => ({ size: String(size) })) };
  if (form === "content") {
    return { dtype: "DT_FLOAT", tensor_shape, tensor_content: Buffer.from(Float32Array.from(values).buffer) };
  }
  return { dtype: "DT_FLOAT", tensor_shape, float_val: values };
}

/** A float32 output TensorProto → its dims and values (read from `tensor_content`). */
export function readFloat(tensor: Msg): { dims: number[]; data: Float32Array } {
  assert(tensor.dtype === "DT_FLOAT", `dtype ${tensor.dtype}`);
  const bytes: Buffer = tensor.tensor_content;
  const data = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(data.buffer).set(bytes);
  return { dims: tensor.tensor_shape.dim.map((d: Msg) => Number(d.size)), data };
}

function assert(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}
