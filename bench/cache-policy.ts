/**
 * Hit rates of hot-row cache policies on the standard workload's ids (../shared/bench), no Redis: the
 * pool's batches in order (B=64), each table's distinct ids per batch looked up in a cache of 5 % or
 * 25 % of the table's rows, as `RedisRowSource` does. Policies: the cache itself (src/redis/row-cache.ts)
 * with GCLOCK ceilings 1 (CLOCK), 3 and 7, and an exact LRU (a Map in use order) for reference.
 *
 *   node dist/bench/cache-policy.js [--scale 10] [--batch 64] [--passes 2]
 *
 * `--scale s` divides every table's rows by s and folds ids (id mod rows/s), as bench/redis-bench.ts does.
 * One JSON line per (dist, fraction, policy): hits / lookups over the passes after the first (warm).
 */
import { cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TableRowCache, type CacheStats } from "../src/redis/row-cache.js";
import { loadInputs, loadWorkload } from "./standard-workload.js";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "shared", "bench");
const wl = loadWorkload(option("bench-dir", dir));
const { features } = loadInputs(option("bench-dir", dir), wl);
const scale = Number(option("scale", "10"));
const batch = Number(option("batch", "64"));
const passes = Number(option("passes", "2"));
const cpu = cpus()[0]?.model ?? "unknown";

class ExactLru {
  private readonly map = new Map<number, true>();
  constructor(private readonly capacity: number) {}
  access(id: number): boolean {
    if (this.map.delete(id)) {
      this.map.set(id, true);
      return true;
    }
    if (this.capacity === 0) return false;
    if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
    this.map.set(id, true);
    return false;
  }
}

const row = new Uint8Array(4);
for (const dist of ["zipf", "uniform"] as const) {
  for (const fraction of [0.05, 0.25]) {
    for (const policy of ["clock", "gclock3", "gclock7", "lru"] as const) {
      let hits = 0;
      let lookups = 0;
      features.forEach((feature, f) => {
        const rows = Math.max(1, Math.floor(wl.feature_table_rows[f] / scale));
        const capacity = Math.floor(rows * fraction);
        const stats: CacheStats = { hits: 0, misses: 0, evictions: 0, bytes: 0 };
        const max = policy === "clock" ? 1 : policy === "gclock3" ? 3 : 7;
        const cache = policy === "lru" ? null : new TableRowCache(capacity, 4, max, stats);
        const lru = policy === "lru" ? new ExactLru(capacity) : null;
        const ids = feature.values[dist];
        const splits = feature.rowSplits;
        const seen = new Set<number>();
        for (let pass = 0; pass < passes; pass++) {
          for (let b = 0; b + batch <= wl.pool_examples; b += batch) {
            seen.clear();
            for (let i = splits[b]; i < splits[b + batch]; i++) seen.add(ids[i] % rows);
            for (const id of seen) {
              const hit = lru !== null ? lru.access(id) : cache!.get(id, row, 0);
              if (!hit && cache !== null) cache.put(id, row, 0);
              if (pass > 0) {
                lookups++;
                if (hit) hits++;
              }
            }
          }
        }
      });
      console.log(
        JSON.stringify({
          bench: "cache-policy",
          cpu,
          dist,
          cache_fraction: fraction,
          policy,
          scale,
          batch,
          hit_rate: Number((hits / lookups).toFixed(4)),
          distinct_lookups: lookups,
        }),
      );
    }
  }
}
