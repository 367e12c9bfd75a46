import { InvalidArgumentError } from "../errors.js";
import {
  dtypeOf,
  inferDType,
  int64Words,
  isTensorData,
  toTypedArray,
  type DType,
  type TensorData,
} from "./dtype.js";
import { checkShape, type NestedArray } from "./nested-array.js";

export interface SparseTensorOptions {
  /** `[nnz, rank]` coordinates: nested (`[[0, 0], [1, 2]]`) or flat row-major Int32Array/BigInt64Array. */
  indices: readonly (readonly (number | bigint)[])[] | Int32Array | BigInt64Array;
  /** `nnz` values: ids (int32/int64) or weights (float32/float64). */
  values: TensorData | readonly (number | bigint)[];
  denseShape: readonly number[];
  /** Dtype for plain-array `values` (inferred otherwise). */
  dtype?: DType;
}

/**
 * Like `tf.sparse.SparseTensor`: `indices` `[nnz, rank]` int64, `values` `[nnz]`, `denseShape` `[rank]`.
 * Coordinates are checked against `denseShape` here, so later errors can only concern the values.
 */
export class SparseTensor<T extends TensorData = TensorData> {
  /** Row-major `[nnz, rank]` coordinates (int64 as in TF). */
  readonly indices: BigInt64Array;
  readonly values: T;
  readonly denseShape: readonly number[];
  readonly dtype: DType;

  constructor(options: SparseTensorOptions) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("SparseTensor: expected { indices, values, denseShape }.");
    }
    const denseShape = checkShape(options.denseShape, "SparseTensor denseShape");
    const rank = denseShape.length;
    if (rank < 1) throw new InvalidArgumentError("SparseTensor: denseShape must have rank >= 1.");
    const values = (
      isTensorData(options.values)
        ? options.values
        : toTypedArray(
            options.values,
            options.dtype ?? inferDType(options.values, "SparseTensor values"),
            "SparseTensor values",
          )
    ) as T;
    const nnz = values.length;
    this.indices = toIndices(options.indices, nnz, rank);
    const words = int64Words(this.indices);
    for (let e = 0; e < nnz; e++) {
      for (let d = 0; d < rank; d++) {
        const k = 2 * (e * rank + d);
        const lo = words[k];
        const hi = words[k + 1];
        // Exact for coordinates below 2^53: hi * 2^32 + unsigned lo.
        const coordinate = hi * 4294967296 + (lo >>> 0);
        if (coordinate < 0 || coordinate >= denseShape[d]) {
          throw new InvalidArgumentError(
            `SparseTensor: index [${Array.from(this.indices.subarray(e * rank, e * rank + rank)).join(", ")}] ` +
              `of entry ${e} is out of bounds for denseShape [${denseShape.join(", ")}].`,
          );
        }
      }
    }
    this.values = values;
    this.denseShape = Object.freeze(denseShape);
    this.dtype = dtypeOf(values);
  }

  get rank(): number {
    return this.denseShape.length;
  }

  get nnz(): number {
    return this.values.length;
  }

  /** The dense equivalent as nested arrays (zeros where no entry; duplicates are summed). */
  toArray(): NestedArray {
    const size = this.denseShape.reduce((a, b) => a * b, 1);
    const isBig = this.values instanceof BigInt64Array;
    const flat: (number | bigint)[] = new Array(size).fill(isBig ? 0n : 0);
    const rank = this.rank;
    for (let e = 0; e < this.nnz; e++) {
      let offset = 0;
      for (let d = 0; d < rank; d++)
        offset = offset * this.denseShape[d] + Number(this.indices[e * rank + d]);
      flat[offset] = (flat[offset] as never) + (this.values[e] as never);
    }
    let i = 0;
    const build = (depth: number): NestedArray => {
      if (depth === rank) return flat[i++];
      const out: NestedArray[] = [];
      for (let k = 0; k < this.denseShape[depth]; k++) out.push(build(depth + 1));
      return out;
    };
    return build(0);
  }

  toString(): string {
    return `SparseTensor(denseShape=[${this.denseShape.join(", ")}], nnz=${this.nnz}, dtype=${this.dtype})`;
  }
}

function toIndices(indices: SparseTensorOptions["indices"], nnz: number, rank: number): BigInt64Array {
  let out: BigInt64Array;
  if (indices instanceof BigInt64Array) {
    out = indices;
  } else if (indices instanceof Int32Array) {
    out = new BigInt64Array(indices.length);
    const words = int64Words(out);
    for (let i = 0; i < indices.length; i++) {
      words[2 * i] = indices[i];
      words[2 * i + 1] = indices[i] < 0 ? -1 : 0;
    }
  } else if (Array.isArray(indices)) {
    out = new BigInt64Array(indices.length * rank);
    for (let e = 0; e < indices.length; e++) {
      const row = indices[e];
      if (!Array.isArray(row) || row.length !== rank) {
        throw new InvalidArgumentError(
          `SparseTensor: indices[${e}] must be an array of ${rank} coordinates (the rank of denseShape).`,
        );
      }
      for (let d = 0; d < rank; d++) {
        const c = row[d];
        if (typeof c === "bigint") out[e * rank + d] = c;
        else if (Number.isSafeInteger(c)) out[e * rank + d] = BigInt(c);
        else
          throw new InvalidArgumentError(
            `SparseTensor: indices[${e}][${d}] is ${String(c)}, expected an integer.`,
          );
      }
    }
  } else {
    throw new InvalidArgumentError(
      "SparseTensor: indices must be a nested array, an Int32Array or a BigInt64Array.",
    );
  }
  if (out.length !== nnz * rank) {
    throw new InvalidArgumentError(
      `SparseTensor: ${nnz} values need ${nnz * rank} index coordinates (rank ${rank}), got ${out.length}.`,
    );
  }
  return out;
}
