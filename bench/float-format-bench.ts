/**
 * Speed of the JSON answer's float formatting (`npm run bench:format`): float32 values → TF Serving's text
 * (src/serving/http/json-floats.ts) per writer (native, WebAssembly, JS reference), on a batch-64 answer of
 * the standard workload (26 features × 64 examples × dim 64 = 106,496 floats, each the mean of a Zipf bag
 * of hashInitializer values, as bench:server's model answers), then whole JSON answers (the chunks
 * jsonPredictChunks yields, as the server sends them) at batch 1 and 64 with the writer the server picks. One JSON line each, the CPU
 * model named; floats/s from wall time (median of the repeats) and from this process's CPU time (less
 * sensitive to other load on a shared machine).
 */
import { performance } from "node:perf_hooks";
import type { FeatureOutput } from "../src/serving/batching/feature-input.js";
import {
  jsFloats,
  jsonFloats,
  jsonRowsCapacity,
  nativeJsonFloats,
  wasmJsonFloats,
  type JsonFloatWriter,
} from "../src/serving/http/json-floats.js";
import { jsonPredictChunks } from "../src/serving/http/json-response.js";
import { cpuName } from "./cpu-name.js";
import { arg, bagLength, DIM, hashInitializer, STANDARD_ROWS } from "./workload.js";

const REPEATS = Number(arg("repeats", "7"));
const REPEAT_MS = Number(arg("repeat-ms", "300"));
const CPU = cpuName();
const FEATURES = STANDARD_ROWS.length;

/** A feature's [batch, 64] mean-combined output: bag means of the table's values. */
function featureOutput(f: number, batch: number): FeatureOutput {
  const table = hashInitializer(f)([4096, DIM]);
  const data = new Float32Array(batch * DIM);
  for (let b = 0; b < batch; b++) {
    const n = bagLength();
    for (let k = 0; k < n; k++) {
      const row = (Math.imul(b * 31 + k, 2654435761) >>> 0) % 4096;
      for (let d = 0; d < DIM; d++) data[b * DIM + d] += table[row * DIM + d];
    }
    for (let d = 0; d < DIM; d++) data[b * DIM + d] = Math.fround(data[b * DIM + d] / n);
  }
  return { shape: [batch, DIM], data };
}

function outputs(batch: number): Map<string, FeatureOutput> {
  return new Map(
    Array.from({ length: FEATURES }, (_, f) => [`f${String(f).padStart(2, "0")}`, featureOutput(f, batch)]),
  );
}

/** Runs `work` (handling `items` values) in repeats of ≥ REPEAT_MS; median rates by wall and CPU time. */
function measure(items: number, work: () => void): { per_s: number; cpu_per_s: number; ms: number } {
  for (let i = 0; i < 3; i++) work();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    let calls = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    do {
      work();
      calls++;
    } while (performance.now() - t0 < REPEAT_MS);
    const ms = performance.now() - t0;
    const used = process.cpuUsage(c0);
    wall.push(ms / calls);
    cpu.push((used.user + used.system) / 1000 / calls);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ms = median(wall);
  return { per_s: Math.round(items / (ms / 1000)), cpu_per_s: Math.round(items / (median(cpu) / 1000)), ms };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

const big = outputs(64);
const flat = new Float32Array(FEATURES * 64 * DIM);
[...big.values()].forEach((o, f) => flat.set(o.data, f * 64 * DIM));
const out = Buffer.allocUnsafe(jsonRowsCapacity(FEATURES * 64, DIM));
const writers = [nativeJsonFloats(), wasmJsonFloats(), jsFloats].filter(
  (w): w is JsonFloatWriter => w !== null,
);
let text = 0;
for (const writer of writers) {
  const { per_s, cpu_per_s, ms } = measure(flat.length, () => {
    text = writer.write(flat, 0, FEATURES * 64, DIM, out, 0);
  });
  console.log(
    JSON.stringify({
      bench: "float-format",
      writer: writer.kind,
      floats: flat.length,
      text_bytes: text,
      ms_per_answer: round(ms),
      floats_per_s: per_s,
      floats_per_s_cpu_time: cpu_per_s,
      cpu: CPU,
    }),
  );
}
for (const batch of [1, 64]) {
  const answer = batch === 64 ? big : outputs(batch);
  for (const format of ["columnar", "row"] as const) {
    let bytes = 0;
    const { per_s, cpu_per_s, ms } = measure(FEATURES * batch * DIM, () => {
      bytes = 0;
      for (const chunk of jsonPredictChunks(format, answer, false)) bytes += chunk.byteLength;
    });
    console.log(
      JSON.stringify({
        bench: "float-format",
        what: "JSON answer (jsonPredictChunks, as the server sends it)",
        writer: jsonFloats().kind,
        format,
        batch,
        answer_bytes: bytes,
        ms_per_answer: round(ms),
        floats_per_s: per_s,
        floats_per_s_cpu_time: cpu_per_s,
        cpu: CPU,
      }),
    );
  }
}
