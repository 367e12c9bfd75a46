/**
 * The gRPC API's messages built from the server's own types: predict outputs as float32 TensorProtos,
 * the `serving_default` SignatureDef, version statuses, and errors as TF Serving's gRPC statuses.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { OutOfRangeError, TpuEmbeddingError } from "../../errors.js";
import type { PredictOutputs } from "../batching/feature-input.js";
import { HttpError } from "../http/http-errors.js";
import type { ServableFeature, VersionStatus } from "../model-registry.js";
import type { TensorShapeProto } from "./proto/gen/tensorflow/core/framework/tensor_shape_pb.js";
import { TensorShapeProtoSchema } from "./proto/gen/tensorflow/core/framework/tensor_shape_pb.js";
import { DataType } from "./proto/gen/tensorflow/core/framework/types_pb.js";
import {
  SignatureDefSchema,
  type SignatureDef,
  type TensorInfo,
} from "./proto/gen/tensorflow/core/protobuf/meta_graph_pb.js";
import {
  ModelVersionStatus_State,
  type ModelVersionStatus,
} from "./proto/gen/tensorflow_serving/apis/get_model_status_pb.js";
import type { ModelSpec } from "./proto/gen/tensorflow_serving/apis/model_pb.js";
import { Code as TfCode } from "./proto/gen/xla/tsl/protobuf/error_codes_pb.js";
import { floatTensorProtoBytes, writeFloatTensorProtoAt } from "./tensor-wire.js";
import { DENSE_SHAPE_SUFFIX, INDICES_SUFFIX, ROW_SPLITS_SUFFIX, WEIGHTS_SUFFIX } from "./tensor-inputs.js";

export const DEFAULT_SIGNATURE = "serving_default";
export const PREDICT_METHOD_NAME = "tensorflow/serving/predict";
/** TF Serving's grpc_status_util.cc: longer messages are cut here and marked. */
const MAX_ERROR_MESSAGE = 1024;

type Init<T> = Omit<T, "$typeName" | "$unknown">;

function shape(dims: readonly number[] | null): TensorShapeProto {
  if (dims === null) return create(TensorShapeProtoSchema, { unknownRank: true });
  return create(TensorShapeProtoSchema, { dim: dims.map((d) => ({ size: BigInt(d), name: "" })) });
}

/**
 * The names of the answer's outputs, in the order asked for (`output_filter`) or all; INVALID_ARGUMENT for
 * an alias the request gave no input for.
 */
export function answerNames(
  outputs: PredictOutputs,
  filter: readonly string[],
  signatureOutputs: readonly string[],
): readonly string[] {
  const names = filter.length > 0 ? filter : [...outputs.keys()];
  for (const name of names) {
    if (!outputs.has(name)) {
      throw new ConnectError(
        `output tensor alias ${name} has no input in this request: send the feature "${name}" to get its ` +
          `embedding. Outputs expected to be in the set {${signatureOutputs.join(",")}}.`,
        Code.InvalidArgument,
      );
    }
  }
  return names;
}

/**
 * The outputs `names` as serialized float32 TensorProtos: views of one buffer (one allocation per answer,
 * not one per output). For connect's route; the fast path writes them into its message directly.
 */
export function outputTensors(outputs: PredictOutputs, names: readonly string[]): Record<string, Uint8Array> {
  let size = 0;
  for (const name of names) {
    const o = outputs.get(name)!;
    size += floatTensorProtoBytes(o.data, o.shape);
  }
  const bytes = new Uint8Array(size);
  const out: Record<string, Uint8Array> = {};
  let pos = 0;
  for (const name of names) {
    const o = outputs.get(name)!;
    const end = writeFloatTensorProtoAt(bytes, pos, o.data, o.shape);
    out[name] = bytes.subarray(pos, end);
    pos = end;
  }
  return out;
}

/** TF Serving's output_filter checks (predict_util.cc): unknown and duplicate aliases. */
export function checkOutputFilter(filter: readonly string[], features: readonly ServableFeature[]): void {
  const names = features.map((f) => f.name);
  const seen = new Set<string>();
  for (const alias of filter) {
    if (!names.includes(alias)) {
      throw new ConnectError(
        `output tensor alias not found in signature: ${alias} Outputs expected to be in the set {${names.join(",")}}.`,
        Code.InvalidArgument,
      );
    }
    if (seen.has(alias))
      throw new ConnectError(`duplicate output tensor alias: ${alias}`, Code.InvalidArgument);
    seen.add(alias);
  }
}

function tensorInfo(name: string, dtype: DataType, dims: readonly number[] | null): TensorInfo {
  return {
    $typeName: "tensorflow.TensorInfo",
    encoding: { case: "name", value: name },
    dtype,
    tensorShape: shape(dims),
  };
}

/** The output shape for ragged input: `[-1, dim]`, `[-1, L, dim]` for sequences, `outputShape + [dim]`. */
function outputDims(f: ServableFeature): number[] {
  if (f.outputShape !== null) return [...f.outputShape, f.dim];
  return f.maxSequenceLength > 0 ? [-1, f.maxSequenceLength, f.dim] : [-1, f.dim];
}

