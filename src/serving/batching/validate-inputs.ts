import { InvalidArgumentError, OutOfRangeError } from "../../errors.js";
import type { ServableFeature } from "../model-registry.js";
import type { FeatureConfig } from "../../config/feature-config.js";
import {
  countIds,
  inputRows,
  type FeatureInput,
  type IdArray,
  type PredictInputs,
  type SparseInput,
} from "./feature-input.js";

/**
 * Checks one feature's input before it joins a batch, so a bad request fails alone with a 400 that names
 * the feature, the table and the value, and never poisons the requests batched with it.
 */
export function validateFeatureInput(
  feature: ServableFeature,
  input: FeatureInput,
  config?: Pick<FeatureConfig, "validateWeightsAndIndices">,
): void {
  const name = feature.name;
  if (input.kind === "sparse") checkSparseIds(feature, input, config?.validateWeightsAndIndices ?? true);
  else checkIds(feature, input.ids, () => true);
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

/**
 * The ids of a sparse input that reach TF's gather, as the library's planner (lookup-plan.ts planSparse)
 * decides: the sequence path gathers the ids within the first maxSequenceLength columns; the plain path
 * (validateWeightsAndIndices false, rank <= 2) every id; the safe path (safe_embedding_lookup_sparse_v2)
 * prunes ids < 0, then, unless the combiner is sum, entries whose weight is not > 0, and gathers the rest.
 */
function checkSparseIds(feature: ServableFeature, input: SparseInput, validate: boolean): void {
  const rank = input.denseShape.length;
  const weights = input.weights;
  if (feature.outputShape === null && feature.maxSequenceLength > 0 && rank === 2) {
    const length = BigInt(feature.maxSequenceLength);
    checkIds(feature, input.ids, (e) => input.indices[e * 2 + 1] < length);
    return;
  }
  if (!validate && rank <= 2) {
    checkIds(feature, input.ids, () => true);
    return;
  }
  const pruneWeights = weights !== null && feature.combiner !== "sum";
  checkIds(feature, input.ids, (e, negative) => !negative && !(pruneWeights && !(weights[e] > 0)));
}

/** Every id for which `gathered(i, id < 0)` holds must lie in [0, vocab). */
function checkIds(
  feature: ServableFeature,
  ids: IdArray,
  gathered: (i: number, negative: boolean) => boolean,
): void {
  const vocab = feature.vocabularySize;
  if (ids instanceof Int32Array) {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if ((id >= vocab || id < 0) && gathered(i, id < 0)) outOfRange(feature, id);
    }
    return;
  }
  const big = BigInt(vocab);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if ((id >= big || id < 0n) && gathered(i, id < 0n)) outOfRange(feature, id);
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
