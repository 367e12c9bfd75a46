/**
 * Load benchmark of the REST server on loopback (`npm run bench:server`): requests/s and p50/p99 latency
 * for batch 1 and batch 64 predict requests over REST JSON, the binary format and gRPC (TF Serving's
 * PredictionService/Predict with `tensor_content` TensorProtos, standard gRPC framing over one HTTP/2
 * connection per simulated client), one JSON line each.
 *
 * The server runs in a child process (this file with `--serve`) so the load generator does not share its
 * event loop. HTTP/1 load: bench/http1-load.ts (answers framed, never decoded; why: its header), or
 * autocannon with `--client autocannon`. The model has the standard workload's 26 features (dim 64, mean
 * combiner, Zipf bags of 1..20 ids) with every table capped at `--rows-cap` rows (default 10000, ~43 MB) so the
 * benchmark measures the server, not memory size; `--threads` sets the embedding's lookup threads (worker
 * threads running `embeddingLookupAsync`); `--loops` the server's REST event loops (default: the CPUs Node
 * reports, `os.availableParallelism()`; the ceilings are one loop each, as bare node:http and node:http2
 * servers are). Also printed: the direct in-process lookup of the same
 * batches (the floor under the server's latency) and JSON.parse vs lossless-json on a batch-64 body.
 *
 * The transport ceiling: a bare `node:http` server in its own process (this file with `--ceiling`) that
 * reads each request body, JSON.parses it and answers a pre-encoded JSON body of the same size as the
 * real answer at that batch (26 features × batch × 64 floats, columnar), loaded with the same load
 * generator, settings and REST JSON bodies. Every transport's line carries `ceiling_ratio`: its requests/s over the
 * ceiling's at the same batch. With gRPC loaded, a second ceiling: a bare `node:http2` server (stream API)
 * that parses each PredictRequest and answers a pre-encoded PredictResponse of the real answer's size,
 * loaded by the same gRPC client; gRPC lines carry `h2_ceiling_ratio` against it. Every line also carries
 * the server's CPU time per request (all threads) and its event loop's busy share, steadier than requests/s
 * on a shared machine. Every line names the CPU.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { fork, type ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import {
  connect as http2Connect,
  createServer as createHttp2Server,
  type ClientHttp2Session,
} from "node:http2";
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { parse as parseLossless } from "lossless-json";
import {
  BINARY_CONTENT_TYPE,
  type DenseTensor,
  FeatureConfig,
  NotFoundError,
  RaggedTensor,
  startServer,
  TableConfig,
  TPUEmbeddingForServing,
  type ModelRegistry,
  type ServableModel,
} from "../src/index.js";
import { encodeBinaryRequest } from "../src/serving/binary/request-codec.js";
import { encodeJsonPredict } from "../src/serving/http/json-response.js";
import type { FeatureInput } from "../src/serving/batching/feature-input.js";
import { PredictRequestSchema } from "../src/serving/grpc/proto/gen/tensorflow_serving/apis/predict_pb.js";
import { encodeTensorInputs } from "../src/serving/grpc/tensor-inputs.js";
import { DEFAULT_SIGNATURE, modelSpec, outputTensors } from "../src/serving/grpc/grpc-messages.js";
import { PredictResponseWireSchema } from "../src/serving/grpc/proto/gen/tpu_embedding/serving/predict_wire_pb.js";
import { cpuName } from "./cpu-name.js";
import { http1Load, type LoadRequest } from "./http1-load.js";
import { arg, bagLength, DIM, hashInitializer, STANDARD_ROWS, zipfSampler } from "./workload.js";

const ROWS_CAP = Number(arg("rows-cap", "10000"));
const DURATION_S = Number(arg("duration", "5"));
const CONNECTIONS = Number(arg("connections", "8"));
/** The HTTP/1 load generator: "lean" (bench/http1-load.ts, answers framed, not decoded) or "autocannon". */
const CLIENT = arg("client", "lean");
if (CLIENT !== "lean" && CLIENT !== "autocannon") throw new Error(`--client lean|autocannon, not ${CLIENT}`);
const THREADS = Number(arg("threads", "1"));
const LOOPS = Number(arg("loops", String(availableParallelism())));
/** Which transports to load: any of json, binary, grpc. */
const TRANSPORTS = arg("transports", "json,binary,grpc").split(",");
const BATCHES = arg("batches", "1,64").split(",").map(Number);
const BODIES = 32;
const MODEL = "bench";
const CPU = cpuName();

