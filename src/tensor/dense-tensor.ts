import { InvalidArgumentError } from "../errors.js";
import { dtypeOf, inferDType, isTensorData, toTypedArray, type DType, type TensorData } from "./dtype.js";
import { checkShape, flattenRectangular, shapeSize, unflatten, type NestedArray } from "./nested-array.js";

/** A dense tensor: a shape and row-major values in one typed array (ids or float values). */
export class DenseTensor<T extends TensorData = TensorData> {
  readonly shape: readonly number[];
  readonly data: T;
  readonly dtype: DType;

  constructor(data: T, shape: readonly number[]) {
    if (trusted) {
      // trustedFloat32Tensor: same fields in the same order (one hidden class), checks already done.
      trusted = false;
      this.dtype = "float32";
      this.shape = shape;
      this.data = data;
      return;
    }
    this.dtype = dtypeOf(data);
    const checked = checkShape(shape, "DenseTensor");
    if (shapeSize(checked) !== data.length) {
      throw new InvalidArgumentError(
        `DenseTensor: shape [${checked.join(", ")}] holds ${shapeSize(checked)} values but data has ${data.length}.`,
      );
    }
    this.shape = Object.freeze(checked);
    this.data = data;
  }

  /**
   * From a nested array (`[[1, 2], [3, 4]]`, shape inferred) or from flat values with a `shape`
   * (default: 1-D). The dtype is inferred (int32, int64 for bigints/large integers, float32) unless given.
   */
  static from(
    values: NestedArray | TensorData | readonly (number | bigint)[],
    shape?: readonly number[],
    dtype?: DType,
  ): DenseTensor {
    if (isTensorData(values)) {
      const data =
        dtype === undefined || dtype === dtypeOf(values)
          ? values
          : toTypedArray(Array.from(values as ArrayLike<number | bigint>), dtype, "DenseTensor.from");
      return new DenseTensor(data, shape ?? [values.length]);
    }
    if (shape !== undefined) {
      const flat = Array.isArray(values) ? flattenDeep(values as unknown[]) : [values as number | bigint];
      const type = dtype ?? inferDType(flat, "DenseTensor.from");
      return new DenseTensor(toTypedArray(flat, type, "DenseTensor.from"), shape);
    }
    const { shape: inferred, values: flat } = flattenRectangular(values, "DenseTensor.from");
    const type = dtype ?? inferDType(flat, "DenseTensor.from");
    return new DenseTensor(toTypedArray(flat, type, "DenseTensor.from"), inferred);
  }

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.data.length;
  }

  /** Nested arrays of numbers (bigints for int64). */
  toArray(): NestedArray {
    return unflatten(this.data as ArrayLike<number | bigint>, this.shape);
  }

  toString(): string {
    return `DenseTensor(shape=[${this.shape.join(", ")}], dtype=${this.dtype})`;
  }
}

let trusted = false;

/**
 * Internal (not exported from the package): a float32 tensor without the constructor's checks, for hot
 * paths that already know `shape` is frozen, valid and holds exactly `data.length` values.
 */
export function trustedFloat32Tensor(
  data: Float32Array,
  shape: readonly number[],
): DenseTensor<Float32Array> {
  trusted = true;
  return new DenseTensor(data, shape);
}

function flattenDeep(values: unknown[]): (number | bigint)[] {
  const out: (number | bigint)[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const child of node) visit(child);
    else out.push(node as number | bigint);
  };
  visit(values);
  return out;
}
