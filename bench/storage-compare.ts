/**
 * The standard lookup workload with each table storage in one run (`npm run bench:storage`): for every
 * variant, lookup-bench.ts runs once per storage kind and round, the kinds alternating within a round so
 * that the machine's drift falls on all of them alike. Prints lookup-bench's JSON lines, then one summary
 * line per (variant, batch, storage): the median over rounds of the median ids/s, and its ratio to
 * float32's. `--markdown` prints the summary as a table too.
 *
 *   npm run bench:storage -- [--storages float32,int8,float16,bfloat16] [--variants sum-zipf,wsum-zipf]
 *     [--batches 64,1024] [--threads 1] [--rounds 3] [--markdown]
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { machineFields } from "./machine.js";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const storages = option("storages", "float32,int8,float16,bfloat16").split(",");
const variants = option("variants", "sum-zipf,mean-zipf,wsum-zipf,sum-uniform").split(",");
const batches = option("batches", "64,1024");
const threads = option("threads", "1");
const rounds = Number(option("rounds", "3"));
const markdown = process.argv.includes("--markdown");
const lookupBench = path.join(path.dirname(fileURLToPath(import.meta.url)), "lookup-bench.js");

interface Line {
  variant: string;
  batch: number;
  threads: number;
  storage: string;
  tables_mb: number;
  ids_per_s: { median: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rates = new Map<string, number[]>();
const tablesMb = new Map<string, number>();
const key = (variant: string, batch: number, t: number, storage: string) =>
  `${variant}|${batch}|${t}|${storage}`;

for (const variant of variants) {
  for (let round = 0; round < rounds; round++) {
    // Rotated each round: no kind always runs first (on a fresh page cache) or last.
    const order = storages.map((_, i) => storages[(i + round) % storages.length]);
    for (const storage of order) {
      const child = spawnSync(
        process.execPath,
        [
          lookupBench,
          ...["--variants", variant, "--batches", batches, "--threads", threads, "--storage", storage],
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26 },
      );
      if (child.status !== 0) throw new Error(`lookup-bench ${variant} ${storage} failed (${child.status})`);
      for (const text of child.stdout.split("\n")) {
        if (!text.startsWith("{")) continue;
        process.stdout.write(text + "\n");
        const line = JSON.parse(text) as Line;
        const k = key(line.variant, line.batch, line.threads, line.storage);
        rates.set(k, [...(rates.get(k) ?? []), line.ids_per_s.median]);
        tablesMb.set(line.storage, line.tables_mb);
      }
    }
  }
}

const machine = machineFields("native");
const rows: string[] = [];
for (const variant of variants) {
  for (const batch of batches.split(",").map(Number)) {
    for (const t of threads.split(",").map(Number)) {
      const base = rates.get(key(variant, batch, t, "float32"));
      for (const storage of storages) {
        const all = rates.get(key(variant, batch, t, storage));
        if (all === undefined) continue;
        const ids = median(all);
        const ratio = base === undefined ? null : +(ids / median(base)).toFixed(3);
        console.log(
          JSON.stringify({
            bench: "storage-compare",
            ...machine,
            variant,
            batch,
            threads: t,
            storage,
            tables_mb: tablesMb.get(storage),
            rounds: all.length,
            ids_per_s_median: Math.round(ids),
            ids_per_s_rounds: all.map(Math.round),
            ratio_to_float32: ratio,
          }),
        );
        rows.push(
          `| ${variant} | ${batch} | ${t} | ${storage} | ${tablesMb.get(storage)} | ` +
            `${(ids / 1e6).toFixed(1)} (${all.map((x) => (x / 1e6).toFixed(1)).join(", ")}) | ${ratio ?? "—"} |`,
        );
      }
    }
  }
}
if (markdown) {
  console.log("\n| variant | batch | threads | storage | tables MB | M ids/s, median (rounds) | × float32 |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
}
