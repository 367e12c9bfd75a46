import { before, test } from "node:test";
import assert from "node:assert/strict";
import { decodeColumnarBags } from "../../../src/serving/http/json-fast-columns.js";
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

test("random bodies: whatever the fast decoder accepts, the general path decodes to the same inputs", () => {
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
  let accepted = 0;
  let canonicalAccepted = 0;
  let canonical = 0;
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
    const fast = decodeColumnarBags(body, on);
    const slow = general(body, on);
    const plainIds = /^[^".e]*$/.test(text.replace(/"(watched|favorited|friends|user\/topics|inputs)"/g, ""));
    const isCanonical = mutation < 3 && on === features && plainIds && !/\d{10}|\b0\d|-[^\d]/.test(text);
    if (isCanonical) canonical++;
    if (fast === null) continue;
    accepted++;
    if (isCanonical) canonicalAccepted++;
    assert.notEqual(typeof slow, "string", `fast accepted what the general path refuses (${slow}): ${body}`);
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
