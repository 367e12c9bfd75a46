import { InvalidArgumentError } from "../errors.js";

/**
 * Row layouts of quantized tables (docs/quantization.md has them byte by byte), the quantization done at
 * load time, and the reference dequantization every kernel family reproduces bit for bit: a lookup on a
 * quantized table is the float32 lookup on the dequantized table.
 *
 * - `float16`: `dim` IEEE binary16 values, little-endian, 2 bytes each (rounded to nearest, ties to even).
 * - `bfloat16`: `dim` bfloat16 values (a float32's upper 16 bits, rounded to nearest, ties to even).
 * - `int8`: row-wise affine: float32 `scale`, float32 `bias`, then `dim` unsigned codes `q`, padded to a
 *   multiple of 4 bytes; the value is `float32(float32(q · scale) + bias)`.
 */
export type QuantizedKind = "float16" | "bfloat16" | "int8";
export type StorageKind = "float32" | QuantizedKind;

export const STORAGE_KINDS: readonly StorageKind[] = ["float32", "float16", "bfloat16", "int8"];

/** The native addon's numbering of storage kinds (native/kernels_quant.h). */
export const STORAGE_CODE: Readonly<Record<StorageKind, number>> = {
  float32: 0,
  float16: 1,
  bfloat16: 2,
  int8: 3,
};

/** int8 rows: the scale and bias before the codes. */
export const INT8_HEADER_BYTES = 8;

export function isStorageKind(value: unknown): value is StorageKind {
  return typeof value === "string" && (STORAGE_KINDS as readonly string[]).includes(value);
}

/** Bytes one row of `dim` values takes in `kind` storage. */
export function rowBytes(kind: StorageKind, dim: number): number {
  switch (kind) {
    case "float32":
      return dim * 4;
    case "float16":
    case "bfloat16":
      return dim * 2;
    case "int8":
      return INT8_HEADER_BYTES + Math.ceil(dim / 4) * 4;
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** binary16 bits → float32 value, for all 65,536 patterns (exact: every binary16 is a float32). */
export const HALF_TO_FLOAT = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    table[h] =
      exponent === 0
        ? sign * mantissa * 2 ** -24
        : exponent === 31
          ? mantissa === 0
            ? sign * Infinity
            : NaN
          : sign * (1024 + mantissa) * 2 ** (exponent - 25);
  }
  // NaNs keep their payload and sign, as the native conversion does (bits, not values).
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++)
    if (((h >> 10) & 0x1f) === 31 && (h & 0x3ff) !== 0)
      bits[h] = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
  return table;
})();

/** The binary16 nearest to a float32 value (ties to even); NaN stays NaN; beyond ±65504 rounds to ±∞. */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 255) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const e = exponent - 112; // the binary16 exponent field
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal (or zero) in binary16: the significand with its implicit bit, shifted right and rounded.
    if (e < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - e;
    let half = significand >>> shift;
    const rest = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++; // a carry may reach ∞: right
  return sign | half;
}

/** The bfloat16 nearest to a float32 value (ties to even); NaN stays a (quiet) NaN. */
export function floatToBfloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bfloat16ToFloat(bits: number): number {
  u32[0] = bits << 16;
  return f32[0];
}

/** Rounds to the nearest integer, ties to even (as C's lrintf in the default rounding mode). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Quantizes a row-major float32 table `[rows, dim]` into `out` (`rows · rowBytes(kind, dim)` bytes).
 * Values the kind cannot hold (NaN or ±∞ in int8 rows, magnitudes beyond float16's or bfloat16's range)
 * are refused with an error naming the table, the row and the value: nothing is silently changed.
 */
