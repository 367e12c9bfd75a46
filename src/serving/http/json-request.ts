import { InvalidArgumentError } from "../../errors.js";
import { excerpt } from "../excerpt.js";
import { isPlainObject } from "../../tensor/structure.js";
import type { FeatureInput, PredictInputs } from "../batching/feature-input.js";
import { requireFeature, type ModelFeatures } from "../batching/model-features.js";
import {
  BagBuilder,
  decodeBags,
  decodeDense,
  decodeFlatRagged,
  decodeSparse,
  describe,
  expected,
} from "./json-feature-forms.js";
import { debugString, decodeDenseColumn, DenseStacker } from "./json-dense.js";
import type { ServableFeature } from "../model-registry.js";

/** Row requests (`instances`) answer with `predictions`, columnar ones (`inputs`) with `outputs`. */
export type JsonFormat = "row" | "columnar";

export interface JsonPredictRequest {
  readonly format: JsonFormat;
  readonly inputs: PredictInputs;
}

const WEIGHTS_SUFFIX = "_weights";

/**
 * Decodes a TF Serving predict body (`{"instances": ...}` or `{"inputs": ...}`) for an embedding model.
 * Per feature: a list of ids per example (a bag: RaggedTensor), a bare id (a bag of one), or explicit
 * forms `{"ids", "weights"}`, `{"values", "row_splits", "weights"}`, `{"indices", "values",
 * "dense_shape", "weights"}` (SparseTensor) and `{"dense": ...}` (TF's plain gather). Weights may also
 * come as a sibling input `<feature>_weights`. Ids are numbers, bigints or decimal strings (int64 exact).
 */
export function decodeJsonPredict(body: unknown, features: ModelFeatures): JsonPredictRequest {
  if (!isPlainObject(body)) {
    throw new InvalidArgumentError(
      "JSON Value: the request body must be a JSON object with 'instances' or 'inputs'.",
    );
  }
  const signature = body.signature_name;
  if (signature !== undefined) {
    if (typeof signature !== "string")
      throw new InvalidArgumentError("'signature_name' key must be a string value.");
    if (signature !== "" && signature !== "serving_default") {
      throw new InvalidArgumentError(
        `Serving signature name: "${excerpt(signature)}" not found in signature def`,
      );
    }
  }
  const hasInstances = "instances" in body;
  const hasInputs = "inputs" in body;
  if (hasInstances === hasInputs) {
    throw new InvalidArgumentError(
      hasInstances
        ? `JSON Value: ${debugString(body)} Not formatted correctly expecting only one of 'inputs' or ` +
            `'instances' keys to exist`
        : "Missing 'inputs' or 'instances' key",
    );
  }
  return hasInstances
    ? { format: "row", inputs: decodeRows(body.instances, features) }
    : { format: "columnar", inputs: decodeColumns(body.inputs, features) };
}

// Columnar ----------------------------------------------------------------------------------------------

function decodeColumns(inputs: unknown, features: ModelFeatures): PredictInputs {
  let named: Record<string, unknown>;
  if (isPlainObject(inputs)) named = inputs;
  else if (features.byName.size === 1) named = { [[...features.byName.keys()][0]]: inputs };
  else {
    throw new InvalidArgumentError(
      `'inputs' must be an object keyed by feature name (this model has ${features.byName.size} features: ` +
        `${[...features.byName.keys()].join(", ")}).`,
    );
  }
  const out = new Map<string, FeatureInput>();
  for (const [name, value] of Object.entries(named)) {
    if (isSiblingWeights(name, features)) continue;
    const feature = requireFeature(features, name);
    const sibling = named[name + WEIGHTS_SUFFIX];
    const where = `inputs["${name}"]`;
    out.set(
      name,
      feature.input === "dense" && !isPlainObject(value)
        ? decodeDenseValue(feature, value, sibling, where)
        : decodeColumn(feature.name, value, sibling, where),
    );
  }
  if (out.size === 0) throw new InvalidArgumentError("'inputs' has no features.");
  return out;
}

/** A plain list (or bare id) of a feature declared dense: TF Serving's tensor, looked up by TF's gather. */
function decodeDenseValue(
  feature: ServableFeature,
  value: unknown,
  siblingWeights: unknown,
  where: string,
): FeatureInput {
  if (siblingWeights !== undefined) throw denseWeights(feature);
  return decodeDenseColumn(feature.name, value, where);
}

/** TF's ValueError for weights with a dense input (tpu_embedding_for_serving.py). */
function denseWeights(feature: ServableFeature): InvalidArgumentError {
  return new InvalidArgumentError(
    `Weight specified for ${feature.name}, but input is dense (features.json declares "input": "dense": ` +
      `a plain gather, no combiner, no weights).`,
  );
}

function isSiblingWeights(name: string, features: ModelFeatures): boolean {
  return (
    name.endsWith(WEIGHTS_SUFFIX) &&
    !features.byName.has(name) &&
    features.byName.has(name.slice(0, -WEIGHTS_SUFFIX.length))
  );
}