/**
 * The `serving_default` signature: per feature `<f>` int64 ids (any rank: dense on its own), its
 * companions `<f>_row_splits` (ragged), `<f>_indices` + `<f>_dense_shape` (sparse), `<f>_weights` (float),
 * and one float output `<f>`.
 */
export function signatureDef(features: readonly ServableFeature[]): SignatureDef {
  const inputs: Record<string, TensorInfo> = {};
  const outputs: Record<string, TensorInfo> = {};
  for (const f of features) {
    const n = f.name;
    inputs[n] = tensorInfo(`${n}:0`, DataType.DT_INT64, null);
    inputs[n + ROW_SPLITS_SUFFIX] = tensorInfo(`${n}${ROW_SPLITS_SUFFIX}:0`, DataType.DT_INT64, [-1]);
    inputs[n + INDICES_SUFFIX] = tensorInfo(`${n}${INDICES_SUFFIX}:0`, DataType.DT_INT64, [-1, -1]);
    inputs[n + DENSE_SHAPE_SUFFIX] = tensorInfo(`${n}${DENSE_SHAPE_SUFFIX}:0`, DataType.DT_INT64, [-1]);
    inputs[n + WEIGHTS_SUFFIX] = tensorInfo(`${n}${WEIGHTS_SUFFIX}:0`, DataType.DT_FLOAT, [-1]);
    outputs[n] = tensorInfo(`${n}_embedding:0`, DataType.DT_FLOAT, outputDims(f));
  }
  return create(SignatureDefSchema, { inputs, outputs, methodName: PREDICT_METHOD_NAME });
}

export function modelSpec(name: string, version: number, signatureName: string): Init<ModelSpec> {
  return {
    name,
    versionChoice: {
      case: "version",
      value: { $typeName: "google.protobuf.Int64Value", value: BigInt(version) },
    },
    signatureName,
  };
}

const STATES: Record<VersionStatus["state"], ModelVersionStatus_State> = {
  START: ModelVersionStatus_State.START,
  LOADING: ModelVersionStatus_State.LOADING,
  AVAILABLE: ModelVersionStatus_State.AVAILABLE,
  UNLOADING: ModelVersionStatus_State.UNLOADING,
  END: ModelVersionStatus_State.END,
};

export function versionStatus(s: VersionStatus): Init<ModelVersionStatus> {
  const code = TfCode[s.errorCode as keyof typeof TfCode] ?? TfCode.UNKNOWN;
  return {
    version: BigInt(s.version),
    state: STATES[s.state],
    status: { $typeName: "tensorflow.serving.StatusProto", errorCode: code, errorMessage: s.errorMessage },
  };
}

/** TF status code names → gRPC codes (numerically identical, as TF Serving's grpc_status_util.cc relies on). */
const GRPC_CODES: Record<string, Code> = {
  CANCELLED: Code.Canceled,
  UNKNOWN: Code.Unknown,
  INVALID_ARGUMENT: Code.InvalidArgument,
  DEADLINE_EXCEEDED: Code.DeadlineExceeded,
  NOT_FOUND: Code.NotFound,
  ALREADY_EXISTS: Code.AlreadyExists,
  PERMISSION_DENIED: Code.PermissionDenied,
  RESOURCE_EXHAUSTED: Code.ResourceExhausted,
  FAILED_PRECONDITION: Code.FailedPrecondition,
  ABORTED: Code.Aborted,
  OUT_OF_RANGE: Code.OutOfRange,
  UNIMPLEMENTED: Code.Unimplemented,
  INTERNAL: Code.Internal,
  UNAVAILABLE: Code.Unavailable,
  DATA_LOSS: Code.DataLoss,
  UNAUTHENTICATED: Code.Unauthenticated,
};

/** Any thrown value → a ConnectError with TF Serving's code; messages beyond 1024 chars are truncated. */
export function toConnectError(error: unknown): ConnectError {
  let code: Code;
  let message: string;
  if (error instanceof ConnectError) {
    code = error.code;
    message = error.rawMessage;
  } else if (error instanceof OutOfRangeError) {
    // TF's gather rejects an id outside the table with INVALID_ARGUMENT ("indices[...] = ... is not in ...").
    code = Code.InvalidArgument;
    message = error.message;
  } else if (error instanceof TpuEmbeddingError || error instanceof HttpError) {
    code = GRPC_CODES[error.code] ?? Code.Internal;
    message = error.message;
  } else {
    code = Code.Internal;
    message = error instanceof Error ? error.message : String(error);
  }
  if (message.length > MAX_ERROR_MESSAGE) message = message.slice(0, MAX_ERROR_MESSAGE) + "...TRUNCATED";
  return new ConnectError(message, code, undefined, undefined, error);
}

/** The TF status code name of a gRPC code (for metrics labels and logs). */
export function codeName(code: Code | 0): string {
  if (code === 0) return "OK";
  return Object.entries(GRPC_CODES).find(([, c]) => c === code)?.[0] ?? "UNKNOWN";
}
