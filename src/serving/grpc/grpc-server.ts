/**
 * TF Serving's gRPC API (tensorflow.serving.PredictionService and ModelService, grpc.health.v1.Health)
 * on its own HTTP/2 port, sharing the REST server's registry, micro-batcher, limits, metrics and
 * in-flight count: a Predict is the same call as a REST predict, only decoded from TensorProtos.
 * Served with connect-node, so gRPC, gRPC-Web and Connect clients all work on this port; plain gRPC
 * Predicts take a fast path (predict-fast-path.ts) with the same answers, without connect's per-call cost.
 */
import { anyPack } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createConnectRouter, type ConnectRouter } from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import {
  createServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import type { Socket } from "node:net";
import { listenOn } from "../listen.js";
import { performance } from "node:perf_hooks";
import { InvalidArgumentError } from "../../errors.js";
import type { MicroBatcher } from "../batching/micro-batcher.js";
import type { Logger } from "../log.js";
import type { ServerMetrics } from "../metrics/server-metrics.js";
import type { ModelRegistry } from "../model-registry.js";
import type { MemoryBudget } from "../http/memory-budget.js";
import { predictService, type PredictLimits, type PredictTarget } from "../predict-service.js";
import { HealthCheckResponse_ServingStatus, Health } from "./proto/gen/grpc/health/v1/health_pb.js";
import { SignatureDefMapSchema } from "./proto/gen/tensorflow_serving/apis/get_model_metadata_pb.js";
import type { ModelSpec } from "./proto/gen/tensorflow_serving/apis/model_pb.js";
import { ModelService } from "./proto/gen/tensorflow_serving/apis/model_service_pb.js";
import { PredictionService } from "./proto/gen/tensorflow_serving/apis/prediction_service_pb.js";
import {
  checkOutputFilter,
  codeName,
  DEFAULT_SIGNATURE,
  modelSpec,
  answerNames,
  outputTensors,
  signatureDef,
  toConnectError,
  versionStatus,
} from "./grpc-messages.js";
import { decodeTensorInputs } from "./tensor-inputs.js";
import { addReflection } from "./reflection.js";
import { modelsOfConfig } from "../model/model-server-config.js";
import { ModelServerConfigSchema } from "./proto/gen/tensorflow_serving/config/model_server_config_pb.js";
import { readTensorProto, type TensorView } from "./tensor-wire.js";
import {
  type PredictRequestWire,
  PredictRequestWireSchema,
  PredictResponseWireSchema,
} from "./proto/gen/tpu_embedding/serving/predict_wire_pb.js";
import { grpcPercentEncode, predictFastPath } from "./predict-fast-path.js";

export { grpcPercentEncode };

/** PredictionService/Predict with the wire-identical request and response messages. */
const PREDICT_WIRE = {
  ...PredictionService.method.predict,
  input: PredictRequestWireSchema,
  output: PredictResponseWireSchema,
} as const;

export interface GrpcLimits extends PredictLimits {
  /** Largest request message (TF Serving allows up to 2 GiB - 1); beyond → RESOURCE_EXHAUSTED. */
  readonly maxBodyBytes: number;
  /** The server's own deadline for a Predict, beside the client's `grpc-timeout`. */
  readonly requestTimeoutMs: number;
}

export interface GrpcServerOptions {
  readonly registry: ModelRegistry;
  readonly batcher: MicroBatcher;
  readonly metrics: ServerMetrics;
  readonly limits: GrpcLimits;
  readonly logger: Logger;
  readonly host: string;
  /** 0 = any free port; null: listen on none, connections are `inject`ed (the server's other loops). */
  readonly port: number | null;
  /**
   * Admits one predict call (shared with REST: the concurrency limit and shutdown drain count both):
   * returns its release function, or throws RESOURCE_EXHAUSTED / UNAVAILABLE.
   */
  readonly admit: () => () => void;
  /** The server-wide in-flight memory budget shared with REST (null: none). */
  readonly budget?: MemoryBudget | null;
  /** features.json for models reloaded through HandleReloadConfigRequest whose versions have none. */
  readonly featureConfig?: string;
}

export interface RunningGrpcServer {
  readonly port: number;
  /** e.g. "http://127.0.0.1:8500" (plain-text HTTP/2). */
  readonly url: string;
  /** Stops accepting calls (health turns NOT_SERVING); calls in flight go on. */
  stopAccepting(): void;
  /** Serves a connection accepted elsewhere (paused; the server's other loops hand them out). */
  inject(socket: Socket): void;
  /**
   * After the shared drain: waits up to `graceMs` (default 2 s) for connections to finish writing their
   * last answers, closes the rest, and resolves once the port is closed.
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts the gRPC server; resolves once it listens. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { registry, batcher, metrics, limits, logger } = options;
  let accepting = true;
  // Ends open Health.Watch streams at shutdown (not passed to connect: calls in flight must finish).
  const stopping = new AbortController();

  /** Runs one call with metrics and logs; errors become TF Serving's gRPC statuses. */
  const observed = async <T>(api: string, model: string, run: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    let code = "OK";
    try {
      return await run();
    } catch (error) {
      const e = toConnectError(error);
      code = codeName(e.code);
      if (e.code === Code.Internal || e.code === Code.Unknown) {
        logger.log("error", "grpc-request-failed", { api, error: (error as Error)?.stack ?? String(error) });
      }
      throw e;
    } finally {
      const seconds = (performance.now() - start) / 1000;
      const modelLabel = registry.modelNames().includes(model) ? model : "";
      metrics.observeRequest(modelLabel, `grpc_${api}`, code, seconds);
      const level = code === "OK" ? "debug" : code === "INTERNAL" || code === "UNKNOWN" ? "error" : "info";
      logger.log(level, "grpc-request", { api, model, code, ms: Math.round(seconds * 1e4) / 10 });
    }
  };

  /**
   * One Predict, whether it came through connect or the fast path below: `signal` aborts it (the client's
   * deadline or cancel, as connect's context signal does).
   */
  const predictCall = (request: PredictRequestWire, signal: AbortSignal | null) =>
    observed("predict", request.modelSpec?.name ?? "", async () => {
      const target = requireTarget(request.modelSpec);
      const signature = signatureOf(request.modelSpec!);
      if (!accepting) throw new ConnectError("The server is shutting down.", Code.Unavailable);
      const release = options.admit();
      try {
        const work = predictService(
          registry,
          batcher,
          target,
          (features, model) => {
            if (signature !== DEFAULT_SIGNATURE) {
              throw new ConnectError(
                `Serving signature key "${signature}" not found.`,
                Code.FailedPrecondition,
              );
            }
            checkOutputFilter(request.outputFilter, model.features);
            const tensors: Record<string, TensorView> = {};
            for (const [name, bytes] of Object.entries(request.inputs))
              tensors[name] = readTensorProto(bytes, name);
            return decodeTensorInputs(tensors, features, limits.maxIdsPerRequest);
          },
          limits,
          { budget: options.budget ?? null, bodyBytes: 0, jsonAnswer: false },
        );
        // The request's memory goes back once its lookup is done, even past the deadline.
        work.then(
          (r) => r.release(),
          () => {},
        );
        const { model, outputs, ids } = await withDeadline(work, signal, limits.requestTimeoutMs);
        metrics.observeIds(model.name, ids);
        return {
          modelSpec: modelSpec(model.name, model.version, signature),
          outputs,
          names: answerNames(
            outputs,
            request.outputFilter,
            model.features.map((f) => f.name),
          ),
        };
      } finally {
        release();
      }
    });

  const routes = (router: ConnectRouter) => {
    // Predict is served with wire-identical messages whose TensorProtos stay bytes (predict_wire.proto):
    // ids are read straight into typed arrays, outputs written around one copy of the lookup's memory.
    router.rpc(PREDICT_WIRE, async (request, context) => {
      const answer = await predictCall(request, context.signal);
      return { modelSpec: answer.modelSpec, outputs: outputTensors(answer.outputs, answer.names) };
    });
    router.rpc(PredictionService.method.getModelMetadata, (request) =>
      observed("metadata", request.modelSpec?.name ?? "", async () => {
        const target = requireTarget(request.modelSpec);
        if (request.metadataField.length === 0) {
          throw new InvalidArgumentError("GetModelMetadataRequest must specify at least one metadata_field");
        }
        for (const field of request.metadataField) {
          if (field !== "signature_def")
            throw new InvalidArgumentError(`Metadata field ${field} is not supported`);
        }
        const lease = registry.acquire(target.model, { version: target.version, label: target.label });
        try {
          const model = lease.model;
          const map = create(SignatureDefMapSchema, {
            signatureDef: { [DEFAULT_SIGNATURE]: signatureDef(model.features) },
          });
          return {
            modelSpec: modelSpec(model.name, model.version, ""),
            metadata: { signature_def: anyPack(SignatureDefMapSchema, map) },
          };
        } finally {
          lease.release();
        }
      }),
    );
    router.rpc(PredictionService.method.classify, () => unimplemented("Classify"));
    router.rpc(PredictionService.method.regress, () => unimplemented("Regress"));
    router.rpc(PredictionService.method.multiInference, () => unimplemented("MultiInference"));
    router.service(ModelService, {
      getModelStatus: (request) =>
        observed("status", request.modelSpec?.name ?? "", async () => {
          if (request.modelSpec === undefined) throw new InvalidArgumentError("Missing ModelSpec");
          const spec = request.modelSpec;
          // TF Serving's GetModelStatusImpl: a version narrows the answer; a label does not.
          const version =
            spec.versionChoice.case === "version" ? toVersion(spec.versionChoice.value.value) : undefined;
          let statuses;
          try {
            statuses = registry.modelNames().includes(spec.name) ? registry.status(spec.name, version) : [];
          } catch {
            statuses = [];
          }
          if (statuses.length === 0) {
            throw new ConnectError(
              version === undefined
                ? `Could not find any versions of model ${spec.name}`
                : `Could not find version ${version} of model ${spec.name}`,
              Code.NotFound,
            );
          }
          return { modelVersionStatus: statuses.map(versionStatus) };
        }),
      // TF Serving's ReloadConfig: the new config supersedes the old one (omitted models are unloaded).
      handleReloadConfigRequest: (request) =>
        observed("reload_config", "", async () => {
          if (registry.reconfigure === undefined) {
            throw new ConnectError(
              "HandleReloadConfigRequest is not supported by this server's model registry.",
              Code.Unimplemented,
            );
          }
          const config = request.config ?? create(ModelServerConfigSchema);
          await registry.reconfigure(modelsOfConfig(config, "ReloadConfigRequest", options.featureConfig));
          return { status: { errorCode: 0, errorMessage: "" } };
        }),
    });
    addReflection(router);
    router.service(Health, {
      check: (request) => {
        if (!knownService(request.service)) throw new ConnectError("unknown service", Code.NotFound);
        return { status: healthStatus() };
      },
      async *watch(request, context) {
        if (!knownService(request.service)) {
          yield { status: HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN };
          return;
        }
        yield { status: healthStatus() };
        if (!accepting) return;
        await new Promise<void>((resolve) => {
          const signals = [context.signal, stopping.signal];
          if (signals.some((s) => s.aborted)) return resolve();
          for (const s of signals) s.addEventListener("abort", () => resolve(), { once: true });
        });
        if (!accepting) yield { status: HealthCheckResponse_ServingStatus.NOT_SERVING };
      },
    });
  };

  const healthStatus = () =>
    accepting ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING;

  // connectNodeAdapter's routing, kept here so the Predict fast path can hand connect a body it read.
  const router = createConnectRouter({
    readMaxBytes: limits.maxBodyBytes,
    // Compressed requests are accepted, answers are never compressed (as TF Serving's default): float32
    // embeddings barely compress, and gzip cost more than the lookup in the benchmark.
    compressMinBytes: Number.MAX_SAFE_INTEGER,
    acceptCompression: [compressionGzip, compressionBrotli],
  });
  routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));
  /** Serves a call through connect; `body`: the request body when the fast path already read it. */
  const viaConnect = (
    req: Http2ServerRequest,
    res: Http2ServerResponse,
    body?: AsyncIterable<Uint8Array>,
  ): void => {
    const handler = handlers.get((req.url ?? "").split("?", 2)[0]);
    if (handler === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    // connect percent-encodes grpc-message with encodeURIComponent (":" → "%3A"); clients that decode it
    // with decodeURI (grpc-js) would show that. Re-encode it the gRPC spec's way: only bytes outside
    // printable ASCII, and "%".
    const addTrailers = res.addTrailers.bind(res);
    res.addTrailers = (headers) => {
      const message = (headers as Record<string, unknown>)["grpc-message"];
      if (typeof message === "string") {
        (headers as Record<string, string>)["grpc-message"] = grpcPercentEncode(safeDecode(message));
      }
      addTrailers(headers);
    };
    const request = universalRequestFromNodeRequest(req, res, undefined, undefined);
    handler(body === undefined ? request : { ...request, body })
      .then((response) => universalResponseToNodeResponse(response, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        logger.log("error", "grpc-handler-failed", { error: String(reason) });
      });
  };
  const fastPredict = predictFastPath(predictCall, limits.maxBodyBytes, viaConnect);
  const server: Http2Server = createServer({ maxSessionMemory: 64 }, (req, res) => {
    if (!fastPredict(req, res)) viaConnect(req, res);
  });
  const sessions = new Set<Http2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });

  const listens = options.port !== null;
  const port = listens ? await listenOn(server, options.port!, options.host) : 0;
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  if (listens) logger.log("info", "grpc-server-listening", { url });

  let closed: Promise<void> | null = null;
  const serverClosed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  const stopAccepting = (): void => {
    if (!accepting) return;
    accepting = false;
    // Open Health.Watch streams learn NOT_SERVING now; new connections are refused.
    stopping.abort();
    server.close();
    for (const session of sessions) if (!session.closed) session.close();
  };
  return {
    port,
    url,
    stopAccepting,
    inject(socket) {
      if (!accepting) {
        socket.destroy();
        return;
      }
      server.emit("connection", socket);
      socket.resume();
    },
    close(graceMs = 2000) {
      closed ??= (async () => {
        stopAccepting();
        // Sessions were told GOAWAY: their last answers are still being written. Wait for them a little.
        const open = [...sessions].filter((s) => !s.destroyed);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(open.map((s) => new Promise((resolve) => s.once("close", resolve)))),
          new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
        for (const session of sessions) session.destroy();
        await serverClosed;
        if (listens) logger.log("info", "grpc-server-closed", { url });
      })();
      return closed;
    },
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const SERVICES = [
  "",
  "tensorflow.serving.PredictionService",
  "tensorflow.serving.ModelService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

function knownService(name: string): boolean {
  return SERVICES.includes(name);
}

function unimplemented(method: string): never {
  throw new ConnectError(
    `${method} is not supported by an embedding model; use Predict (tensorflow.serving.PredictionService/Predict).`,
    Code.Unimplemented,
  );
}

function toVersion(value: bigint): number {
  const v = Number(value);
  if (!Number.isSafeInteger(v)) throw new InvalidArgumentError(`Version ${value} is out of range.`);
  return v;
}

/** ModelSpec → the registry's target, with TF Serving's checks for a missing spec or name. */
function requireTarget(spec: ModelSpec | undefined): PredictTarget {
  if (spec === undefined) throw new InvalidArgumentError("Missing ModelSpec");
  if (spec.name === "") throw new InvalidArgumentError("ModelSpec has no name specified.");
  const choice = spec.versionChoice;
  if (choice.case === "version") return { model: spec.name, version: toVersion(choice.value.value) };
  if (choice.case === "versionLabel") return { model: spec.name, label: choice.value };
  return { model: spec.name };
}

function signatureOf(spec: ModelSpec): string {
  return spec.signatureName === "" ? DEFAULT_SIGNATURE : spec.signatureName;
}

/**
 * Resolves with `work`, or rejects with DEADLINE_EXCEEDED when the client's deadline (`grpc-timeout`,
 * surfaced by connect as the context's signal) or the server's own timeout passes first. The lookup
 * itself goes on and releases its lease when it settles.
 */
function withDeadline<T>(work: Promise<T>, signal: AbortSignal | null, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ConnectError(
            `Request timed out after ${timeoutMs} ms (--request-timeout-ms).`,
            Code.DeadlineExceeded,
          ),
        ),
      timeoutMs,
    );
    if (signal === null) return;
    onAbort = () => reject(ConnectError.from(signal.reason, Code.DeadlineExceeded));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => {
    clearTimeout(timer);
    if (onAbort !== undefined) signal!.removeEventListener("abort", onAbort);
  });
}