function decodeColumn(feature: string, value: unknown, siblingWeights: unknown, where: string): FeatureInput {
  if (Array.isArray(value)) return decodeBags(feature, value, siblingWeights ?? null, where);
  if (!isPlainObject(value)) {
    throw new InvalidArgumentError(
      `Feature "${feature}": ${where} is ${describe(value)}; expected a list of ids per example, or an object ` +
        `{"ids", "weights"}, {"values", "row_splits"}, {"indices", "values", "dense_shape"} or {"dense"}.`,
    );
  }
  if (siblingWeights !== undefined && !("ids" in value)) {
    throw new InvalidArgumentError(
      `Feature "${feature}": a sibling "${feature}${WEIGHTS_SUFFIX}" input only goes with a list of bags; ` +
        `put "weights" inside ${where}.`,
    );
  }
  const keys = Object.keys(value).sort().join(",");
  switch (keys) {
    case "ids":
    case "ids,weights":
      if (!Array.isArray(value.ids))
        throw expected(feature, `${where}.ids`, value.ids, "a list of bags of ids");
      return decodeBags(feature, value.ids, value.weights ?? siblingWeights ?? null, `${where}.ids`);
    case "row_splits,values":
    case "row_splits,values,weights":
      return decodeFlatRagged(feature, value, where);
    case "dense_shape,indices,values":
    case "dense_shape,indices,values,weights":
      return decodeSparse(feature, value, where);
    case "dense":
      return decodeDense(feature, value.dense, `${where}.dense`);
    default:
      throw new InvalidArgumentError(
        `Feature "${feature}": ${where} has keys {${excerpt(keys)}}; expected {"ids", "weights"?}, ` +
          `{"values", "row_splits", "weights"?}, {"indices", "values", "dense_shape", "weights"?} or {"dense"}.`,
      );
  }
}

/** A list with one entry per example: a list of ids (a bag) or a single id (a bag of one). */
// Rows --------------------------------------------------------------------------------------------------

function decodeRows(instances: unknown, features: ModelFeatures): PredictInputs {
  if (!Array.isArray(instances)) {
    throw new InvalidArgumentError(`Expecting 'instances' to be an list/array, got ${describe(instances)}.`);
  }
  if (instances.length === 0) throw new InvalidArgumentError("No values in 'instances' array.");
  const named = isPlainObject(instances[0]) && !isBagObject(instances[0]);
  if (!named && features.byName.size !== 1) {
    throw new InvalidArgumentError(
      `instances is a plain list, but expecting list of objects as multiple input tensors required as per ` +
        `tensorinfo_map: each instance must be an object keyed by feature name (this model has ` +
        `${features.byName.size} features: ${[...features.byName.keys()].join(", ")}).`,
    );
  }
  const names = named ? Object.keys(instances[0] as object) : [[...features.byName.keys()][0]];
  const builders = new Map<string, BagBuilder | DenseStacker>();
  for (const name of names) {
    if (isSiblingWeights(name, features)) continue;
    const feature = requireFeature(features, name);
    if (feature.input === "dense") {
      if (names.includes(name + WEIGHTS_SUFFIX)) throw denseWeights(feature);
      builders.set(name, new DenseStacker(feature.name, named ? name : null));
      continue;
    }
    const weighted =
      names.includes(name + WEIGHTS_SUFFIX) && isSiblingWeights(name + WEIGHTS_SUFFIX, features);
    builders.set(
      name,
      new BagBuilder(feature.name, weighted || instancesHaveWeights(instances, name, named)),
    );
  }
  for (let i = 0; i < instances.length; i++) {
    const instance = instances[i];
    if (named) {
      if (!isPlainObject(instance) || isBagObject(instance)) {
        throw new InvalidArgumentError(
          `Expecting object but got list at item ${i} of input list: instances[${i}] is ${describe(instance)}; ` +
            `every instance must be an object.`,
        );
      }
      const keys = Object.keys(instance);
      if (keys.length !== names.length || keys.some((k) => !Object.hasOwn(instances[0] as object, k))) {
        throw new InvalidArgumentError(
          `instances[${i}] has inputs {${excerpt(keys.sort().join(", "))}} but instances[0] has {${excerpt([...names].sort().join(", "))}}; ` +
            `every instance must have the same inputs.`,
        );
      }
    } else if (isPlainObject(instance) && !isBagObject(instance)) {
      throw new InvalidArgumentError(
        `Expecting value/list but got object at item ${i} of input list (instances[0] is not an object, ` +
          `so no instance may be one).`,
      );
    }
    for (const [name, builder] of builders) {
      const value = named ? (instance as Record<string, unknown>)[name] : instance;
      const where = named ? `instances[${i}]["${name}"]` : `instances[${i}]`;
      if (builder instanceof DenseStacker) {
        builder.add(value, where);
      } else if (isBagObject(value)) {
        builder.addBag(
          (value as Record<string, unknown>).ids,
          (value as Record<string, unknown>).weights,
          where,
        );
      } else {
        const sibling = named ? (instance as Record<string, unknown>)[name + WEIGHTS_SUFFIX] : undefined;
        builder.addBag(value, sibling, where);
      }
    }
  }
  return new Map([...builders].map(([name, b]) => [name, b.finish()]));
}

function isBagObject(value: unknown): boolean {
  return (
    isPlainObject(value) && "ids" in value && Object.keys(value).every((k) => k === "ids" || k === "weights")
  );
}

function instancesHaveWeights(instances: unknown[], name: string, named: boolean): boolean {
  const first = named ? (instances[0] as Record<string, unknown>)[name] : instances[0];
  return isBagObject(first) && (first as Record<string, unknown>).weights !== undefined;
}
