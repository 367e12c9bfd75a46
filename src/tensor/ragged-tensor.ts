import { InvalidArgumentError } from "../errors.js";
import { dtypeOf, inferDType, isTensorData, toTypedArray, type DType, type TensorData } from "./dtype.js";
import type { NestedArray } from "./nested-array.js";

/**
 * A rank-2 ragged tensor (TF's `tf.RaggedTensor` with one ragged dimension): row `r` holds
 * `values[rowSplits[r] .. rowSplits[r + 1])`.
 */
export class RaggedTensor<T extends TensorData = TensorData> {
  readonly values: T;
  readonly rowSplits: Int32Array;
  readonly dtype: DType;

  private constructor(values: T, rowSplits: Int32Array) {
    if (rowSplits.length < 1 || rowSplits[0] !== 0) {
      throw new InvalidArgumentError("RaggedTensor: rowSplits must start with 0.");
    }
    for (let r = 1; r < rowSplits.length; r++) {
      if (rowSplits[r] < rowSplits[r - 1]) {
        throw new InvalidArgumentError(
          `RaggedTensor: rowSplits must be non-decreasing, but rowSplits[${r}] = ${rowSplits[r]} < ` +
            `rowSplits[${r - 1}] = ${rowSplits[r - 1]}.`,
        );
      }
    }
    if (rowSplits[rowSplits.length - 1] !== values.length) {
      throw new InvalidArgumentError(
        `RaggedTensor: the last row split (${rowSplits[rowSplits.length - 1]}) must equal the number of values ` +
          `(${values.length}).`,
      );
    }
    this.values = values;
    this.rowSplits = rowSplits;
    this.dtype = dtypeOf(values);
  }

  static fromRowSplits<V extends TensorData>(
    values: V | readonly (number | bigint)[],
    rowSplits: Int32Array | BigInt64Array | readonly number[],
    dtype?: DType,
  ): RaggedTensor<V> {
    const data = (
      isTensorData(values)
        ? values
        : toTypedArray(values, dtype ?? inferDType(values, "RaggedTensor values"), "RaggedTensor values")
    ) as V;
    return new RaggedTensor(data, toSplits(rowSplits));
  }

  static fromRowLengths<V extends TensorData>(
    values: V | readonly (number | bigint)[],
    rowLengths: ArrayLike<number>,
    dtype?: DType,
  ): RaggedTensor<V> {
    const splits = new Int32Array(rowLengths.length + 1);
    for (let r = 0; r < rowLengths.length; r++) {
      const n = rowLengths[r];
      if (!Number.isInteger(n) || n < 0) {
        throw new InvalidArgumentError(
          `RaggedTensor: rowLengths[${r}] is ${n}, expected a non-negative integer.`,
        );
      }
      splits[r + 1] = splits[r] + n;
    }
    return RaggedTensor.fromRowSplits(values, splits, dtype);
  }

  /** From rows of plain values: `[[1, 2], [], [3]]`. */
  static fromNested(rows: readonly (readonly (number | bigint)[])[], dtype?: DType): RaggedTensor {
    if (!Array.isArray(rows))
      throw new InvalidArgumentError("RaggedTensor.fromNested: expected an array of rows.");
    const flat: (number | bigint)[] = [];
    const splits = new Int32Array(rows.length + 1);
    rows.forEach((row, r) => {
      if (!Array.isArray(row)) {
        throw new InvalidArgumentError(
          `RaggedTensor.fromNested: row ${r} is ${typeof row}, expected an array.`,
        );
      }
      for (const v of row) flat.push(v);
      splits[r + 1] = flat.length;
    });
    const type = dtype ?? (flat.length === 0 ? "int32" : inferDType(flat, "RaggedTensor values"));
    return new RaggedTensor(toTypedArray(flat, type, "RaggedTensor values"), splits);
  }

  get nrows(): number {
    return this.rowSplits.length - 1;
  }

  /** `[nrows, null]`: the second dimension is ragged. */
  get shape(): readonly [number, null] {
    return [this.nrows, null];
  }

  rowLength(row: number): number {
    return this.rowSplits[row + 1] - this.rowSplits[row];
  }

  toArray(): NestedArray[] {
    const out: NestedArray[] = [];
    for (let r = 0; r < this.nrows; r++) {
      out.push(
        Array.from(
          this.values.subarray(this.rowSplits[r], this.rowSplits[r + 1]) as ArrayLike<number | bigint>,
        ),
      );
    }
    return out;
  }

  toString(): string {
    return `RaggedTensor(nrows=${this.nrows}, nvals=${this.values.length}, dtype=${this.dtype})`;
  }
}

function toSplits(rowSplits: Int32Array | BigInt64Array | readonly number[]): Int32Array {
  if (rowSplits instanceof Int32Array) return rowSplits;
  const out = new Int32Array(rowSplits.length);
  for (let i = 0; i < rowSplits.length; i++) {
    const v = Number(rowSplits[i]);
    if (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) {
      throw new InvalidArgumentError(
        `RaggedTensor: rowSplits[${i}] is ${String(rowSplits[i])}, expected 0..2^31-1.`,
      );
    }
    out[i] = v;
  }
  return out;
}
