import { dequantizeRows, rowBytes, type QuantizedKind, type StorageKind } from "./quantized-rows.js";
import { locateTable, viewOfLocation, type TableLocation } from "./table-memory.js";

/**
 * Where the rows of an embedding's tables come from, as the batch kernels see them (batch-kernels.ts
 * `createSet`): float32 rows in memory (the tables' arenas or shared buffers, read in place by every
 * thread), or quantized rows (quantized-rows.ts) that the kernels dequantize as they read them. Rows
 * fetched from a shared store become another kind here; the encoders and the executor do not change.
 */
export type StoredTable = Float32StoredTable | QuantizedStoredTable;

export interface Float32StoredTable {
  readonly kind: "float32";
  /** Row-major `[rows, dim]`. */
  readonly data: Float32Array;
  readonly rows: number;
  readonly dim: number;
}

export interface QuantizedStoredTable {
  readonly kind: QuantizedKind;
  /** `rows` rows of `rowBytes(kind, dim)` bytes each (quantized-rows.ts). */
  readonly data: Uint8Array;
  readonly rows: number;
  readonly dim: number;
}

export interface TableStorage {
  /** One table per index a batch's D_TABLE names. */
  readonly tables: readonly StoredTable[];
}

/** A float32 table as stored rows. */
export function float32Table(data: Float32Array, dim: number): Float32StoredTable {
  return { kind: "float32", data, rows: data.length / dim, dim };
}

/** A quantized table over `data` (its rows in `kind`'s layout). */
export function quantizedTable(kind: QuantizedKind, data: Uint8Array, dim: number): QuantizedStoredTable {
  return { kind, data, rows: data.length / rowBytes(kind, dim), dim };
}

/** Float32 tables held in memory. */
export function float32Storage(tables: readonly Float32Array[], dims: readonly number[]): TableStorage {
  return { tables: tables.map((t, i) => float32Table(t, dims[i])) };
}

/** Every row of a stored table as float32 (a fresh copy for quantized tables; the data itself for float32). */
export function dequantizedTable(table: StoredTable): Float32Array {
  if (table.kind === "float32") return table.data;
  const out = new Float32Array(new SharedArrayBuffer(table.rows * table.dim * 4));
  const chunk = 4096;
  const ids = new Int32Array(chunk);
  for (let r = 0; r < table.rows; r += chunk) {
    const n = Math.min(chunk, table.rows - r);
    for (let j = 0; j < n; j++) ids[j] = r + j;
    dequantizeRows(table.kind, table.data, table.dim, ids.subarray(0, n), out, r * table.dim);
  }
  return out;
}

/** Bytes a stored table takes. */
export function storedBytes(table: StoredTable): number {
  return table.data.byteLength;
}

/** Where a stored table lives, in a form that can be posted to a worker. */
export interface StoredLocation {
  readonly kind: StorageKind;
  readonly dim: number;
  readonly location: TableLocation;
}

export function locateStored(table: StoredTable): StoredLocation {
  return { kind: table.kind, dim: table.dim, location: locateTable(table.data) };
}

/** The stored table a location describes (in a worker: the same memory). */
export function storedOfLocation({ kind, dim, location }: StoredLocation): StoredTable {
  const view = viewOfLocation(location);
  return kind === "float32"
    ? float32Table(view as Float32Array, dim)
    : quantizedTable(kind, view as Uint8Array, dim);
}

export type { StorageKind, QuantizedKind };
