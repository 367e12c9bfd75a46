/**
 * `npm run bench:redis`: the standard workload (../shared/bench) served from a local 3-master Redis
 * Cluster (test/redis/redis-cluster.ts starts it, Debian's redis-server), beside the same tables in memory.
 *
 *   npm run bench:redis -- [--scale 10] [--batches 1,64,1024] [--dists zipf,uniform] [--caches 0,0.05,0.25]
 *                          [--repeat-ms 300] [--publish-batch-rows 256,1024,4096] [--bench-dir DIR]
 *
 * Tables: the workload's 26 tables with rows / `scale` (default 10: 881,000 rows × 64 float32 = 225 MB,
 * what fits beside Redis on a small machine), hashrow-v1 values, sum combiner; ids are the shared pool's,
 * folded (id mod rows / scale). One JSON line per measurement, each naming the CPU:
 * - `publish`: rows/s and MB/s of `publishVersion` for each HSET batch size (one version each);
 * - `lookup`: per (dist, batch, cache fraction): ids/s (median of repeats), p50/p99 per-batch latency, the
 *   row-fetch hit rate (distinct rows per batch served by the cache) and the id-level rate (ids not
 *   costing a Redis row), Redis rows/s, and `ratio_to_memory` against the same lookups
 *   (`embeddingLookupAsync`, same inputs) on in-memory tables in the same run;
 * - `hmget`: raw HMGET rows/s of redis-benchmark and of this package's client (node-redis) for the same
 *   command shape (one partition key per master, the mean fields per HMGET of the uniform B=1024 run,
 *   the same value size, the same number in flight), and their ratio.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import calculateSlot from "cluster-key-slot";
import { Checkpoint } from "../src/checkpoint/checkpoint.js";
import { FeatureConfig, RaggedTensor, TableConfig, TPUEmbeddingForServing } from "../src/index.js";
import { BINARY, connectCluster, masterMap, type BinaryCluster } from "../src/redis/cluster-client.js";
import type { Manifest } from "../src/redis/layout.js";
import { publishVersion } from "../src/redis/publish.js";
import { versionFromManifest } from "../src/redis/redis-version.js";
import { MAX_FIELDS_PER_HMGET } from "../src/redis/redis-rows.js";
import { unpublishVersion } from "../src/redis/unpublish.js";
import { startCluster } from "../test/redis/redis-cluster.js";
import { fillTable, loadInputs, loadWorkload } from "./standard-workload.js";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const list = (name: string, fallback: string) => option(name, fallback).split(",");

/** "AMD EPYC family 25 model 17, 2 vCPU" from /proc/cpuinfo. */
function cpuName(): string {
  const info = readFileSync("/proc/cpuinfo", "utf8");
  const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, "m").exec(info)?.[1]?.trim() ?? "?";
  const count = (info.match(/^processor\s*:/gm) ?? []).length;
  return `${field("model name")} family ${field("cpu family")} model ${field("model")}, ${count} vCPU`;
}

const CPU = cpuName();
const emit = (line: Record<string, unknown>) =>
  console.log(JSON.stringify({ bench: "redis", cpu: CPU, ...line }));

const benchDir = path.resolve(
  option(
    "bench-dir",
    path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "shared", "bench"),
  ),
);
const scale = Number(option("scale", "10"));
const repeatMs = Number(option("repeat-ms", "300"));
const wl = loadWorkload(benchDir);
const { features: pool } = loadInputs(benchDir, wl);
const DIM = wl.dim;
const rowsOf = wl.feature_table_rows.map((r) => Math.max(1, Math.floor(r / scale)));
const names = rowsOf.map((_, f) => `f${String(f).padStart(2, "0")}`);

/** Prepared inputs of one batch: a RaggedTensor per feature, and its id count. */
interface Batch {
  readonly inputs: Record<string, RaggedTensor>;
  readonly ids: number;
}

function batches(dist: "zipf" | "uniform", size: number): Batch[] {
  const count = Math.min(wl.pool_examples / size, size === 1 ? 1024 : Infinity);
  const out: Batch[] = [];
  for (let k = 0; k < count; k++) {
    const inputs: Record<string, RaggedTensor> = {};
    let ids = 0;
    pool.forEach((feature, f) => {
      const s = feature.rowSplits;
      const lo = s[k * size];
      const hi = s[(k + 1) * size];
      const values = feature.values[dist].slice(lo, hi);
      for (let i = 0; i < values.length; i++) values[i] %= rowsOf[f];
      const splits = Int32Array.from(s.subarray(k * size, (k + 1) * size + 1), (x) => x - lo);
      inputs[names[f]] = RaggedTensor.fromRowSplits(values, splits);
      ids += values.length;
    });
    out.push({ inputs, ids });
  }
  return out;
}

