/**
 * The standard lookup workload of ../shared/bench (workload.json, gen/README.md): loads its generated
 * inputs from `data/` when present, else regenerates them with the documented algorithm (a port of
 * gen/workload-lib.mjs: the same 32-bit integer and float64 operations in the same order), and checks
 * every file's SHA-256 against gen/checksums.json either way. Also fills tables with hashrow-v1.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export interface Workload {
  readonly seed: number;
  readonly dim: number;
  readonly num_features: number;
  readonly feature_table_rows: readonly number[];
  readonly pool_examples: number;
  readonly bag_length: { readonly weights: readonly number[] };
  readonly id_distributions: { readonly zipf: { readonly alpha: number } };
  readonly variants: readonly WorkloadVariant[];
  readonly batch_sizes: readonly number[];
  readonly threads: readonly number[];
  readonly timing: Timing;
}

export interface WorkloadVariant {
  readonly name: string;
  readonly dist: "zipf" | "uniform";
  readonly combiner: "sum" | "mean" | null;
  readonly weighted: boolean;
  readonly max_sequence_length?: number;
}

export interface Timing {
  readonly warmup_ms: number;
  readonly repeats: number;
  readonly repeat_ms: number;
  readonly min_batches_per_repeat: number;
  readonly slow_batch_ms?: number;
}

/** One feature's pool: CSR row splits, ids per distribution, weights. */
export interface FeatureInputs {
  readonly rowSplits: Int32Array;
  readonly values: { readonly zipf: Int32Array; readonly uniform: Int32Array };
  readonly weights: Float32Array;
}

export function loadWorkload(benchDir: string): Workload {
  return JSON.parse(readFileSync(path.join(benchDir, "workload.json"), "utf8")) as Workload;
}

function fmix32(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let t = (a ^ (a >>> 16)) >>> 0;
    t = Math.imul(t, 0x21f0aaad) >>> 0;
    t = (t ^ (t >>> 15)) >>> 0;
    t = Math.imul(t, 0x735a2d97) >>> 0;
    return (t ^ (t >>> 15)) >>> 0;
  };
}

/** xoshiro128** 1.1, seeded through splitmix32. */
function xoshiro128ss(seed32: number): () => number {
  const sm = splitmix32(seed32);
  let s0 = sm();
  let s1 = sm();
  let s2 = sm();
  let s3 = sm();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  return () => {
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 = (s2 ^ s0) >>> 0;
    s3 = (s3 ^ s1) >>> 0;
    s1 = (s1 ^ s2) >>> 0;
    s0 = (s0 ^ s3) >>> 0;
    s2 = (s2 ^ t) >>> 0;
    s3 = rotl(s3, 11);
    return r;
  };
}

const STREAM = { len: 1, zipf: 2, uniform: 3, weight: 4 } as const;

function streamSeed(seed: number, code: number, feature: number): number {
  return fmix32((seed ^ fmix32(((code << 8) | feature) >>> 0)) >>> 0);
}

function scaleU32(u: number, n: number): number {
  return Math.floor((u * n) / 4294967296);
}

const zipfCache = new Map<string, Float64Array>();
function zipfCdf(n: number, alpha: number): Float64Array {
  const key = `${n}:${alpha}`;
  let cum = zipfCache.get(key);
  if (cum === undefined) {
    cum = new Float64Array(n);
    let s = 0;
    for (let j = 0; j < n; j++) {
      s += Math.pow(j + 1, -alpha);
      cum[j] = s;
    }
    zipfCache.set(key, cum);
  }
  return cum;
}

