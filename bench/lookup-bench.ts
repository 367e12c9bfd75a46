/**
 * The standard lookup benchmark (../shared/bench) through the public API: 26 tables (2.1 GiB, hashrow-v1
 * values), the shared pool's ids (read from `data/` or regenerated and checked against
 * gen/checksums.json), RaggedTensor inputs per feature, `TPUEmbeddingForServing.embeddingLookup` per
 * batch, timed with the shared protocol (js/common.mjs `benchConfig`, reused as is) and printed in its
 * JSON-lines schema, so it runs beside the peers:
 *
 *   EXTRA_BENCH="node /path/to/dist/bench/lookup-bench.js" bash /tmp/peer-bench/run_peers.sh --only "c torch"
 *   npm run bench -- --variants sum-zipf --batches 1024 --threads 1,2 [--repeat-ms 50] [--kernels native|wasm|js]
 *     [--touch N (ids ahead whose rows are touched)] [--impl NAME (label of the lines)]
 *     [--outputs into|fresh] [--inputs ragged|keyed] [--storage float32|float16|bfloat16|int8]
 *     [--prefetch-ab 8,16,32 | --chunk-ab 0,64 [--rounds 3]]
 *
 * `--prefetch-ab` measures each batch size once per native prefetch distance, the distances interleaved
 * over `--rounds` rounds in one process (the same tables, inputs and warm caches; `prefetch_source: "ab"`,
 * `round` in each line), to compare distances on a host whose speed drifts between processes.
 * `--chunk-ab` does the same for the output rows per task of lookups shared by threads (0: whole
 * features; lines carry `share_chunk_rows`).
 *
 * `--outputs into` (the default) passes caller-owned outputs (`createOutputs`, once per batch size) to every
 * lookup, as a serving loop would and as the C reference does; `fresh` allocates new outputs per lookup
 * (lines labelled `…-fresh`). `--inputs keyed` passes each batch as one KeyedJaggedTensor (TorchRec's
 * layout: three flat arrays for all 26 features) instead of 26 RaggedTensors (lines labelled `…-kjt`).
 *
 * `--storage` stores every table as that kind (`tableStorage`; lines labelled `…-int8` etc. and carrying
 * `storage`); `tables_mb` is the tables' stored bytes, `arena_mb` (float32) the memory holding them
 * (with the threads' scratch).
 *
 * `threads` is an embedding option, so every (variant, threads) runs in its own child process that
 * builds the tables once (peak RSS stays one set of tables, like each peer process).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  FeatureConfig,
  KeyedJaggedTensor,
  RaggedTensor,
  TableConfig,
  TPUEmbeddingForServing,
  type DenseTensor,
} from "../src/index.js";
import { setTouchAhead, wasmKernelsAvailable } from "../src/kernels/wasm-kernels.js";
import { tableMemory } from "../src/kernels/table-memory.js";
import { isStorageKind, STORAGE_KINDS, type StorageKind } from "../src/kernels/quantized-rows.js";
import { kernelChoice, KERNELS_ENV, type KernelChoice } from "../src/kernels/kernel-choice.js";
import { nativeKernelsAvailable } from "../src/kernels/native-kernels.js";
import { nativeAddon } from "../src/kernels/native-addon.js";
import { setShareTaskRows } from "../src/flags.js";
import {
  fillTable,
  loadInputs,
  loadWorkload,
  type FeatureInputs,
  type Workload,
} from "./standard-workload.js";
import { stealMs } from "./steal-time.js";
import { machineFields } from "./machine.js";
import { activeKernelFamily } from "../src/kernels/kernel-family.js";

/**
 * Batches of one example cycle over the first 1024 of the pool, as the protocol lets peers that prepare
 * per-batch tensors do (PyTorch's peer does the same): the whole pool is 16,384 requests of 26 tensors
 * each, ~280 MB of objects whose old-space scavenges then took 2-8 ms instead of 0.2-0.5.
 */
