/**
 * A lookup of few features shared by threads: one feature (a 1M-row dim-64 table, Zipf-like ids, bags of
 * 1..16), batch 4096, through the public API with `createOutputs`, on `--threads` threads. Compares the
 * output rows per task of shared lookups (`setShareTaskRows`, src/flags.ts; 0: whole features), the values
 * interleaved over `--rounds` rounds in one process; one JSON line per value and round:
 *
 *   node dist/bench/share-tasks-bench.js [--threads 2] [--sequence 0|20] [--chunks 0,64] [--rounds 4]
 *     [--batch 4096] [--repeat-ms 400]
 *
 * With whole features as tasks, a one-feature lookup runs on one thread whatever `threads` says.
 */
import { FeatureConfig, RaggedTensor, TableConfig, TPUEmbeddingForServing } from "../src/index.js";
import { setShareTaskRows } from "../src/flags.js";
import { activeKernelFamily } from "../src/kernels/kernel-family.js";
import { machineFields } from "./machine.js";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const threads = Number(option("threads", "2"));
const sequence = Number(option("sequence", "0"));
const chunks = option("chunks", "0,64").split(",").map(Number);
const rounds = Number(option("rounds", "4"));
const batch = Number(option("batch", "4096"));
const repeatMs = Number(option("repeat-ms", "400"));
const ROWS = 1_000_000;

const table = new TableConfig({ vocabularySize: ROWS, dim: 64, name: "t", combiner: "sum" });
const embedding = new TPUEmbeddingForServing({
  featureConfig: { f: new FeatureConfig({ table, maxSequenceLength: sequence }) },
  seed: 1,
  threads,
});
embedding.build();

// 16 batches of bags of 1..16 ids, skewed towards low ids (u^3): a fixed LCG, so every run is the same.
let state = 12345;
const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
const batches = Array.from({ length: 16 }, () => {
  const lengths = Array.from({ length: batch }, () => 1 + Math.floor(next() * 16));
  const ids = new Int32Array(lengths.reduce((a, b) => a + b, 0)).map(() => Math.floor(next() ** 3 * ROWS));
  return RaggedTensor.fromRowLengths(ids, lengths);
});
const into = embedding.createOutputs({ f: batches[0] });

for (let round = 0; round < rounds; round++) {
  for (const chunk of chunks) {
    setShareTaskRows(chunk);
    let ids = 0;
    let k = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < repeatMs) {
      const b = batches[k++ % batches.length];
      embedding.embeddingLookup({ f: b }, undefined, { into: into as never });
      ids += b.values.length;
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      JSON.stringify({
        bench: "share-tasks",
        features: 1,
        batch,
        sequence,
        threads,
        share_chunk_rows: chunk,
        round,
        ids_per_s: ids / seconds,
        lookups: k,
        ...machineFields(activeKernelFamily()),
      }),
    );
  }
}
setShareTaskRows(64);
embedding.dispose();
