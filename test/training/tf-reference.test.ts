import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Adagrad,
  AdagradMomentum,
  Adam,
  constant,
  DenseTensor,
  FeatureConfig,
  FTRL,
  SGD,
  SparseTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Optimizer,
} from "../../src/index.js";

/*
 * TF's own TPU correctness check (tpu_embedding_base_test.py): tables "video" (8 × 4, sum) and "user"
 * (16 × 2, mean) initialised to 0, 1, 2, …; features watched + favorited on video, friends on user;
 * loss = Σ_features mean_batch Σ_d act², so d loss/d act = 2·act/batch. The expected tables and slots
 * follow TF's `_check_embedding_and_slot_variables_*` formulas with its tolerances
 * (|actual − expected| ≤ 1e-6 + rtol·|expected|).
 */
const WATCHED = {
  indices: [
    [0, 0],
    [1, 0],
    [1, 1],
    [2, 0],
    [2, 1],
    [3, 0],
  ],
  values: [0, 0, 1, 0, 1, 1],
  width: 2,
};
const FAVORITED = {
  indices: [
    [0, 0],
    [0, 1],
    [1, 0],
    [2, 0],
    [3, 0],
    [3, 1],
  ],
  values: [0, 1, 1, 0, 0, 1],
  width: 2,
};
const FRIENDS = {
  indices: [
    [0, 0],
    [1, 0],
    [1, 1],
    [1, 2],
    [2, 0],
    [3, 0],
    [3, 1],
    [3, 2],
  ],
  values: [3, 0, 1, 2, 3, 0, 1, 2],
  width: 3,
};
const BATCH = 4;

type Input = typeof WATCHED;

function run(optimizer: Optimizer): { e: TPUEmbeddingForServing; video: number[][]; user: number[][] } {
  const values = Array.from({ length: 32 }, (_, i) => i);
  const video = new TableConfig({
    vocabularySize: 8,
    dim: 4,
    initializer: constant(values),
    combiner: "sum",
    name: "video",
  });
  const user = new TableConfig({
    vocabularySize: 16,
    dim: 2,
    initializer: constant(values),
    combiner: "mean",
    name: "user",
  });
  const e = new TPUEmbeddingForServing({
    featureConfig: [
      new FeatureConfig({ table: video, name: "watched" }),
      new FeatureConfig({ table: video, name: "favorited" }),
      new FeatureConfig({ table: user, name: "friends" }),
    ],
    optimizer,
  });
  const sparse = (x: Input) =>
    new SparseTensor({ indices: x.indices, values: Int32Array.from(x.values), denseShape: [BATCH, x.width] });
  const activations = e.embeddingLookup([sparse(WATCHED), sparse(FAVORITED), sparse(FRIENDS)]);
  const gradients = activations.map(
    (a) =>
      new DenseTensor(
        a.data.map((x) => (2 * x) / BATCH),
        a.shape,
      ),
  );
  e.applyGradients(gradients);
  // Per-row table gradients as TF's _compute_gradients_wrt_embedding_table: Σ over bags of the bag's
  // gradient (÷ bag size for mean), summed over features of the same table.
  const tableGradient = (rows: number, dim: number, inputs: [Input, Float32Array][], mean: boolean) => {
    const g = Array.from({ length: rows }, () => new Array<number>(dim).fill(0));
    for (const [x, act] of inputs) {
      const count = new Array<number>(BATCH).fill(0);
      for (const [b] of x.indices) count[b]++;
      x.indices.forEach(([b], k) => {
        for (let d = 0; d < dim; d++)
          g[x.values[k]][d] += (2 * act[b * dim + d]) / BATCH / (mean ? count[b] : 1);
      });
    }
    return g;
  };
  return {
    e,
    video: tableGradient(
      8,
      4,
      [
        [WATCHED, activations[0].data],
        [FAVORITED, activations[1].data],
      ],
      false,
    ),
    user: tableGradient(16, 2, [[FRIENDS, activations[2].data]], true),
  };
}

