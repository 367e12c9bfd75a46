import { readFileSync } from "node:fs";
import type { KernelJob } from "./kernel-job.js";
import { jobRows, rowValues } from "./kernel-job.js";
import { SCRATCH_BYTES, SCRATCH_PAGES, tableMemory } from "./table-memory.js";
import { touchAhead } from "../flags.js";
import { InternalError } from "../errors.js";

/** The exports of assembly/lookup-kernels.ts (pointers are byte offsets into the arena). */
interface KernelExports {
  bagsSegment(
    table: number,
    dim: number,
    splits: number,
    ids: number,
    rows: number,
    mode: number,
    out: number,
    touchAhead: number,
  ): void;
  bagsWeighted(
    table: number,
    dim: number,
    splits: number,
    ids: number,
    weights: number,
    rows: number,
    mode: number,
    out: number,
    touchAhead: number,
  ): void;
  sequence(
    table: number,
    dim: number,
    splits: number,
    ids: number,
    positions: number,
    rows: number,
    sequenceLength: number,
    out: number,
    touchAhead: number,
  ): void;
  gather(table: number, dim: number, ids: number, count: number, out: number, touchAhead: number): void;
  // Quantized tables (kind: quantized-rows.ts STORAGE_CODE; stride: bytes per stored row).
  bagsSegmentQ(
    kind: number,
    table: number,
    dim: number,
    stride: number,
    splits: number,
    ids: number,
    rows: number,
    mode: number,
    out: number,
    touchAhead: number,
  ): void;
  bagsWeightedQ(
    kind: number,
    table: number,
    dim: number,
    stride: number,
    splits: number,
    ids: number,
    weights: number,
    rows: number,
    mode: number,
    out: number,
    touchAhead: number,
  ): void;
  sequenceQ(
    kind: number,
    table: number,
    dim: number,
    stride: number,
    splits: number,
    ids: number,
    positions: number,
    rows: number,
    sequenceLength: number,
    out: number,
    touchAhead: number,
  ): void;
  gatherQ(
    kind: number,
    table: number,
    dim: number,
    stride: number,
    ids: number,
    count: number,
    out: number,
    touchAhead: number,
  ): void;
}

/** A quantized table's storage kind (quantized-rows.ts STORAGE_CODE) and bytes per row, for the kernels. */
export interface WasmRowFormat {
  readonly kind: number;
  readonly stride: number;
}

/** One thread's kernels on one arena, with the thread's own scratch region for inputs and outputs. */
interface ArenaKernels {
  readonly exports: KernelExports;
  readonly base: number;
  readonly i32: Int32Array;
  readonly f32: Float32Array;
}

const MODE = { sum: 0, mean: 1, sqrtn: 2 } as const;

// `touchAhead` (src/flags.ts): ids ahead of the current bag whose rows are touched to start their cache
// misses early. Off by default: it measured slower (bench/results/2026-11-30-fast-kernels.md).
export { setTouchAhead } from "../flags.js";

let module: WebAssembly.Module | null | undefined;

/** The compiled kernels, or `null` when this runtime lacks WebAssembly SIMD or threads (JS fallback). */
function kernelModule(): WebAssembly.Module | null {
  if (module !== undefined) return module;
  try {
    const bytes = readFileSync(new URL("./lookup-kernels.wasm", import.meta.url));
    module = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    module = null;
  }
  return module;
}

/** Whether the WebAssembly kernels are available in this process. */
export function wasmKernelsAvailable(): boolean {
  return kernelModule() !== null;
}

const perArena = new WeakMap<WebAssembly.Memory, ArenaKernels | null>();

function kernelsFor(memory: WebAssembly.Memory): ArenaKernels | null {
  let k = perArena.get(memory);
  if (k !== undefined) return k;
  const compiled = kernelModule();
  k = null;
  if (compiled !== null) {
    try {
      // Growing a shared memory is atomic: the old size is this thread's private scratch region.
      const base = memory.grow(SCRATCH_PAGES) * 65536;
      const instance = new WebAssembly.Instance(compiled, { env: { memory, abort } });
      k = {
        exports: instance.exports as unknown as KernelExports,
        base,
        i32: new Int32Array(memory.buffer, base, SCRATCH_BYTES / 4),
        f32: new Float32Array(memory.buffer, base, SCRATCH_BYTES / 4),
      };
    } catch {
      k = null; // the arena is full: this thread uses the JS kernels on it
    }
  }
  perArena.set(memory, k);
  return k;
}

function abort(): never {
  throw new InternalError("lookup kernel aborted");
}

/**
 * Runs rows `[rowStart, rowEnd)` of `job` (all by default) with the WebAssembly kernels when the table
 * lives in an arena and `dim` is a multiple of 4, writing row `rowStart` at `outOffset`; returns false
 * (nothing written) otherwise, so the caller falls back to the JS kernels. Rows are processed in chunks
 * whose inputs and outputs fit the thread's scratch region; a row too large for it alone is left to
 * `fallback(r)`.
 */
