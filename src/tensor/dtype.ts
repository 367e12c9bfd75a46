import { InvalidArgumentError } from "../errors.js";

export type IdDType = "int32" | "int64";
export type FloatDType = "float32" | "float64";
export type DType = IdDType | FloatDType;

export type IdArray = Int32Array | BigInt64Array;
export type FloatArray = Float32Array | Float64Array;
export type TensorData = IdArray | FloatArray;

export function dtypeOf(data: TensorData): DType {
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  throw new InvalidArgumentError(
    `Unsupported tensor data ${Object.prototype.toString.call(data)}: expected Int32Array, BigInt64Array, ` +
      `Float32Array or Float64Array.`,
  );
}

export function isTensorData(value: unknown): value is TensorData {
  return (
    value instanceof Int32Array ||
    value instanceof BigInt64Array ||
    value instanceof Float32Array ||
    value instanceof Float64Array
  );
}

export function allocate(dtype: DType, length: number): TensorData {
  switch (dtype) {
    case "int32":
      return new Int32Array(length);
    case "int64":
      return new BigInt64Array(length);
    case "float32":
      return new Float32Array(length);
    case "float64":
      return new Float64Array(length);
  }
}

/** Little-endian halves of each int64, read without allocating a BigInt per element. */
export function int64Words(data: BigInt64Array): Int32Array {
  return new Int32Array(data.buffer, data.byteOffset, data.length * 2);
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Picks a dtype for plain JS values: bigints or integers beyond int32 → int64, other integers → int32,
 * anything fractional → float32. Integers above 2^53 must be bigints: a JS number there may already
 * have been rounded, so it is refused rather than silently changed.
 */
export function inferDType(values: ArrayLike<number | bigint>, what: string): DType {
  let integral = true;
  let wide = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === "bigint") {
      wide = true;
      continue;
    }
    if (typeof v !== "number" || Number.isNaN(v)) {
      throw new InvalidArgumentError(`${what}: element ${i} is ${String(v)}, expected a number or bigint.`);
    }
    if (!Number.isInteger(v)) integral = false;
    else if (v < INT32_MIN || v > INT32_MAX) wide = true;
  }
  if (!integral) {
    if (wide) throw new InvalidArgumentError(`${what}: mixes bigints with fractional numbers.`);
    return "float32";
  }
  return wide ? "int64" : "int32";
}

/** Copies plain values into a typed array of `dtype`, refusing anything that would change value. */
export function toTypedArray(values: ArrayLike<number | bigint>, dtype: DType, what: string): TensorData {
  const out = allocate(dtype, values.length);
  if (out instanceof BigInt64Array) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v === "bigint") {
        if (v < -(2n ** 63n) || v >= 2n ** 63n) {
          throw new InvalidArgumentError(`${what}: element ${i} (${v}) does not fit int64.`);
        }
        out[i] = v;
      } else if (Number.isSafeInteger(v)) {
        out[i] = BigInt(v);
      } else {
        throw new InvalidArgumentError(
          `${what}: element ${i} (${String(v)}) is not an exact integer; pass ids above 2^53 as bigint or strings.`,
        );
      }
    }
    return out;
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || Number.isNaN(n)) {
      if (!(out instanceof Float32Array || out instanceof Float64Array) || !Number.isNaN(n)) {
        throw new InvalidArgumentError(`${what}: element ${i} is ${String(v)}, expected a number.`);
      }
    }
    if (out instanceof Int32Array && (!Number.isInteger(n) || n < INT32_MIN || n > INT32_MAX)) {
      throw new InvalidArgumentError(`${what}: element ${i} (${String(v)}) is not an int32.`);
    }
    out[i] = n;
  }
  return out;
}

/** Reads element `i` as a JS value (bigint for int64) — for messages and `toArray()`, not hot loops. */
export function elementAt(data: TensorData, i: number): number | bigint {
  return data[i];
}
