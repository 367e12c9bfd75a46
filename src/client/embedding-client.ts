import { InvalidArgumentError, TpuEmbeddingError, type ErrorCode } from "../errors.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import { RaggedTensor } from "../tensor/ragged-tensor.js";
import { SparseTensor } from "../tensor/sparse-tensor.js";
import type { Tensor } from "../embedding/index.js";
import type { FeatureInput, IdArray } from "../serving/batching/feature-input.js";
import { BINARY_CONTENT_TYPE } from "../serving/binary/binary-format.js";
import { encodeBinaryRequest } from "../serving/binary/request-codec.js";
import { decodeBinaryResponse } from "../serving/binary/response-codec.js";
import { GrpcEmbeddingClient } from "./grpc-client.js";

export interface EmbeddingClientOptions {
  /** The server's base URL, e.g. "http://127.0.0.1:8501" (REST), or its gRPC port's "http://127.0.0.1:8500". */
  url: string;
  model: string;
  /** Pin a version (or a label); default: the latest available. */
  version?: number;
  label?: string;
  /**
   * "binary" (compact little-endian typed arrays, the default), "json" (TF Serving's columnar format), or
   * "grpc" (TF Serving's PredictionService over HTTP/2: `url` is the gRPC port's).
   */
  format?: "binary" | "json" | "grpc";
}

/** The code of a non-2xx status (TF Serving's mapping read backwards; 400 may also be OUT_OF_RANGE). */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: "INVALID_ARGUMENT",
  404: "NOT_FOUND",
  413: "RESOURCE_EXHAUSTED",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  501: "UNIMPLEMENTED",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

/**
 * A non-2xx answer: the HTTP status and TF Serving's `error` message. `code` is the status's TF code
 * (400 → INVALID_ARGUMENT, 404 → NOT_FOUND, 413/429 → RESOURCE_EXHAUSTED, 499 → CANCELLED,
 * 501 → UNIMPLEMENTED, 503 → UNAVAILABLE, 504 → DEADLINE_EXCEEDED, any other → INTERNAL).
 */
export class EmbeddingServerError extends TpuEmbeddingError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(CODE_BY_STATUS[status] ?? "INTERNAL", message);
  }
}

/** TF Serving's `model_version_status` entry. */
export interface ModelVersionStatusJson {
  version: string;
  state: string;
  status: { error_code: string; error_message: string };
}

/**
 * A small client for the embedding server: `predict` takes the library's tensors (as
 * `embeddingLookup` does, keyed by feature path) and resolves to float32 DenseTensors.
 */
export class EmbeddingClient {
  private readonly base: string;
  private readonly format: "binary" | "json" | "grpc";
  private grpc: GrpcEmbeddingClient | undefined;

  constructor(private readonly options: EmbeddingClientOptions) {
    if (options.version !== undefined && options.label !== undefined) {
      throw new InvalidArgumentError("EmbeddingClient: give a version or a label, not both.");
    }
    const selector =
      options.version !== undefined
        ? `/versions/${options.version}`
        : options.label !== undefined
          ? `/labels/${encodeURIComponent(options.label)}`
          : "";
    this.base = `${options.url.replace(/\/+$/, "")}/v1/models/${encodeURIComponent(options.model)}${selector}`;
    this.format = options.format ?? "binary";
  }

  async predict(
    features: Readonly<Record<string, Tensor>>,
    weights: Readonly<Record<string, Tensor | null | undefined>> = {},
  ): Promise<Record<string, DenseTensor<Float32Array>>> {
    const inputs = new Map<string, FeatureInput>();
    for (const [name, tensor] of Object.entries(features))
      inputs.set(name, toFeatureInput(name, tensor, weights[name] ?? null));
    if (this.format === "grpc") return this.grpcClient().predict(inputs);
    if (this.format === "binary") {
      const response = await fetch(`${this.base}:predict`, {
        method: "POST",
        headers: { "Content-Type": BINARY_CONTENT_TYPE },
        body: encodeBinaryRequest(inputs),
      });
      const body = new Uint8Array(await response.arrayBuffer());
      if (!response.ok) throw serverError(response.status, new TextDecoder().decode(body));
      const out: Record<string, DenseTensor<Float32Array>> = {};
      for (const [name, o] of decodeBinaryResponse(body)) out[name] = new DenseTensor(o.data, o.shape);
      return out;
    }
    const json = await this.request("POST", ":predict", columnarJson(inputs));
    const outputs = (json as { outputs: unknown }).outputs;
    const names = [...inputs.keys()];
    const named =
      names.length === 1 && Array.isArray(outputs)
        ? { [names[0]]: outputs }
        : (outputs as Record<string, unknown>);
    const out: Record<string, DenseTensor<Float32Array>> = {};
    for (const [name, nested] of Object.entries(named))
      out[name] = DenseTensor.from(nested as number[], undefined, "float32") as DenseTensor<Float32Array>;
    return out;
  }

