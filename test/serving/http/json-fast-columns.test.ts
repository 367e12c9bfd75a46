import { before, test } from "node:test";
import assert from "node:assert/strict";
import {
  type ColumnScanner,
  type ColumnScratch,
  NOT_COLUMNS,
  SCRATCH_FULL,
  columnScanner,
  decodeColumnarBags,
  jsColumnScanner,
  nativeColumnScanner,
} from "../../../src/serving/http/json-fast-columns.js";
import { decodeJsonPredict } from "../../../src/serving/http/json-request.js";
import { parseJsonBody } from "../../../src/serving/http/json-body.js";
import { modelFeatures, type ModelFeatures } from "../../../src/serving/batching/model-features.js";
import type { PredictInputs } from "../../../src/serving/batching/feature-input.js";
import type { ServableModel } from "../../../src/serving/model-registry.js";
import { buildTestModel } from "../support/test-registry.js";
import { seededRandom } from "../../support/seeded-random.js";

let model: ServableModel;
let features: ModelFeatures;
/** The same model with "friends" declared `input: "dense"` (a plain list is then a dense tensor). */
let denseFriends: ModelFeatures;
before(async () => {
  model = await buildTestModel(1, 5);
  features = modelFeatures(model);
  denseFriends = modelFeatures({
    ...model,
    features: model.features.map((f) => (f.name === "friends" ? { ...f, input: "dense" as const } : f)),
  });
});

/** The general path's answer: the inputs, or the error's message. */
function general(body: Uint8Array, on: ModelFeatures): PredictInputs | string {
  try {
    const decoded = decodeJsonPredict(parseJsonBody(new TextDecoder().decode(body), body), on);
    return decoded.format === "columnar" ? decoded.inputs : "row format";
  } catch (error) {
    return String(error);
  }
}

function plain(inputs: PredictInputs): unknown {
  return [...inputs].map(([name, input]) => [
    name,
    input.kind,
    input.ids.constructor.name,
    [...input.ids],
    input.kind === "ragged" ? [...input.rowSplits] : null,
    input.kind === "dense" ? null : input.weights,
  ]);
}

test("the canonical body (JSON.stringify of bags of int32 ids) is decoded as the general path decodes it", () => {
  const body = Buffer.from(
    JSON.stringify({
      inputs: { watched: [[1, 2, 3], [], [999]], "user/topics": [[-0, 49]], friends: [[7]] },
    }),
  );
  const fast = decodeColumnarBags(body, features);
  assert.notEqual(fast, null);
  assert.deepEqual(plain(fast!), plain(general(body, features) as PredictInputs));
  const watched = fast!.get("watched")!;
  assert.deepEqual([...watched.ids], [1, 2, 3, 999]);
  assert.ok(watched.kind === "ragged");
  assert.deepEqual([...watched.rowSplits], [0, 3, 3, 4]);
  assert.deepEqual([...fast!.keys()], ["watched", "user/topics", "friends"]);
});

type RandomBody = { body: Buffer; on: ModelFeatures; canonical: boolean };
let bodiesMade: RandomBody[] | null = null;

/**
 * 3,000 random bodies of the fast form and near it, each with the model features to decode it on: made
 * once (after `before` built the model) for every test that reads them.
 */
function randomBodies(): RandomBody[] {
  bodiesMade ??= makeRandomBodies();
  return bodiesMade;
}