const B1_BATCHES = 1024;

/** What actually runs for a kernel choice on this machine (each family falls back to the next). */
function kernelLabel(kernels: KernelChoice): string {
  if (kernels === "native" && nativeKernelsAvailable())
    return "native N-API (WebAssembly SIMD for jobs under 64 ids)";
  if (kernels !== "js" && wasmKernelsAvailable()) return "WebAssembly SIMD";
  return "JS reference";
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

/** The shared bench folder: the working directory when run by run_peers.sh, else ../shared/bench. */
function benchDir(): string {
  const given = option("bench-dir");
  if (given !== undefined) return path.resolve(given);
  if (existsSync(path.join(process.cwd(), "workload.json"))) return process.cwd();
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  return path.resolve(repo, "..", "shared", "bench");
}

const dir = benchDir();
const wl = loadWorkload(dir);
const list = (name: string, all: readonly (string | number)[]): string[] =>
  (option(name) ?? all.join(",")).split(",");
const variants = list(
  "variants",
  wl.variants.map((v) => v.name),
);
const batches = list("batches", wl.batch_sizes).map(Number);
const threadCounts = list("threads", wl.threads).map(Number);

if (!process.argv.includes("--child")) {
  // One child per (variant, threads); their JSON lines go to our stdout.
  const script = fileURLToPath(import.meta.url);
  const passThrough = process.argv.slice(2).filter((a, i, all) => {
    const flag = (n: string) => a === `--${n}` || all[i - 1] === `--${n}`;
    return !flag("variants") && !flag("threads") && !flag("bench-dir");
  });
  for (const variant of variants) {
    for (const threads of threadCounts) {
      const child = spawnSync(
        process.execPath,
        [
          // gc(): the garbage of preparing a batch size's inputs is collected before its timing starts.
          "--expose-gc",
          script,
          "--child",
          "--bench-dir",
          dir,
          "--variants",
          variant,
          "--threads",
          String(threads),
          ...passThrough,
        ],
        { stdio: ["ignore", "inherit", "inherit"] },
      );
      if (child.status !== 0) process.exitCode = 1;
    }
  }
} else {
  await runChild();
}

interface Common {
  benchConfig(config: Record<string, unknown>): Record<string, unknown>;
  sumsF32(arrays: Float32Array[]): [number, number];
  anonHugeMb(): number;
}

async function runChild(): Promise<void> {
  const common = (await import(pathToFileURL(path.join(dir, "js", "common.mjs")).href)) as Common;
  const variant = wl.variants.find((v) => v.name === variants[0]);
  if (variant === undefined) throw new Error(`Unknown variant ${variants[0]}.`);
  const threads = threadCounts[0];
  // --kernels native|wasm|js sets TPU_EMBEDDING_KERNELS, which the lookup worker threads inherit.
  const forced = option("kernels");
  if (forced !== undefined) process.env[KERNELS_ENV] = forced;
  const kernels = kernelChoice();
  const touch = option("touch");
  if (touch !== undefined) setTouchAhead(Number(touch));
  const repeatMs = Number(option("repeat-ms") ?? wl.timing.repeat_ms);
  const outputs = option("outputs") ?? "into";
  if (outputs !== "into" && outputs !== "fresh") throw new Error(`--outputs must be into or fresh.`);
  const storage = option("storage") ?? "float32";
  if (!isStorageKind(storage)) throw new Error(`--storage must be one of ${STORAGE_KINDS.join(", ")}.`);
  const inputForm = option("inputs") ?? "ragged";
  if (inputForm !== "ragged" && inputForm !== "keyed") throw new Error(`--inputs must be ragged or keyed.`);
  const abDistances = option("prefetch-ab")?.split(",").map(Number) ?? null;
  const abChunks = option("chunk-ab")?.split(",").map(Number) ?? null;
  if (abDistances !== null && abChunks !== null) throw new Error("--prefetch-ab or --chunk-ab, not both.");
  const abValues = abDistances ?? abChunks;
  const rounds = Number(option("rounds") ?? "3");
  const native = nativeAddon();
  if (abDistances !== null && (native === null || kernels !== "native"))
    throw new Error("--prefetch-ab needs the native kernels.");

  const t0 = performance.now();
  const { features: inputs, source } = loadInputs(dir, wl);
  const t1 = performance.now();
  const embedding = buildEmbedding(
    wl,
    variant.combiner ?? "sum",
    variant.max_sequence_length ?? 0,
    threads,
    storage,
  );
  const t2 = performance.now();
  process.stderr.write(
    `[lookup-bench] ${variant.name} threads ${threads}: inputs ${source} in ${Math.round(t1 - t0)} ms; ` +
      `tables built in ${Math.round(t2 - t1)} ms\n`,
  );

  // What the tables cost: their stored bytes, and the arenas holding them (64-byte aligned, plus the
  // threads' scratch).
  const tablesMb = +(embedding.tableBytes / 2 ** 20).toFixed(1);
  const arenas = new Set(
    embedding.tables
      .filter((t) => embedding.tableStorage.get(t) === "float32")
      .map((t) => tableMemory(embedding.embeddingTables.get(t)!.data)),
  );
  const arenaMb = () =>
    storage !== "float32"
      ? null
      : +([...arenas].reduce((a, m) => a + (m === undefined ? 0 : m.buffer.byteLength), 0) / 2 ** 20).toFixed(
          1,
        );
  for (const B of batches) {
    const prepared = prepareBatches(inputs, variant.dist, variant.weighted, B, inputForm === "keyed");
    const batchIds = prepared.map((p) => p.ids);
    // Every batch of a size has the same output shapes, so one set of outputs serves them all.
    const into =
      outputs === "into"
        ? embedding.createOutputs(prepared[0].features as Inputs, prepared[0].weights)
        : undefined;
    // Preparing the inputs is not timed (the protocol's rule), nor is collecting its garbage: without this
    // the collections it makes due (one major GC of the grown heap: 3-55 ms) fell into the first repeats.
    (globalThis as { gc?: () => void }).gc?.();
    const label =
      (kernels === "native" ? "tpu-embedding" : `tpu-embedding-${kernels}`) +
      (inputForm === "keyed" ? "-kjt" : "") +
      (outputs === "fresh" ? "-fresh" : "") +
      (storage === "float32" ? "" : `-${storage}`);
    // One line per value and round with --prefetch-ab or --chunk-ab (the values interleaved), else one line.
    const trials = abValues === null ? [null] : Array.from({ length: rounds }, () => abValues).flat();
    for (let trial = 0; trial < trials.length; trial++) {
      const value = trials[trial];
      if (value !== null && abDistances !== null) native!.prefetchDistance(value);
      if (value !== null && abChunks !== null) setShareTaskRows(value);
      const [steal0, wall0] = [stealMs(), performance.now()];
      const line = common.benchConfig({
        impl: option("impl") ?? label,
        variant,
        B,
        threads,
        batchIds,
        runBatch: (k: number) => {
          const p = prepared[k];
          return embedding.embeddingLookup(p.features as Inputs, p.weights, { into });
        },
        sums: (out: Record<string, DenseTensor>) =>
          common.sumsF32(Object.keys(out).map((k) => out[k].data as Float32Array)),
        timing: wl.timing,
        repeatMs,
        dim: wl.dim,
        extra: {
          note:
            `public API embeddingLookup, ${inputForm === "keyed" ? "one KeyedJaggedTensor per batch" : "RaggedTensor inputs"}, ` +
            `${kernelLabel(kernels)} kernels, ` +
            (outputs === "into" ? "caller-owned outputs (createOutputs, reused)" : "fresh outputs per call") +
            (prepared.length < wl.pool_examples / B
              ? `, cycles over the pool's first ${prepared.length} batches`
              : "") +
            (touch !== undefined ? `, touch ${touch}` : ""),
          pages: `${common.anonHugeMb()} MB AnonHugePages`,
        },
      });
      const [steal1, wall1] = [stealMs(), performance.now()];
      // The VM's steal time during this batch size's warm-up and repeats (see steal-time.ts).
      const steal = steal0 === null || steal1 === null ? {} : { steal_ms: steal1 - steal0 };
      // The machine: CPU, ISA level, kernel family and prefetch distance (tuned when the tables were built).
      const machine = machineFields(activeKernelFamily());
      console.log(
        JSON.stringify({
          ...line,
          ...machine,
          storage,
          tables_mb: tablesMb,
          arena_mb: arenaMb(),
          ...steal,
          measured_ms: Math.round(wall1 - wall0),
          ...(value === null
            ? {}
            : abDistances !== null
              ? { prefetch_source: "ab", round: Math.floor(trial / abDistances.length) }
              : { share_chunk_rows: value, round: Math.floor(trial / abChunks!.length) }),
        }),
      );
    }
  }
  embedding.dispose();
}

function buildEmbedding(
  wl: Workload,
  combiner: "sum" | "mean",
  sequence: number,
  threads: number,
  tableStorage: StorageKind,
) {
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
    featureConfig[`f${String(t).padStart(2, "0")}`] = new FeatureConfig({
      table,
      maxSequenceLength: sequence,
    });
  });
  const embedding = new TPUEmbeddingForServing({ featureConfig, optimizer: null, threads, tableStorage });
  embedding.build();
  return embedding;
}

