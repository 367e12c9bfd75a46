/**
 * EmbeddingClient's gRPC side: TF Serving's PredictionService / ModelService through connect's gRPC
 * transport (HTTP/2), inputs encoded as `tensor_content` TensorProtos named as the server reads them.
 */
import { createRegistry, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { FeatureInput } from "../serving/batching/feature-input.js";
import { ModelService } from "../serving/grpc/proto/gen/tensorflow_serving/apis/model_service_pb.js";
import { PredictionService } from "../serving/grpc/proto/gen/tensorflow_serving/apis/prediction_service_pb.js";
import {
  GetModelMetadataResponseSchema,
  SignatureDefMapSchema,
} from "../serving/grpc/proto/gen/tensorflow_serving/apis/get_model_metadata_pb.js";
import { ModelVersionStatus_State } from "../serving/grpc/proto/gen/tensorflow_serving/apis/get_model_status_pb.js";
import type { ModelSpec } from "../serving/grpc/proto/gen/tensorflow_serving/apis/model_pb.js";
import { Code as TfCode } from "../serving/grpc/proto/gen/xla/tsl/protobuf/error_codes_pb.js";
import { decodeFloatTensor, encodeTensorInputs } from "../serving/grpc/tensor-inputs.js";
import { codeName } from "../serving/grpc/grpc-messages.js";
import { DenseTensor } from "../tensor/dense-tensor.js";

/** gRPC status codes as the HTTP statuses TF Serving's REST API uses for them (http_server.cc). */
const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.FailedPrecondition]: 400,
  [Code.OutOfRange]: 400,
  [Code.NotFound]: 404,
  [Code.DeadlineExceeded]: 504,
  [Code.ResourceExhausted]: 429,
  [Code.Unimplemented]: 501,
  [Code.Unavailable]: 503,
  [Code.Canceled]: 499,
};

export interface GrpcClientOptions {
  readonly url: string;
  readonly model: string;
  readonly version?: number;
  readonly label?: string;
}

/** Makes the error for an answer: `status` is the REST API's HTTP status for the gRPC code. */
export type ServerErrorFactory = (status: number, message: string) => Error;

export class GrpcEmbeddingClient {
  private readonly prediction: Client<typeof PredictionService>;
  private readonly models: Client<typeof ModelService>;
  private readonly spec: Pick<ModelSpec, "name" | "versionChoice">;

  constructor(
    private readonly options: GrpcClientOptions,
    private readonly makeError: ServerErrorFactory,
  ) {
    const transport = createGrpcTransport({ baseUrl: options.url, readMaxBytes: 2 ** 31 - 1 });
    this.prediction = createClient(PredictionService, transport);
    this.models = createClient(ModelService, transport);
    this.spec = {
      name: options.model,
      versionChoice:
        options.version !== undefined
          ? {
              case: "version",
              value: { $typeName: "google.protobuf.Int64Value", value: BigInt(options.version) },
            }
          : options.label !== undefined
            ? { case: "versionLabel", value: options.label }
            : { case: undefined },
    };
  }

  async predict(
    inputs: ReadonlyMap<string, FeatureInput>,
  ): Promise<Record<string, DenseTensor<Float32Array>>> {
    const response = await this.call(() =>
      this.prediction.predict({ modelSpec: this.spec, inputs: encodeTensorInputs(inputs) }),
    );
    const out: Record<string, DenseTensor<Float32Array>> = {};
    for (const [name, tensor] of Object.entries(response.outputs)) {
      const { shape, data } = decodeFloatTensor(tensor, name);
      out[name] = new DenseTensor(data, shape);
    }
    return out;
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      const error = ConnectError.from(e);
      throw this.makeError(
        HTTP_STATUS[error.code] ?? 500,
        `gRPC ${codeName(error.code)}: ${error.rawMessage}`,
      );
    }
  }

  /** GetModelStatus in the REST API's JSON shape. */
  async status(): Promise<
    { version: string; state: string; status: { error_code: string; error_message: string } }[]
  > {
    const response = await this.call(() =>
      this.models.getModelStatus({
        modelSpec: { name: this.options.model, versionChoice: this.spec.versionChoice },
      }),
    );
    return response.modelVersionStatus.map((s) => ({
      version: String(s.version),
      state: ModelVersionStatus_State[s.state],
      status: { error_code: TfCode[s.status?.errorCode ?? 0], error_message: s.status?.errorMessage ?? "" },
    }));
  }

  /** GetModelMetadata as proto3 JSON (the signature map unpacked from its Any). */
  async metadata(): Promise<unknown> {
    const response = await this.call(() =>
      this.prediction.getModelMetadata({ modelSpec: this.spec, metadataField: ["signature_def"] }),
    );
    return toJson(GetModelMetadataResponseSchema, response, {
      registry: createRegistry(SignatureDefMapSchema),
    });
  }
}