function makeRandomBodies(): RandomBody[] {
  const { rand, int } = seededRandom(2026);
  const names = ["watched", "favorited", "friends", "user/topics"];
  const id = (): string => {
    const r = rand();
    if (r < 0.9) return String(int(1000));
    if (r < 0.95) return String(-int(1000));
    if (r < 0.96) return "999999999";
    if (r < 0.965) return "-0";
    const odd = [
      String(int(2 ** 31 - 1) + 2 ** 31 - 1),
      "1.0",
      "2e2",
      "007",
      '"12"',
      "-",
      "12345678901234567890",
    ];
    return odd[int(odd.length)];
  };
  const space = (): string => (rand() < 0.2 ? [" ", "\n", "\t", "\r\n  "][int(4)] : "");
  const mutations: ((text: string) => string)[] = [
    (t) => t,
    (t) => t,
    (t) => t,
    (t) => t.replace('{"inputs"', '{"signature_name":"serving_default","inputs"'),
    (t) => t.replace('"inputs"', '"instances"'),
    (t) => t.replace('"watched"', '"watched_weights"'),
    (t) => t.replace('"friends"', '"fri\\u0065nds"'),
    (t) => t.replace('"friends"', '"frïends"'),
    (t) => t.replace('"friends"', '"unknown"'),
    (t) => t.replace('"friends"', '"7"'),
    (t) => t.replace(/"favorited"/, '"watched"'),
    (t) => t.replace(":[[", ":[ 5, ["),
    (t) => t.replace(/\]\]\}\}$/, "]]}} x"),
    (t) => "\ufeff" + t,
    (t) => t.replace(":[[", ":[]").replace(/\]\]/, ""),
    (t) => t.replace(":[[", ":[[[").replace("]]", "]]]"),
  ];
  const bodies: RandomBody[] = [];
  for (let round = 0; round < 3000; round++) {
    const chosen = names.filter(() => rand() < 0.7);
    if (chosen.length === 0) chosen.push(names[int(names.length)]);
    const parts = chosen.map((name) => {
      const bags = Array.from({ length: 1 + int(4) }, () => {
        const ids = Array.from({ length: int(6) }, () => id());
        return `${space()}[${space()}${ids.join(`${space()},${space()}`)}${space()}]`;
      });
      return `${space()}"${name}"${space()}:${space()}[${bags.join(",")}]`;
    });
    const text = `${space()}{${space()}"inputs"${space()}:${space()}{${parts.join(",")}}${space()}}${space()}`;
    const mutation = int(mutations.length);
    const body = Buffer.from(mutations[mutation](text));
    const on = rand() < 0.2 ? denseFriends : features;
    const plainIds = /^[^".e]*$/.test(text.replace(/"(watched|favorited|friends|user\/topics|inputs)"/g, ""));
    const canonical = mutation < 3 && on === features && plainIds && !/\d{10}|\b0\d|-[^\d]/.test(text);
    bodies.push({ body, on, canonical });
  }
  return bodies;
}

const scanners: ColumnScanner[] = [jsColumnScanner, ...[nativeColumnScanner()].filter((s) => s !== null)];

test("the native scanner is the one chosen when the addon is loaded", () => {
  assert.equal(columnScanner().kind, nativeColumnScanner() === null ? "js" : "native");
});

for (const scanner of scanners) {
  test(`random bodies (${scanner.kind} scanner): whatever the fast decoder accepts, the general path decodes to the same inputs`, () => {
    let accepted = 0;
    let canonicalAccepted = 0;
    let canonical = 0;
    for (const { body, on, canonical: isCanonical } of randomBodies()) {
      if (isCanonical) canonical++;
      const fast = decodeColumnarBags(body, on, scanner);
      if (fast === null) continue;
      accepted++;
      if (isCanonical) canonicalAccepted++;
      const slow = general(body, on);
      assert.notEqual(
        typeof slow,
        "string",
        `fast accepted what the general path refuses (${slow}): ${body}`,
      );
      assert.deepEqual(plain(fast), plain(slow as PredictInputs), String(body));
    }
    // The generator is meant to hit both sides: plain bodies are taken fast, the rest fall back.
    assert.ok(accepted > 300 && accepted < 2700, `${accepted} of 3000 accepted`);
    assert.equal(
      canonicalAccepted,
      canonical,
      "every plain body without special ids is taken by the fast path",
    );
  });
}