type Inputs = Record<string, RaggedTensor>;

/** The pool's batches (at B=1 its first B1_BATCHES) as the API's inputs, prepared before timing. */
function prepareBatches(
  inputs: FeatureInputs[],
  dist: "zipf" | "uniform",
  weighted: boolean,
  B: number,
  keyed: boolean,
) {
  const count = B === 1 ? Math.min(B1_BATCHES, wl.pool_examples) : wl.pool_examples / B;
  const out: {
    features: Inputs | KeyedJaggedTensor;
    weights: Inputs | undefined;
    ids: number;
  }[] = [];
  // One frozen key list shared by every batch (a KeyedJaggedTensor keeps a frozen list as is).
  const names = Object.freeze(inputs.map((_, f) => `f${String(f).padStart(2, "0")}`));
  for (let k = 0; k < count; k++) {
    const features: Inputs = {};
    const weights: Inputs = {};
    let ids = 0;
    inputs.forEach((input, f) => {
      const s0 = input.rowSplits[k * B];
      const s1 = input.rowSplits[(k + 1) * B];
      const splits = input.rowSplits.slice(k * B, (k + 1) * B + 1);
      for (let i = 0; i < splits.length; i++) splits[i] -= s0;
      features[names[f]] = RaggedTensor.fromRowSplits(input.values[dist].subarray(s0, s1), splits);
      if (weighted) weights[names[f]] = RaggedTensor.fromRowSplits(input.weights.subarray(s0, s1), splits);
      ids += s1 - s0;
    });
    if (!keyed) {
      out.push({ features, weights: weighted ? weights : undefined, ids });
      continue;
    }
    // Key-major: feature 0's ids for the batch's examples, then feature 1's, …
    const values = new Int32Array(ids);
    const kjtWeights = weighted ? new Float32Array(ids) : null;
    const lengths = new Int32Array(inputs.length * B);
    let at = 0;
    names.forEach((name, f) => {
      const ragged = features[name];
      values.set(ragged.values as Int32Array, at);
      kjtWeights?.set(weights[name].values as Float32Array, at);
      at += ragged.values.length;
      for (let b = 0; b < B; b++) lengths[f * B + b] = ragged.rowSplits[b + 1] - ragged.rowSplits[b];
    });
    const kjt = new KeyedJaggedTensor({ keys: names, values, lengths, weights: kjtWeights });
    out.push({ features: kjt, weights: undefined, ids });
  }
  return out;
}