function featureName(f: number): string {
  return `f${String(f).padStart(2, "0")}`;
}

function buildModel(): ServableModel {
  const featureConfig: Record<string, FeatureConfig> = {};
  STANDARD_ROWS.forEach((rows, f) => {
    const table = new TableConfig({
      vocabularySize: Math.min(rows, ROWS_CAP),
      dim: DIM,
      combiner: "mean",
      name: `t${f}`,
      initializer: hashInitializer(f),
    });
    featureConfig[featureName(f)] = new FeatureConfig({ table });
  });
  const embedding = new TPUEmbeddingForServing({ featureConfig, optimizer: null, threads: THREADS });
  embedding.build();
  const features = embedding.tables.map((t, f) => ({
    name: featureName(f),
    table: t.name!,
    vocabularySize: t.vocabularySize,
    dim: t.dim,
    combiner: "mean" as const,
    maxSequenceLength: 0,
    outputShape: null,
  }));
  const tableBytes = features.reduce((n, f) => n + f.vocabularySize * f.dim * 4, 0);
  return { name: MODEL, version: 1, embedding, features, checkpoint: "(in memory)", tableBytes };
}

/** The smallest registry: one model, one version, always available. */
function singleModelRegistry(model: ServableModel): ModelRegistry {
  const check = (name: string) => {
    if (name !== model.name) throw new NotFoundError(`Servable not found for request: Latest(${name})`);
  };
  return {
    modelNames: () => [model.name],
    status: (name) => (check(name), [{ version: 1, state: "AVAILABLE", errorCode: "OK", errorMessage: "" }]),
    labels: (name) => (check(name), new Map()),
    acquire: (name) => (check(name), { model, release() {} }),
    onEvent: () => () => {},
    close: async () => {},
  };
}

/** `batch` examples, each with a Zipf bag for every feature. */
function makeBatch(batch: number): number[][][] {
  const samplers = STANDARD_ROWS.map((rows, f) => zipfSampler(Math.min(rows, ROWS_CAP), f));
  return samplers.map((sample) =>
    Array.from({ length: batch }, () => Array.from({ length: bagLength() }, sample)),
  );
}

function jsonBody(bags: number[][][]): string {
  return JSON.stringify({ inputs: Object.fromEntries(bags.map((b, f) => [featureName(f), b])) });
}

function raggedInputs(bags: number[][][]): Map<string, FeatureInput> {
  const inputs = new Map<string, FeatureInput>();
  bags.forEach((b, f) => {
    const t = RaggedTensor.fromNested(b, "int32");
    inputs.set(featureName(f), {
      kind: "ragged",
      ids: t.values as Int32Array,
      rowSplits: t.rowSplits,
      weights: null,
    });
  });
  return inputs;
}

