/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), so `grpcurl` and `buf curl` can call the server
 * without the proto files: it lists the services and returns the (trimmed, wire-compatible) file
 * descriptors of TF Serving's APIs, with their dependencies, from the generated code's embedded descriptors.
 */
import { toBinary, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import type { ServerReflectionRequest as V1Request } from "./proto/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1 } from "./proto/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "./proto/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_grpc_health_v1_health } from "./proto/gen/grpc/health/v1/health_pb.js";
import { file_tensorflow_serving_apis_model_service } from "./proto/gen/tensorflow_serving/apis/model_service_pb.js";
import { file_tensorflow_serving_apis_prediction_service } from "./proto/gen/tensorflow_serving/apis/prediction_service_pb.js";
import { file_grpc_reflection_v1_reflection } from "./proto/gen/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "./proto/gen/grpc/reflection/v1alpha/reflection_pb.js";

interface Index {
  readonly services: string[];
  readonly byFilename: Map<string, DescFile>;
  readonly bySymbol: Map<string, DescFile>;
}

function buildIndex(roots: readonly DescFile[]): Index {
  const byFilename = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const services: string[] = [];
  const addMessage = (file: DescFile, m: DescMessage): void => {
    bySymbol.set(m.typeName, file);
    for (const f of m.fields) bySymbol.set(`${m.typeName}.${f.name}`, file);
    for (const e of m.nestedEnums) bySymbol.set(e.typeName, file);
    for (const n of m.nestedMessages) addMessage(file, n);
  };
  const visit = (file: DescFile): void => {
    if (byFilename.has(file.proto.name)) return;
    byFilename.set(file.proto.name, file);
    for (const m of file.messages) addMessage(file, m);
    for (const e of file.enums) bySymbol.set(e.typeName, file);
    for (const s of file.services) {
      bySymbol.set(s.typeName, file);
      for (const method of s.methods) bySymbol.set(`${s.typeName}.${method.name}`, file);
    }
    for (const d of file.dependencies) visit(d);
  };
  for (const root of roots) {
    visit(root);
    for (const s of root.services) services.push(s.typeName);
  }
  return { services, byFilename, bySymbol };
}

/** The file and every file it imports, each once per stream (later answers skip files already sent). */
function withDependencies(file: DescFile, sent: Set<string>): Uint8Array[] {
  const out: Uint8Array[] = [];
  const visit = (f: DescFile, root: boolean): void => {
    if (!root && sent.has(f.proto.name)) return;
    sent.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    for (const d of f.dependencies) visit(d, false);
  };
  visit(file, true);
  return out;
}

type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

function answer(index: Index, request: V1Request, sent: Set<string>): Answer {
  const notFound = (what: string): Answer => ({
    case: "errorResponse",
    value: { errorCode: Code.NotFound, errorMessage: `${what} not found.` },
  });
  const r = request.messageRequest;
  switch (r.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename": {
      const file = index.byFilename.get(r.value);
      if (file === undefined) return notFound(`File "${r.value}"`);
      return { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file, sent) } };
    }
    case "fileContainingSymbol": {
      const file = index.bySymbol.get(r.value.replace(/^\./, ""));
      if (file === undefined) return notFound(`Symbol "${r.value}"`);
      return { case: "fileDescriptorResponse", value: { fileDescriptorProto: withDependencies(file, sent) } };
    }
    case "fileContainingExtension":
      return notFound(`Extension ${r.value.extensionNumber} of "${r.value.containingType}"`);
    default:
      return {
        case: "errorResponse",
        value: {
          errorCode: Code.Unimplemented,
          errorMessage: `${r.case ?? "an empty request"} is not supported.`,
        },
      };
  }
}

/** Adds grpc.reflection.v1 and v1alpha ServerReflection to the router. */
export function addReflection(router: ConnectRouter): void {
  const index = buildIndex([
    file_tensorflow_serving_apis_prediction_service,
    file_tensorflow_serving_apis_model_service,
    file_grpc_health_v1_health,
    file_grpc_reflection_v1_reflection,
    file_grpc_reflection_v1alpha_reflection,
  ]);
  router.service(ReflectionV1, {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const request of requests) {
        yield {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answer(index, request, sent),
        };
      }
    },
  });
  router.service(ReflectionV1alpha, {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const request of requests) {
        // v1alpha's messages are v1's, field for field.
        const response = answer(index, request as unknown as V1Request, sent);
        yield { validHost: request.host, originalRequest: request, messageResponse: response };
      }
    },
  });
}