export function runWasmJob(
  job: KernelJob,
  table: Float32Array | Uint8Array,
  dim: number,
  out: Float32Array,
  outOffset: number,
  fallback: (row: number) => void,
  rowStart = 0,
  rowEnd = jobRows(job),
  /** Quantized rows (`table` their bytes); float32 rows when absent. */
  quantized: WasmRowFormat | null = null,
): boolean {
  if ((dim & 3) !== 0 || (quantized === null && (table.byteOffset & 15) !== 0)) return false;
  const memory = tableMemory(table);
  if (memory === undefined) return false;
  const k = kernelsFor(memory);
  if (k === null) return false;
  const rows = rowEnd;
  const perRow = rowValues(job, dim);
  const outBase = outOffset - rowStart * perRow;
  const capacity = SCRATCH_BYTES / 4; // int32/float32 slots
  if (job.kind === "gather") {
    const chunk = Math.max(1, Math.floor(capacity / (perRow + 1)));
    for (let r0 = rowStart; r0 < rows; r0 += chunk) {
      const n = Math.min(chunk, rows - r0);
      k.i32.set(job.ids.subarray(r0, r0 + n), 0);
      const outAt = n;
      if (quantized === null)
        k.exports.gather(table.byteOffset, dim, k.base, n, k.base + outAt * 4, touchAhead);
      else {
        const { kind, stride } = quantized;
        k.exports.gatherQ(kind, table.byteOffset, dim, stride, k.base, n, k.base + outAt * 4, touchAhead);
      }
      out.set(k.f32.subarray(outAt, outAt + n * perRow), outBase + r0 * perRow);
    }
    return true;
  }
  const { rowSplits, ids, weights, positions } = job.batch;
  const perId = 1 + (weights !== null ? 1 : 0) + (positions !== null ? 1 : 0);
  const whole =
    2 + rows - rowStart + perId * (rowSplits[rows] - rowSplits[rowStart]) + (rows - rowStart) * perRow <=
    capacity;
  let r0 = rowStart;
  while (r0 < rows) {
    // Grow the chunk while splits + ids (+ weights, positions) + outputs fit the scratch region.
    let r1 = whole ? rows : r0;
    let used = 1;
    while (r1 < rows) {
      const next = used + 1 + perId * (rowSplits[r1 + 1] - rowSplits[r1]) + perRow;
      if (next > capacity) break;
      used = next;
      r1++;
    }
    if (r1 === r0) {
      fallback(r0);
      r0++;
      continue;
    }
    const n = r1 - r0;
    const s0 = rowSplits[r0];
    const count = rowSplits[r1] - s0;
    const splitsAt = 0;
    if (s0 === 0 && n === rowSplits.length - 1) k.i32.set(rowSplits, splitsAt);
    else for (let r = 0; r <= n; r++) k.i32[splitsAt + r] = rowSplits[r0 + r] - s0;
    const idsAt = n + 1;
    k.i32.set(count === ids.length ? ids : ids.subarray(s0, s0 + count), idsAt);
    let next = idsAt + count;
    let extraAt = 0;
    if (weights !== null) {
      extraAt = next;
      k.f32.set(count === weights.length ? weights : weights.subarray(s0, s0 + count), extraAt);
      next += count;
    } else if (positions !== null) {
      extraAt = next;
      k.i32.set(count === positions.length ? positions : positions.subarray(s0, s0 + count), extraAt);
      next += count;
    }
    const outAt = next;
    const b = k.base;
    if (quantized !== null) {
      const { kind, stride } = quantized;
      const at = table.byteOffset;
      if (job.kind === "sequence") {
        const positionsAt = positions === null ? 0 : b + extraAt * 4;
        const length = job.sequenceLength;
        k.exports.sequenceQ(
          kind,
          at,
          dim,
          stride,
          b,
          b + idsAt * 4,
          positionsAt,
          n,
          length,
          b + outAt * 4,
          touchAhead,
        );
      } else if (job.order === "segment") {
        const mode = MODE[job.combiner];
        k.exports.bagsSegmentQ(kind, at, dim, stride, b, b + idsAt * 4, n, mode, b + outAt * 4, touchAhead);
      } else {
        const weightsAt = weights === null ? 0 : b + extraAt * 4;
        const mode = MODE[job.combiner];
        k.exports.bagsWeightedQ(
          kind,
          at,
          dim,
          stride,
          b,
          b + idsAt * 4,
          weightsAt,
          n,
          mode,
          b + outAt * 4,
          touchAhead,
        );
      }
    } else if (job.kind === "sequence") {
      k.exports.sequence(
        table.byteOffset,
        dim,
        b + splitsAt * 4,
        b + idsAt * 4,
        positions === null ? 0 : b + extraAt * 4,
        n,
        job.sequenceLength,
        b + outAt * 4,
        touchAhead,
      );
    } else if (job.order === "segment") {
      const mode = MODE[job.combiner];
      k.exports.bagsSegment(
        table.byteOffset,
        dim,
        b + splitsAt * 4,
        b + idsAt * 4,
        n,
        mode,
        b + outAt * 4,
        touchAhead,
      );
    } else {
      k.exports.bagsWeighted(
        table.byteOffset,
        dim,
        b + splitsAt * 4,
        b + idsAt * 4,
        weights === null ? 0 : b + extraAt * 4,
        n,
        MODE[job.combiner],
        b + outAt * 4,
        touchAhead,
      );
    }
    out.set(k.f32.subarray(outAt, outAt + n * perRow), outBase + r0 * perRow);
    r0 = r1;
  }
  return true;
}
