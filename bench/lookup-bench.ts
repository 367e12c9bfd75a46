/**
 * First lookup benchmark through the public API (`TPUEmbeddingForServing.embeddingLookup`) on the shape
 * of the standard workload (../shared/bench/workload.json): 26 features with one dim-64 table each,
 * bags of 1..20 ids (mean 8.1), Zipf(1.05) ids with hot rows scattered, batches 1, 64, 1024; variants
 * sum, mean, weighted sum and sequence (length 20). Tables are scaled by --scale (default 0.1 of the
 * 2.1 GiB) so it runs anywhere in about a minute. Prints one JSON line per configuration, in the shared
 * harness's schema (impl, variant, batch, threads, ids_per_s {min, median, max}, p50_ms, p99_ms, ...).
 *
 *   npm run bench -- --scale 1 --batches 64,1024 --variants sum-zipf
 */
import {
  FeatureConfig,
  RaggedTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
} from "../src/index.js";
import { arg, bagLength, DIM, hashInitializer, STANDARD_ROWS, u32, zipfSampler } from "./workload.js";

const VARIANTS: { name: string; combiner: Combiner; weighted: boolean; sequence: number }[] = [
  { name: "sum-zipf", combiner: "sum", weighted: false, sequence: 0 },
  { name: "mean-zipf", combiner: "mean", weighted: false, sequence: 0 },
  { name: "wsum-zipf", combiner: "sum", weighted: true, sequence: 0 },
  { name: "seq-zipf", combiner: "sum", weighted: false, sequence: 20 },
];

const scale = Number(arg("scale", "0.1"));
const batches = arg("batches", "1,64,1024").split(",").map(Number);
const wanted = arg("variants", VARIANTS.map((v) => v.name).join(",")).split(",");
const poolExamples = 4096;

const rows = STANDARD_ROWS.map((r) => Math.max(1000, Math.round(r * scale)));
// One pool of examples per feature: row splits, ids and weights.
const pools = rows.map((n, f) => {
  const sample = zipfSampler(n, f);
  const splits = new Int32Array(poolExamples + 1);
  for (let e = 0; e < poolExamples; e++) splits[e + 1] = splits[e] + bagLength();
  const ids = new Int32Array(splits[poolExamples]);
  for (let i = 0; i < ids.length; i++) ids[i] = sample();
  const weights = new Float32Array(ids.length);
  for (let i = 0; i < ids.length; i++) weights[i] = (1 + (u32() >>> 9)) * 2 ** -23;
  return { splits, ids, weights };
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

for (const variant of VARIANTS.filter((v) => wanted.includes(v.name))) {
  const tables = rows.map(
    (n, t) =>
      new TableConfig({
        vocabularySize: n,
        dim: DIM,
        combiner: variant.combiner,
        name: `t${t}`,
        initializer: hashInitializer(t),
      }),
  );
  const featureConfig: Record<string, FeatureConfig> = {};
  tables.forEach(
    (table, f) =>
      (featureConfig[`f${f}`] = new FeatureConfig({ table, maxSequenceLength: variant.sequence })),
  );
  const embedding = new TPUEmbeddingForServing({ featureConfig, optimizer: null });
  embedding.build();

  for (const batch of batches) {
    // Prepare every batch's inputs before timing, as the harness protocol asks.
    const prepared: {
      inputs: Record<string, RaggedTensor>;
      weights: Record<string, RaggedTensor> | undefined;
      ids: number;
    }[] = [];
    for (let k = 0; k < Math.min(64, poolExamples / batch); k++) {
      const inputs: Record<string, RaggedTensor> = {};
      const weights: Record<string, RaggedTensor> = {};
      let ids = 0;
      pools.forEach((pool, f) => {
        const start = pool.splits[k * batch];
        const end = pool.splits[(k + 1) * batch];
        const splits = pool.splits.slice(k * batch, (k + 1) * batch + 1).map((s) => s - start);
        inputs[`f${f}`] = RaggedTensor.fromRowSplits(pool.ids.subarray(start, end), splits);
        weights[`f${f}`] = RaggedTensor.fromRowSplits(pool.weights.subarray(start, end), splits);
        ids += variant.sequence > 0 ? Math.min(end - start, batch * variant.sequence) : end - start;
      });
      prepared.push({ inputs, weights: variant.weighted ? weights : undefined, ids });
    }
    let k = 0;
    const run = (): number => {
      const p = prepared[k];
      k = (k + 1) % prepared.length;
      embedding.embeddingLookup(p.inputs, p.weights);
      return p.ids;
    };
    const warmEnd = performance.now() + 100;
    while (performance.now() < warmEnd) run();
    const rates: number[] = [];
    const latencies: number[] = [];
    for (let repeat = 0; repeat < 5; repeat++) {
      const start = performance.now();
      let ids = 0;
      let calls = 0;
      while (performance.now() - start < 100 || calls < 3) {
        const t0 = performance.now();
        ids += run();
        latencies.push(performance.now() - t0);
        calls++;
      }
      rates.push(ids / ((performance.now() - start) / 1000));
    }
    latencies.sort((a, b) => a - b);
    const idsPerS = { min: Math.min(...rates), median: median(rates), max: Math.max(...rates) };
    console.log(
      JSON.stringify({
        impl: "tpu-embedding-reference",
        variant: variant.name,
        dist: "zipf",
        combiner: variant.sequence > 0 ? null : variant.combiner,
        weighted: variant.weighted,
        batch,
        threads: 1,
        ids_per_s: idsPerS,
        gbps: { median: +((idsPerS.median * DIM * 4) / 1e9).toFixed(3) },
        p50_ms: +latencies[Math.floor(latencies.length * 0.5)].toFixed(4),
        p99_ms: +latencies[Math.floor(latencies.length * 0.99)].toFixed(4),
        peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
        table_scale: scale,
        note: "public API, reference kernels, regenerated ids (not the shared pool)",
      }),
    );
  }
}