  async status(): Promise<ModelVersionStatusJson[]> {
    if (this.format === "grpc") return this.grpcClient().status();
    return ((await this.request("GET", "")) as { model_version_status: ModelVersionStatusJson[] })
      .model_version_status;
  }

  async metadata(): Promise<unknown> {
    if (this.format === "grpc") return this.grpcClient().metadata();
    return this.request("GET", "/metadata");
  }

  private grpcClient(): GrpcEmbeddingClient {
    this.grpc ??= new GrpcEmbeddingClient(
      this.options,
      (status, message) => new EmbeddingServerError(status, message),
    );
    return this.grpc;
  }

  private async request(method: string, suffix: string, body?: string): Promise<unknown> {
    const response = await fetch(this.base + suffix, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body,
    });
    const text = await response.text();
    if (!response.ok) throw serverError(response.status, text);
    return JSON.parse(text);
  }
}

function serverError(status: number, text: string): EmbeddingServerError {
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    // not JSON: keep the text
  }
  return new EmbeddingServerError(status, `HTTP ${status}: ${message}`);
}

function toFeatureInput(name: string, tensor: Tensor, weight: Tensor | null): FeatureInput {
  const ids = tensor instanceof DenseTensor ? tensor.data : tensor.values;
  if (!(ids instanceof Int32Array || ids instanceof BigInt64Array)) {
    throw new InvalidArgumentError(
      `EmbeddingClient: feature "${name}" has ${tensor.dtype} values; ids must be int32 or int64.`,
    );
  }
  const w = weight === null ? null : weightValues(name, tensor, weight);
  if (tensor instanceof RaggedTensor)
    return { kind: "ragged", ids: ids as IdArray, rowSplits: tensor.rowSplits, weights: w };
  if (tensor instanceof SparseTensor) {
    return {
      kind: "sparse",
      ids: ids as IdArray,
      indices: tensor.indices,
      denseShape: tensor.denseShape,
      weights: w,
    };
  }
  if (w !== null)
    throw new InvalidArgumentError(
      `EmbeddingClient: feature "${name}" is dense; dense inputs take no weights.`,
    );
  return { kind: "dense", ids: ids as IdArray, shape: tensor.shape };
}

function weightValues(name: string, tensor: Tensor, weight: Tensor): Float32Array {
  const values = weight instanceof DenseTensor ? weight.data : weight.values;
  const n = tensor instanceof DenseTensor ? tensor.data.length : tensor.values.length;
  if (values instanceof Int32Array || values instanceof BigInt64Array || values.length !== n) {
    throw new InvalidArgumentError(
      `EmbeddingClient: weights of "${name}" must be ${n} float values like its ids.`,
    );
  }
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** TF Serving's columnar body with this server's explicit ragged / sparse / dense forms. */
function columnarJson(inputs: ReadonlyMap<string, FeatureInput>): string {
  const body: Record<string, unknown> = {};
  for (const [name, input] of inputs) {
    const ids = idList(input.ids);
    if (input.kind === "ragged") {
      body[name] = { values: ids, row_splits: Array.from(input.rowSplits), ...weightsJson(input.weights) };
    } else if (input.kind === "sparse") {
      const rank = input.denseShape.length;
      const indices: number[][] = [];
      for (let e = 0; e < input.ids.length; e++)
        indices.push(Array.from(input.indices.subarray(e * rank, (e + 1) * rank), Number));
      body[name] = { indices, values: ids, dense_shape: input.denseShape, ...weightsJson(input.weights) };
    } else {
      body[name] = { dense: nestFlat(ids, input.shape) };
    }
  }
  return JSON.stringify({ inputs: body });
}

function weightsJson(weights: Float32Array | null): { weights?: number[] } {
  return weights === null ? {} : { weights: Array.from(weights) };
}

/** Ids as JSON values: int64 beyond 2^53 as decimal strings (exact), the rest as numbers. */
function idList(ids: IdArray): (number | string)[] {
  const out: (number | string)[] = new Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    out[i] = typeof v === "bigint" ? (v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString()) : v;
  }
  return out;
}

function nestFlat(values: (number | string)[], shape: readonly number[]): unknown {
  if (shape.length === 0) return values[0];
  const build = (depth: number, offset: number): unknown => {
    const n = shape[depth];
    if (depth === shape.length - 1) return values.slice(offset, offset + n);
    const stride = shape.slice(depth + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, i) => build(depth + 1, offset + i * stride));
  };
  return build(0, 0);
}
