import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { RunningServer, ServableModel } from "../../../src/index.js";
import { modelFeatures } from "../../../src/serving/batching/model-features.js";
import { parseJsonBody } from "../../../src/serving/http/json-body.js";
import { decodeJsonPredict } from "../../../src/serving/http/json-request.js";
import { encodeJsonPredict } from "../../../src/serving/http/json-response.js";
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
 * Seeded fuzzing of JSON predict bodies (issue 14, item 7): valid bodies of every form, then mutated in
 * their structure (values swapped for huge, negative, fractional, wrong-typed or deeply nested ones; keys
 * dropped, added, renamed; shapes with zero and 2^31 - 1 dimensions) and in their text, sent 8 at a time
 * so that malformed requests are batched with valid ones. No 5xx, every error a bounded JSON message,
 * every 200 byte-equal to the library's direct lookup, the server's memory bounded.
 */
const REQUESTS = Math.round(2000 * FUZZ_SCALE);
const CONCURRENCY = 8;

const VOCAB: Record<string, number> = { watched: 1000, favorited: 1000, friends: 100, "user/topics": 50 };

let model: ServableModel;
let server: RunningServer;
let url: string;

before(async () => {
  model = await buildTestModel(1, 77);
  ({ server, url } = await serveTestModel(model, {
    // Small limits: mutated shapes hit them quickly instead of making the fuzzer slow.
    // (The per-request budget admits the few big answers below: sliced formatting, stepped copies.)
    limits: { maxRequestBytes: 64 << 20, maxInFlightBytes: 256 << 20, maxIdsPerRequest: 5000 },
  }));
});
after(() => server.close());

function ids(r: Random, vocab: number, n: number): number[] {
  return Array.from({ length: n }, () => r.int(vocab));
}

/** A valid value for one feature in one of the JSON forms. */
function columnValue(r: Random, name: string, rows: number): unknown {
  const vocab = VOCAB[name];
  const bags = Array.from({ length: rows }, () => ids(r, vocab, r.int(4)));
  const weightsOf = (b: number[][]) => b.map((bag) => bag.map(() => r.pick([0.5, 1, 2, 0.25])));
  switch (r.int(name === "favorited" ? 3 : 5)) {
    case 0:
      return bags;
    case 1:
      return name === "favorited" ? { ids: bags } : { ids: bags, weights: weightsOf(bags) };
    case 2: {
      const values = bags.flat();
      const splits = [0];
      for (const b of bags) splits.push(splits[splits.length - 1] + b.length);
      return { values, row_splits: splits };
    }
    case 3: {
      const shape = r.pick([
        [rows, 3],
        [rows, 2, 2],
      ]);
      const n = r.int(5);
      const indices = Array.from({ length: n }, () => shape.map((d) => r.int(d)));
      return { indices, values: ids(r, vocab, n), dense_shape: shape };
    }
    default: {
      const width = 1 + r.int(3);
      return { dense: Array.from({ length: rows }, () => ids(r, vocab, width)) };
    }
  }
}

function validBody(r: Random): unknown {
  const names = Object.keys(VOCAB).filter(() => r.rand() < 0.5);
  if (names.length === 0) names.push("watched");
  const rows = 1 + r.int(3);
  if (r.rand() < 0.3) {
    // Row format: one object per example.
    return {
      instances: Array.from({ length: rows }, () =>
        Object.fromEntries(names.map((n) => [n, ids(r, VOCAB[n], 1 + r.int(3))])),
      ),
    };
  }
  return { inputs: Object.fromEntries(names.map((n) => [n, columnValue(r, n, rows)])) };
}

const NASTY: unknown[] = [
  2147483647,
  -2147483648,
  2 ** 53,
  -1,
  0,
  1.5,
  1e300,
  "12",
  "abc",
  "9223372036854775807",
  null,
  true,
  [],
  {},
  [[[[[[[[[[1]]]]]]]]]],
  [2147483647, 0, 5],
  [0, 2147483647, 5],
  [65536, 65536],
  [1, 2, 3, 4, 5, 6, 7, 8, 9],
  { indices: [], values: [], dense_shape: [2147483647, 0, 5] },
  { dense: [[]] },
  { values: [1], row_splits: [0, 2147483647] },
  "x".repeat(5000),
];

