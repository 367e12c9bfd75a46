/**
 * Prometheus metrics of Redis-backed serving, in a registry of their own (the server appends it to its
 * `/monitoring/prometheus/metrics` answer): the hot-row cache's hits, misses, evictions and bytes, and
 * per Redis node the HMGET commands, their round-trip latency and their failures.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CacheStats } from "./row-cache.js";

const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

export class StoreMetrics {
  readonly registry = new Registry();
  readonly hits: Counter<"model">;
  readonly misses: Counter<"model">;
  readonly commands: Counter<"node">;
  readonly rows: Counter<"node">;
  readonly failures: Counter<"node" | "code">;
  readonly latency: Histogram<"node">;
  /** Every live cache's stats, by model (summed into the bytes and evictions gauges). */
  readonly caches = new Map<CacheStats, string>();

  constructor() {
    const registers = [this.registry];
    this.hits = new Counter({
      name: "tpu_embedding_row_cache_hits_total",
      help: "Rows served from the hot-row cache.",
      labelNames: ["model"],
      registers,
    });
    this.misses = new Counter({
      name: "tpu_embedding_row_cache_misses_total",
      help: "Rows not in the hot-row cache (fetched from Redis, or joined to a fetch already in flight).",
      labelNames: ["model"],
      registers,
    });
    const caches = this.caches;
    new Gauge({
      name: "tpu_embedding_row_cache_bytes",
      help: "Bytes of rows held by the hot-row caches of the loaded versions.",
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const [stats, model] of caches) this.inc({ model }, stats.bytes);
      },
    });
    new Gauge({
      name: "tpu_embedding_row_cache_evictions",
      help: "Rows evicted from the hot-row caches of the loaded versions (since each version loaded).",
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const [stats, model] of caches) this.inc({ model }, stats.evictions);
      },
    });
    this.commands = new Counter({
      name: "tpu_embedding_redis_commands_total",
      help: "HMGET round trips to each Redis node (one per partition per lookup, pipelined per node).",
      labelNames: ["node"],
      registers,
    });
    this.rows = new Counter({
      name: "tpu_embedding_redis_rows_total",
      help: "Rows fetched from each Redis node.",
      labelNames: ["node"],
      registers,
    });
    this.failures = new Counter({
      name: "tpu_embedding_redis_failures_total",
      help: "Failed HMGETs by node and TF status code (UNAVAILABLE, DEADLINE, DATA_LOSS).",
      labelNames: ["node", "code"],
      registers,
    });
    this.latency = new Histogram({
      name: "tpu_embedding_redis_latency_seconds",
      help: "Time from sending an HMGET to its reply, by Redis node.",
      labelNames: ["node"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }
}