function binaryBody(bags: number[][][]): Buffer {
  const bytes = encodeBinaryRequest(raggedInputs(bags));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function directLookup(model: ServableModel, batch: number): object {
  const batches = Array.from({ length: BODIES }, () => makeBatch(batch));
  const times: number[] = [];
  const end = performance.now() + 2000;
  for (let i = 0; performance.now() < end || i < 50; i++) {
    const bags = batches[i % BODIES];
    const inputs = Object.fromEntries(
      bags.map((b, f) => [featureName(f), RaggedTensor.fromNested(b, "int32")]),
    );
    const t0 = performance.now();
    model.embedding.embeddingLookup(inputs);
    times.push(performance.now() - t0);
  }
  const sorted = Float64Array.from(times).sort();
  return {
    bench: "server",
    transport: "in-process embeddingLookup",
    batch,
    calls_per_s: Math.round(1000 / (times.reduce((a, b) => a + b, 0) / times.length)),
    p50_ms: round(percentile(sorted, 0.5)),
    p99_ms: round(percentile(sorted, 0.99)),
    cpu: CPU,
  };
}

function parseCost(): object {
  const body = jsonBody(makeBatch(64));
  const time = (parse: () => unknown) => {
    for (let i = 0; i < 5; i++) parse();
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) parse();
    return round((performance.now() - t0) / 50);
  };
  return {
    bench: "server",
    what: "parse a batch-64 JSON body",
    body_bytes: body.length,
    json_parse_ms: time(() => JSON.parse(body)),
    lossless_json_ms: time(() => parseLossless(body)),
    cpu: CPU,
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function load(
  url: string,
  transport: "json" | "binary" | "ceiling",
  batch: number,
  ceiling: number,
  probe: CpuProbe,
): Promise<Record<string, unknown>> {
  const bodies = Array.from({ length: BODIES }, () => makeBatch(batch));
  const requests: LoadRequest[] = bodies.map((b) => ({
    method: "POST" as const,
    path: transport === "ceiling" ? `/ceiling/${batch}` : `/v1/models/${MODEL}:predict`,
    headers: { "content-type": transport === "binary" ? BINARY_CONTENT_TYPE : "application/json" },
    body: transport === "binary" ? binaryBody(b) : jsonBody(b),
  }));
  const serverStart = await probe();
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const run = CLIENT === "autocannon" ? await autocannonRun(url, requests) : await leanRun(url, requests);
  const clientCpu = clientCpuPercent(cpu, wall);
  const server = serverUse(serverStart, await probe(), run.total);
  return {
    bench: "server",
    transport: TRANSPORT_NAMES[transport],
    batch,
    connections: CONNECTIONS,
    client: CLIENT,
    requests_per_s: Math.round(run.perS),
    ceiling_ratio: ceiling > 0 ? round(run.perS / ceiling) : 1,
    examples_per_s: Math.round(run.perS * batch),
    p50_ms: run.p50,
    p99_ms: run.p99,
    request_bytes: Math.round(requests.reduce((n, r) => n + r.body.length, 0) / requests.length),
    response_mb_per_s: round(run.bytesPerS / 1e6),
    failed: run.failed,
    rows_cap: ROWS_CAP,
    lookup_threads: THREADS,
    loops: transport === "ceiling" ? 1 : LOOPS,
    client_cpu_pct: clientCpu,
    ...server,
    cpu: CPU,
  };
}

/** One HTTP/1 load run, whichever generator made it. */
interface RunSummary {
  total: number;
  perS: number;
  p50: number;
  p99: number;
  bytesPerS: number;
  failed: number;
}

async function leanRun(url: string, requests: LoadRequest[]): Promise<RunSummary> {
  const r = await http1Load(url, CONNECTIONS, DURATION_S, requests);
  return {
    total: r.requests,
    perS: r.requests / r.seconds,
    p50: round(percentile(r.latenciesMs, 0.5)),
    p99: round(percentile(r.latenciesMs, 0.99)),
    bytesPerS: r.bytes / r.seconds,
    failed: r.non2xx + r.errors,
  };
}

async function autocannonRun(url: string, requests: LoadRequest[]): Promise<RunSummary> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, requests });
  return {
    total: result.requests.total,
    perS: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bytesPerS: result.throughput.average,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

/** A server process's CPU time (all its threads, µs) and its main thread's event-loop utilization. */
interface ServerUse {
  cpuUs: number;
  elu: EventLoopUtilization;
}
type CpuProbe = () => Promise<ServerUse>;

/**
 * The server's CPU time per answered request (µs, all threads) and its main thread's busy share over a
 * run: much steadier than requests/s on a machine shared with other work, which slows the server and the
 * load generator alike.
 */
function serverUse(start: ServerUse, end: ServerUse, requests: number): Record<string, number> {
  const busy = performance.eventLoopUtilization(end.elu, start.elu).utilization;
  return {
    server_cpu_us_per_req: requests > 0 ? Math.round((end.cpuUs - start.cpuUs) / requests) : 0,
    server_loop_busy_pct: Math.round(busy * 100),
  };
}

/** Asks a child (server or ceiling) for its ServerUse. */
function probeOf(child: ChildProcess): CpuProbe {
  return () =>
    new Promise((resolve) => {
      const onMessage = (m: unknown): void => {
        if (typeof m === "object" && m !== null && "cpuUs" in m) {
          child.off("message", onMessage);
          resolve(m as ServerUse);
        }
      };
      child.on("message", onMessage);
      child.send({ probe: true });
    });
}

/** Answers the parent's probes with this process's ServerUse. */
function answerProbes(): void {
  process.on("message", (m: { probe?: boolean }) => {
    if (m.probe !== true) return;
    const cpu = process.cpuUsage();
    process.send!({ cpuUs: cpu.user + cpu.system, elu: performance.eventLoopUtilization() });
  });
}

const TRANSPORT_NAMES = {
  json: "REST JSON",
  binary: "binary",
  ceiling: "ceiling (bare node:http, JSON.parse + pre-encoded answer)",
} as const;

/** A serialized PredictRequest: ids and row splits as int32 `tensor_content`. */
function grpcBody(bags: number[][][]): Buffer {
  const request = { modelSpec: { name: MODEL }, inputs: encodeTensorInputs(raggedInputs(bags)) };
  return Buffer.from(toBinary(PredictRequestSchema, create(PredictRequestSchema, request)));
}

/**
 * The gRPC load generator's flow-control windows (per stream, per connection). gRPC's own clients grow
 * theirs to the link's bandwidth-delay product (megabytes on loopback); node:http2's default of 64 KiB made
 * each batch-64 answer (426 KB) wait for window updates from a busy client, so the gRPC line and the
 * HTTP/2 ceiling at batch 64 measured the client's flow control (1,745 against 2,660 ceiling calls/s).
 */
const GRPC_STREAM_WINDOW = 4 << 20;
const GRPC_SESSION_WINDOW = 16 << 20;

/**
 * gRPC load like the HTTP/1 generator's: CONNECTIONS HTTP/2 connections (node:http2), each with one gRPC
 * call in flight, for DURATION_S. Requests are serialized and framed beforehand (5-byte gRPC envelope),
 * answers are checked for `grpc-status: 0` and not decoded, as bench/http1-load.ts does with HTTP bodies:
 * the client's cost is the transport's. (@grpc/grpc-js as load generator added ~3 ms of client latency per call here, which
 * hid the server at batch 1.)
 */
async function loadGrpc(
  grpcUrl: string,
  batch: number,
  ceiling: number,
  probe: CpuProbe,
  /** The bare HTTP/2 ceiling's requests/s at this batch; null: this run loads that ceiling itself. */
  h2Ceiling: number | null,
): Promise<Record<string, unknown>> {
  const path = h2Ceiling === null ? `/ceiling/${batch}` : "/tensorflow.serving.PredictionService/Predict";
  const bodies = Array.from({ length: BODIES }, () => grpcBody(makeBatch(batch)));
  const framed = bodies.map((b) => {
    const out = Buffer.alloc(5 + b.byteLength);
    out.writeUInt32BE(b.byteLength, 1);
    b.copy(out, 5);
    return out;
  });
  const sessions = await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<ClientHttp2Session>((resolve, reject) => {
          const s = http2Connect(grpcUrl, { settings: { initialWindowSize: GRPC_STREAM_WINDOW } });
          s.once("connect", () => {
            s.setLocalWindowSize(GRPC_SESSION_WINDOW);
            resolve(s);
          });
          s.once("error", reject);
        }),
    ),
  );
  const latencies: number[] = [];
  let failed = 0;
  let responseBytes = 0;
  const callOnce = (session: ClientHttp2Session, body: Buffer) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let bytes = 0;
      let status: string | undefined;
      req.on("data", (chunk: Buffer) => (bytes += chunk.byteLength));
      req.on("trailers", (trailers) => (status = String(trailers["grpc-status"])));
      req.on("error", () => {
        failed++;
        resolve();
      });
      req.on("end", () => {
        if (status === "0") {
          latencies.push(performance.now() - t0);
          responseBytes += bytes;
        } else failed++;
        resolve();
      });
      req.end(body);
    });
  const clients = sessions;
  // Warm up each connection, then run closed loops until the deadline.
  await Promise.all(clients.map((c) => callOnce(c, framed[0])));
  latencies.length = 0;
  responseBytes = 0;
  failed = 0;
  const serverStart = await probe();
  const start = performance.now();
  const cpu = process.cpuUsage();
  const end = start + DURATION_S * 1000;
  await Promise.all(
    clients.map(async (client, c) => {
      for (let i = c; performance.now() < end; i++) await callOnce(client, framed[i % BODIES]);
    }),
  );
  const clientCpu = clientCpuPercent(cpu, start);
  const seconds = (performance.now() - start) / 1000;
  const server = serverUse(serverStart, await probe(), latencies.length);
  for (const s of sessions) s.close();
  const sorted = Float64Array.from(latencies).sort();
  const rps = latencies.length / seconds;
  return {
    bench: "server",
    transport: h2Ceiling === null ? "gRPC ceiling (bare node:http2, parse + pre-encoded answer)" : "gRPC",
    batch,
    connections: CONNECTIONS,
    requests_per_s: Math.round(rps),
    ceiling_ratio: round(rps / ceiling),
    ...(h2Ceiling !== null && h2Ceiling > 0 ? { h2_ceiling_ratio: round(rps / h2Ceiling) } : {}),
    examples_per_s: Math.round(rps * batch),
    p50_ms: round(percentile(sorted, 0.5)),
    p99_ms: round(percentile(sorted, 0.99)),
    request_bytes: Math.round(bodies.reduce((n, b) => n + b.byteLength, 0) / bodies.length),
    response_mb_per_s: round(responseBytes / seconds / 1e6),
    failed,
    rows_cap: ROWS_CAP,
    lookup_threads: THREADS,
    loops: h2Ceiling === null ? 1 : LOOPS,
    client_cpu_pct: clientCpu,
    ...server,
    cpu: CPU,
  };
}