function check(
  e: TPUEmbeddingForServing,
  name: string,
  expected: (w0: number, g: number) => number,
  rtol: number,
  dim: number,
  mask: (w0: number, g: number) => boolean = () => true,
  gradients?: number[][],
): void {
  const actual = e.variable(name).value.data;
  // Both tables hold 32 values initialised to 0, 1, 2, …, so element i started at w0 = i.
  for (let i = 0; i < actual.length; i++) {
    const g = gradients![Math.floor(i / dim)][i % dim];
    if (!mask(i, g)) continue;
    const want = expected(i, g);
    assert.ok(
      Math.abs(actual[i] - want) <= 1e-6 + rtol * Math.abs(want),
      `${name}[${i}]: ${actual[i]} vs ${want}`,
    );
  }
}

function checkBoth(
  optimizer: Optimizer,
  slots: Record<string, (w0: number, g: number) => number>,
  rtol: number,
  mask?: (w0: number, g: number) => boolean,
): void {
  const { e, video, user } = run(optimizer);
  for (const [table, g, dim] of [
    ["video", video, 4],
    ["user", user, 2],
  ] as const) {
    for (const [slot, fn] of Object.entries(slots)) {
      check(e, slot === "parameters" ? table : `${table}/${slot}`, fn, rtol, dim, mask, g as number[][]);
    }
  }
}

test("TF reference: SGD (lr 0.1): w − lr·Σg", () => {
  checkBoth(new SGD({ learningRate: 0.1 }), { parameters: (w0, g) => w0 - 0.1 * g }, 1e-6);
});

test("TF reference: Adagrad (lr 0.1): acc = 0.1 + g², w − lr·g/√acc", () => {
  checkBoth(
    new Adagrad({ learningRate: 0.1 }),
    {
      parameters: (w0, g) => w0 - (0.1 * g) / Math.sqrt(0.1 + g * g),
      accumulators: (_, g) => 0.1 + g * g,
    },
    1e-6,
  );
});

test("TF reference: AdagradMomentum (momentum 0.9, Nesterov, exponent 3, epsilon 0.1, beta2 0.9)", () => {
  const acc = (g: number) => 0.1 * g * g; // beta2·0 + (1 − beta2)·g²
  const gp = (g: number) => g * Math.pow(acc(g) + 0.1, -1 / 3);
  checkBoth(
    new AdagradMomentum({
      learningRate: 0.1,
      momentum: 0.9,
      useNesterov: true,
      exponent: 3,
      epsilon: 0.1,
      beta2: 0.9,
    }),
    {
      parameters: (w0, g) => w0 - 0.1 * (0.9 * gp(g) + gp(g)),
      accumulators: (_, g) => acc(g),
      momenta: (_, g) => gp(g),
    },
    1e-3,
  );
});

test("TF reference: Adam (lr 0.1): m = 0.1·g, v = 0.001·g², w − lr·m/(√v + ε) within TF's rtol 1e-4", () => {
  checkBoth(
    new Adam({ learningRate: 0.1 }),
    {
      parameters: (w0, g) => w0 - (0.1 * (0.1 * g)) / (Math.sqrt(0.001 * g * g) + 1e-7),
      momenta: (_, g) => 0.1 * g,
      velocities: (_, g) => 0.001 * g * g,
    },
    1e-4,
  );
});

test("TF reference: FTRL (lr 0.1): linear = g − σ·w0, w = −linear/quadratic (rows with linear ≠ 0)", () => {
  const acc = (g: number) => 0.1 + g * g;
  const linear = (w0: number, g: number) => g - ((Math.sqrt(acc(g)) - Math.sqrt(0.1)) / 0.1) * w0;
  checkBoth(
    new FTRL({ learningRate: 0.1 }),
    {
      parameters: (w0, g) => -linear(w0, g) / (Math.sqrt(acc(g)) / 0.1),
      linears: (w0, g) => linear(w0, g),
      accumulators: (_, g) => acc(g),
    },
    5e-4,
    (_, g) => g !== 0,
  );
});