type Lookup = (inputs: Record<string, RaggedTensor>) => Promise<unknown>;

/** Warm-up pass, then 5 repeats of ≥ repeat-ms: ids/s per repeat (median), per-batch latencies. */
async function time(
  lookup: Lookup,
  work: Batch[],
  warm: () => void,
): Promise<{ idsPerS: number; p50: number; p99: number }> {
  for (const b of work.slice(0, Math.min(work.length, 64))) await lookup(b.inputs);
  if (work.length > 64) for (const b of work.slice(64)) await lookup(b.inputs);
  warm();
  const rates: number[] = [];
  const latencies: number[] = [];
  let next = 0;
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    let ids = 0;
    let n = 0;
    while (performance.now() - start < repeatMs || n < 3) {
      const b = work[next++ % work.length];
      const t0 = performance.now();
      await lookup(b.inputs);
      latencies.push(performance.now() - t0);
      ids += b.ids;
      n++;
    }
    rates.push(ids / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    Number(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(3));
  return { idsPerS: Math.round(rates[2]), p50: pct(0.5), p99: pct(0.99) };
}

async function publishRuns(client: BinaryCluster, prefix: string, featuresPath: string): Promise<Manifest> {
  let manifest: Manifest | null = null;
  const sizes = list("publish-batch-rows", "256,1024,4096").map(Number);
  for (const [i, batchRows] of sizes.entries()) {
    const version = i + 1;
    const result = await publishVersion(client, {
      model: "bench",
      version,
      prefix,
      featureConfigPath: featuresPath,
      batchRows,
    });
    emit({
      kind: "publish",
      batch_rows: batchRows,
      rows: result.rows,
      mb: Number((result.bytes / 1e6).toFixed(1)),
      seconds: Number(result.seconds.toFixed(2)),
      rows_per_s: Math.round(result.rows / result.seconds),
      mb_per_s: Number((result.bytes / 1e6 / result.seconds).toFixed(1)),
    });
    if (manifest !== null) await unpublishVersion(client, "bench", manifest.version, { force: true });
    manifest = result.manifest;
  }
  return manifest!;
}

/**
 * redis-benchmark's and our client's HMGET rows/s, one master at a time (one client process against one
 * redis-server, as a serving process talks to each master), the same key, fields, value size and
 * commands in flight (`-c 1 -P 32`: node-redis also uses one connection per node), alternating three
 * rounds of each; medians. The client side runs in a fresh process (bench/redis-hmget.ts), as a serving
 * process would: in this one, after the lookups above, the same client measured 0.38-0.42 of
 * redis-benchmark where a fresh process measures 0.6-0.8 (bench/results/2026-12-07-redis.md).
 */
async function hmgetShape(
  client: BinaryCluster,
  manifest: Manifest,
  fields: number,
  url: string,
): Promise<void> {
  const { masters, ownerOfSlot } = masterMap(client);
  const targets = [];
  for (let m = 0; m < masters.length; m++) {
    // One partition on this master, and `fields` of its rows (every table has dim 64: 256-byte values).
    const key = manifest.partitions.find((k) => ownerOfSlot[calculateSlot(k)] === m)!;
    const all = (await client.sendCommand(key, true, ["HKEYS", key], BINARY)) as unknown as Buffer[];
    const picked = all
      .map(String)
      .filter((f) => f !== "_")
      .slice(0, fields);
    targets.push({ master: m, port: Number(masters[m].split(":")[1]), key, fields: picked });
  }
  const spec = path.join(tmpdir(), `tpu-embedding-hmget-${process.pid}.json`);
  writeFileSync(spec, JSON.stringify({ url, targets, valueBytes: manifest.tables[0].rowBytes }));
  try {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "redis-hmget.js");
    const child = spawnSync(process.execPath, [script, spec], { encoding: "utf8" });
    if (child.status !== 0) throw new Error(`redis-hmget failed: ${child.stderr}`);
    for (const line of child.stdout.split("\n").filter((l) => l.trim() !== "")) emit(JSON.parse(line));
  } finally {
    rmSync(spec, { force: true });
  }
}

