import { InvalidArgumentError, OutOfRangeError } from "../../errors.js";
import type { ServableFeature } from "../model-registry.js";
import { countIds, inputRows, type FeatureInput, type IdArray, type PredictInputs } from "./feature-input.js";

/**
 * Checks one feature's input before it joins a batch, so a bad request fails alone with a 400 that names
 * the feature, the table and the value, and never poisons the requests batched with it.
 */
export function validateFeatureInput(feature: ServableFeature, input: FeatureInput): void {
  const name = feature.name;
  // TF's safe sparse lookup prunes negative ids; every other path rejects them.
  checkIds(feature, input.ids, input.kind === "sparse");
  if (input.kind === "dense" && feature.maxSequenceLength > 0) {
    throw new InvalidArgumentError(
      `Feature "${name}" is a sequence feature (maxSequenceLength ${feature.maxSequenceLength}); ` +
        `send it as bags of ids (ragged or sparse), not as a dense tensor.`,
    );
  }
  if (input.kind !== "dense" && input.weights !== null) {
    if (input.weights.length !== input.ids.length) {
      throw new InvalidArgumentError(
        `Feature "${name}": ${input.weights.length} weights for ${input.ids.length} ids; ` +
          `weights must have the ids' structure.`,
      );
    }
    for (let i = 0; i < input.weights.length; i++) {
      if (!Number.isFinite(input.weights[i])) {
        throw new InvalidArgumentError(
          `Feature "${name}": weight ${i} is ${input.weights[i]}, expected a finite number.`,
        );
      }
    }
  }
}

function checkIds(feature: ServableFeature, ids: IdArray, allowNegative: boolean): void {
  const vocab = feature.vocabularySize;
  if (ids instanceof Int32Array) {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >= vocab || (id < 0 && !allowNegative)) outOfRange(feature, id);
    }
    return;
  }
  const big = BigInt(vocab);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id >= big || (id < 0n && !allowNegative)) outOfRange(feature, id);
  }
}

function outOfRange(feature: ServableFeature, id: number | bigint): never {
  throw new OutOfRangeError(feature.name, feature.table, id, feature.vocabularySize);
}

/**
 * Float32 values the lookup will allocate for one feature: a sparse input with a huge `dense_shape` and
 * no ids would otherwise ask for gigabytes.
 */
export function outputValues(feature: ServableFeature, input: FeatureInput): number {
  const perRow = feature.dim * (feature.maxSequenceLength > 0 ? feature.maxSequenceLength : 1);
  if (feature.outputShape !== null && input.kind === "ragged") {
    return Math.max(feature.outputShape.reduce((a, b) => a * b, 1) * feature.dim, inputRows(input) * perRow);
  }
  switch (input.kind) {
    case "ragged":
      return inputRows(input) * perRow;
    case "dense":
      return input.ids.length * feature.dim;
    case "sparse": {
      if (feature.maxSequenceLength > 0 && input.denseShape.length === 2) return input.denseShape[0] * perRow;
      return input.denseShape.slice(0, -1).reduce((a, b) => a * b, 1) * feature.dim;
    }
  }
}

/** The output-size limit: a 400 before anything is allocated. */
export function checkOutputLimit(total: number, maxValues: number): void {
  if (total > maxValues) {
    throw new InvalidArgumentError(
      `The request's embeddings would hold ${total} values; this server returns at most ${maxValues} ` +
        `values per request (limits.maxOutputValues).`,
    );
  }
}

/** The ids-per-request limit (a 400: the request is too big to be served, not the server too busy). */
export function checkIdLimit(inputs: PredictInputs, maxIds: number): void {
  const n = countIds(inputs);
  if (n > maxIds) {
    throw new InvalidArgumentError(
      `The request has ${n} ids; this server accepts at most ${maxIds} ids per request (--max-ids-per-request).`,
    );
  }
}
