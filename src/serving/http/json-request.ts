import { InvalidArgumentError } from "../../errors.js";
import { isPlainObject } from "../../tensor/structure.js";
import type { FeatureInput, PredictInputs } from "../batching/feature-input.js";
import { requireFeature, type ModelFeatures } from "../batching/model-features.js";
import { FloatBuilder, IdBuilder, Int32Builder } from "../batching/typed-builders.js";

/** Row requests (`instances`) answer with `predictions`, columnar ones (`inputs`) with `outputs`. */
export type JsonFormat = "row" | "columnar";

export interface JsonPredictRequest {
  readonly format: JsonFormat;
  readonly inputs: PredictInputs;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL = /^-?\d{1,20}$/;
const MAX_DENSE_RANK = 8;
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
      throw new InvalidArgumentError(`Serving signature name: "${signature}" not found in signature def`);
    }
  }
  const hasInstances = "instances" in body;
  const hasInputs = "inputs" in body;
  if (hasInstances === hasInputs) {
    throw new InvalidArgumentError(
      hasInstances
        ? "Not allowed to mix 'instances' and 'inputs' keys in the same request."
        : "Missing 'instances' or 'inputs' key",
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
    out.set(name, decodeColumn(feature.name, value, sibling, `inputs["${name}"]`));
  }
  if (out.size === 0) throw new InvalidArgumentError("'inputs' has no features.");
  return out;
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
        `Feature "${feature}": ${where} has keys {${keys}}; expected {"ids", "weights"?}, ` +
          `{"values", "row_splits", "weights"?}, {"indices", "values", "dense_shape", "weights"?} or {"dense"}.`,
      );
  }
}

/** A list with one entry per example: a list of ids (a bag) or a single id (a bag of one). */
function decodeBags(feature: string, bags: unknown[], weights: unknown, where: string): FeatureInput {
  if (weights !== null && (!Array.isArray(weights) || weights.length !== bags.length)) {
    throw new InvalidArgumentError(
      `Feature "${feature}": weights must be a list with one entry per example like the ids ` +
        `(${bags.length} examples), got ${describe(weights)}.`,
    );
  }
  const builder = new BagBuilder(feature, weights !== null);
  for (let r = 0; r < bags.length; r++) {
    builder.addBag(bags[r], weights === null ? undefined : (weights as unknown[])[r], `${where}[${r}]`);
  }
  return builder.finish();
}

function decodeFlatRagged(feature: string, value: Record<string, unknown>, where: string): FeatureInput {
  const ids = decodeIdList(feature, value.values, `${where}.values`);
  const splits = value.row_splits;
  if (!Array.isArray(splits) || splits.length < 1) {
    throw expected(feature, `${where}.row_splits`, splits, "a non-empty list of row splits");
  }
  const rowSplits = new Int32Array(splits.length);
  for (let i = 0; i < splits.length; i++) {
    const s = splits[i];
    const prev = i === 0 ? 0 : rowSplits[i - 1];
    if (typeof s !== "number" || !Number.isInteger(s) || s < prev || s > ids.length || (i === 0 && s !== 0)) {
      throw new InvalidArgumentError(
        `Feature "${feature}": ${where}.row_splits[${i}] is ${describe(s)}; row splits must start at 0, ` +
          `never decrease and end at the number of values (${ids.length}).`,
      );
    }
    rowSplits[i] = s;
  }
  if (rowSplits[rowSplits.length - 1] !== ids.length) {
    throw new InvalidArgumentError(
      `Feature "${feature}": the last row split of ${where} (${rowSplits[rowSplits.length - 1]}) must equal ` +
        `the number of values (${ids.length}).`,
    );
  }
  const weights =
    value.weights === undefined ? null : decodeWeightList(feature, value.weights, `${where}.weights`);
  return { kind: "ragged", ids, rowSplits, weights };
}