async function main(): Promise<void> {
  const work = path.join(tmpdir(), `tpu-embedding-redis-bench-${process.pid}`);
  mkdirSync(path.join(work, "1"), { recursive: true });
  const cluster = await startCluster({ masters: 3 });
  const client = await connectCluster({ url: cluster.url });
  try {
    // The model: 26 sum features over 26 tables, saved as a checkpoint + features.json.
    const tables = rowsOf.map(
      (rows, f) => new TableConfig({ vocabularySize: rows, dim: DIM, combiner: "sum", name: `t${names[f]}` }),
    );
    const featureConfig = Object.fromEntries(
      names.map((n, f) => [n, new FeatureConfig({ table: tables[f] })]),
    );
    const local = new TPUEmbeddingForServing({ featureConfig, optimizer: null });
    local.build();
    tables.forEach((t, f) => fillTable(local.embeddingTables.get(t)!.data, f, rowsOf[f], DIM));
    const prefix = await new Checkpoint({ embedding: local }).save(path.join(work, "1", "ckpt"));
    const featuresPath = path.join(work, "1", "features.json");
    writeFileSync(
      featuresPath,
      JSON.stringify({
        tables: tables.map((t) => ({ name: t.name, combiner: "sum" })),
        features: Object.fromEntries(names.map((n, f) => [n, { table: tables[f].name }])),
      }),
    );
    const tableBytes = rowsOf.reduce((a, r) => a + r * DIM * 4, 0);
    emit({
      kind: "setup",
      scale,
      rows: rowsOf.reduce((a, b) => a + b, 0),
      table_mb: Number((tableBytes / 1e6).toFixed(1)),
      masters: 3,
    });

    const manifest = await publishRuns(client, prefix, featuresPath);
    let fieldsPerHmget = 0;
    for (const dist of list("dists", "zipf,uniform") as ("zipf" | "uniform")[]) {
      for (const size of list("batches", "1,64,1024").map(Number)) {
        const work = batches(dist, size);
        const memory = await time(
          (inputs) => local.embeddingLookupAsync(inputs),
          work,
          () => undefined,
        );
        for (const fraction of list("caches", "0,0.05,0.25").map(Number)) {
          const version = versionFromManifest(client, manifest, {
            cacheBytes: Math.floor(fraction * tableBytes),
            timeoutMs: 5000,
          });
          const stats = version.rows.stats;
          let idsTimed = 0;
          const lookup: Lookup = (inputs) => version.embedding.embeddingLookupAsync(inputs);
          let base = { hits: 0, misses: 0 };
          const measured = await time(
            async (inputs) => {
              const r = await lookup(inputs);
              idsTimed += Object.values(inputs).reduce((a, t) => a + t.values.length, 0);
              return r;
            },
            work,
            () => {
              base = { hits: stats.hits, misses: stats.misses };
              idsTimed = 0;
            },
          );
          const hits = stats.hits - base.hits;
          const misses = stats.misses - base.misses;
          if (dist === "uniform" && size === 1024 && fraction === 0) {
            // Fields per HMGET: the misses of a batch spread over the version's partitions.
            const partitions = manifest.partitions.length;
            const distinctPerBatch = misses / Math.max(1, idsTimed / work[0].ids);
            fieldsPerHmget = Math.max(1, Math.round(distinctPerBatch / partitions));
          }
          emit({
            kind: "lookup",
            dist,
            batch: size,
            cache_fraction: fraction,
            cache_mb: Number(((fraction * tableBytes) / 1e6).toFixed(1)),
            ids_per_s: measured.idsPerS,
            p50_ms: measured.p50,
            p99_ms: measured.p99,
            row_hit_rate: Number((hits / Math.max(1, hits + misses)).toFixed(4)),
            id_hit_rate: Number((1 - misses / Math.max(1, idsTimed)).toFixed(4)),
            memory_ids_per_s: memory.idsPerS,
            memory_p50_ms: memory.p50,
            ratio_to_memory: Number((measured.idsPerS / memory.idsPerS).toFixed(3)),
          });
          version.embedding.dispose();
        }
      }
    }
    if (option("hmget", "1") !== "0")
      await hmgetShape(client, manifest, Math.min(MAX_FIELDS_PER_HMGET, fieldsPerHmget || 27), cluster.url);
  } finally {
    await client.close().catch(() => undefined);
    cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