/** Every path to a value in a JSON tree. */
function paths(node: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(at);
  if (Array.isArray(node)) node.forEach((v, i) => paths(v, [...at, i], out));
  else if (node !== null && typeof node === "object")
    for (const [k, v] of Object.entries(node)) paths(v, [...at, k], out);
  return out;
}

function mutate(r: Random, body: unknown): unknown {
  let root = body;
  const steps = 1 + r.int(3);
  for (let s = 0; s < steps; s++) {
    const all = paths(root);
    const path = r.pick(all);
    const replace = (value: unknown) => {
      if (path.length === 0) {
        root = value;
        return;
      }
      let parent = root as Record<string | number, unknown>;
      for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
      const key = path[path.length - 1];
      if (value === undefined) {
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
      } else parent[key] = value;
    };
    switch (r.int(6)) {
      case 0:
        replace(undefined);
        break;
      case 1: {
        // A key renamed (an unknown feature or field, a near miss, an own-property trap)
        const parent = path.length === 0 ? null : path.slice(0, -1);
        if (parent === null) break;
        const holder = paths(root).find((p) => p.join("\u0000") === parent.join("\u0000"));
        if (holder === undefined) break;
        replace(undefined);
        let node = root as Record<string, unknown>;
        for (const key of holder) node = node[key] as Record<string, unknown>;
        if (node !== null && typeof node === "object" && !Array.isArray(node)) {
          Object.defineProperty(
            node,
            r.pick([
              "__proto__",
              "constructor",
              "weights",
              "watched_weights",
              "nope",
              "dense_shape",
              "k".repeat(5000),
            ]),
            { value: structuredClone(r.pick(NASTY)), enumerable: true, configurable: true, writable: true },
          );
        }
        break;
      }
      default:
        replace(structuredClone(r.pick(NASTY)));
    }
  }
  return root;
}

/** Text mutations: a character dropped, duplicated or replaced, the text cut. */
function mutateText(r: Random, text: string): string {
  const at = r.int(text.length + 1);
  switch (r.int(4)) {
    case 0:
      return text.slice(0, at) + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + text.slice(at, at + 1).repeat(2) + text.slice(at + 1);
    case 2:
      return (
        text.slice(0, at) +
        r.pick(["{", "}", "[", "]", ",", ":", '"', "9", "-", "\u00e9", "\\"]) +
        text.slice(at + 1)
      );
    default:
      return text.slice(0, at);
  }
}

test(`JSON predict bodies: ${REQUESTS} seeded valid and mutated requests`, async () => {
  const r = fuzzRandom(FUZZ_SEED * 7919 + 1);
  const features = modelFeatures(model);
  const tally = newTally();
  const rssStart = rssMiB();
  for (let sent = 0; sent < REQUESTS; sent += CONCURRENCY) {
    const texts = Array.from({ length: CONCURRENCY }, () => {
      if (r.rand() < 0.005) {
        // A big answer (over a million values): formatted in slices, copied out of the pool in steps.
        const rows = 130_000 + r.int(20_000);
        return JSON.stringify({
          inputs: {
            watched: {
              indices: [
                [0, 0],
                [rows - 1, 1],
              ],
              values: [r.int(1000), r.int(1000)],
              dense_shape: [rows, 2],
            },
          },
        });
      }
      const body = validBody(r);
      const roll = r.rand();
      if (roll < 0.3) return JSON.stringify(body);
      if (roll < 0.8) return JSON.stringify(mutate(r, body)) ?? "";
      return mutateText(r, JSON.stringify(roll < 0.9 ? body : mutate(r, body)) ?? "");
    });
    const replies = await Promise.all(texts.map((t) => post(url, t, "application/json")));
    replies.forEach((reply, i) =>
      checkReply(
        tally,
        reply,
        `body ${texts[i].slice(0, 300)}`,
        model,
        () => decodeJsonPredict(parseJsonBody(texts[i]), features).inputs,
        (outputs) => {
          const { format } = decodeJsonPredict(parseJsonBody(texts[i]), features);
          return encodeJsonPredict(format, outputs, false);
        },
      ),
    );
  }
  const rssEnd = rssMiB();
  console.log(describeTally("JSON fuzz", tally, [rssStart, rssEnd]));
  assert.ok(tally.ok > REQUESTS / 5, `only ${tally.ok} valid answers`);
  assert.ok(rssEnd < rssStart + 512, `RSS grew from ${rssStart.toFixed(0)} to ${rssEnd.toFixed(0)} MiB`);
});
