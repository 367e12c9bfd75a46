/**
 * Restore benchmark: writes a >= 1 GiB float32 table as a TF checkpoint (once, cached in the OS temp
 * dir), then restores it in fresh child processes and reports GB/s and peak RSS.
 *
 *   npm run bench:restore                      # 1 GiB table (1,048,576 x 256)
 *   node dist/bench/restore-bench.js --rows 262144 --dim 256   # smaller
 *
 * Output: one JSON line per scenario, then a summary table.
 */
import { fork } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BundleReader } from "../src/checkpoint/bundle/bundle-reader.js";
import { Checkpoint } from "../src/checkpoint/checkpoint.js";
import { FeatureConfig, TableConfig } from "../src/config/index.js";
import { TPUEmbeddingForServing } from "../src/embedding/index.js";

const KEY = "embedding/big/.ATTRIBUTES/VARIABLE_VALUE";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const rows = arg("rows", 1 << 20);
const dim = arg("dim", 256);
const tableBytes = rows * dim * 4;
const dir = join(tmpdir(), `tpu-embedding-restore-bench-${rows}x${dim}`);

function embedding(): TPUEmbeddingForServing {
  const table = new TableConfig({ vocabularySize: rows, dim, name: "big" });
  return new TPUEmbeddingForServing({ featureConfig: { f: new FeatureConfig({ table }) }, optimizer: null });
}

/** Expected value of element i (cheap to generate and to spot-check). */
const valueAt = (i: number): number => Math.fround((i % 9973) * 0.001 - 5);

async function writeCheckpoint(): Promise<number> {
  const prefix = join(dir, "ckpt-1");
  if (existsSync(`${prefix}.index`)) return 0;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const emb = embedding();
  const start = performance.now();
  // Fill the table through restore-before-build adoption of our own array: no initializer run.
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < data.length; i++) data[i] = valueAt(i);
  emb.restoreVariables(new Map([["big", data]]));
  await new Checkpoint({ embedding: emb }).save(join(dir, "ckpt"));
  return (performance.now() - start) / 1000;
}

/**
 * This process's peak RSS. Linux's getrusage maxrss survives fork+exec (a child would report its
 * parent's peak), so read VmHWM, which starts afresh with the new address space.
 */
function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

type Scenario = "write" | "restore-before-build" | "restore-after-build" | "read-rows";

async function child(scenario: Scenario): Promise<void> {
  if (scenario === "write") {
    process.send?.({ seconds: await writeCheckpoint() });
    return;
  }
  const base = process.memoryUsage().rss;
  const emb = embedding();
  if (scenario === "restore-after-build") emb.build();
  const afterBuild = process.memoryUsage().rss;
  let seconds: number;
  let bytes: number;
  if (scenario === "read-rows") {
    const reader = await BundleReader.open(join(dir, "ckpt-1"));
    const start = performance.now();
    const count = 1000;
    const t = await reader.readRows(KEY, rows - count, count);
    seconds = (performance.now() - start) / 1000;
    bytes = count * dim * 4;
    if ((t.data as Float32Array)[0] !== valueAt((rows - count) * dim)) throw new Error("wrong rows");
    await reader.close();
  } else {
    const start = performance.now();
    await new Checkpoint({ embedding: emb }).restore(dir);
    seconds = (performance.now() - start) / 1000;
    bytes = tableBytes;
    const d = emb.variable("big").value.data;
    for (const i of [0, 1, d.length >> 1, d.length - 1])
      if (d[i] !== valueAt(i)) throw new Error(`wrong value at ${i}`);
  }
  const peakRss = peakRssBytes();
  process.send?.({ scenario, seconds, bytes, baseRss: base, rssBeforeRestore: afterBuild, peakRss });
}

function runChild(scenario: Scenario): Promise<Record<string, number | string>> {
  return new Promise((resolve, reject) => {
    const p = fork(
      fileURLToPath(import.meta.url),
      ["--child", scenario, "--rows", String(rows), "--dim", String(dim)],
      {
        execArgv: [],
      },
    );
    let result: Record<string, number | string> | undefined;
    p.on("message", (m) => (result = m as Record<string, number | string>));
    p.on("exit", (code) =>
      code === 0 && result ? resolve(result) : reject(new Error(`${scenario} failed (${code})`)),
    );
  });
}

const MiB = 1024 * 1024;
if (process.argv.includes("--child")) {
  await child(process.argv[process.argv.indexOf("--child") + 1] as Scenario);
} else {
  const written = await runChild("write");
  const writeSeconds = Number(written.seconds);
  const fileBytes = statSync(join(dir, "ckpt-1.data-00000-of-00001")).size;
  console.log(
    JSON.stringify({
      table: `${rows}x${dim} float32`,
      tableMiB: tableBytes / MiB,
      dataFileMiB: fileBytes / MiB,
      writeSeconds: writeSeconds || "cached",
      writeGBps: writeSeconds ? tableBytes / 1e9 / writeSeconds : "cached",
    }),
  );
  const results = [];
  for (const scenario of ["restore-before-build", "restore-after-build", "read-rows"] as Scenario[]) {
    const r = await runChild(scenario);
    const out = {
      scenario,
      seconds: Number(r.seconds),
      GBps: Number(r.bytes) / 1e9 / Number(r.seconds),
      peakRssMiB: Math.round(Number(r.peakRss) / MiB),
      baseRssMiB: Math.round(Number(r.baseRss) / MiB),
      peakOverTable: Number((Number(r.peakRss) / tableBytes).toFixed(2)),
    };
    console.log(JSON.stringify(out));
    results.push(out);
  }
  console.log(
    `\ntable ${rows} x ${dim} float32 = ${(tableBytes / MiB).toFixed(0)} MiB (data file in the OS page cache)`,
  );
  for (const r of results) {
    console.log(
      `${r.scenario.padEnd(22)} ${r.seconds.toFixed(3).padStart(8)} s  ${r.GBps.toFixed(2).padStart(6)} GB/s  peak RSS ${String(r.peakRssMiB).padStart(5)} MiB (${r.peakOverTable}x table)`,
    );
  }
}
