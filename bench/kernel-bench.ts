/**
 * The kernels alone, native vs WebAssembly (vs JS reference), on identical prepared inputs: the standard
 * workload's 26 tables (2.1 GiB, hashrow-v1, in kernel arenas) and id pool, one KernelJob per feature
 * and batch (the job `embeddingLookup` plans for RaggedTensor inputs: ragged/weighted order, or a
 * sequence), outputs preallocated. One thread; implementations alternate within each repeat, and the
 * median over repeats is printed as one JSON line per (variant, batch, impl):
 *
 *   node dist/bench/kernel-bench.js [--variants sum-zipf,wsum-zipf] [--batches 64,1024] [--impls native,wasm]
 *     [--repeats 7] [--repeat-ms 150]
 *
 * `native@v3` (`@v2`, `@v4`, `@neon`) runs the native kernels of that ISA level (selected before each of
 * its runs, so levels alternate in one process); `native` runs the level TPU_EMBEDDING_ISA chose. The
 * prefetch distance is tuned on the tables first, as the first lookup batch does (TPU_EMBEDDING_PREFETCH
 * overrides it). Every line names the CPU, ISA level, kernel family and prefetch distance.
 *
 * `--other-addon PATH` loads a second build of the addon (e.g. another branch's
 * build/Release/lookup_kernels.node) and adds it as impl `other` (also `other` in `--impls`), for A/B
 * runs of two builds in one process.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { KernelJob } from "../src/kernels/kernel-job.js";
import { jobIds, jobRows, rowValues } from "../src/kernels/kernel-job.js";
import { setKernelChoice } from "../src/kernels/kernel-choice.js";
import { runNativeJob, nativeKernelsAvailable } from "../src/kernels/native-kernels.js";
import { nativeAddon, tunePrefetch } from "../src/kernels/native-addon.js";
import { runReference } from "../src/kernels/run-job.js";
import { allocateTables } from "../src/kernels/table-memory.js";
import { runWasmJob } from "../src/kernels/wasm-kernels.js";
import { fillTable, loadInputs, loadWorkload } from "./standard-workload.js";
import { machineFields } from "./machine.js";
import { MODE } from "../src/kernels/batch-layout.js";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = path.resolve(option("bench-dir", path.resolve(repo, "..", "shared", "bench")));
const wl = loadWorkload(dir);
const variants = option("variants", "sum-zipf,mean-zipf,wsum-zipf,sum-uniform,seq-zipf").split(",");
const batches = option("batches", "64,1024").split(",").map(Number);
const impls = option("impls", "native,wasm").split(",");
const repeats = Number(option("repeats", "7"));
const repeatMs = Number(option("repeat-ms", "150"));
if (impls.some((i) => i.startsWith("native")) && !nativeKernelsAvailable())
  throw new Error("Native addon not built.");
const defaultIsa = nativeAddon()?.kernelIsa().active ?? null;
setKernelChoice("native");

const { features } = loadInputs(dir, wl);
const tables = allocateTables(wl.feature_table_rows.map((rows) => rows * wl.dim));
tables.forEach((t, f) => fillTable(t, f, wl.feature_table_rows[f], wl.dim));
tunePrefetch(
  tables,
  tables.map(() => wl.dim),
);

type Run = (job: KernelJob, table: Float32Array, out: Float32Array) => void;
const run: Record<string, Run> = {
  native: (job, table, out) => {
    if (!runNativeJob(job, table, wl.dim, out, 0)) throw new Error("native kernel refused a job");
  },
  wasm: (job, table, out) => {
    const fallback = () => {
      throw new Error("wasm kernel fell back");
    };
    if (!runWasmJob(job, table, wl.dim, out, 0, fallback)) throw new Error("wasm kernel did not run");
  },
  js: (job, table, out) => runReference(job, table, wl.dim, out, 0),
};
const otherPath = option("other-addon", "");
if (otherPath !== "") {
  type Bags = (...args: unknown[]) => boolean;
  const other = createRequire(import.meta.url)(path.resolve(otherPath)) as Record<string, Bags>;
  run.other = (job, table, out) => {
    if (job.kind !== "bags" && job.kind !== "sequence") throw new Error("other: bags and sequences only");
    const { rowSplits, ids, weights, positions } = job.batch;
    const rows = rowSplits.length - 1;
    const ok =
      job.kind === "sequence"
        ? other.sequence(table, wl.dim, rowSplits, ids, positions, 0, rows, job.sequenceLength, out, 0)
        : other.bagsWeighted(table, wl.dim, rowSplits, ids, weights, 0, rows, MODE[job.combiner], out, 0);
    if (!ok) throw new Error("other addon refused a job");
  };
}
/**
 * An impl's native setup: `native@v3/16` runs ISA level v3 with a prefetch distance of 16 ids (either part
 * optional: `native` runs the process's level and distance), selected before each of its runs.
 */
