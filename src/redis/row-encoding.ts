/**
 * How a row is stored in a Redis hash value, kept apart from the layout. One encoding per storage kind
 * (src/kernels/quantized-rows.ts, docs/quantization.md): `float32-le` is the row's float32 values,
 * little-endian, `dim × 4` bytes, exactly the checkpoint's bytes (so a round trip is bit-exact, -0 and
 * NaN included); `float16-le`, `bfloat16-le` and `int8-rowwise` are the quantized row layouts, byte for
 * byte as a quantized table holds them in memory, so a cluster holds 2-3.6× more model and serves the
 * same bits as a quantized table in memory.
 */
import { DataLossError } from "../errors.js";
import { quantizeTable, rowBytes, type StorageKind } from "../kernels/quantized-rows.js";

export type RowEncoding = "float32-le" | "float16-le" | "bfloat16-le" | "int8-rowwise";

export const ENCODING_OF: Readonly<Record<StorageKind, RowEncoding>> = {
  float32: "float32-le",
  float16: "float16-le",
  bfloat16: "bfloat16-le",
  int8: "int8-rowwise",
};

const KIND_OF = new Map<string, StorageKind>(
  Object.entries(ENCODING_OF).map(([kind, encoding]) => [encoding, kind as StorageKind]),
);

/** The storage kind of an encoding, or undefined for an unknown one. */
export function storageOfEncoding(encoding: unknown): StorageKind | undefined {
  return typeof encoding === "string" ? KIND_OF.get(encoding) : undefined;
}

/**
 * The stored bytes of `rows` consecutive float32 rows of `dim` values (float32: a view, no copy;
 * quantized kinds: fresh bytes; values a kind cannot hold are refused naming the table and row).
 */
export function encodeRows(kind: StorageKind, rows: Float32Array, dim: number, table: string): Uint8Array {
  if (kind === "float32") return new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
  const out = new Uint8Array((rows.length / dim) * rowBytes(kind, dim));
  quantizeTable(kind, rows, dim, out, table);
  return out;
}

/**
 * Writes one stored row into `outBytes` at row `slot` (rows of `stride` bytes); a value of the wrong
 * size is a DATA_LOSS error.
 */
export function decodeRow(
  value: Uint8Array,
  outBytes: Uint8Array,
  slot: number,
  stride: number,
  table: string,
  id: number,
): void {
  if (value.length !== stride) {
    throw new DataLossError(
      `Table "${table}", id ${id}: the stored row has ${value.length} bytes, expected ${stride}.`,
    );
  }
  outBytes.set(value, slot * stride);
}
