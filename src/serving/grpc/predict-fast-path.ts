import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { performance } from "node:perf_hooks";
import { encodePredictAnswerWire, type PredictAnswer } from "./predict-response-wire.js";
import {
  type PredictRequestWire,
  PredictRequestWireSchema,
} from "./proto/gen/tpu_embedding/serving/predict_wire_pb.js";

/** One Predict (grpc-server.ts's, shared with connect's route): the answer, or a ConnectError. */
export type PredictCall = (request: PredictRequestWire, signal: AbortSignal | null) => Promise<PredictAnswer>;

/** Serves a call through connect; `body`: the request body already read from `req`. */
export type ConnectFallback = (
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  body?: AsyncIterable<Uint8Array>,
) => void;

let served = 0;

/** Test hook: how many Predicts the fast path has answered in this process. */
export function fastPredictCalls(): number {
  return served;
}

const PREDICT_PATH = "/tensorflow.serving.PredictionService/Predict";
/** gRPC's grpc-timeout (connect's parseTimeout): up to 8 digits and a unit. */
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * Plain gRPC Predict calls (application/grpc or +proto, uncompressed, one message) served without
 * connect's per-call machinery (async iterables, abort controllers, header objects), which cost ~4× the
 * rest of a batch-1 call (bench/results/2026-12-07-server-overheads.md). The same Predict function,
 * response bytes, headers and trailers as through connect (grpc-status, grpc-message encoded the gRPC
 * way). Anything else — gRPC-Web, Connect, JSON, compression, a malformed grpc-timeout, an envelope
 * that is not exactly one uncompressed message, a body over the limit, bytes that do not parse — is
 * handed to connect (with the bytes already read), which answers it as before. Returns whether it took
 * the call.
 */
export function predictFastPath(
  call: PredictCall,
  maxBodyBytes: number,
  fallback: ConnectFallback,
): (req: Http2ServerRequest, res: Http2ServerResponse) => boolean {
  return (req, res) => {
    if (req.url !== PREDICT_PATH || req.method !== "POST") return false;
    const headers = req.headers;
    const type = headers["content-type"];
    if (type !== "application/grpc" && type !== "application/grpc+proto") return false;
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const timeout = headers["grpc-timeout"];
    // The client's deadline, from now (as connect's starts when the call arrives); null: none.
    let deadline: number | null = null;
    if (timeout !== undefined) {
      const match = typeof timeout === "string" ? TIMEOUT.exec(timeout) : null;
      if (match === null) return false;
      deadline = performance.now() + UNIT_MS[match[2]] * parseInt(match[1], 10);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size > maxBodyBytes + 5) {
        // Over the limit: connect reads the rest and answers RESOURCE_EXHAUSTED as before.
        req.off("data", onData);
        req.off("end", onEnd);
        req.pause();
        fallback(req, res, rest(chunks, req));
      }
    };
    const onEnd = (): void => {
      req.off("data", onData);
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      const request = unaryMessage(body);
      if (request === null) fallback(req, res, once(body));
      else void answer(call, request, deadline, req, res);
    };
    req.on("data", onData);
    req.once("end", onEnd);
    return true;
  };
}

/** The request message when `body` is exactly one uncompressed gRPC message that parses; else null. */
function unaryMessage(body: Buffer): PredictRequestWire | null {
  if (body.byteLength < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.byteLength - 5) return null;
  try {
    return fromBinary(PredictRequestWireSchema, body.subarray(5));
  } catch {
    return null;
  }
}

async function answer(
  call: PredictCall,
  request: PredictRequestWire,
  deadline: number | null,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
): Promise<void> {
  // The call's signal, as connect's context gives it: the client's deadline, or the stream closing early.
  const controller = new AbortController();
  const expire = (): void =>
    controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
  let timer: NodeJS.Timeout | undefined;
  if (deadline !== null) {
    const left = deadline - performance.now();
    if (left <= 0) expire();
    // Whole milliseconds: Node keeps a timer list per distinct duration (see http/server.ts).
    else timer = setTimeout(expire, Math.ceil(left));
  }
  const onClose = (): void => {
    if (!res.writableFinished)
      controller.abort(new ConnectError("This operation was aborted", Code.Canceled));
  };
  req.once("close", onClose);
  let message: Uint8Array | null = null;
  let error: ConnectError | null = null;
  try {
    message = encodePredictAnswerWire(await call(request, controller.signal), true);
  } catch (e) {
    error = ConnectError.from(e);
  } finally {
    clearTimeout(timer);
  }
  if (res.stream.destroyed || res.headersSent) return;
  served++;
  res.writeHead(200, { "content-type": "application/grpc+proto" });
  if (message !== null) res.write(message); // framed: the 5-byte header is in it
  res.addTrailers(
    error === null
      ? { "grpc-status": "0" }
      : { "grpc-message": grpcPercentEncode(error.rawMessage), "grpc-status": String(error.code) },
  );
  res.end();
}

async function* once(body: Uint8Array): AsyncIterable<Uint8Array> {
  yield body;
}

async function* rest(read: readonly Buffer[], req: Http2ServerRequest): AsyncIterable<Uint8Array> {
  yield* read;
  for await (const chunk of req) yield chunk as Buffer;
}

const printable = (b: number) => b >= 0x20 && b <= 0x7e && b !== 0x25;

/** gRPC's grpc-message encoding (PROTOCOL-HTTP2.md): UTF-8, bytes outside printable ASCII and "%" as %XX. */
export function grpcPercentEncode(message: string): string {
  const bytes = Buffer.from(message, "utf8");
  if (bytes.every(printable)) return message;
  let out = "";
  for (const b of bytes)
    out += printable(b) ? String.fromCharCode(b) : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  return out;
}