const setups = new Map<string, { level: string | null; prefetch: number | null }>();
const calibrated = nativeAddon()?.kernelIsa().prefetch ?? null;
for (const impl of impls) {
  const m = /^native(?:@(\w+))?(?:\/(\d+))?$/.exec(impl);
  if (m === null) continue;
  setups.set(impl, { level: m[1] ?? defaultIsa, prefetch: m[2] !== undefined ? Number(m[2]) : calibrated });
  if (m[1] !== undefined && !nativeAddon()!.selectIsa(m[1]))
    throw new Error(`This CPU does not run ${impl}.`);
  run[impl] = run.native;
}
/** Selects an impl's ISA level and prefetch distance (native impls only). */
function setUp(impl: string): void {
  const s = setups.get(impl);
  if (s === undefined) return;
  if (s.level !== null) nativeAddon()!.selectIsa(s.level);
  if (s.prefetch !== null) nativeAddon()!.prefetchDistance(s.prefetch);
}

for (const name of variants) {
  const variant = wl.variants.find((v) => v.name === name);
  if (variant === undefined) throw new Error(`Unknown variant ${name}.`);
  for (const B of batches) {
    // Every batch of the pool, one job per feature, prepared before timing.
    const pool: KernelJob[][] = [];
    for (let k = 0; k < wl.pool_examples / B; k++) {
      pool.push(
        features.map((input) => {
          const s0 = input.rowSplits[k * B];
          const s1 = input.rowSplits[(k + 1) * B];
          const rowSplits = input.rowSplits.slice(k * B, (k + 1) * B + 1).map((s) => s - s0);
          const ids = input.values[variant.dist].slice(s0, s1);
          if (variant.max_sequence_length) {
            // Positions beyond the sequence length are dropped when the batch is planned.
            const kept = new Int32Array(B + 1);
            const keptIds: number[] = [];
            for (let r = 0; r < B; r++) {
              const n = Math.min(rowSplits[r + 1] - rowSplits[r], variant.max_sequence_length);
              for (let j = 0; j < n; j++) keptIds.push(ids[rowSplits[r] + j]);
              kept[r + 1] = kept[r] + n;
            }
            const batch = { rowSplits: kept, ids: Int32Array.from(keptIds), weights: null, positions: null };
            return { kind: "sequence", sequenceLength: variant.max_sequence_length, batch } as KernelJob;
          }
          const weights = variant.weighted ? input.weights.slice(s0, s1) : null;
          const batch = { rowSplits, ids, weights, positions: null };
          return { kind: "bags", order: "weighted", combiner: variant.combiner ?? "sum", batch } as KernelJob;
        }),
      );
    }
    const outs = pool[0].map((job) => new Float32Array(jobRows(job) * rowValues(job, wl.dim)));
    const idsPerPass = pool.reduce((a, jobs) => a + jobs.reduce((b, j) => b + jobIds(j), 0), 0);
    const rates: Record<string, number[]> = Object.fromEntries(impls.map((i) => [i, []]));
    for (let rep = -1; rep < repeats; rep++) {
      for (const impl of rep % 2 === 0 ? impls : [...impls].reverse()) {
        setUp(impl);
        const t0 = performance.now();
        let ids = 0;
        let k = 0;
        while (performance.now() - t0 < (rep < 0 ? 50 : repeatMs) || k % pool.length !== 0) {
          const jobs = pool[k % pool.length];
          for (let f = 0; f < jobs.length; f++) run[impl](jobs[f], tables[f], outs[f]);
          k++;
        }
        ids = (k / pool.length) * idsPerPass;
        if (rep >= 0) rates[impl].push(ids / ((performance.now() - t0) / 1000) / 1e6);
      }
    }
    for (const impl of impls) {
      const sorted = [...rates[impl]].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      setUp(impl);
      const native = setups.has(impl);
      const machine = machineFields(native ? "native" : impl);
      console.log(
        JSON.stringify({
          ...machine,
          ...(native ? {} : { isa: null, prefetch: null, prefetch_source: null }),
          bench: "kernel-alone",
          impl,
          variant: name,
          B,
          threads: 1,
          m_ids_per_s: +median.toFixed(2),
          min: +sorted[0].toFixed(2),
          max: +sorted[sorted.length - 1].toFixed(2),
          repeats,
        }),
      );
    }
  }
}
