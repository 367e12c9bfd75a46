import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Adagrad,
  AdagradMomentum,
  Adam,
  DenseTensor,
  FeatureConfig,
  FTRL,
  SGD,
  TableConfig,
  TPUEmbeddingForServing,
  constant,
} from "../../src/index.js";
import { assertNear, f, MULTI_STEP, row, singleTable, snapshot, assertUnchanged, step } from "./helpers.js";

/*
 * One table "t" of 4 rows × 2, initialised to W0 = rows [1, 2], [3, 4], [5, 6], [7, 8]; a dense feature
 * looks up ids and receives one gradient row per id. Expected values are computed below in float64
 * from the formula stated next to them (spec §4.3); see helpers.ts for the tolerance.
 */
const W0 = [1, 2, 3, 4, 5, 6, 7, 8];
const sq = Math.sqrt;

// --- SGD: w ← w − lr·g -------------------------------------------------------------------------------

test("SGD one step: w ← w − lr·g on the looked-up row only", () => {
  const { embedding } = singleTable(new SGD({ learningRate: 0.1 }), 4, 2, W0);
  const before = snapshot(embedding);
  step(embedding, [1], [0.5, -1]);
  assertNear(row(embedding, "t", 1, 2), [3 - 0.1 * 0.5, 4 + 0.1 * 1]);
  assertUnchanged(embedding, before, { table: "t", rows: [1], dim: 2 });
});

test("SGD multi-step with duplicate ids: each step subtracts lr·(sum of the row's gradients)", () => {
  const { embedding } = singleTable(new SGD({ learningRate: 0.5 }), 4, 2, W0);
  step(embedding, [0, 0], [1, 1, 2, 2]); // g = [3, 3]
  step(embedding, [0, 2], [-1, 0, 1, 1]); // row 0: g = [−1, 0]; row 2: g = [1, 1]
  assertNear(row(embedding, "t", 0, 2), [1 - 0.5 * 3 + 0.5 * 1, 2 - 0.5 * 3], MULTI_STEP);
  assertNear(row(embedding, "t", 2, 2), [5 - 0.5, 6 - 0.5], MULTI_STEP);
});

test("dynamic learning rate: evaluated once per applyGradients, shared by tables using the same function", () => {
  let calls = 0;
  const lr = () => {
    calls++;
    return 0.1 * calls; // 0.1 at step 1, 0.2 at step 2
  };
  const a = new TableConfig({ vocabularySize: 2, dim: 1, initializer: constant(1), name: "a" });
  const b = new TableConfig({
    vocabularySize: 2,
    dim: 1,
    initializer: constant(1),
    name: "b",
    optimizer: new SGD({ learningRate: lr }), // a different optimizer object, same function
  });
  const e = new TPUEmbeddingForServing({
    featureConfig: { a: new FeatureConfig({ table: a }), b: new FeatureConfig({ table: b }) },
    optimizer: new SGD({ learningRate: lr }),
  });
  const ids = { a: DenseTensor.from(Int32Array.from([0])), b: DenseTensor.from(Int32Array.from([0])) };
  const g = () => ({
    a: new DenseTensor(Float32Array.of(1), [1, 1]),
    b: new DenseTensor(Float32Array.of(1), [1, 1]),
  });
  e.embeddingLookup(ids);
  e.applyGradients(g());
  assert.equal(calls, 1);
  e.embeddingLookup(ids);
  e.applyGradients(g());
  assert.equal(calls, 2);
  // w = 1 − 0.1·1 − 0.2·1 for both tables
  assertNear(row(e, "a", 0, 1), [0.7], MULTI_STEP);
  assertNear(row(e, "b", 0, 1), [0.7], MULTI_STEP);
});

test("gradient clipping: clipvalue c clamps the summed gradient to [−c, c]; a pair may leave a side open", () => {
  const { embedding } = singleTable(new SGD({ learningRate: 1, clipvalue: 0.25 }), 4, 2, W0);
  step(embedding, [0, 0], [0.5, -1, 0.5, -1]); // summed g = [1, −2] → clamped [0.25, −0.25]
  assertNear(row(embedding, "t", 0, 2), [1 - 0.25, 2 + 0.25]);

  const open = singleTable(new SGD({ learningRate: 1, clipvalue: [null, 0.1] }), 4, 2, W0).embedding;
  step(open, [0], [0.5, -1]); // clamp(g, −∞, 0.1) = [0.1, −1]
  assertNear(row(open, "t", 0, 2), [1 - 0.1, 2 + 1]);
});

