/** TensorFlow DataType enum values as they appear in checkpoints, and how each is held in memory. */
import { UnimplementedError } from "../../errors.js";

/** Python-style dtype names (`tf.float32.name`, with `float16` for DT_HALF). */
export type DType =
  | "float32"
  | "float64"
  | "int32"
  | "uint8"
  | "int16"
  | "int8"
  | "string"
  | "complex64"
  | "int64"
  | "bool"
  | "qint8"
  | "quint8"
  | "qint32"
  | "bfloat16"
  | "qint16"
  | "quint16"
  | "uint16"
  | "complex128"
  | "float16"
  | "uint32"
  | "uint64"
  | "float8_e5m2"
  | "float8_e4m3fn"
  | "float8_e4m3fnuz"
  | "float8_e4m3b11fnuz"
  | "float8_e5m2fnuz";

/** Numeric tensor memory. Complex values are interleaved (re, im); half/bfloat16 are raw 16-bit patterns. */
export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

type ArrayCtor = {
  new (length: number): NumericArray;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
};

export interface DTypeInfo {
  readonly dtype: DType;
  /** TensorFlow's enum value (`types.proto`). */
  readonly enumValue: number;
  /** TensorFlow's enum name, e.g. `DT_FLOAT`. */
  readonly tfName: string;
  /** Bytes per element in the data file; 0 for variable-length (string). */
  readonly elementSize: number;
  /** Typed array holding the elements; complex types use two array elements per tensor element. */
  readonly arrayType: ArrayCtor | undefined;
}

const TABLE: ReadonlyArray<[DType, number, string, number, ArrayCtor | undefined]> = [
  ["float32", 1, "DT_FLOAT", 4, Float32Array],
  ["float64", 2, "DT_DOUBLE", 8, Float64Array],
  ["int32", 3, "DT_INT32", 4, Int32Array],
  ["uint8", 4, "DT_UINT8", 1, Uint8Array],
  ["int16", 5, "DT_INT16", 2, Int16Array],
  ["int8", 6, "DT_INT8", 1, Int8Array],
  ["string", 7, "DT_STRING", 0, undefined],
  ["complex64", 8, "DT_COMPLEX64", 8, Float32Array],
  ["int64", 9, "DT_INT64", 8, BigInt64Array],
  ["bool", 10, "DT_BOOL", 1, Uint8Array],
  ["qint8", 11, "DT_QINT8", 1, Int8Array],
  ["quint8", 12, "DT_QUINT8", 1, Uint8Array],
  ["qint32", 13, "DT_QINT32", 4, Int32Array],
  ["bfloat16", 14, "DT_BFLOAT16", 2, Uint16Array],
  ["qint16", 15, "DT_QINT16", 2, Int16Array],
  ["quint16", 16, "DT_QUINT16", 2, Uint16Array],
  ["uint16", 17, "DT_UINT16", 2, Uint16Array],
  ["complex128", 18, "DT_COMPLEX128", 16, Float64Array],
  ["float16", 19, "DT_HALF", 2, Uint16Array],
  ["uint32", 22, "DT_UINT32", 4, Uint32Array],
  ["uint64", 23, "DT_UINT64", 8, BigUint64Array],
  ["float8_e5m2", 24, "DT_FLOAT8_E5M2", 1, Uint8Array],
  ["float8_e4m3fn", 25, "DT_FLOAT8_E4M3FN", 1, Uint8Array],
  ["float8_e4m3fnuz", 26, "DT_FLOAT8_E4M3FNUZ", 1, Uint8Array],
  ["float8_e4m3b11fnuz", 27, "DT_FLOAT8_E4M3B11FNUZ", 1, Uint8Array],
  ["float8_e5m2fnuz", 28, "DT_FLOAT8_E5M2FNUZ", 1, Uint8Array],
];

const BY_ENUM = new Map<number, DTypeInfo>();
const BY_NAME = new Map<DType, DTypeInfo>();
for (const [dtype, enumValue, tfName, elementSize, arrayType] of TABLE) {
  const info: DTypeInfo = { dtype, enumValue, tfName, elementSize, arrayType };
  BY_ENUM.set(enumValue, info);
  BY_NAME.set(dtype, info);
}

const UNSUPPORTED: Record<number, string> = {
  0: "DT_INVALID",
  20: "DT_RESOURCE",
  21: "DT_VARIANT",
  29: "DT_INT4",
  30: "DT_UINT4",
};

/** Looks up a dtype by TF enum value; throws UnimplementedError for dtypes this library cannot hold. */
export function dtypeFromEnum(value: number, key?: string): DTypeInfo {
  const info = BY_ENUM.get(value);
  if (info === undefined) {
    const name = UNSUPPORTED[value] ?? `DataType ${value}`;
    throw new UnimplementedError(
      `${key === undefined ? "" : `Checkpoint key "${key}": `}dtype ${name} is not supported.`,
    );
  }
  return info;
}

export function dtypeInfo(dtype: DType): DTypeInfo {
  const info = BY_NAME.get(dtype);
  if (info === undefined) throw new UnimplementedError(`dtype ${String(dtype)} is not supported.`);
  return info;
}

/** Human name for any enum value, including unsupported ones (for listings). */
export function dtypeNameOfEnum(value: number): string {
  return (
    BY_ENUM.get(value)?.dtype ??
    (UNSUPPORTED[value] ?? `DataType(${value})`).replace(/^DT_/, "").toLowerCase()
  );
}

/** Array elements per tensor element (2 for complex). */
export function arrayElementsPerValue(info: DTypeInfo): number {
  return info.dtype === "complex64" || info.dtype === "complex128" ? 2 : 1;
}

/** IEEE binary16 bit pattern → number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** bfloat16 bit pattern → number (the upper half of a float32). */
export function bfloat16ToNumber(bits: number): number {
  U32[0] = (bits & 0xffff) << 16;
  return F32[0];
}

/** number → bfloat16 bit pattern, rounding to nearest even as TensorFlow's cast does. */
export function numberToBfloat16(value: number): number {
  F32[0] = value;
  const bits = U32[0];
  if (Number.isNaN(value)) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}
