import { jobRows, rowValues, sliceJob, type KernelJob } from "./kernel-job.js";
import { dequantizeRows, rowBytes, STORAGE_CODE } from "./quantized-rows.js";
import { allocateTables, registerTableView, tableMemory } from "./table-memory.js";
import type { QuantizedStoredTable, StoredTable } from "./table-storage.js";
import { gatherRows, reduceBagsSegmentOrder, reduceBagsWeighted, scatterSequence } from "./reduce.js";
import { kernelChoice } from "./kernel-choice.js";
import { runNativeJob } from "./native-kernels.js";
import { runWasmJob } from "./wasm-kernels.js";

/**
 * Runs rows `[rowStart, rowEnd)` of a job (all by default) against a table, writing row `rowStart` at
 * `out[outOffset]` (`rowValues` values per row). The single place where kernels are chosen, on the
 * calling thread and in workers alike: the WebAssembly SIMD kernels when the table lives in a kernel
 * arena, else the JS reference kernels (same bits either way).
 */
export function runJob(
  job: KernelJob,
  table: Float32Array,
  dim: number,
  out: Float32Array,
  outOffset: number,
  rowStart = 0,
  rowEnd = jobRows(job),
): void {
  if (runNativeJob(job, table, dim, out, outOffset, rowStart, rowEnd)) return;
  const perRow = rowValues(job, dim);
  const fallback = (row: number): void => {
    runReference(sliceJob(job, row, row + 1), table, dim, out, outOffset + (row - rowStart) * perRow);
  };
  if (kernelChoice() !== "js" && runWasmJob(job, table, dim, out, outOffset, fallback, rowStart, rowEnd))
    return;
  const whole = rowStart === 0 && rowEnd === jobRows(job);
  runReference(whole ? job : sliceJob(job, rowStart, rowEnd), table, dim, out, outOffset);
}

/** The portable JS kernels (src/kernels/reduce.ts), TF's float32 order step by step. */
export function runReference(
  job: KernelJob,
  table: Float32Array,
  dim: number,
  out: Float32Array,
  outOffset: number,
): void {
  switch (job.kind) {
    case "gather":
      gatherRows(table, dim, job.ids, out, outOffset);
      return;
    case "bags":
      if (job.order === "segment")
        reduceBagsSegmentOrder(table, dim, job.batch, job.combiner, out, outOffset);
      else reduceBagsWeighted(table, dim, job.batch, job.combiner, out, outOffset);
      return;
    case "sequence":
      scatterSequence(table, dim, job.batch, job.sequenceLength, out, outOffset);
      return;
  }
}

/**
 * `runJob` on a stored table. Quantized rows: the WebAssembly kernels dequantize them in place where they
 * run (the table in an arena, dim a multiple of 4); otherwise the rows the job reads are dequantized (the
 * reference dequantization) into a compact float32 table, one row per id, and the job runs on it with its
 * ids renumbered: the same float32 kernels on the same values, so the same bits either way.
 */
export function runStoredJob(
  job: KernelJob,
  table: StoredTable,
  out: Float32Array,
  outOffset: number,
  rowStart = 0,
  rowEnd = jobRows(job),
): void {
  if (table.kind === "float32") {
    runJob(job, table.data, table.dim, out, outOffset, rowStart, rowEnd);
    return;
  }
  // The WebAssembly kernels dequantize in place (tables in an arena, dim a multiple of 4); a row too
  // large for their scratch region goes through the compact table.
  if (kernelChoice() !== "js") {
    const perRow = rowValues(job, table.dim);
    const fallback = (row: number): void =>
      runOnCompactTable(job, table, out, outOffset + (row - rowStart) * perRow, row, row + 1);
    const format = { kind: STORAGE_CODE[table.kind], stride: rowBytes(table.kind, table.dim) };
    if (runWasmJob(job, table.data, table.dim, out, outOffset, fallback, rowStart, rowEnd, format)) return;
  }
  runOnCompactTable(job, table, out, outOffset, rowStart, rowEnd);
}

/** Rows `[rowStart, rowEnd)` of a job on a quantized table, through a compact dequantized copy of its rows. */
function runOnCompactTable(
  job: KernelJob,
  table: QuantizedStoredTable,
  out: Float32Array,
  outOffset: number,
  rowStart: number,
  rowEnd: number,
): void {
  const part = rowStart === 0 && rowEnd === jobRows(job) ? job : sliceJob(job, rowStart, rowEnd);
  const ids = part.kind === "gather" ? part.ids : part.batch.ids;
  const dim = table.dim;
  const compact = compactScratch(ids.length * dim);
  dequantizeRows(table.kind, table.data, dim, ids, compact);
  const renumbered = ascending(ids.length);
  const onCompact: KernelJob =
    part.kind === "gather"
      ? { kind: "gather", ids: renumbered }
      : part.kind === "bags"
        ? { ...part, batch: { ...part.batch, ids: renumbered } }
        : { ...part, batch: { ...part.batch, ids: renumbered } };
  runJob(onCompact, compact, dim, out, outOffset);
}

let scratch: Float32Array | null = null;
let iota = new Int32Array(0);

/** This thread's compact-table scratch (grown by doubling), a view of `length` values. */
function compactScratch(length: number): Float32Array {
  if (scratch === null || scratch.length < length) {
    scratch = allocateTables([Math.max(length, 2 * (scratch?.length ?? 0), 1 << 16)])[0];
  }
  const view = scratch.subarray(0, length);
  const memory = tableMemory(scratch);
  if (memory !== undefined) registerTableView(view, memory);
  return view;
}

/** 0, 1, …, n − 1 (a shared prefix of one growing array). */
function ascending(n: number): Int32Array {
  if (iota.length < n) {
    iota = new Int32Array(Math.max(n, 2 * iota.length, 1024));
    for (let i = 0; i < iota.length; i++) iota[i] = i;
  }
  return iota.subarray(0, n);
}
