/**
 * The standard workload's shape (../shared/bench/workload.json) for this project's own benchmarks:
 * table row counts, dim, bag-length distribution and a Zipf(1.05) id sampler with hot rows scattered.
 * Ids are regenerated here with a seeded generator, not read from the shared pool.
 */
import type { Initializer } from "../src/index.js";

export const STANDARD_ROWS = [
  100000, 1000, 1000000, 1000000, 1000, 1000, 100000, 100000, 1000, 1000000, 100000, 1000000, 100000, 1000,
  100000, 1000000, 1000, 100000, 100000, 1000, 1000000, 1000, 1000, 1000000, 1000, 1000000,
];
export const DIM = 64;
const BAG_WEIGHTS = [5, 7, 8, 9, 9, 8, 8, 7, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2, 1];

let state = 20240611;
/** Seeded uniform 32-bit integers (mulberry32), so every run draws the same workload. */
export function u32(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** Zipf(alpha) ranks by inverse CDF, scattered by a bijection mod rows (hot rows not contiguous). */
export function zipfSampler(rows: number, feature: number, alpha = 1.05): () => number {
  const cdf = new Float64Array(rows);
  let total = 0;
  for (let r = 0; r < rows; r++) cdf[r] = total += Math.pow(r + 1, -alpha);
  return () => {
    const u = (u32() / 4294967296) * total;
    let lo = 0;
    let hi = rows - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return Number((BigInt(lo) * 2654435761n + BigInt(feature) * 40503n) % BigInt(rows));
  };
}

/** Deterministic table values in [-0.25, 0.25), exact in float32, different per table `t`. */
export function hashInitializer(t: number): Initializer {
  return (shape, out) => {
    const values = out ?? new Float32Array(shape[0] * shape[1]);
    for (let i = 0; i < values.length; i++)
      values[i] = ((Math.imul(i + t * 7919, 0x9e3779b1) >>> 8) - 8388608) * 2 ** -25;
    return values;
  };
}

/** A bag length in 1..20 with the workload's weights (mean 8.1). */
export function bagLength(): number {
  let u = u32() % 105;
  for (let k = 0; k < BAG_WEIGHTS.length; k++) {
    if (u < BAG_WEIGHTS[k]) return k + 1;
    u -= BAG_WEIGHTS[k];
  }
  return 20;
}

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