/** The load generator's own CPU use (this process) over the run, in % of one core. */
function clientCpuPercent(start: NodeJS.CpuUsage, wallStart: number): number {
  const used = process.cpuUsage(start);
  return Math.round(((used.user + used.system) / 1000 / (performance.now() - wallStart)) * 100);
}

async function serve(): Promise<void> {
  const server = await startServer({
    registry: singleModelRegistry(buildModel()),
    port: 0,
    grpcPort: 0,
    loops: LOOPS,
    batching: { enabled: !process.argv.includes("--no-batching") },
  });
  answerProbes();
  process.send!({ url: server.url, grpcUrl: server.grpc!.url });
  process.on("disconnect", () => void server.close({ drainTimeoutMs: 1000 }).then(() => process.exit(0)));
}

/**
 * The transport ceiling: reads each body, JSON.parses it and answers the pre-encoded body for
 * `/ceiling/<batch>` (sent by the parent), nothing else.
 */
function serveCeiling(): void {
  const answers = new Map<string, Buffer>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const body = answers.get(req.url ?? "")!;
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": body.byteLength });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65_000;
  // The gRPC ceiling: a bare node:http2 server (stream API) that reads each call's message, parses the
  // PredictRequest and answers the pre-encoded PredictResponse of that batch with grpc-status 0.
  const grpcAnswers = new Map<string, Buffer>();
  const h2 = createHttp2Server();
  h2.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      fromBinary(PredictRequestSchema, Buffer.concat(chunks).subarray(5));
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(grpcAnswers.get(String(headers[":path"])));
    });
  });
  const listening = Promise.all([
    new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)),
    new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve)),
  ]);
  answerProbes();
  process.on("message", (m: { batch?: number; body?: string; grpc?: string }) => {
    if (m.body === undefined) return;
    answers.set(`/ceiling/${m.batch}`, Buffer.from(m.body));
    grpcAnswers.set(`/ceiling/${m.batch}`, Buffer.from(m.grpc!, "base64"));
    if (answers.size === BATCHES.length)
      void listening.then(() =>
        process.send!({
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          grpcUrl: `http://127.0.0.1:${(h2.address() as AddressInfo).port}`,
        }),
      );
  });
  process.on("disconnect", () => {
    h2.close();
    server.close(() => process.exit(0));
  });
}

