/**
 * How a row is stored in a Redis hash value, kept apart from the layout so other encodings (quantized
 * rows) can be added as new `encoding` names: `float32-le` is the row's float32 values, little-endian,
 * `dim × 4` bytes, exactly the checkpoint's bytes (so a round trip is bit-exact, -0 and NaN included).
 */
import { DataLossError } from "../errors.js";

/** The stored bytes of `rows` consecutive rows (a view, no copy: float32 is stored as it is in memory). */
export function encodeRowsFloat32(rows: Float32Array): Uint8Array {
  return new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
}

/**
 * Writes one stored row into `out` (given as its bytes, `outBytes`, a view kept by the caller so no view
 * is made per row) at row `slot`; a value of the wrong size is a DATA_LOSS error.
 */
export function decodeRowFloat32(
  value: Uint8Array,
  outBytes: Uint8Array,
  slot: number,
  dim: number,
  table: string,
  id: number,
): void {
  if (value.length !== dim * 4) {
    throw new DataLossError(
      `Table "${table}", id ${id}: the stored row has ${value.length} bytes, expected ${dim * 4} (dim ${dim} float32).`,
    );
  }
  outBytes.set(value, slot * dim * 4);
}

/** The bytes of a float32 array (for `decodeRowFloat32`). */
export function bytesOf(out: Float32Array): Uint8Array {
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