test("weight clipping: w = clamp(w − lr·g, clipWeightMin, clipWeightMax) after the update", () => {
  const { embedding } = singleTable(
    new SGD({ learningRate: 1, clipWeightMin: -1, clipWeightMax: 3.5 }),
    4,
    2,
    W0,
  );
  step(embedding, [1], [5, -1]); // [3 − 5, 4 + 1] = [−2, 5] → [−1, 3.5]
  assert.deepEqual(row(embedding, "t", 1, 2), [-1, 3.5]);
});

test("weight decay: w ← w − λ·w − lr·g; with multiplyWeightDecayFactorByLearningRate λ is λ·lr", () => {
  const plain = singleTable(new SGD({ learningRate: 0.5, weightDecayFactor: 0.1 }), 4, 2, W0).embedding;
  step(plain, [2], [1, 2]);
  assertNear(row(plain, "t", 2, 2), [5 - 0.1 * 5 - 0.5 * 1, 6 - 0.1 * 6 - 0.5 * 2]);

  const scaled = singleTable(
    new SGD({ learningRate: 0.5, weightDecayFactor: 0.1, multiplyWeightDecayFactorByLearningRate: true }),
    4,
    2,
    W0,
  ).embedding;
  const before = snapshot(scaled);
  step(scaled, [2], [1, 2]);
  assertNear(row(scaled, "t", 2, 2), [5 - 0.05 * 5 - 0.5 * 1, 6 - 0.05 * 6 - 0.5 * 2]);
  // decay applies to touched rows only
  assertUnchanged(scaled, before, { table: "t", rows: [2], dim: 2 });

  const zero = singleTable(new SGD({ learningRate: 0.5, weightDecayFactor: 0 }), 4, 2, W0).embedding;
  step(zero, [2], [1, 2]); // a factor of 0 means no decay
  assertNear(row(zero, "t", 2, 2), [4.5, 5]);
});

test("a per-table optimizer overrides the global one", () => {
  const { embedding } = singleTable(
    new Adagrad({ learningRate: 0.1 }),
    4,
    2,
    W0,
    new SGD({ learningRate: 1 }),
  );
  step(embedding, [0], [1, 1]);
  assert.deepEqual(row(embedding, "t", 0, 2), [0, 1]);
  assert.deepEqual([...embedding.variables.keys()], ["t"]);
});

// --- Adagrad: acc ← acc + g²; w ← w − lr·g/√acc --------------------------------------------------

test("Adagrad one step (initial accumulator 0.1)", () => {
  const { embedding } = singleTable(new Adagrad({ learningRate: 0.1 }), 4, 2, W0);
  const before = snapshot(embedding);
  step(embedding, [3], [0.5, -2]);
  const acc = [0.1 + 0.25, 0.1 + 4];
  assertNear(row(embedding, "t/accumulators", 3, 2), acc);
  assertNear(row(embedding, "t", 3, 2), [7 - (0.1 * 0.5) / sq(acc[0]), 8 + (0.1 * 2) / sq(acc[1])]);
  assertUnchanged(embedding, before, { table: "t", rows: [3], dim: 2 });
});

test("Adagrad duplicate ids: the gradients are summed before squaring (acc += (g1 + g2)²)", () => {
  const { embedding } = singleTable(
    new Adagrad({ learningRate: 0.1, initialAccumulatorValue: 0.5 }),
    4,
    2,
    W0,
  );
  step(embedding, [1, 1], [1, 0, 2, 1]); // g = [3, 1]
  assertNear(row(embedding, "t/accumulators", 1, 2), [0.5 + 9, 0.5 + 1]);
  assertNear(row(embedding, "t", 1, 2), [3 - 0.3 / sq(9.5), 4 - 0.1 / sq(1.5)]);
});