/**
 * Starts the ceiling child with the real answers' JSON text (and gRPC message) at each batch; its
 * requests/s by batch (and, when gRPC is loaded, the bare HTTP/2 server's by batch).
 */
async function ceilings(
  model: ServableModel,
): Promise<{ http: Map<number, number>; h2: Map<number, number> }> {
  // CEILING_NODE_OPTIONS adds node flags to the ceiling child (e.g. --cpu-prof), as SERVER_NODE_OPTIONS does below.
  const child = fork(fileURLToPath(import.meta.url), ["--ceiling", "--batches", BATCHES.join(",")], {
    execArgv: (process.env.CEILING_NODE_OPTIONS ?? "").split(" ").filter((a) => a !== ""),
  });
  const result = new Map<number, number>();
  const h2Result = new Map<number, number>();
  try {
    const ready = new Promise<{ url: string; grpcUrl: string }>((resolve, reject) => {
      child.once("message", (m) => resolve(m as { url: string; grpcUrl: string }));
      child.once("exit", (code) => reject(new Error(`ceiling child exited with ${code}`)));
    });
    for (const batch of BATCHES) {
      const inputs = Object.fromEntries(
        makeBatch(batch).map((b, f) => [featureName(f), RaggedTensor.fromNested(b, "int32")]),
      );
      const outputs = model.embedding.embeddingLookup(inputs) as Record<string, DenseTensor<Float32Array>>;
      const answer = new Map(
        Object.entries(outputs).map(([k, v]) => [k, { shape: [...v.shape], data: v.data }]),
      );
      const body = encodeJsonPredict("columnar", answer, false);
      const message = toBinary(
        PredictResponseWireSchema,
        create(PredictResponseWireSchema, {
          modelSpec: modelSpec(MODEL, 1, DEFAULT_SIGNATURE),
          outputs: outputTensors(answer, [...answer.keys()]),
        }),
      );
      const framed = Buffer.alloc(5 + message.byteLength);
      framed.writeUInt32BE(message.byteLength, 1);
      framed.set(message, 5);
      child.send({ batch, body, grpc: framed.toString("base64") });
    }
    const { url, grpcUrl } = await ready;
    for (const batch of BATCHES) {
      const line = await load(url, "ceiling", batch, 0, probeOf(child));
      result.set(batch, line.requests_per_s as number);
      console.log(JSON.stringify(line));
      if (TRANSPORTS.includes("grpc")) {
        const h2Line = await loadGrpc(grpcUrl, batch, result.get(batch)!, probeOf(child), null);
        h2Result.set(batch, h2Line.requests_per_s as number);
        console.log(JSON.stringify(h2Line));
      }
    }
  } finally {
    child.disconnect();
    await new Promise((resolve) => child.once("exit", resolve));
  }
  return { http: result, h2: h2Result };
}