export function quantizeTable(
  kind: QuantizedKind,
  values: Float32Array,
  dim: number,
  out: Uint8Array,
  tableName: string,
): void {
  const rows = values.length / dim;
  const stride = rowBytes(kind, dim);
  if (out.length < rows * stride) throw new RangeError("quantizeTable: output too small");
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const refuse = (row: number, value: number, why: string): never => {
    throw new InvalidArgumentError(
      `Table "${tableName}" cannot be stored as ${kind}: row ${row} holds ${value}, ${why}. ` +
        `Store this table as float32 (or ${kind === "float16" ? "bfloat16 or int8" : "float32"}).`,
    );
  };
  if (kind === "float16" || kind === "bfloat16") {
    const convert = kind === "float16" ? floatToHalfBits : floatToBfloat16Bits;
    for (let r = 0; r < rows; r++) {
      for (let d = 0; d < dim; d++) {
        const x = values[r * dim + d];
        const bits = convert(x);
        if ((bits & 0x7fff) === 0x7c00 && kind === "float16" && Number.isFinite(x))
          refuse(r, x, "beyond float16's largest finite value, 65504");
        if ((bits & 0x7fff) === 0x7f80 && kind === "bfloat16" && Number.isFinite(x))
          refuse(r, x, "beyond bfloat16's largest finite value");
        view.setUint16(r * stride + d * 2, bits, true);
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    let min = Infinity;
    let max = -Infinity;
    for (let d = 0; d < dim; d++) {
      const x = values[r * dim + d];
      if (!Number.isFinite(x)) refuse(r, x, "which int8 rows cannot represent");
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const at = r * stride;
    // scale = (max − min) / 255 as a float32; a constant row (or a range that underflows) keeps scale 0
    // and every code 0, so its values are the bias exactly.
    const scale = Math.fround((max - min) / 255);
    view.setFloat32(at, scale, true);
    view.setFloat32(at + 4, min, true);
    for (let d = 0; d < dim; d++) {
      const x = values[r * dim + d];
      const q = scale === 0 ? 0 : Math.min(255, Math.max(0, roundHalfEven((x - min) / scale)));
      out[at + INT8_HEADER_BYTES + d] = q;
    }
  }
}

/**
 * The reference dequantization of rows `ids` of a quantized table into `out` (`ids.length · dim` values
 * from `outAt`): what every kernel family reads in place of the row.
 */
export function dequantizeRows(
  kind: QuantizedKind,
  bytes: Uint8Array,
  dim: number,
  ids: ArrayLike<number>,
  out: Float32Array,
  outAt = 0,
): void {
  const stride = rowBytes(kind, dim);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let j = 0; j < ids.length; j++) {
    const at = ids[j] * stride;
    const o = outAt + j * dim;
    if (kind === "float16") {
      for (let d = 0; d < dim; d++) out[o + d] = HALF_TO_FLOAT[view.getUint16(at + d * 2, true)];
      // NaN payloads as bits (assigning a NaN value may canonicalise it).
      for (let d = 0; d < dim; d++) {
        const h = view.getUint16(at + d * 2, true);
        if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0)
          outBits[o + d] = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
      }
    } else if (kind === "bfloat16") {
      for (let d = 0; d < dim; d++) outBits[o + d] = view.getUint16(at + d * 2, true) << 16;
    } else {
      const scale = view.getFloat32(at, true);
      const bias = view.getFloat32(at + 4, true);
      const codes = at + INT8_HEADER_BYTES;
      for (let d = 0; d < dim; d++) out[o + d] = Math.fround(Math.fround(bytes[codes + d] * scale) + bias);
    }
  }
}

/** How far a table's values move when stored as a kind (accumulated over row blocks). */
export interface QuantizationError {
  values: number;
  /** Largest |dequantized − value|. */
  maxAbs: number;
  /** Σ |dequantized − value| (mean = sumAbs / values). */
  sumAbs: number;
  /** Largest |value| (for relative figures). */
  maxMagnitude: number;
  /** Why the kind cannot hold the table (the first refused value), or null. */
  refused: string | null;
}

export function emptyQuantizationError(): QuantizationError {
  return { values: 0, maxAbs: 0, sumAbs: 0, maxMagnitude: 0, refused: null };
}

/** Quantizes a block of rows as `kind` would and adds how far the values moved to `into`. */
export function measureQuantization(
  kind: StorageKind,
  values: Float32Array,
  dim: number,
  into: QuantizationError,
  tableName = "table",
): QuantizationError {
  if (into.refused !== null) return into;
  into.values += values.length;
  for (let i = 0; i < values.length; i++)
    into.maxMagnitude = Math.max(into.maxMagnitude, Math.abs(values[i]));
  if (kind === "float32") return into;
  const rows = values.length / dim;
  const bytes = new Uint8Array(rows * rowBytes(kind, dim));
  try {
    quantizeTable(kind, values, dim, bytes, tableName);
  } catch (e) {
    into.refused = (e as Error).message;
    return into;
  }
  const back = new Float32Array(values.length);
  dequantizeRows(
    kind,
    bytes,
    dim,
    Int32Array.from({ length: rows }, (_, i) => i),
    back,
  );
  for (let i = 0; i < values.length; i++) {
    const error = Math.abs(back[i] - values[i]);
    into.sumAbs += error;
    if (error > into.maxAbs) into.maxAbs = error;
  }
  return into;
}
