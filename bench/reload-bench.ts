/**
 * Reload memory benchmark: a model of a few hundred MB is served (version 1), then version 2 appears and
 * the registry swaps to it. Reports the peak RSS during the reload for both transition policies, each in
 * a fresh process.
 *
 *   npm run bench:reload                                   # 256 MiB + 16 MiB tables
 *   node dist/bench/reload-bench.js --rows 524288 --dim 256  # bigger
 *   node dist/bench/reload-bench.js --threads 2              # tables also held by lookup workers
 *   node dist/bench/reload-bench.js --http                   # v1 answers predicts over loopback first
 *
 * Output: one JSON line per policy, then a summary table.
 */
import { fork } from "node:child_process";
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Checkpoint } from "../src/checkpoint/checkpoint.js";
import { FeatureConfig, TableConfig } from "../src/config/index.js";
import { TPUEmbeddingForServing } from "../src/embedding/index.js";
import { RaggedTensor } from "../src/tensor/index.js";
import { startServer } from "../src/serving/http/server.js";
import { FileModelRegistry } from "../src/serving/model/file-model-registry.js";
import type { TransitionPolicy } from "../src/serving/model/model-version-manager.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const rows = arg("rows", 262144);
const threads = arg("threads", 1);
/** Serve v1 through the real HTTP server (requests over loopback) rather than direct lookups. */
const overHttp = process.argv.includes("--http");
const dim = arg("dim", 256);
const smallRows = 65536;
const smallDim = 64;
const tableBytes = (rows * dim + smallRows * smallDim) * 4;
const cache = join(tmpdir(), `tpu-embedding-reload-bench-${rows}x${dim}`);
const MiB = 1024 * 1024;

const FEATURES = {
  tables: [{ name: "big" }, { name: "small", combiner: "sum" }],
  features: { items: { table: "big" }, tags: { table: "small" } },
};

/** Writes the checkpoint once (cached across runs). */
async function writeModel(): Promise<void> {
  if (existsSync(join(cache, "features.json"))) return;
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  const big = new TableConfig({ vocabularySize: rows, dim, name: "big" });
  const small = new TableConfig({ vocabularySize: smallRows, dim: smallDim, name: "small" });
  const emb = new TPUEmbeddingForServing({
    featureConfig: { items: new FeatureConfig({ table: big }), tags: new FeatureConfig({ table: small }) },
    optimizer: null,
  });
  const values = new Map<string, Float32Array>();
  for (const [name, n] of [
    ["big", rows * dim],
    ["small", smallRows * smallDim],
  ] as const) {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.fround((i % 9973) * 0.001);
    values.set(name, data);
  }
  emb.restoreVariables(values);
  await new Checkpoint({ embedding: emb }).save(join(cache, "ckpt"));
  writeFileSync(join(cache, "features.json"), JSON.stringify(FEATURES));
}

/** A version folder made of hard links to the cached files (no extra disk, same bytes to read). */
function publishVersion(base: string, version: number): void {
  const dir = join(base, String(version));
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(cache)) linkSync(join(cache, f), join(dir, f));
}

function vmHwmBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resets the kernel's peak-RSS counter to the current RSS (Linux >= 4.0). */
function resetPeak(): void {
  writeFileSync("/proc/self/clear_refs", "5");
}

/** A few lookups like a live server's, so the lookup workers hold the tables too (then let go, as requests do). */
async function serveSomeLookups(registry: FileModelRegistry): Promise<void> {
  const lease = registry.acquire("m");
  const ids = RaggedTensor.fromNested([[1, 2, 3], [smallRows - 1]]);
  for (let i = 0; i < 4; i++) await lease.model.embedding.embeddingLookupAsync({ items: ids, tags: ids });
  lease.release();
}

async function servePredicts(url: string): Promise<void> {
  const body = JSON.stringify({ inputs: { items: [[1, 2, 3], [smallRows - 1]], tags: [[4], [5, 6]] } });
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${url}/v1/models/m:predict`, { method: "POST", body });
    if (res.status !== 200) throw new Error(`predict failed: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
}

async function child(policy: TransitionPolicy): Promise<void> {
  const base = join(tmpdir(), `tpu-embedding-reload-bench-run-${process.pid}`);
  rmSync(base, { recursive: true, force: true });
  publishVersion(base, 1);
  try {
    const before = process.memoryUsage.rss();
    const registry = await FileModelRegistry.open({
      models: [{ name: "m", basePath: base }],
      pollIntervalSeconds: 0,
      transitionPolicy: policy,
      embeddingOptions: { threads },
    });
    const server = overHttp ? await startServer({ registry, port: 0 }) : undefined;
    if (server === undefined) await serveSomeLookups(registry);
    else await servePredicts(server.url);
    const serving = process.memoryUsage.rss();
    resetPeak();
    publishVersion(base, 2);
    const start = performance.now();
    await registry.poll();
    const seconds = (performance.now() - start) / 1000;
    const peak = vmHwmBytes();
    const version = registry.status("m").find((st) => st.state === "AVAILABLE")?.version;
    await server?.close();
    await registry.close();
    process.send?.({
      via: overHttp ? "http" : "lookups",
      policy,
      threads,
      tableMiB: +(tableBytes / MiB).toFixed(1),
      servedVersion: version,
      reloadSeconds: +seconds.toFixed(3),
      rssBeforeLoadMiB: Math.round(before / MiB),
      rssServingV1MiB: Math.round(serving / MiB),
      peakRssDuringReloadMiB: Math.round(peak / MiB),
      peakOverBaselineTables: +((peak - before) / tableBytes).toFixed(2),
    });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const childIndex = process.argv.indexOf("--child");
  if (childIndex >= 0) {
    await child(process.argv[childIndex + 1] as TransitionPolicy);
    return;
  }
  await writeModel();
  const self = fileURLToPath(import.meta.url);
  const results: Record<string, unknown>[] = [];
  for (const policy of ["availability-preserving", "resource-preserving"]) {
    const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const p = fork(self, [...process.argv.slice(2), "--child", policy]);
      let got: Record<string, unknown> | undefined;
      p.on("message", (m) => (got = m as Record<string, unknown>));
      p.on("exit", (code) => (got ? resolve(got) : reject(new Error(`child exited with ${code}`))));
    });
    console.log(JSON.stringify(result));
    results.push(result);
  }
  console.log(
    "\n| transition policy | served via | threads | tables | reload | RSS serving v1 | peak RSS during reload | peak − baseline |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.policy} | ${r.via} | ${r.threads} | ${r.tableMiB} MiB | ${r.reloadSeconds} s | ${r.rssServingV1MiB} MiB | ` +
        `${r.peakRssDuringReloadMiB} MiB | ${r.peakOverBaselineTables} × tables |`,
    );
  }
}

await main();