async function main(): Promise<void> {
  const model = buildModel();
  console.log(JSON.stringify(parseCost()));
  for (const batch of [1, 64]) console.log(JSON.stringify(directLookup(model, batch)));
  const { http: ceiling, h2: h2Ceiling } = await ceilings(model);
  // The server child gets the model's knobs; SERVER_NODE_OPTIONS adds node flags (e.g. --cpu-prof).
  const child: ChildProcess = fork(
    fileURLToPath(import.meta.url),
    [
      "--serve",
      "--rows-cap",
      String(ROWS_CAP),
      "--threads",
      String(THREADS),
      "--loops",
      String(LOOPS),
      ...(process.argv.includes("--no-batching") ? ["--no-batching"] : []),
    ],
    { execArgv: (process.env.SERVER_NODE_OPTIONS ?? "").split(" ").filter((a) => a !== "") },
  );
  try {
    const { url, grpcUrl } = await new Promise<{ url: string; grpcUrl: string }>((resolve, reject) => {
      child.once("message", (m) => resolve(m as { url: string; grpcUrl: string }));
      child.once("exit", (code) => reject(new Error(`server child exited with ${code}`)));
    });
    for (const batch of BATCHES) {
      for (const transport of ["json", "binary"] as const)
        if (TRANSPORTS.includes(transport))
          console.log(JSON.stringify(await load(url, transport, batch, ceiling.get(batch)!, probeOf(child))));
      if (TRANSPORTS.includes("grpc"))
        console.log(
          JSON.stringify(
            await loadGrpc(grpcUrl, batch, ceiling.get(batch)!, probeOf(child), h2Ceiling.get(batch) ?? 0),
          ),
        );
    }
  } finally {
    child.disconnect();
    await new Promise((resolve) => child.once("exit", resolve));
  }
}

if (process.argv.includes("--serve")) void serve();
else if (process.argv.includes("--ceiling")) serveCeiling();
else await main();
