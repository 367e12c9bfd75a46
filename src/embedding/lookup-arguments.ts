import { InvalidArgumentError } from "../errors.js";
import type { KeyedJaggedTensor } from "../tensor/keyed-jagged-tensor.js";
import type { RaggedTensor } from "../tensor/ragged-tensor.js";

/** TPUEmbeddingForServing's checks of a lookup's arguments (tpu-embedding-for-serving.ts). */

export function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null;
}

/** A KeyedJaggedTensor's features as the inputs they stand for: one RaggedTensor per key. */
export type KeyedInputs = Record<string, RaggedTensor>;

/** A KeyedJaggedTensor carries its own weights: a separate `weights` argument is an error. */
export function keyedInputs(
  kjt: KeyedJaggedTensor,
  weights: unknown,
): { features: KeyedInputs; weights: KeyedInputs | undefined } {
  if (weights !== undefined && weights !== null) {
    throw new InvalidArgumentError(
      "A KeyedJaggedTensor carries its weights (its `weights` field); pass none beside it.",
    );
  }
  const dict = kjt.toDict();
  return { features: dict.features, weights: dict.weights ?? undefined };
}