function decodeSparse(feature: string, value: Record<string, unknown>, where: string): FeatureInput {
  const ids = decodeIdList(feature, value.values, `${where}.values`);
  const shape = value.dense_shape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > MAX_DENSE_RANK) {
    throw expected(feature, `${where}.dense_shape`, shape, `a list of 1 to ${MAX_DENSE_RANK} dimensions`);
  }
  const denseShape = shape.map((d, i) => {
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0 || d > 2 ** 31 - 1) {
      throw expected(feature, `${where}.dense_shape[${i}]`, d, "a non-negative integer");
    }
    return d;
  });
  const rank = denseShape.length;
  const list = value.indices;
  if (!Array.isArray(list) || list.length !== ids.length) {
    throw expected(feature, `${where}.indices`, list, `a list of ${ids.length} coordinates (one per value)`);
  }
  const indices = new BigInt64Array(ids.length * rank);
  for (let e = 0; e < list.length; e++) {
    const coordinate = list[e];
    if (!Array.isArray(coordinate) || coordinate.length !== rank) {
      throw expected(feature, `${where}.indices[${e}]`, coordinate, `${rank} coordinates`);
    }
    for (let d = 0; d < rank; d++) {
      const c = coordinate[d];
      if (typeof c !== "number" || !Number.isInteger(c) || c < 0 || c >= denseShape[d]) {
        throw new InvalidArgumentError(
          `Feature "${feature}": ${where}.indices[${e}][${d}] is ${describe(c)}, expected an integer in ` +
            `[0, ${denseShape[d]}) (dense_shape [${denseShape.join(", ")}]).`,
        );
      }
      indices[e * rank + d] = BigInt(c);
    }
  }
  const weights =
    value.weights === undefined ? null : decodeWeightList(feature, value.weights, `${where}.weights`);
  return { kind: "sparse", ids, indices, denseShape, weights };
}

function decodeDense(feature: string, value: unknown, where: string): FeatureInput {
  const shape: number[] = [];
  let probe = value;
  while (Array.isArray(probe)) {
    if (shape.length === MAX_DENSE_RANK) {
      throw new InvalidArgumentError(
        `Feature "${feature}": ${where} is nested deeper than rank ${MAX_DENSE_RANK}.`,
      );
    }
    shape.push(probe.length);
    probe = probe[0];
  }
  const ids = new IdBuilder();
  const visit = (node: unknown, depth: number, at: string): void => {
    if (depth === shape.length) {
      ids.push(parseId(feature, node, at));
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new InvalidArgumentError(
        `Feature "${feature}": ${at} is ${describe(node)}; a dense input must be rectangular ` +
          `(shape [${shape.join(", ")}]).`,
      );
    }
    for (let i = 0; i < node.length; i++) visit(node[i], depth + 1, `${at}[${i}]`);
  };
  visit(value, 0, where);
  return { kind: "dense", ids: ids.finish(), shape };
}

// Rows --------------------------------------------------------------------------------------------------

