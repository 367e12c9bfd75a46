/**
 * How far quantized tables move lookups (issue: quantized storage, item 4): the standard workload's 26
 * tables (hashrow-v1, dim 64) and its whole id pool, looked up through the public API with float32 tables
 * and with each quantized kind, per combiner; the largest and mean absolute error against float32, next
 * to the formula's bound for each output value:
 *
 * - int8: half a quantization step of each row, Σ |w| · scale / 2, divided by the combiner's divisor;
 * - float16 / bfloat16: half an ulp of each value, Σ |w| · max(|x| · 2^-11, 2^-25) (float16's
 *   subnormals are 2^-24 apart) and Σ |w| · |x| · 2^-8, divided likewise;
 *
 * each plus an allowance for the float32 rounding of the sums, which both lookups make:
 * 2 (n + 1) · 2^-24 · Σ |w| · |x| for a bag of n ids (the ratio column shows how close the worst value
 * came to its bound).
 *
 *   npm run bench:quantization [-- --dist zipf|uniform] [--kinds int8,float16,bfloat16] [--batch 1024]
 *
 * One JSON line per (kind, combiner); `--markdown` also prints the docs table.
 */
import path from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import os from "node:os";
import {
  FeatureConfig,
  RaggedTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type Combiner,
  type DenseTensor,
  type StorageKind,
} from "../src/index.js";
import {
  fillTable,
  loadInputs,
  loadWorkload,
  type FeatureInputs,
  type Workload,
} from "./standard-workload.js";

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

function benchDir(): string {
  const given = option("bench-dir");
  if (given !== undefined) return path.resolve(given);
  if (existsSync(path.join(process.cwd(), "workload.json"))) return process.cwd();
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  return path.resolve(repo, "..", "shared", "bench");
}

const dir = benchDir();
const wl = loadWorkload(dir);
const dist = (option("dist") ?? "zipf") as "zipf" | "uniform";
const kinds = (option("kinds") ?? "int8,float16,bfloat16").split(",") as StorageKind[];
const B = Number(option("batch") ?? 1024);
const COMBINERS: { name: string; combiner: Combiner; weighted: boolean }[] = [
  { name: "sum", combiner: "sum", weighted: false },
  { name: "mean", combiner: "mean", weighted: false },
  { name: "sqrtn", combiner: "sqrtn", weighted: false },
  { name: "weighted sum", combiner: "sum", weighted: true },
];
const HALF_ULP: Partial<Record<StorageKind, number>> = { float16: 2 ** -11, bfloat16: 2 ** -8 };
/** float16's subnormal spacing is 2^-24: half of it bounds the rounding of values below 2^-14. */
const HALF_SUBNORMAL: Partial<Record<StorageKind, number>> = { float16: 2 ** -25, bfloat16: 0 };

const { features: inputs } = loadInputs(dir, wl);
const names = inputs.map((_, f) => `f${String(f).padStart(2, "0")}`);

function embedding(wl: Workload, combiner: Combiner, tableStorage: StorageKind): TPUEmbeddingForServing {
  const featureConfig: Record<string, FeatureConfig> = {};
  wl.feature_table_rows.forEach((rows, t) => {
    const table = new TableConfig({
      vocabularySize: rows,
      dim: wl.dim,
      combiner,
      name: `t${String(t).padStart(2, "0")}`,
      initializer: (shape, out) => {
        const values = out ?? new Float32Array(shape[0] * shape[1]);
        fillTable(values, t, rows, wl.dim);
        return values;
      },
    });
    featureConfig[names[t]] = new FeatureConfig({ table });
  });
  const e = new TPUEmbeddingForServing({ featureConfig, optimizer: null, tableStorage });
  e.build();
  return e;
}

function batch(k: number, weighted: boolean) {
  const features: Record<string, RaggedTensor> = {};
  const weights: Record<string, RaggedTensor> = {};
  inputs.forEach((input: FeatureInputs, f) => {
    const s0 = input.rowSplits[k * B];
    const s1 = input.rowSplits[(k + 1) * B];
    const splits = input.rowSplits.slice(k * B, (k + 1) * B + 1).map((s) => s - s0);
    features[names[f]] = RaggedTensor.fromRowSplits(input.values[dist].subarray(s0, s1), splits);
    weights[names[f]] = RaggedTensor.fromRowSplits(input.weights.subarray(s0, s1), splits);
  });
  return { features, weights: weighted ? weights : undefined };
}

