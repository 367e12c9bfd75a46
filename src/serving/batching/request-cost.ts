import type { ServableFeature } from "../model-registry.js";
import type { FeatureInput } from "./feature-input.js";

/**
 * What a predict request makes the server allocate and write, in bytes, estimated from its decoded
 * inputs before anything sized by them is allocated: every array, not only the output (a sparse
 * `dense_shape` of [2147483647, 0, 5] has an empty output but 2^31 rows of JSON lists). The server
 * refuses a request above its per-request budget (400) and holds the estimate against its server-wide
 * in-flight budget until the answer is written (memory-budget.ts).
 */
export interface FeatureCost {
  readonly feature: string;
  readonly bytes: number;
  /** The output's shape (`[...rows, dim]`), for error messages. */
  readonly outputShape: readonly number[];
}

/** Worst-case JSON characters per float32 value (sign, 9 digits, point, exponent, comma). */
const JSON_BYTES_PER_VALUE = 16;
/** Bytes per id across the lookup's intermediate arrays (ids as int32, weights, row of each entry, the
 * grouped copies, positions) and the micro-batcher's merged copy. */
const PLAN_BYTES_PER_ID = 40;
/** Bytes per output row for row splits and cursors (int32 each, a few copies). */
const PLAN_BYTES_PER_ROW = 12;
/** Float32 output, the worker pool's output slot it is copied from, and the batch it is split from. */
const OUTPUT_BYTES_PER_VALUE = 12;

/**
 * The output shape of one feature's lookup as the server computes it (TF's rules, lookup-plan.ts):
 * ragged with `outputShape` → `[...outputShape, dim]` (at least one row per example); sequence features
 * `[rows, L, dim]`; dense `[...shape, dim]`; sparse `[...dense_shape[:-1], dim]`.
 */
export function outputShapeOf(feature: ServableFeature, input: FeatureInput): number[] {
  const dim = feature.dim;
  const sequence = feature.maxSequenceLength;
  switch (input.kind) {
    case "ragged": {
      const rows = input.rowSplits.length - 1;
      if (feature.outputShape !== null) {
        const fixed = feature.outputShape.reduce((a, b) => a * b, 1);
        return fixed >= rows ? [...feature.outputShape, dim] : [rows, dim];
      }
      return sequence > 0 ? [rows, sequence, dim] : [rows, dim];
    }
    case "dense":
      return [...input.shape, dim];
    case "sparse":
      if (sequence > 0 && input.denseShape.length === 2 && feature.outputShape === null)
        return [input.denseShape[0], sequence, dim];
      return [...input.denseShape.slice(0, -1), dim];
  }
}

/** Float32 values of an output shape. */
export function shapeValues(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * JSON lists an answer of this shape prints: one per index of every dimension but the last, up to the
 * first zero dimension (`[2147483647, 0, 8]` → 1 + 2147483647).
 */
export function jsonLists(shape: readonly number[]): number {
  let lists = 1;
  let prefix = 1;
  for (let d = 0; d < shape.length - 1; d++) {
    prefix *= shape[d];
    if (prefix === 0) break;
    lists += prefix;
  }
  return lists;
}

/** Rows the lookup's plan walks (its row splits' length): the output's values over its last dimension. */
function planRows(shape: readonly number[]): number {
  let rows = 1;
  for (let d = 0; d < shape.length - 1; d++) rows *= shape[d];
  return rows;
}

/** One feature's share of a request's cost; `json`: the answer is printed as JSON (else binary). */
export function featureCost(feature: ServableFeature, input: FeatureInput, json: boolean): FeatureCost {
  const outputShape = outputShapeOf(feature, input);
  const values = shapeValues(outputShape);
  let inputBytes = input.ids.byteLength;
  if (input.kind === "ragged") inputBytes += input.rowSplits.byteLength;
  if (input.kind === "sparse") inputBytes += input.indices.byteLength;
  if (input.kind !== "dense" && input.weights !== null) inputBytes += input.weights.byteLength;
  const answer = json
    ? JSON_BYTES_PER_VALUE * values + 3 * jsonLists(outputShape) + (outputShape[0] ?? 1) * 32
    : 4 * values + 64;
  const bytes =
    inputBytes +
    PLAN_BYTES_PER_ID * input.ids.length +
    PLAN_BYTES_PER_ROW * (planRows(outputShape) + 1) +
    OUTPUT_BYTES_PER_VALUE * values +
    answer;
  return { feature: feature.name, bytes, outputShape };
}