/** A scanner's verdict on a body and what it read: the count and the scratch arrays up to what it filled. */
function scanned(scanner: ColumnScanner, body: Uint8Array, size = 4096): unknown {
  const scratch: ColumnScratch = {
    ids: new Int32Array(size),
    splits: new Int32Array(size),
    marks: new Int32Array(size),
  };
  const count = scanner.scan(body, scratch);
  if (count < 0) return count;
  const n = scratch.marks[4 * count - 2];
  const s = scratch.marks[4 * count - 1];
  return [
    count,
    [...scratch.marks.subarray(0, 4 * count)],
    [...scratch.ids.subarray(0, n)],
    [...scratch.splits.subarray(0, s)],
  ];
}

test("the native scanner reads every prefix and every one-byte change of bodies exactly as the JavaScript one", (t) => {
  const native = nativeColumnScanner();
  if (native === null) return t.skip("no native addon");
  const { int } = seededRandom(7);
  const bytes = [
    0x20, 0x09, 0x22, 0x2c, 0x2d, 0x2e, 0x30, 0x31, 0x39, 0x3a, 0x5b, 0x5c, 0x5d, 0x65, 0x7b, 0x7d, 0x7f,
    0xc3,
  ];
  let agreedOn = 0;
  for (const { body } of randomBodies().slice(0, 300)) {
    for (let cut = 0; cut <= body.length; cut++) {
      const prefix = body.subarray(0, cut);
      assert.deepEqual(scanned(native, prefix), scanned(jsColumnScanner, prefix), `prefix ${cut} of ${body}`);
    }
    for (let k = 0; k < 20; k++) {
      const changed = Buffer.from(body);
      changed[int(changed.length)] = bytes[int(bytes.length)];
      const verdict = scanned(native, changed);
      assert.deepEqual(verdict, scanned(jsColumnScanner, changed), String(changed));
      if (verdict !== NOT_COLUMNS) agreedOn++;
    }
  }
  assert.ok(agreedOn > 100, `${agreedOn} changed bodies still read`);
  // Names of 257 bytes are read, 258 not; 9-digit ids are, 10-digit not; int32's extremes.
  for (const text of [
    `{"inputs":{"${"a".repeat(257)}":[[1]]}}`,
    `{"inputs":{"${"a".repeat(258)}":[[1]]}}`,
    '{"inputs":{"a":[[999999999,-999999999]]}}',
    '{"inputs":{"a":[[1000000000]]}}',
    '{"inputs":{"a":[[0001]]}}',
    '{"inputs":{"a":[[-0,0]]}}',
  ]) {
    const body = Buffer.from(text);
    assert.deepEqual(scanned(native, body), scanned(jsColumnScanner, body), text);
  }
});

test("both scanners say when the scratch is too small, and the decoder grows it and reads the body whole", () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => i % 1000);
  const bags = Array.from({ length: 2_000 }, (_, e) => ids.slice(e * 10, e * 10 + 10));
  const body = Buffer.from(JSON.stringify({ inputs: { watched: bags, friends: [[1], [2]] } }));
  for (const scanner of scanners) {
    assert.equal(
      scanner.scan(body, {
        ids: new Int32Array(100),
        splits: new Int32Array(4096),
        marks: new Int32Array(8),
      }),
      SCRATCH_FULL,
    );
    assert.equal(
      scanner.scan(body, {
        ids: new Int32Array(30_000),
        splits: new Int32Array(100),
        marks: new Int32Array(8),
      }),
      SCRATCH_FULL,
    );
    assert.equal(
      scanner.scan(body, {
        ids: new Int32Array(30_000),
        splits: new Int32Array(4096),
        marks: new Int32Array(4),
      }),
      SCRATCH_FULL,
    );
    const fast = decodeColumnarBags(body, features, scanner)!;
    const watched = fast.get("watched")!;
    assert.deepEqual([...watched.ids], ids);
    assert.ok(watched.kind === "ragged");
    assert.equal(watched.rowSplits.length, 2_001);
    assert.equal(watched.rowSplits[2_000], 20_000);
    assert.deepEqual([...fast.get("friends")!.ids], [1, 2]);
  }
});