/** The formula's bound for every output value of one feature's bags. */
function bounds(
  kind: StorageKind,
  table: Float32Array,
  dim: number,
  ids: Int32Array,
  splits: Int32Array,
  weights: Float32Array | null,
  combiner: Combiner,
): Float64Array {
  const rows = splits.length - 1;
  const out = new Float64Array(rows * dim);
  const magnitude = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    let wSum = 0;
    let wSquares = 0;
    magnitude.fill(0);
    for (let j = splits[r]; j < splits[r + 1]; j++) {
      const w = weights === null ? 1 : weights[j];
      wSum += w;
      wSquares += w * w;
      const row = table.subarray(ids[j] * dim, (ids[j] + 1) * dim);
      for (let d = 0; d < dim; d++) magnitude[d] += Math.abs(w) * Math.abs(row[d]);
      if (kind === "int8") {
        let min = Infinity;
        let max = -Infinity;
        for (const x of row) {
          min = Math.min(min, x);
          max = Math.max(max, x);
        }
        const halfStep = Math.fround((max - min) / 255) / 2;
        for (let d = 0; d < dim; d++) out[r * dim + d] += Math.abs(w) * halfStep;
      } else {
        for (let d = 0; d < dim; d++)
          out[r * dim + d] +=
            Math.abs(w) * Math.max(Math.abs(row[d]) * HALF_ULP[kind]!, HALF_SUBNORMAL[kind]!);
      }
    }
    const n = splits[r + 1] - splits[r];
    const divisor = combiner === "mean" ? wSum : combiner === "sqrtn" ? Math.sqrt(wSquares) : 1;
    for (let d = 0; d < dim; d++) {
      const rounding = 2 * (n + 1) * 2 ** -24 * magnitude[d];
      out[r * dim + d] = (out[r * dim + d] + rounding) / (divisor || 1);
    }
  }
  return out;
}

const lines: Record<string, unknown>[] = [];
const batches = wl.pool_examples / B;
for (const { name, combiner, weighted } of COMBINERS) {
  const exact = embedding(wl, combiner, "float32");
  const tables = [...exact.embeddingTables.values()].map((t) => t.data);
  const reference = Array.from({ length: batches }, (_, k) => {
    const { features, weights } = batch(k, weighted);
    const out = exact.embeddingLookup(features, weights) as Record<string, DenseTensor<Float32Array>>;
    return Object.fromEntries(names.map((n) => [n, out[n].data.slice()]));
  });
  for (const kind of kinds) {
    const q = embedding(wl, combiner, kind);
    let maxAbs = 0;
    let sumAbs = 0;
    let values = 0;
    let maxBound = 0;
    let maxRatio = 0;
    let largest = 0;
    for (let k = 0; k < batches; k++) {
      const { features, weights } = batch(k, weighted);
      const got = q.embeddingLookup(features, weights) as Record<string, DenseTensor<Float32Array>>;
      names.forEach((n, f) => {
        const want = reference[k][n];
        const ragged = features[n];
        const bound = bounds(
          kind,
          tables[f],
          wl.dim,
          ragged.values as Int32Array,
          ragged.rowSplits,
          weighted ? (weights![n].values as Float32Array) : null,
          combiner,
        );
        for (let i = 0; i < want.length; i++) {
          const error = Math.abs(got[n].data[i] - want[i]);
          maxAbs = Math.max(maxAbs, error);
          sumAbs += error;
          largest = Math.max(largest, Math.abs(want[i]));
          maxBound = Math.max(maxBound, bound[i]);
          if (bound[i] > 0) maxRatio = Math.max(maxRatio, error / bound[i]);
        }
        values += want.length;
      });
    }
    q.dispose();
    const line = {
      bench: "quantization-error",
      cpu: os.cpus()[0]?.model ?? "unknown",
      storage: kind,
      combiner: name,
      dist,
      examples: wl.pool_examples,
      output_values: values,
      max_abs_error: maxAbs,
      mean_abs_error: sumAbs / values,
      max_bound: maxBound,
      max_error_over_bound: maxRatio,
      max_abs_value: largest,
    };
    lines.push(line);
    console.log(JSON.stringify(line));
  }
  exact.dispose();
}

if (process.argv.includes("--markdown")) {
  const e = (x: unknown) => (x as number).toExponential(2);
  console.log(
    "\n| storage | combiner | max abs error | mean abs error | largest bound | worst error / its bound | largest |answer| |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const l of lines) {
    console.log(
      `| ${String(l.storage)} | ${String(l.combiner)} | ${e(l.max_abs_error)} | ${e(l.mean_abs_error)} | ` +
        `${e(l.max_bound)} | ${(l.max_error_over_bound as number).toFixed(5)} | ${e(l.max_abs_value)} |`,
    );
  }
}
