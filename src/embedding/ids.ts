import { InvalidArgumentError, OutOfRangeError } from "../errors.js";
import type { TableConfig } from "../config/table-config.js";
import { int64Words, type TensorData } from "../tensor/dtype.js";
import { firstOutsideRange } from "../kernels/native-kernels.js";

/** Marks in a classified id array: below zero (prunable) and at or above 2^31 (always out of range). */
export const NEGATIVE_ID = -1;
export const HUGE_ID = -2;

/**
 * Reads ids of either width into int32 in one pass without a BigInt per element: ids in
 * `[0, 2^31)` keep their value, negative ids become NEGATIVE_ID, larger ones HUGE_ID.
 */
export function classifyIds(ids: TensorData, path: string): Int32Array {
  if (ids instanceof Int32Array) {
    const out = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) out[i] = ids[i] < 0 ? NEGATIVE_ID : ids[i];
    return out;
  }
  if (ids instanceof BigInt64Array) {
    const words = int64Words(ids);
    const out = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const lo = words[2 * i];
      const hi = words[2 * i + 1];
      out[i] = hi < 0 ? NEGATIVE_ID : hi > 0 || lo < 0 ? HUGE_ID : lo;
    }
    return out;
  }
  throw idDTypeError(ids, path);
}

function idDTypeError(ids: TensorData, path: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `Input ${path} has ${ids instanceof Float32Array ? "float32" : "float64"} values; ids must be int32 or int64.`,
  );
}

/** Throws the out-of-range error for entry `i`, naming the exact original id (int64 included). */
export function outOfRange(path: string, table: TableConfig, ids: TensorData, i: number): never {
  throw new OutOfRangeError(path, table.name ?? "(unnamed)", ids[i] as number | bigint, table.vocabularySize);
}

/**
 * The ids as table rows when every id must be one (no pruning), in one pass: int32 ids that are all in
 * range are used as they are (no copy: the plan then shares the caller's array, as TF's ops share their
 * input tensors), int64 ids are narrowed without a BigInt per element. Throws the first out-of-range id.
 */
export function tableRows(ids: TensorData, table: TableConfig, path: string): Int32Array {
  const vocab = table.vocabularySize;
  if (ids instanceof Int32Array) {
    const found = firstOutsideRange(ids, vocab);
    if (found !== null) {
      if (found >= 0) outOfRange(path, table, ids, found);
      return ids;
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < 0 || id >= vocab) outOfRange(path, table, ids, i);
    }
    return ids;
  }
  if (ids instanceof BigInt64Array) {
    const words = int64Words(ids);
    const out = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const lo = words[2 * i];
      // hi ≠ 0 is negative or ≥ 2^32; lo < 0 (as int32) is ≥ 2^31: all outside any table.
      if (words[2 * i + 1] !== 0 || lo < 0 || lo >= vocab) outOfRange(path, table, ids, i);
      out[i] = lo;
    }
    return out;
  }
  throw idDTypeError(ids, path);
}

/** Weights as float32, converting float64 (TF's float32 tables multiply float32 weights). */
export function floatWeights(values: TensorData, path: string): Float32Array {
  if (values instanceof Float32Array) return values;
  if (values instanceof Float64Array) return Float32Array.from(values);
  throw new InvalidArgumentError(
    `Weight for ${path} has ${values instanceof Int32Array ? "int32" : "int64"} values; weights must be float32 (or float64).`,
  );
}