test("Adagrad multi-step: three steps on one row", () => {
  const { embedding } = singleTable(new Adagrad({ learningRate: 0.2 }), 4, 2, W0);
  const gs = [
    [1, -1],
    [0.5, 2],
    [-3, 0.25],
  ];
  let acc = [0.1, 0.1];
  let w = [1, 2];
  for (const g of gs) {
    step(embedding, [0], g);
    acc = acc.map((a, d) => a + g[d] ** 2);
    w = w.map((x, d) => x - (0.2 * g[d]) / sq(acc[d]));
  }
  assertNear(row(embedding, "t/accumulators", 0, 2), acc, MULTI_STEP);
  assertNear(row(embedding, "t", 0, 2), w, MULTI_STEP);
});

test("Adagrad with clipvalue, clipWeightMax and weight decay together", () => {
  const o = new Adagrad({ learningRate: 1, clipvalue: 1, clipWeightMax: 5.5, weightDecayFactor: 0.01 });
  const { embedding } = singleTable(o, 4, 2, W0);
  step(embedding, [2], [-5, 0.5]); // g clamped to [−1, 0.5]
  const acc = [0.1 + 1, 0.1 + 0.25];
  assertNear(row(embedding, "t/accumulators", 2, 2), acc);
  // w = clamp(w − 0.01·w − 1·g/√acc, −∞, 5.5): [5 − 0.05 + 1/√1.1 = 5.90 → 5.5, 6 − 0.06 − 0.5/√0.35]
  assertNear(row(embedding, "t", 2, 2), [5.5, 6 - 0.06 - 0.5 / sq(0.35)]);
});

// --- AdagradMomentum ---------------------------------------------------------------------------------

test("AdagradMomentum defaults (momentum 0, beta2 1, exponent 2, epsilon 1e-10): m = g/√(g² + ε)", () => {
  const { embedding } = singleTable(new AdagradMomentum({ learningRate: 0.1 }), 4, 2, W0);
  step(embedding, [1], [2, -0.5]);
  const acc = [4, 0.25];
  const m = [2 / sq(4 + 1e-10), -0.5 / sq(0.25 + 1e-10)];
  assertNear(row(embedding, "t/accumulators", 1, 2), acc);
  assertNear(row(embedding, "t/momenta", 1, 2), m);
  assertNear(row(embedding, "t", 1, 2), [3 - 0.1 * m[0], 4 - 0.1 * m[1]]);
});

test("AdagradMomentum as in TF's TPU test (momentum 0.9, Nesterov, exponent 3, epsilon 0.1, beta2 0.9), two steps", () => {
  const o = new AdagradMomentum({
    learningRate: 0.1,
    momentum: 0.9,
    useNesterov: true,
    exponent: 3,
    epsilon: 0.1,
    beta2: 0.9,
  });
  const { embedding } = singleTable(o, 4, 1, [1, 2, 3, 4]);
  // acc ← 0.9·acc + 0.1·g²; p = (acc + 0.1)^(−1/3); m ← 0.9·m + g·p; w ← w − 0.1·(0.9·m + g·p)
  let acc = 0;
  let m = 0;
  let w = 3;
  for (const g of [2, -1]) {
    step(embedding, [2], [g]);
    acc = 0.9 * acc + 0.1 * g * g;
    const gp = g * Math.pow(acc + 0.1, -1 / 3);
    m = 0.9 * m + gp;
    w = w - 0.1 * (0.9 * m + gp);
    assertNear(row(embedding, "t/accumulators", 2, 1), [acc], MULTI_STEP);
    assertNear(row(embedding, "t/momenta", 2, 1), [m], MULTI_STEP);
    assertNear(row(embedding, "t", 2, 1), [w], MULTI_STEP);
  }
});

test("AdagradMomentum without Nesterov, beta2 = 1, three steps: update = m", () => {
  const o = new AdagradMomentum({ learningRate: 0.5, momentum: 0.5, exponent: 4, epsilon: 0.01 });
  const { embedding } = singleTable(o, 4, 1, [1, 2, 3, 4]);
  let acc = 0;
  let m = 0;
  let w = 1;
  for (const g of [1, 3, -2]) {
    step(embedding, [0], [g]);
    acc = acc + g * g; // beta2 == 1: plain sum
    m = 0.5 * m + g * Math.pow(acc + 0.01, -1 / 4);
    w = w - 0.5 * m;
  }
  assertNear(row(embedding, "t/accumulators", 0, 1), [acc], MULTI_STEP);
  assertNear(row(embedding, "t/momenta", 0, 1), [m], MULTI_STEP);
  assertNear(row(embedding, "t", 0, 1), [w], MULTI_STEP);
});

