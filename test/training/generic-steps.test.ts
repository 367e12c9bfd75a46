import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Adagrad,
  AdagradMomentum,
  Adam,
  applyPlannedGradients,
  DenseTensor,
  FTRL,
  SGD,
  type Optimizer,
} from "../../src/index.js";
import { assertNear, f, MULTI_STEP, row, singleTable, step } from "./helpers.js";

/*
 * The generic steps around every optimizer, over three steps (spec §4.3, proto order):
 *   g = clamp(g, −0.5, 0.75); w ← w − λ·lr·w (λ = 0.1, multiplied by lr); w ← update(w, g);
 *   w = clamp(w, −2, 2.2).
 * Each case states its update; expected values are computed in float64 with the float32
 * hyperparameters (β = fround(β)), one element per id.
 */
const GENERIC = {
  clipvalue: [-0.5, 0.75] as [number, number],
  weightDecayFactor: 0.1,
  multiplyWeightDecayFactorByLearningRate: true,
  clipWeightMin: -2,
  clipWeightMax: 2.2,
};
const LR = 0.5;
const GRADIENTS = [3, -0.25, -2]; // clipped to 0.75, −0.25, −0.5
const clampG = (g: number) => Math.min(0.75, Math.max(-0.5, g));
const clampW = (w: number) => Math.min(2.2, Math.max(-2, w));

type Slots = Record<string, number>;
const cases: [string, Optimizer, Slots, (w: number, g: number, s: Slots) => number][] = [
  ["SGD: w − lr·g", new SGD({ learningRate: LR, ...GENERIC }), {}, (w, g) => w - LR * g],
  [
    "Adagrad: acc += g²; w − lr·g/√acc",
    new Adagrad({ learningRate: LR, ...GENERIC }),
    { accumulators: 0.1 },
    (w, g, s) => {
      s.accumulators += g * g;
      return w - (LR * g) / Math.sqrt(s.accumulators);
    },
  ],
  [
    "AdagradMomentum: acc += g²; m = 0.5·m + g·(acc + 0.01)^(−1/2); w − lr·m",
    new AdagradMomentum({ learningRate: LR, momentum: 0.5, epsilon: 0.01, ...GENERIC }),
    { accumulators: 0, momenta: 0 },
    (w, g, s) => {
      s.accumulators += g * g;
      s.momenta = 0.5 * s.momenta + g * Math.pow(s.accumulators + f(0.01), -0.5);
      return w - LR * s.momenta;
    },
  ],
  [
    "Adam: m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; w − lr·m/√(v + ε²)",
    new Adam({ learningRate: LR, ...GENERIC }),
    { momenta: 0, velocities: 0 },
    (w, g, s) => {
      s.momenta = f(0.9) * s.momenta + (1 - f(0.9)) * g;
      s.velocities = f(0.999) * s.velocities + (1 - f(0.999)) * g * g;
      return w - (LR * s.momenta) / Math.sqrt(s.velocities + f(1e-7) ** 2);
    },
  ],
  [
    "FTRL: acc' = acc + g²; linear += g − (√acc' − √acc)/lr·w; w = −linear/(√acc'/lr)",
    new FTRL({ learningRate: LR, ...GENERIC }),
    { accumulators: 0.1, linears: 0 },
    (w, g, s) => {
      const next = s.accumulators + g * g;
      s.linears += g - ((Math.sqrt(next) - Math.sqrt(s.accumulators)) / LR) * w;
      s.accumulators = next;
      return -s.linears / (Math.sqrt(next) / LR);
    },
  ],
];

for (const [name, optimizer, initialSlots, update] of cases) {
  test(`generic steps around ${name}`, () => {
    // w starts above clipWeightMax (3 > 2.2): SGD, Adagrad and AdagradMomentum end the first step clipped
    // (Adam's first step moves w by lr·m/√v ≈ lr, FTRL recomputes w from linear)
    const { embedding } = singleTable(optimizer, 3, 1, [3, 1, -1]);
    const slots = { ...initialSlots };
    let w = 3;
    let clipped = false;
    for (const raw of GRADIENTS) {
      step(embedding, [0], [raw]);
      const g = clampG(raw);
      w = w - f(0.1) * LR * w; // decay first, λ × lr
      const updated = update(w, g, slots);
      w = clampW(updated);
      clipped ||= w !== updated;
      assertNear(row(embedding, "t", 0, 1), [w], MULTI_STEP, `${name}: w`);
      for (const [slot, value] of Object.entries(slots)) {
        assertNear(row(embedding, `t/${slot}`, 0, 1), [value], MULTI_STEP, `${name}: ${slot}`);
      }
    }
    assert.equal(clipped, !(optimizer instanceof FTRL || optimizer instanceof Adam));
  });
}

test("applyPlannedGradients works without the class, on any table memory", () => {
  const { embedding, table } = singleTable(new SGD({ learningRate: 1 }), 3, 2, 0);
  embedding.embeddingLookup({ f: DenseTensor.from(Int32Array.from([2, 2])) });
  const features = embedding.lastLookupPlans!.features;
  const parameters = Float32Array.of(1, 1, 1, 1, 1, 1);
  const result = applyPlannedGradients(features, [Float32Array.of(1, 2, 3, 4)], (t) => {
    assert.equal(t, table);
    return { parameters, slots: {} };
  });
  // row 2: 1 − (1 + 3), 1 − (2 + 4); the embedding's own table is untouched
  assert.deepEqual(Array.from(parameters), [1, 1, 1, 1, -3, -5]);
  assert.deepEqual(Array.from(embedding.variable("t").value.data), [0, 0, 0, 0, 0, 0]);
  assert.equal(result.rowsUpdated.get("t"), 1);
});
