import { before, test } from "node:test";
import assert from "node:assert/strict";
import type { ServableModel } from "../../../src/index.js";
import type {
  FeatureInput,
  PredictInputs,
  PredictOutputs,
} from "../../../src/serving/batching/feature-input.js";
import { MicroBatcher } from "../../../src/serving/batching/micro-batcher.js";
import { runLookup } from "../../../src/serving/batching/run-lookup.js";
import { modelFeatures, requireFeature } from "../../../src/serving/batching/model-features.js";
import { validateFeatureInput } from "../../../src/serving/batching/validate-inputs.js";
import { buildTestModel } from "../support/test-registry.js";
import { seededRandom } from "../../support/seeded-random.js";

/**
 * Issue 14, item 2: the micro-batcher merges only requests whose answers cannot change by merging. Random
 * mixes of concurrent requests (every input kind, per-example shapes, weight forms and id dtypes, few
 * enough shapes that equal keys are common) must each get exactly the answer of the same request alone.
 */
const MIXES = Number(process.env.BATCH_PROPERTY_MIXES ?? 1000);
const SEED = Number(process.env.BATCH_PROPERTY_SEED ?? 14);

// testFeatures(): watched (vocab 1000, dim 8, mean), favorited (sequence of 3, same table), friends
// (vocab 100, dim 4, sum), user/topics (vocab 50, dim 2, sqrtn).
const VOCAB: Record<string, number> = { watched: 1000, favorited: 1000, friends: 100, "user/topics": 50 };
const NAMES = Object.keys(VOCAB);

/** What a request looks like, its contents aside: per feature its kind, trailing shape, weights, dtype. */
interface Form {
  readonly kind: "ragged" | "dense" | "sparse";
  readonly tail: readonly number[];
  readonly weighted: boolean;
  readonly wide: boolean;
}

function randomForms(rand: () => number, int: (n: number) => number): Map<string, Form> {
  const out = new Map<string, Form>();
  const names = NAMES.filter(() => rand() < 0.4);
  if (names.length === 0) names.push(NAMES[int(NAMES.length)]);
  for (const name of names) {
    const kinds =
      name === "favorited" ? (["ragged", "sparse"] as const) : (["ragged", "sparse", "dense"] as const);
    const kind = kinds[int(kinds.length)];
    const tail =
      kind === "dense"
        ? [[], [2], [3], [1, 2]][int(4)]
        : kind === "sparse"
          ? [[2], [3], [2, 3], [5, 3], [1, 1, 2]][int(5)]
          : [];
    out.set(name, {
      kind,
      tail,
      weighted: kind !== "dense" && name !== "favorited" && rand() < 0.4,
      wide: rand() < 0.2,
    });
  }
  return out;
}

/**
 * A request of one of the mix's forms (so that many are batched together), now and then with one thing
 * changed (a middle dimension, the weights, the dtype), or of a form of its own.
 */
function randomRequest(
  forms: Map<string, Form>[],
  rand: () => number,
  int: (n: number) => number,
): PredictInputs {
  let chosen = rand() < 0.8 ? forms[int(forms.length)] : randomForms(rand, int);
  if (rand() < 0.2) {
    const [name, form] = [...chosen][int(chosen.size)];
    const tail = form.tail.length > 0 ? form.tail.map((d, i) => (i === 0 ? d + 1 + int(3) : d)) : form.tail;
    const changed = [
      { ...form, tail },
      { ...form, weighted: !form.weighted && form.kind !== "dense" && name !== "favorited" },
      { ...form, wide: !form.wide },
    ][int(3)];
    chosen = new Map(chosen).set(name, changed);
  }
  const rows = 1 + int(3);
  const out = new Map<string, FeatureInput>();
  for (const [name, form] of chosen) out.set(name, randomInput(name, form, rows, rand, int));
  return out;
}

function randomInput(
  name: string,
  form: Form,
  rows: number,
  rand: () => number,
  int: (n: number) => number,
): FeatureInput {
  const vocab = VOCAB[name];
  const idArray = (ids: number[]) => (form.wide ? BigInt64Array.from(ids.map(BigInt)) : Int32Array.from(ids));
  if (form.kind === "ragged") {
    const splits = [0];
    for (let r = 0; r < rows; r++) splits.push(splits[r] + int(4));
    const n = splits[rows];
    return {
      kind: "ragged",
      ids: idArray(Array.from({ length: n }, () => int(vocab))),
      rowSplits: Int32Array.from(splits),
      weights: form.weighted ? Float32Array.from({ length: n }, () => 0.5 + int(4)) : null,
    };
  }
  const shape = [rows, ...form.tail];
  if (form.kind === "dense") {
    const n = shape.reduce((a, b) => a * b, 1);
    return { kind: "dense", ids: idArray(Array.from({ length: n }, () => int(vocab))), shape };
  }
  const rank = shape.length;
  const entries = int(6);
  const indices = new BigInt64Array(entries * rank);
  const ids: number[] = [];
  for (let e = 0; e < entries; e++) {
    for (let d = 0; d < rank; d++) indices[e * rank + d] = BigInt(int(shape[d]));
    // TF's safe lookup prunes negative ids (its sequence path does not take them)
    ids.push(rand() < 0.1 && name !== "favorited" ? -1 : int(vocab));
  }
  return {
    kind: "sparse",
    ids: idArray(ids),
    indices,
    denseShape: shape,
    weights: form.weighted
      ? Float32Array.from({ length: entries }, () => [0, 0.5, 1, 2, -1][int(5)] * (1 + int(3)))
      : null,
  };
}

let model: ServableModel;
before(async () => {
  model = await buildTestModel(1, 33);
});

test(`${MIXES} random concurrent mixes: every batched answer equals the request alone (seed ${SEED})`, async () => {
  const { rand, int } = seededRandom(SEED);
  const features = modelFeatures(model);
  let merged = 0;
  const batcher = new MicroBatcher({ enabled: true, maxBatchExamples: 64, batchTimeoutMicros: 0 }, (s) => {
    if (s.requests > 1) merged += s.requests;
  });
  let requests = 0;
  for (let mix = 0; mix < MIXES; mix++) {
    const forms = [randomForms(rand, int), randomForms(rand, int)];
    const batch = Array.from({ length: 2 + int(7) }, () => randomRequest(forms, rand, int));
    for (const inputs of batch) {
      for (const [name, input] of inputs) validateFeatureInput(requireFeature(features, name), input);
    }
    const alone: PredictOutputs[] = [];
    for (const inputs of batch) alone.push(await runLookup(model, inputs));
    const answers = await Promise.all(batch.map((inputs) => batcher.submit(model, inputs)));
    answers.forEach((answer, j) => {
      const expected = alone[j];
      assert.deepEqual([...answer.keys()].sort(), [...expected.keys()].sort());
      for (const [name, output] of expected) {
        const got = answer.get(name)!;
        const where = `mix ${mix}, request ${j}, feature ${name}`;
        assert.deepEqual(got.shape, output.shape, where);
        assert.deepEqual(got.data, output.data, where);
      }
    });
    requests += batch.length;
  }
  // The property says something only if many requests were in fact merged.
  assert.ok(merged > requests / 3, `only ${merged} of ${requests} requests were batched`);
});