// --- Adam: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; no bias correction ------------------------

// β1, β2 reach the TPU as proto floats: 1 − f(0.999) = 0.00099998713, not 0.001 (a 1.3e-5 relative
// difference), so the expected values below use the float32 hyperparameters.
const B1 = f(0.9);
const B2 = f(0.999);

test("Adam one step (defaults): w ← w − lr·m/√(v + ε²)", () => {
  const { embedding } = singleTable(new Adam({ learningRate: 0.1 }), 4, 2, W0);
  const before = snapshot(embedding);
  step(embedding, [1], [2, -0.001]);
  const g = [2, -0.001];
  const m = g.map((x) => (1 - B1) * x);
  const v = g.map((x) => (1 - B2) * x * x);
  assertNear(row(embedding, "t/momenta", 1, 2), m);
  assertNear(row(embedding, "t/velocities", 1, 2), v);
  assertNear(row(embedding, "t", 1, 2), [
    3 - (0.1 * m[0]) / sq(v[0] + 1e-14),
    4 - (0.1 * m[1]) / sq(v[1] + 1e-14),
  ]);
  assertUnchanged(embedding, before, { table: "t", rows: [1], dim: 2 });
});

test("Adam sumInsideSqrt false: w ← w − lr·m/(√v + ε)", () => {
  const o = new Adam({ learningRate: 0.1, epsilon: 0.1, sumInsideSqrt: false });
  const { embedding } = singleTable(o, 4, 1, [1, 2, 3, 4]);
  step(embedding, [0], [0.5]);
  const m = (1 - B1) * 0.5;
  const v = (1 - B2) * 0.25;
  assertNear(row(embedding, "t", 0, 1), [1 - (0.1 * m) / (sq(v) + 0.1)]);
  // the other form would give 1 − 0.1·m/√(v + 0.01): clearly different
  assert.ok(Math.abs(row(embedding, "t", 0, 1)[0] - (1 - (0.1 * m) / sq(v + 0.01))) > 1e-4);
});

test("lazy Adam multi-step: a row not looked up in a step keeps its weight and slots", () => {
  const o = new Adam({ learningRate: 0.1, beta1: 0.5, beta2: 0.75, epsilon: 1e-3 });
  const { embedding } = singleTable(o, 4, 1, [1, 2, 3, 4]);
  step(embedding, [0, 1], [1, 2]);
  const frozen = [row(embedding, "t", 1, 1)[0], row(embedding, "t/momenta", 1, 1)[0]];
  step(embedding, [0], [-1]);
  step(embedding, [0], [4]);
  let m = 0;
  let v = 0;
  let w = 1;
  for (const g of [1, -1, 4]) {
    m = 0.5 * m + 0.5 * g;
    v = 0.75 * v + 0.25 * g * g;
    w = w - (0.1 * m) / sq(v + 1e-6);
  }
  assertNear(row(embedding, "t", 0, 1), [w], MULTI_STEP);
  assertNear(row(embedding, "t/momenta", 0, 1), [m], MULTI_STEP);
  assertNear(row(embedding, "t/velocities", 0, 1), [v], MULTI_STEP);
  assert.deepEqual([row(embedding, "t", 1, 1)[0], row(embedding, "t/momenta", 1, 1)[0]], frozen);
});

test("non-lazy Adam updates every row each step (g = 0 for rows not looked up)", () => {
  const o = new Adam({ learningRate: 0.1, beta1: 0.5, beta2: 0.75, epsilon: 1e-3, lazyAdam: false });
  const { embedding } = singleTable(o, 3, 1, [1, 2, 3]);
  step(embedding, [1], [2]);
  // row 1: m = 1, v = 1, w = 2 − 0.1·1/√(1 + 1e−6); rows 0, 2: m = v = 0, w unchanged
  const w1 = 2 - 0.1 / sq(1 + 1e-6);
  assertNear(row(embedding, "t", 1, 1), [w1]);
  const result = (() => {
    embedding.embeddingLookup({ f: DenseTensor.from(Int32Array.from([0])) });
    return embedding.applyGradients({ f: new DenseTensor(Float32Array.of(0), [1, 1]) });
  })();
  assert.equal(result.rowsUpdated.get("t"), 3);
  // step 2, row 1 not looked up: m = 0.5, v = 0.75, w = w1 − 0.1·0.5/√(0.75 + 1e−6)
  assertNear(row(embedding, "t/momenta", 1, 1), [0.5]);
  assertNear(row(embedding, "t/velocities", 1, 1), [0.75]);
  assertNear(row(embedding, "t", 1, 1), [w1 - 0.05 / sq(0.75 + 1e-6)], MULTI_STEP);
});