function zipfRank(cum: Float64Array, u: number): number {
  const t = (u / 4294967296) * cum[cum.length - 1];
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Regenerates one feature's inputs (gen/generate.mjs, step by step). */
function generateFeature(wl: Workload, f: number): FeatureInputs {
  const rows = wl.feature_table_rows[f];
  const pool = wl.pool_examples;
  const cumulative: number[] = [];
  let total = 0;
  for (const w of wl.bag_length.weights) cumulative.push((total += w));
  const lengths = xoshiro128ss(streamSeed(wl.seed, STREAM.len, f));
  const rowSplits = new Int32Array(pool + 1);
  for (let i = 0; i < pool; i++) {
    const x = scaleU32(lengths(), total);
    let k = 0;
    while (cumulative[k] <= x) k++;
    rowSplits[i + 1] = rowSplits[i] + k + 1;
  }
  const nnz = rowSplits[pool];
  const zipfRng = xoshiro128ss(streamSeed(wl.seed, STREAM.zipf, f));
  const cum = zipfCdf(rows, wl.id_distributions.zipf.alpha);
  const zipf = new Int32Array(nnz);
  for (let j = 0; j < nnz; j++) zipf[j] = (zipfRank(cum, zipfRng()) * 2654435761 + f * 40503) % rows;
  const uniformRng = xoshiro128ss(streamSeed(wl.seed, STREAM.uniform, f));
  const uniform = new Int32Array(nnz);
  for (let j = 0; j < nnz; j++) uniform[j] = scaleU32(uniformRng(), rows);
  const weightRng = xoshiro128ss(streamSeed(wl.seed, STREAM.weight, f));
  const weights = new Float32Array(nnz);
  for (let j = 0; j < nnz; j++) weights[j] = (1 + (weightRng() >>> 9)) * 1.1920928955078125e-7;
  return { rowSplits, values: { zipf, uniform }, weights };
}

function readInto<T extends Int32Array | Float32Array>(file: string, make: (n: number) => T): T {
  const bytes = readFileSync(file);
  const out = make(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/**
 * Every feature's inputs, from `<benchDir>/data` when it was generated there, else regenerated; throws
 * unless every file matches gen/checksums.json. `source` says which.
 */
export function loadInputs(benchDir: string, wl: Workload): { features: FeatureInputs[]; source: string } {
  const dataDir = path.join(benchDir, "data");
  const fromFiles = existsSync(path.join(dataDir, "manifest.json"));
  const features: FeatureInputs[] = [];
  for (let f = 0; f < wl.num_features; f++) {
    if (!fromFiles) {
      features.push(generateFeature(wl, f));
      continue;
    }
    const dir = path.join(dataDir, `f${String(f).padStart(2, "0")}`);
    const ints = (name: string) => readInto(path.join(dir, name), (n) => new Int32Array(n));
    features.push({
      rowSplits: ints("row_splits.i32"),
      values: { zipf: ints("values.zipf.i32"), uniform: ints("values.uniform.i32") },
      weights: readInto(path.join(dir, "weights.f32"), (n) => new Float32Array(n)),
    });
  }
  const expected = JSON.parse(readFileSync(path.join(benchDir, "gen", "checksums.json"), "utf8")) as {
    files: Record<string, string>;
  };
  let checked = 0;
  features.forEach((feature, f) => {
    const dir = `f${String(f).padStart(2, "0")}`;
    const files: [string, Int32Array | Float32Array][] = [
      ["row_splits.i32", feature.rowSplits],
      ["values.zipf.i32", feature.values.zipf],
      ["values.uniform.i32", feature.values.uniform],
      ["weights.f32", feature.weights],
    ];
    for (const [name, array] of files) {
      const sha = createHash("sha256")
        .update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength))
        .digest("hex");
      if (expected.files[`${dir}/${name}`] !== sha) {
        throw new Error(`Workload input ${dir}/${name} does not match gen/checksums.json.`);
      }
      checked++;
    }
  });
  return { features, source: `${fromFiles ? "data/" : "regenerated"}, ${checked} files match checksums` };
}

/** hashrow-v1: table `t`'s values (workload.json `table_init`), written into `out` (rows × dim). */
export function fillTable(out: Float32Array, t: number, rows: number, dim: number): void {
  const hd = new Int32Array(dim);
  for (let d = 0; d < dim; d++) hd[d] = fmix32((d + 0x632be5ab) >>> 0) | 0;
  let o = 0;
  for (let r = 0; r < rows; r++) {
    const hr = fmix32((r + Math.imul(t + 1, 0x9e3779b9)) >>> 0) | 0;
    for (let d = 0; d < dim; d++) {
      let h = Math.imul(hr ^ hd[d], 0x85ebca77 | 0);
      h ^= h >>> 15;
      out[o++] = ((h >>> 8) - 8388608) * 2 ** -25;
    }
  }
}
