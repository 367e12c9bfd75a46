import { InvalidArgumentError } from "../../errors.js";
import type { ServableFeature } from "../model-registry.js";
import type { FeatureInput, PredictInputs, RaggedInput, SparseInput } from "./feature-input.js";

/**
 * Makes a request's inputs mean what `features.json` declares (`"input"`), whatever the wire format
 * (JSON rows, JSON columns, binary): a feature without a declaration takes every kind as sent; a
 * `sparse` feature reads bags (ragged forms) as the rows of a SparseTensor (`[rows, longest bag]`, ids at
 * their positions: TF's safe sparse lookup, so negative ids are pruned); any other kind than the
 * declared one is a 400 naming the feature and both kinds.
 */
export function conformInputs(
  features: ReadonlyMap<string, ServableFeature>,
  inputs: PredictInputs,
): PredictInputs {
  let out: Map<string, FeatureInput> | null = null;
  for (const [name, input] of inputs) {
    const feature = features.get(name);
    if (feature === undefined) continue; // reported by the caller with the model's inputs
    const conformed = conformInput(feature, input);
    if (conformed !== input) (out ??= new Map(inputs)).set(name, conformed);
  }
  return out ?? inputs;
}

export function conformInput(feature: ServableFeature, input: FeatureInput): FeatureInput {
  const declared = feature.input;
  if (declared === undefined || declared === input.kind) return input;
  if (declared === "sparse" && input.kind === "ragged") return raggedToSparse(input);
  throw new InvalidArgumentError(
    `Feature "${feature.name}" takes ${declared} input (features.json "input": "${declared}"), but the ` +
      `request sends a ${input.kind} input${hint(declared)}.`,
  );
}

function hint(declared: string): string {
  switch (declared) {
    case "dense":
      return ': send a (nested) list of ids, or {"dense": ...}';
    case "ragged":
      return ': send a list of ids per example, {"ids", "weights"} or {"values", "row_splits"}';
    default:
      return ': send bags of ids or {"indices", "values", "dense_shape"}';
  }
}

/** Row r's j-th id at index [r, j]; dense_shape [rows, longest bag]. */
export function raggedToSparse(input: RaggedInput): SparseInput {
  const splits = input.rowSplits;
  const rows = splits.length - 1;
  const indices = new BigInt64Array(input.ids.length * 2);
  let longest = 0;
  for (let r = 0; r < rows; r++) {
    const start = splits[r];
    const n = splits[r + 1] - start;
    if (n > longest) longest = n;
    for (let j = 0; j < n; j++) {
      indices[(start + j) * 2] = BigInt(r);
      indices[(start + j) * 2 + 1] = BigInt(j);
    }
  }
  return { kind: "sparse", ids: input.ids, indices, denseShape: [rows, longest], weights: input.weights };
}
