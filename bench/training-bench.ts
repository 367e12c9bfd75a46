/**
 * Training benchmark: `applyGradients` after `embeddingLookup` on the shape of the standard workload
 * (../shared/bench/workload.json): 26 features, one dim-64 table each, bags of 1..20 ids (mean 8.1),
 * Zipf(1.05) ids, batch 1024 (ragged inputs, sum combiner). Tables have --rows rows each (default
 * 100000) or, with --scale s, the standard workload's row counts × s. Per optimizer, prints one JSON
 * line: row updates per second (a row update = one table row and its slots through the optimizer), ids
 * back-propagated per second, and the apply and lookup latencies.
 *
 *   npm run bench:training -- --rows 100000 --batch 1024 --optimizers adagrad,adam,sgd,ftrl
 */
import {
  Adagrad,
  Adam,
  DenseTensor,
  FeatureConfig,
  FTRL,
  RaggedTensor,
  SGD,
  TableConfig,
  TPUEmbeddingForServing,
  type Optimizer,
} from "../src/index.js";
import { arg, bagLength, DIM, hashInitializer, STANDARD_ROWS, u32, zipfSampler } from "./workload.js";

const OPTIMIZERS: Record<string, () => Optimizer> = {
  sgd: () => new SGD({ learningRate: 0.01 }),
  adagrad: () => new Adagrad({ learningRate: 0.01 }),
  adam: () => new Adam({ learningRate: 0.001 }),
  ftrl: () => new FTRL({ learningRate: 0.01 }),
};

const scaleArg = arg("scale", "");
const rows =
  scaleArg === ""
    ? STANDARD_ROWS.map(() => Number(arg("rows", "100000")))
    : STANDARD_ROWS.map((r) => Math.max(1000, Math.round(r * Number(scaleArg))));
const batch = Number(arg("batch", "1024"));
const optimizers = arg("optimizers", "adagrad,adam").split(",");
const batchesInPool = 8;

// Inputs and gradients for a few batches, prepared before timing.
const prepared = Array.from({ length: batchesInPool }, () => {
  const inputs: Record<string, RaggedTensor> = {};
  const gradients: Record<string, DenseTensor<Float32Array>> = {};
  let ids = 0;
  rows.forEach((n, f) => {
    const sample = zipfSampler(n, f);
    const splits = new Int32Array(batch + 1);
    for (let e = 0; e < batch; e++) splits[e + 1] = splits[e] + bagLength();
    const values = new Int32Array(splits[batch]);
    for (let i = 0; i < values.length; i++) values[i] = sample();
    ids += values.length;
    inputs[`f${f}`] = RaggedTensor.fromRowSplits(values, splits);
    const g = new Float32Array(batch * DIM);
    for (let i = 0; i < g.length; i++) g[i] = ((u32() >>> 8) - 8388608) * 2 ** -30;
    gradients[`f${f}`] = new DenseTensor(g, [batch, DIM]);
  });
  return { inputs, gradients, ids };
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

for (const name of optimizers) {
  const make = OPTIMIZERS[name];
  if (make === undefined)
    throw new Error(`unknown optimizer ${name}; known: ${Object.keys(OPTIMIZERS).join(", ")}`);
  const featureConfig: Record<string, FeatureConfig> = {};
  rows.forEach((n, t) => {
    const table = new TableConfig({
      vocabularySize: n,
      dim: DIM,
      combiner: "sum",
      name: `t${t}`,
      initializer: hashInitializer(t),
    });
    featureConfig[`f${t}`] = new FeatureConfig({ table });
  });
  const embedding = new TPUEmbeddingForServing({ featureConfig, optimizer: make() });
  embedding.build();

  let k = 0;
  const lookupMs: number[] = [];
  const applyMs: number[] = [];
  const run = (timed: boolean): { rows: number; ids: number; ms: number } => {
    const p = prepared[k];
    k = (k + 1) % prepared.length;
    const t0 = performance.now();
    embedding.embeddingLookup(p.inputs);
    const t1 = performance.now();
    const result = embedding.applyGradients(p.gradients);
    const t2 = performance.now();
    if (timed) {
      lookupMs.push(t1 - t0);
      applyMs.push(t2 - t1);
    }
    let updated = 0;
    for (const n of result.rowsUpdated.values()) updated += n;
    return { rows: updated, ids: p.ids, ms: t2 - t1 };
  };
  // Warm up for a second and two passes over the batches, so first touches of (zero) slot pages, which
  // the kernel faults in lazily, are not timed.
  const warmEnd = performance.now() + 1000;
  for (let i = 0; performance.now() < warmEnd || i < 2 * prepared.length; i++) run(false);
  const rowRates: number[] = [];
  const idRates: number[] = [];
  let touched = 0;
  let steps = 0;
  for (let repeat = 0; repeat < 5; repeat++) {
    let updated = 0;
    let ids = 0;
    let ms = 0;
    let calls = 0;
    while (ms < 200 || calls < 3) {
      const r = run(true);
      updated += r.rows;
      ids += r.ids;
      ms += r.ms;
      calls++;
    }
    touched += updated;
    steps += calls;
    rowRates.push(updated / (ms / 1000));
    idRates.push(ids / (ms / 1000));
  }
  applyMs.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bench: "training",
      optimizer: name,
      tables: rows.length,
      rows_per_table: scaleArg === "" ? rows[0] : `standard x ${scaleArg}`,
      dim: DIM,
      batch,
      threads: 1,
      row_updates_per_s: {
        min: Math.round(Math.min(...rowRates)),
        median: Math.round(median(rowRates)),
        max: Math.round(Math.max(...rowRates)),
      },
      ids_backpropagated_per_s: Math.round(median(idRates)),
      touched_rows_per_step: Math.round(touched / steps),
      apply_p50_ms: +applyMs[Math.floor(applyMs.length * 0.5)].toFixed(3),
      apply_p99_ms: +applyMs[Math.floor(applyMs.length * 0.99)].toFixed(3),
      lookup_p50_ms: +median(lookupMs).toFixed(3),
      peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    }),
  );
}
