/**
 * Table memory the fast kernels can read: tables are packed into shared WebAssembly memories ("arenas",
 * at most 4 GiB each, as wasm32 addresses them) and handed out as Float32Array views, so the checkpoint
 * reader, training and the JS fallback kernels all use the very bytes the WebAssembly kernels gather from,
 * and worker threads map the same memories without copies. Each table costs its raw bytes rounded up to
 * 64 (a cache line); every thread that runs kernels on an arena adds one scratch region (SCRATCH_BYTES).
 */

import { nativeAddon } from "./native-addon.js";
import { hugePagesEnabled } from "../flags.js";
import { FailedPreconditionError } from "../errors.js";

const PAGE = 65536;
/** wasm32's limit: 65536 pages of 64 KiB. */
const MAX_PAGES = 65536;
/** Pages kept free in every arena for the threads' scratch regions. */
export const SCRATCH_PAGES = 128;
export const SCRATCH_BYTES = SCRATCH_PAGES * PAGE;
const RESERVED_PAGES = 16 * SCRATCH_PAGES;
const TABLE_ALIGN = 64;

const memoryOfTable = new WeakMap<Float32Array | Uint8Array, WebAssembly.Memory>();

/** The arena a table view lives in, or `undefined` for other arrays (JS kernels only). */
export function tableMemory(table: Float32Array | Uint8Array): WebAssembly.Memory | undefined {
  return memoryOfTable.get(table);
}

/** Records that `table` is a view of `memory` (workers re-create views of memories they receive). */
export function registerTableView(table: Float32Array | Uint8Array, memory: WebAssembly.Memory): void {
  memoryOfTable.set(table, memory);
}

/** Where a table lives, in a form that can be posted to a worker. */
export interface TableLocation {
  readonly memory: WebAssembly.Memory | null;
  /** Shared memory of a table outside any arena (too large for one), else `null`. */
  readonly buffer: SharedArrayBuffer | null;
  readonly byteOffset: number;
  readonly length: number;
  /** Whether the view is a Uint8Array (quantized rows) rather than a Float32Array. */
  readonly bytes?: boolean;
}

export function locateTable(table: Float32Array | Uint8Array): TableLocation {
  const memory = tableMemory(table) ?? null;
  if (memory === null && !(table.buffer instanceof SharedArrayBuffer)) {
    throw new FailedPreconditionError("Table memory must be shared to be used by worker threads.");
  }
  return {
    memory,
    buffer: memory === null ? (table.buffer as SharedArrayBuffer) : null,
    byteOffset: table.byteOffset,
    length: table.length,
    ...(table instanceof Uint8Array ? { bytes: true } : {}),
  };
}

/** The view a location describes (in a worker: the same bytes the owner's view covers). */
export function viewOfLocation(location: TableLocation): Float32Array | Uint8Array {
  const buffer = location.memory === null ? location.buffer! : location.memory.buffer;
  const view =
    location.bytes === true
      ? new Uint8Array(buffer, location.byteOffset, location.length)
      : new Float32Array(buffer, location.byteOffset, location.length);
  if (location.memory !== null) registerTableView(view, location.memory);
  return view;
}

/**
 * Allocates zeroed byte tables (quantized rows) of the given byte lengths, as `allocateTables` does
 * float32 ones: packed into shared arenas, each aligned to a cache line.
 */
export function allocateByteTables(byteLengths: readonly number[]): Uint8Array[] {
  const words = allocateTables(byteLengths.map((b) => Math.ceil(b / 4)));
  return words.map((w, i) => {
    const view = new Uint8Array(w.buffer, w.byteOffset, byteLengths[i]);
    const memory = tableMemory(w);
    if (memory !== undefined) registerTableView(view, memory);
    return view;
  });
}

/**
 * Allocates zeroed float32 tables of the given lengths in as few arenas as fit (one arena when they
 * total less than about 4 GiB; `limit` bytes of tables per arena, lowered only by tests). A table too
 * large for any arena gets its own SharedArrayBuffer and is served by the JS kernels.
 */
export function allocateTables(
  lengths: readonly number[],
  limit = (MAX_PAGES - RESERVED_PAGES) * PAGE,
): Float32Array[] {
  const out: Float32Array[] = new Array(lengths.length);
  let group: number[] = [];
  let groupBytes = 0;
  const flush = (): void => {
    if (group.length === 0) return;
    const pages = Math.max(1, Math.ceil(groupBytes / PAGE));
    const memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
    adviseHugePages(memory.buffer);
    let offset = 0;
    for (const i of group) {
      const view = new Float32Array(memory.buffer, offset, lengths[i]);
      registerTableView(view, memory);
      out[i] = view;
      offset += align(lengths[i] * 4);
    }
    group = [];
    groupBytes = 0;
  };
  lengths.forEach((length, i) => {
    const bytes = align(length * 4);
    if (bytes > limit) {
      out[i] = new Float32Array(new SharedArrayBuffer(length * 4));
      return;
    }
    if (groupBytes + bytes > limit) flush();
    group.push(i);
    groupBytes += bytes;
  });
  flush();
  return out;
}

/**
 * Backs a fresh arena with transparent huge pages (Linux, through the native addon), before anything is
 * written to it, so its pages fault in as 2 MiB pages: random row gathers over gigabytes of tables then
 * stop missing the TLB on nearly every row. TPU_EMBEDDING_HUGE_PAGES=0 keeps 4 KiB pages.
 */
function adviseHugePages(buffer: ArrayBufferLike): void {
  if (!hugePagesEnabled()) return;
  nativeAddon()?.adviseHugePages(new Uint8Array(buffer));
}

/** Reused output buffers from this size on get huge pages (at least a few whole 2 MiB pages inside). */
const HUGE_OUTPUT_MIN_BYTES = 8 << 20;

/**
 * Backs a fresh output buffer that callers keep and reuse (`createOutputs`) with transparent huge pages,
 * before anything is written to it. A batch-1024 sequence lookup writes 136 MB of it per call: on 4 KiB
 * pages that is 33,000 page walks a call (seq-zipf B=1024 on Zen 4: 21 → 24-25 M ids/s with huge pages,
 * bench/results/2026-12-07-late-outputs-and-tasks.md). Buffers made per lookup are not advised: their
 * pages fault in once either way. Same switch as the tables (TPU_EMBEDDING_HUGE_PAGES=0).
 */
export function adviseOutputHugePages(buffer: SharedArrayBuffer): void {
  if (buffer.byteLength >= HUGE_OUTPUT_MIN_BYTES) adviseHugePages(buffer);
}

function align(bytes: number): number {
  return Math.ceil(bytes / TABLE_ALIGN) * TABLE_ALIGN;
}
