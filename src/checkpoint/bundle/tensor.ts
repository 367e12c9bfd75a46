/** In-memory tensors as the bundle reader returns them and the writer accepts them. */
import { InvalidArgumentError } from "../../errors.js";
import { arrayElementsPerValue, dtypeInfo, type DType, type NumericArray } from "./dtypes.js";

export interface NumericTensor {
  readonly dtype: Exclude<DType, "string">;
  readonly shape: readonly number[];
  /** Row-major elements; complex dtypes interleave (re, im); float16/bfloat16 hold raw bit patterns. */
  readonly data: NumericArray;
}

export interface StringTensor {
  readonly dtype: "string";
  readonly shape: readonly number[];
  /** One byte string per element, row-major (TF strings are bytes, not necessarily UTF-8). */
  readonly data: readonly Uint8Array[];
}

export type Tensor = NumericTensor | StringTensor;

export function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Throws InvalidArgumentError unless the data matches dtype and shape. */
export function checkTensor(tensor: Tensor, what: string): void {
  for (const d of tensor.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new InvalidArgumentError(`${what}: bad shape [${tensor.shape.join(", ")}].`);
    }
  }
  const n = numElements(tensor.shape);
  if (tensor.dtype === "string") {
    if (!Array.isArray(tensor.data) || tensor.data.length !== n) {
      throw new InvalidArgumentError(
        `${what}: a string tensor of shape [${tensor.shape.join(", ")}] needs ${n} byte strings.`,
      );
    }
    return;
  }
  const info = dtypeInfo(tensor.dtype);
  const Ctor = info.arrayType;
  if (Ctor === undefined || !(tensor.data instanceof Ctor)) {
    throw new InvalidArgumentError(`${what}: dtype ${tensor.dtype} needs a ${Ctor?.name ?? "?"} of values.`);
  }
  const expected = n * arrayElementsPerValue(info);
  if (tensor.data.length !== expected) {
    throw new InvalidArgumentError(
      `${what}: shape [${tensor.shape.join(", ")}] (${tensor.dtype}) needs ${expected} array elements, got ${tensor.data.length}.`,
    );
  }
}
