import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { RunningServer, ServableModel } from "../../../src/index.js";
import type { FeatureInput, PredictInputs } from "../../../src/serving/batching/feature-input.js";
import { BINARY_CONTENT_TYPE } from "../../../src/serving/binary/binary-format.js";
import { decodeBinaryRequest, encodeBinaryRequest } from "../../../src/serving/binary/request-codec.js";
import { encodeBinaryResponse } from "../../../src/serving/binary/response-codec.js";
import { buildTestModel, serveTestModel } from "../support/test-registry.js";
import {
  checkReply,
  describeTally,
  FUZZ_SCALE,
  FUZZ_SEED,
  fuzzRandom,
  newTally,
  post,
  rssMiB,
  type Random,
} from "./fuzz-support.js";

/**
 * Seeded fuzzing of binary predict bodies (issue 14, item 7): valid bodies of every kind (ragged, dense,
 * sparse; int32 and int64 ids; with and without weights), then mutated bytes, 32-bit fields set to
 * extremes (counts, ranks, dimensions), cuts and additions, sent 8 at a time between valid ones. No 5xx,
 * every 200 byte-equal to the library's direct lookup of the same decoded inputs, memory bounded.
 */
const REQUESTS = Math.round(2000 * FUZZ_SCALE);
const CONCURRENCY = 8;

const VOCAB: Record<string, number> = { watched: 1000, favorited: 1000, friends: 100, "user/topics": 50 };

let model: ServableModel;
let server: RunningServer;
let url: string;

before(async () => {
  // Two lookup threads: lookups big enough are split between workers (the JSON fuzzer uses one).
  model = await buildTestModel(1, 78, undefined, "emb", 2);
  ({ server, url } = await serveTestModel(model, {
    limits: { maxRequestBytes: 8 << 20, maxInFlightBytes: 64 << 20, maxIdsPerRequest: 5000 },
  }));
});
after(() => server.close());

function validInputs(r: Random): PredictInputs {
  const out = new Map<string, FeatureInput>();
  const names = Object.keys(VOCAB).filter(() => r.rand() < 0.5);
  if (names.length === 0) names.push("friends");
  const rows = 1 + r.int(4);
  for (const name of names) {
    const vocab = VOCAB[name];
    const wide = r.rand() < 0.3;
    const idArray = (n: number) => {
      const ids = Array.from({ length: n }, () => r.int(vocab));
      return wide ? BigInt64Array.from(ids.map(BigInt)) : Int32Array.from(ids);
    };
    const kind = r.int(name === "favorited" ? 2 : 3);
    const weighted = name !== "favorited" && r.rand() < 0.4;
    if (kind === 0) {
      const splits = [0];
      for (let i = 0; i < rows; i++) splits.push(splits[i] + r.int(4));
      const n = splits[rows];
      out.set(name, {
        kind: "ragged",
        ids: idArray(n),
        rowSplits: Int32Array.from(splits),
        weights: weighted ? Float32Array.from({ length: n }, () => r.pick([0.5, 1, 2])) : null,
      });
    } else if (kind === 1) {
      const shape = [rows, 1 + r.int(4), 3];
      const rank = shape.length;
      const n = r.int(6);
      const indices = new BigInt64Array(n * rank);
      for (let e = 0; e < n; e++)
        for (let d = 0; d < rank; d++) indices[e * rank + d] = BigInt(r.int(shape[d]));
      out.set(name, {
        kind: "sparse",
        ids: idArray(n),
        indices,
        denseShape: shape,
        weights: weighted ? Float32Array.from({ length: n }, () => r.pick([0.5, 1, 2])) : null,
      });
    } else {
      const shape = [rows, 1 + r.int(3)];
      out.set(name, { kind: "dense", ids: idArray(shape[0] * shape[1]), shape });
    }
  }
  return out;
}

const EXTREMES = [0, 1, 2, 3, 7, 8, 255, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 24];

function mutate(r: Random, valid: Uint8Array): Uint8Array {
  let bytes = new Uint8Array(valid);
  const steps = 1 + r.int(3);
  for (let s = 0; s < steps; s++) {
    switch (r.int(6)) {
      case 0: // one byte
        if (bytes.length > 0) bytes[r.int(bytes.length)] = r.int(256);
        break;
      case 1:
      case 2: {
        // a 32-bit field (aligned or not) set to an extreme: counts, ranks, dimensions, row splits
        if (bytes.length < 4) break;
        const at = r.rand() < 0.8 ? 4 * r.int(bytes.length >> 2) : r.int(bytes.length - 3);
        new DataView(bytes.buffer).setUint32(at, r.pick(EXTREMES), true);
        break;
      }
      case 3: // cut
        bytes = bytes.slice(0, r.int(bytes.length + 1));
        break;
      case 4: {
        // bytes added (whole words or not)
        const extra = new Uint8Array(r.pick([1, 4, 8, 16, 3]));
        for (let i = 0; i < extra.length; i++) extra[i] = r.int(256);
        const grown = new Uint8Array(bytes.length + extra.length);
        grown.set(bytes);
        grown.set(extra, bytes.length);
        bytes = grown;
        break;
      }
      default: {
        // a 16-bit field (name length, version, kind/id type/weights/rank bytes)
        if (bytes.length < 2) break;
        new DataView(bytes.buffer).setUint16(
          2 * r.int(bytes.length >> 1),
          r.pick([0, 1, 2, 8, 9, 65535]),
          true,
        );
      }
    }
  }
  return bytes;
}

test(`binary predict bodies: ${REQUESTS} seeded valid and mutated requests`, async () => {
  const r = fuzzRandom(FUZZ_SEED * 104729 + 3);
  const tally = newTally();
  const rssStart = rssMiB();
  for (let sent = 0; sent < REQUESTS; sent += CONCURRENCY) {
    const bodies = Array.from({ length: CONCURRENCY }, () => {
      const valid = encodeBinaryRequest(validInputs(r));
      return r.rand() < 0.3 ? valid : mutate(r, valid);
    });
    const replies = await Promise.all(bodies.map((b) => post(url, b, BINARY_CONTENT_TYPE)));
    replies.forEach((reply, i) =>
      checkReply(
        tally,
        reply,
        `body ${Buffer.from(bodies[i]).toString("hex").slice(0, 400)}`,
        model,
        () => decodeBinaryRequest(bodies[i]),
        encodeBinaryResponse,
      ),
    );
  }
  const rssEnd = rssMiB();
  console.log(describeTally("binary fuzz", tally, [rssStart, rssEnd]));
  assert.ok(tally.ok > REQUESTS / 5, `only ${tally.ok} valid answers`);
  assert.ok(rssEnd < rssStart + 512, `RSS grew from ${rssStart.toFixed(0)} to ${rssEnd.toFixed(0)} MiB`);
});