test("Adam with weight decay × lr: w ← w − lr·λ·w − lr·m/√(v + ε²)", () => {
  const o = new Adam({
    learningRate: 0.5,
    weightDecayFactor: 0.2,
    multiplyWeightDecayFactorByLearningRate: true,
  });
  const { embedding } = singleTable(o, 4, 1, [1, 2, 3, 4]);
  step(embedding, [3], [1]);
  const m = 1 - B1;
  const v = 1 - B2;
  assertNear(row(embedding, "t", 3, 1), [4 - 0.1 * 4 - (0.5 * m) / sq(v + 1e-14)]);
});

// --- FTRL --------------------------------------------------------------------------------------------

/**
 * FTRL (p = learningRatePower): acc' = acc + g²; σ = (acc'^−p − acc^−p)/lr; linear ← linear + g − σ·w;
 * quadratic = acc'^−p/lr + 2·l2 + beta/lr; w = |linear| > l1 ? (sign(linear)·l1 − linear)/quadratic : 0.
 */
function ftrlStep(
  s: { w: number; acc: number; linear: number },
  g: number,
  o: { lr: number; p?: number; l1?: number; l2?: number; beta?: number },
): void {
  const p = o.p ?? -0.5;
  const l1 = o.l1 ?? 0;
  const accNew = s.acc + g * g;
  const sigma = (Math.pow(accNew, -p) - Math.pow(s.acc, -p)) / o.lr;
  s.linear = s.linear + g - sigma * s.w;
  const quadratic = Math.pow(accNew, -p) / o.lr + 2 * (o.l2 ?? 0) + (o.beta ?? 0) / o.lr;
  s.w = Math.abs(s.linear) > l1 ? (Math.sign(s.linear) * l1 - s.linear) / quadratic : 0;
  s.acc = accNew;
}

test("FTRL one step (TF's TPU test form): linear = g − σ·w, w = −linear/quadratic", () => {
  const { embedding } = singleTable(new FTRL({ learningRate: 0.1 }), 4, 2, W0);
  const before = snapshot(embedding);
  step(embedding, [2], [0.5, -1]);
  const states = [0.5, -1].map((g, d) => {
    const s = { w: W0[4 + d], acc: 0.1, linear: 0 };
    ftrlStep(s, g, { lr: 0.1 });
    return s;
  });
  assertNear(
    row(embedding, "t/accumulators", 2, 2),
    states.map((s) => s.acc),
  );
  assertNear(
    row(embedding, "t/linears", 2, 2),
    states.map((s) => s.linear),
  );
  assertNear(
    row(embedding, "t", 2, 2),
    states.map((s) => s.w),
  );
  assertUnchanged(embedding, before, { table: "t", rows: [2], dim: 2 });
});

test("FTRL multi-step with l1, l2, beta and initialAccumulatorValue; l1 zeroes small linears", () => {
  const hp = { lr: 0.2, l1: 0.05, l2: 0.3, beta: 0.4 };
  const o = new FTRL({
    learningRate: 0.2,
    l1RegularizationStrength: 0.05,
    l2RegularizationStrength: 0.3,
    beta: 0.4,
    initialAccumulatorValue: 0.5,
  });
  const { embedding } = singleTable(o, 4, 2, [0, 0.01, 0, 0, 0, 0, 0, 0]);
  const states = [
    { w: 0, acc: 0.5, linear: 0 },
    { w: 0.01, acc: 0.5, linear: 0 },
  ];
  for (const g of [
    [1, 0.01],
    [-0.5, 0.02],
    [2, -0.01],
  ]) {
    step(embedding, [0], g);
    states.forEach((s, d) => ftrlStep(s, g[d], hp));
  }
  assertNear(
    row(embedding, "t/accumulators", 0, 2),
    states.map((s) => s.acc),
    MULTI_STEP,
  );
  assertNear(
    row(embedding, "t/linears", 0, 2),
    states.map((s) => s.linear),
    MULTI_STEP,
  );
  assertNear(
    row(embedding, "t", 0, 2),
    states.map((s) => s.w),
    MULTI_STEP,
  );
  assert.equal(row(embedding, "t", 0, 2)[1], 0); // |linear| ≤ l1 → exactly 0
});