function decodeRows(instances: unknown, features: ModelFeatures): PredictInputs {
  if (!Array.isArray(instances))
    throw new InvalidArgumentError(`'instances' must be a list, got ${describe(instances)}.`);
  if (instances.length === 0) throw new InvalidArgumentError("'instances' is an empty list.");
  const named = isPlainObject(instances[0]) && !isBagObject(instances[0]);
  if (!named && features.byName.size !== 1) {
    throw new InvalidArgumentError(
      `Each instance must be an object keyed by feature name (this model has ${features.byName.size} features: ` +
        `${[...features.byName.keys()].join(", ")}).`,
    );
  }
  const names = named ? Object.keys(instances[0] as object) : [[...features.byName.keys()][0]];
  const builders = new Map<string, BagBuilder>();
  for (const name of names) {
    if (isSiblingWeights(name, features)) continue;
    const feature = requireFeature(features, name);
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
          `instances[${i}] is ${describe(instance)}; every instance must be an object.`,
        );
      }
      const keys = Object.keys(instance);
      if (keys.length !== names.length || keys.some((k) => !(k in (instances[0] as object)))) {
        throw new InvalidArgumentError(
          `instances[${i}] has inputs {${keys.sort().join(", ")}} but instances[0] has {${[...names].sort().join(", ")}}; ` +
            `every instance must have the same inputs.`,
        );
      }
    }
    for (const [name, builder] of builders) {
      const value = named ? (instance as Record<string, unknown>)[name] : instance;
      const where = named ? `instances[${i}]["${name}"]` : `instances[${i}]`;
      if (isBagObject(value)) {
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

// Shared pieces -----------------------------------------------------------------------------------------

/** Builds a ragged input bag by bag; weights, when present, must be given for every bag. */
class BagBuilder {
  private readonly ids = new IdBuilder();
  private readonly splits = new Int32Builder();
  private readonly weights: FloatBuilder | null;

  constructor(
    private readonly feature: string,
    weighted: boolean,
  ) {
    this.splits.push(0);
    this.weights = weighted ? new FloatBuilder() : null;
  }

  addBag(bag: unknown, weights: unknown, where: string): void {
    const before = this.ids.length;
    if (Array.isArray(bag)) {
      for (let i = 0; i < bag.length; i++) this.ids.push(parseId(this.feature, bag[i], `${where}[${i}]`));
    } else {
      this.ids.push(parseId(this.feature, bag, where));
    }
    const n = this.ids.length - before;
    if (this.weights !== null) {
      if (weights === undefined || weights === null) {
        throw new InvalidArgumentError(
          `Feature "${this.feature}": ${where} has no weights but other examples do; give weights for every example.`,
        );
      }
      const list = Array.isArray(weights) ? weights : [weights];
      if (list.length !== n || Array.isArray(bag) !== Array.isArray(weights)) {
        throw new InvalidArgumentError(
          `Feature "${this.feature}": ${where} has ${n} ids but its weights are ${describe(weights)}; ` +
            `weights must have the ids' structure.`,
        );
      }
      for (let i = 0; i < list.length; i++)
        this.weights.push(parseWeight(this.feature, list[i], `${where} weight ${i}`));
    } else if (weights !== undefined && weights !== null) {
      throw new InvalidArgumentError(
        `Feature "${this.feature}": ${where} has weights but the first example has none; give weights for every example or none.`,
      );
    }
    this.splits.push(this.ids.length);
  }

  finish(): FeatureInput {
    return {
      kind: "ragged",
      ids: this.ids.finish(),
      rowSplits: this.splits.finish(),
      weights: this.weights?.finish() ?? null,
    };
  }
}

function decodeIdList(feature: string, value: unknown, where: string) {
  if (!Array.isArray(value)) throw expected(feature, where, value, "a list of ids");
  const ids = new IdBuilder();
  for (let i = 0; i < value.length; i++) ids.push(parseId(feature, value[i], `${where}[${i}]`));
  return ids.finish();
}

function decodeWeightList(feature: string, value: unknown, where: string): Float32Array {
  if (!Array.isArray(value)) throw expected(feature, where, value, "a list of numbers");
  const out = new Float32Array(value.length);
  for (let i = 0; i < value.length; i++) out[i] = parseWeight(feature, value[i], `${where}[${i}]`);
  return out;
}

/** An id: an integer number (exact below 2^53), a bigint from the lossless parser, or a decimal string. */
export function parseId(feature: string, value: unknown, where: string): number | bigint {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "bigint" && value >= INT64_MIN && value <= INT64_MAX) return value;
  if (typeof value === "string" && DECIMAL.test(value)) {
    const big = BigInt(value);
    if (big >= INT64_MIN && big <= INT64_MAX) {
      return big >= -(2n ** 31n) && big < 2n ** 31n ? Number(big) : big;
    }
  }
  throw new InvalidArgumentError(
    `Feature "${feature}": ${where} is ${describe(value)}; expected an integer id (a JSON integer, or a ` +
      `decimal string for 64-bit ids).`,
  );
}

function parseWeight(feature: string, value: unknown, where: string): number {
  const n = typeof value === "bigint" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw new InvalidArgumentError(
      `Feature "${feature}": ${where} is ${describe(value)}; expected a finite number.`,
    );
  }
  return n;
}

function expected(feature: string, where: string, value: unknown, what: string): InvalidArgumentError {
  return new InvalidArgumentError(`Feature "${feature}": ${where} is ${describe(value)}; expected ${what}.`);
}

/** A short description of an offending JSON value for error messages. */
export function describe(value: unknown): string {
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  return String(value);
}
