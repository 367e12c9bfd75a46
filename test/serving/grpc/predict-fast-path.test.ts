import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import type { RunningServer } from "../../../src/index.js";
import { PredictRequestSchema } from "../../../src/serving/grpc/proto/gen/tensorflow_serving/apis/predict_pb.js";
import { encodeTensorInputs } from "../../../src/serving/grpc/tensor-inputs.js";
import { fastPredictCalls } from "../../../src/serving/grpc/predict-fast-path.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";

interface Answer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Plain gRPC Predicts are served by the fast path (predict-fast-path.ts), everything else by connect. A
 * Predict sent with `grpc-encoding: gzip` but an uncompressed message (flag 0, which gRPC allows) takes
 * connect's route, so each case below is sent both ways and must get the same bytes, status and message.
 */
describe("gRPC Predict fast path", () => {
  let server: RunningServer;
  let session: ClientHttp2Session;
  before(async () => {
    ({ server } = await serveTestModel(await buildTestModel(1, 5), { grpcPort: 0 }));
    session = connect(server.grpc!.url);
  });
  after(async () => {
    session.close();
    await server.close();
  });

  function call(body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = session.request({
        ":method": "POST",
        ":path": "/tensorflow.serving.PredictionService/Predict",
        "content-type": "application/grpc",
        te: "trailers",
        ...headers,
      });
      let head: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on("response", (h) => (head = h));
      req.on("trailers", (t) => (trailers = t));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("end", () => {
        delete head.date;
        resolve({ headers: head, trailers, body: Buffer.concat(chunks) });
      });
      req.end(body);
    });
  }

  const frame = (message: Uint8Array): Buffer => {
    const out = Buffer.alloc(5 + message.byteLength);
    out.writeUInt32BE(message.byteLength, 1);
    out.set(message, 5);
    return out;
  };
  const request = (name: string, ids: number[], splits: number[], signatureName = ""): Buffer =>
    frame(
      toBinary(
        PredictRequestSchema,
        create(PredictRequestSchema, {
          modelSpec: { name, signatureName },
          inputs: encodeTensorInputs(
            new Map([
              [
                "watched",
                {
                  kind: "ragged",
                  ids: Int32Array.from(ids),
                  rowSplits: Int32Array.from(splits),
                  weights: null,
                },
              ],
            ]),
          ),
        }),
      ),
    );

  test("answers, TF Serving errors and deadlines: the same bytes, headers and trailers as through connect", async () => {
    const cases: [string, Buffer, Record<string, string>][] = [
      ["ok", request("emb", [1, 2, 3], [0, 2, 3]), {}],
      ["ok, +proto", request("emb", [4], [0, 1]), { "content-type": "application/grpc+proto" }],
      ["ok, a deadline", request("emb", [5, 6], [0, 1, 2]), { "grpc-timeout": "10S" }],
      ["id out of range", request("emb", [1, 1000], [0, 2]), {}],
      ["unknown model", request("nope", [1], [0, 1]), {}],
      ["signature, non-ASCII", request("emb", [1], [0, 1], "x:é%"), {}],
      ["no ModelSpec", frame(new Uint8Array(0)), {}],
      ["deadline already past", request("emb", [1], [0, 1]), { "grpc-timeout": "0n" }],
    ];
    for (const [name, body, headers] of cases) {
      const before = fastPredictCalls();
      const fast = await call(body, headers);
      assert.equal(fastPredictCalls(), before + 1, `${name}: answered by the fast path`);
      const viaConnect = await call(body, { ...headers, "grpc-encoding": "gzip" });
      assert.equal(fastPredictCalls(), before + 1, `${name}: answered by connect`);
      // connect echoes the request's encoding (its messages stay uncompressed: flag 0, as sent).
      assert.equal(viaConnect.headers["grpc-encoding"], "gzip");
      delete viaConnect.headers["grpc-encoding"];
      assert.deepEqual(fast, viaConnect, name);
    }
    const ok = await call(request("emb", [1, 2, 3], [0, 2, 3]));
    assert.equal(ok.trailers["grpc-status"], "0");
    assert.equal(ok.headers["content-type"], "application/grpc+proto");
    // 2 examples × dim 8 float32 in the answer, behind the 5-byte envelope.
    assert.equal(ok.body.readUInt32BE(1), ok.body.byteLength - 5);
    assert.ok(ok.body.byteLength > 5 + 2 * 8 * 4);
    const late = await call(request("emb", [1], [0, 1]), { "grpc-timeout": "0n" });
    assert.deepEqual(
      [late.trailers["grpc-status"], late.trailers["grpc-message"]],
      ["4", "the operation timed out"],
    );
    const signature = await call(request("emb", [1], [0, 1], "x:é%"));
    assert.deepEqual(
      [signature.trailers["grpc-status"], signature.trailers["grpc-message"]],
      ["9", 'Serving signature key "x:%C3%A9%25" not found.'],
    );
  });

  test("what the fast path does not take is answered by connect: envelopes, parse errors, bad grpc-timeout", async () => {
    const empty = frame(new Uint8Array(0));
    const cases: [Buffer, Record<string, string>, string, string][] = [
      [Buffer.from([0, 0, 0]), {}, "3", "protocol error: incomplete envelope"],
      [
        Buffer.concat([empty, empty]),
        {},
        "12",
        "protocol error: received extra input message for unary method",
      ],
      [frame(Uint8Array.of(0xff, 0xff)), {}, "13", "parse binary: premature EOF"],
      [empty, { "grpc-timeout": "soon" }, "3", "protocol error: invalid grpc timeout value: soon"],
    ];
    for (const [body, headers, status, message] of cases) {
      const before = fastPredictCalls();
      const answer = await call(body, headers);
      assert.equal(fastPredictCalls(), before);
      assert.deepEqual([answer.trailers["grpc-status"], answer.trailers["grpc-message"]], [status, message]);
      assert.equal(answer.body.byteLength, 0);
    }
  });
});