test("FTRL learningRatePower 0 is a fixed learning rate (σ = 0): w = −lr·Σg/(1 + 2·l2·lr)", () => {
  const o = new FTRL({ learningRate: 0.5, learningRatePower: 0, l2RegularizationStrength: 1 });
  const { embedding } = singleTable(o, 4, 1, [1, 2, 3, 4]);
  step(embedding, [1], [1]);
  step(embedding, [1], [2]);
  // linear = Σg = 3; quadratic = 1/0.5 + 2·1 = 4; w = −3/4
  assertNear(row(embedding, "t/linears", 1, 1), [3]);
  assertNear(row(embedding, "t", 1, 1), [-0.75]);
});

test("FTRL learningRatePower −1 (pow path): acc^1", () => {
  const o = new FTRL({ learningRate: 0.1, learningRatePower: -1 });
  const { embedding } = singleTable(o, 4, 1, [1, 2, 3, 4]);
  step(embedding, [0], [0.5]);
  const s = { w: 1, acc: 0.1, linear: 0 };
  ftrlStep(s, 0.5, { lr: 0.1, p: -1 });
  assertNear(row(embedding, "t", 0, 1), [s.w]);
  assertNear(row(embedding, "t/linears", 0, 1), [s.linear]);
});

test("FTRL multiplyLinearByLearningRate: linears store lr·linear, weights match the plain form", () => {
  const common = {
    learningRate: 0.25,
    l1RegularizationStrength: 0.1,
    l2RegularizationStrength: 0.2,
    beta: 0.3,
  };
  const plain = singleTable(new FTRL(common), 4, 1, [1, 2, 3, 4]).embedding;
  const scaled = singleTable(
    new FTRL({ ...common, multiplyLinearByLearningRate: true }),
    4,
    1,
    [1, 2, 3, 4],
  ).embedding;
  const s = { w: 3, acc: 0.1, linear: 0 };
  for (const g of [1.5, -0.25]) {
    step(plain, [2], [g]);
    step(scaled, [2], [g]);
    // scaled: linear ← linear + lr·g − (acc'^½ − acc^½)·w; quadratic = acc'^½ + 2·l2·lr + beta;
    // w = |linear| > l1·lr ? (sign·l1·lr − linear)/quadratic : 0 — i.e. the plain form with linear × lr
    ftrlStep(s, g, { lr: 0.25, l1: 0.1, l2: 0.2, beta: 0.3 });
  }
  assertNear(row(plain, "t", 2, 1), [s.w], MULTI_STEP);
  assertNear(row(scaled, "t", 2, 1), [s.w], MULTI_STEP);
  assertNear(row(scaled, "t/linears", 2, 1), [0.25 * s.linear], MULTI_STEP);
  assertNear(row(scaled, "t/accumulators", 2, 1), [s.acc], MULTI_STEP);
});

test("FTRL with weight decay: decay first (weight_decay_optimizers.py order), then σ uses the decayed w", () => {
  const o = new FTRL({ learningRate: 0.1, weightDecayFactor: 0.5 });
  const { embedding } = singleTable(o, 4, 1, [1, 2, 3, 4]);
  step(embedding, [3], [1]);
  const s = { w: 4 - 0.5 * 4, acc: 0.1, linear: 0 };
  ftrlStep(s, 1, { lr: 0.1 });
  assertNear(row(embedding, "t", 3, 1), [s.w]);
});

test("useGradientAccumulation false: duplicate ids still get one update with the summed gradient", () => {
  const { embedding } = singleTable(
    new Adagrad({ learningRate: 0.1, useGradientAccumulation: false }),
    4,
    1,
    [1, 2, 3, 4],
  );
  step(embedding, [0, 0], [1, 1]);
  assertNear(row(embedding, "t/accumulators", 0, 1), [0.1 + 4]);
  assertNear(row(embedding, "t", 0, 1), [1 - 0.2 / sq(4.1)]);
});
