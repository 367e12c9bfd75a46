import { InvalidArgumentError } from "../../errors.js";
import type { FeatureInput, IdArray } from "../batching/feature-input.js";
import { FloatBuilder, IdBuilder, Int32Builder } from "../batching/typed-builders.js";
import { IntegralFloat } from "./json-body.js";

/**
 * The JSON forms of one feature's input (see docs/serving.md): bags of ids, flat ragged, sparse and
 * dense, each turned into typed arrays with an error naming the feature and the JSON position.
 */
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL = /^-?\d{1,20}$/;
const MAX_DENSE_RANK = 8;

export function decodeBags(feature: string, bags: unknown[], weights: unknown, where: string): FeatureInput {
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

export function decodeFlatRagged(
  feature: string,
  value: Record<string, unknown>,
  where: string,
): FeatureInput {
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

export function decodeSparse(feature: string, value: Record<string, unknown>, where: string): FeatureInput {
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

/**
 * The shape a dense JSON value claims, read down its first elements (`[]` for a bare id); refused past
 * MAX_DENSE_RANK. Every element is checked against it afterwards by the caller's walk.
 */
export function probeDenseShape(feature: string, value: unknown, where: string): number[] {
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
  return shape;
}

export function decodeDense(feature: string, value: unknown, where: string): FeatureInput {
  const shape = probeDenseShape(feature, value, where);
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

// Shared pieces -----------------------------------------------------------------------------------------

/**
 * Builds a ragged input bag by bag. Weights may be given for some bags only: the others get weight 1 per
 * id (TF's default weight, so their result is exactly the unweighted one; the micro-batcher does the same).
 */
export class BagBuilder {
  private readonly ids = new IdBuilder();
  private readonly splits = new Int32Builder();
  private weights: FloatBuilder | null = null;

  constructor(
    private readonly feature: string,
    weighted: boolean,
  ) {
    this.splits.push(0);
    if (weighted) this.weights = new FloatBuilder();
  }

  addBag(bag: unknown, weights: unknown, where: string): void {
    const before = this.ids.length;
    if (Array.isArray(bag)) {
      for (let i = 0; i < bag.length; i++) this.ids.push(parseId(this.feature, bag[i], `${where}[${i}]`));
    } else {
      this.ids.push(parseId(this.feature, bag, where));
    }
    const n = this.ids.length - before;
    if (weights !== undefined && weights !== null) {
      const list = Array.isArray(weights) ? weights : [weights];
      if (list.length !== n || Array.isArray(bag) !== Array.isArray(weights)) {
        throw new InvalidArgumentError(
          `Feature "${this.feature}": ${where} has ${n} ids but its weights are ${describe(weights)}; ` +
            `weights must have the ids' structure.`,
        );
      }
      if (this.weights === null) {
        this.weights = new FloatBuilder();
        for (let i = 0; i < before; i++) this.weights.push(1);
      }
      for (let i = 0; i < list.length; i++)
        this.weights.push(parseWeight(this.feature, list[i], `${where} weight ${i}`));
    } else if (this.weights !== null) {
      for (let i = 0; i < n; i++) this.weights.push(1);
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

function decodeIdList(feature: string, value: unknown, where: string): IdArray {
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
  if (value instanceof IntegralFloat) {
    // TF Serving's TypeError for a float literal in an int64 tensor (rapidjson's IsInt64 is false).
    throw new InvalidArgumentError(
      `Feature "${feature}": ${where} is ${value.text}: JSON Value: ${value.value}.0 Type: Number is not of ` +
        `expected type: int64 (ids are JSON integers, or decimal strings for 64-bit ids).`,
    );
  }
  if (typeof value === "bigint" && value >= INT64_MIN && value <= INT64_MAX) return value;
  if (typeof value === "string" && DECIMAL.test(value)) {
    const big = BigInt(value);
    if (big >= INT64_MIN && big <= INT64_MAX) {
      return big >= -(2n ** 31n) && big < 2n ** 31n ? Number(big) : big;
    }
  }
  throw new InvalidArgumentError(
    `Feature "${feature}": ${where} is ${describe(value)}; expected an int64 id (a JSON integer, or a ` +
      `decimal string for 64-bit ids). JSON Value: ${describe(value)} Type: ${jsonType(value)} is not of ` +
      `expected type: int64`,
  );
}

function parseWeight(feature: string, value: unknown, where: string): number {
  const n = typeof value === "bigint" ? Number(value) : value instanceof IntegralFloat ? value.value : value;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw new InvalidArgumentError(
      `Feature "${feature}": ${where} is ${describe(value)}; expected a finite number.`,
    );
  }
  return n;
}

export function expected(feature: string, where: string, value: unknown, what: string): InvalidArgumentError {
  return new InvalidArgumentError(`Feature "${feature}": ${where} is ${describe(value)}; expected ${what}.`);
}

/** rapidjson's type names (TF Serving's `JsonTypeString`). */
function jsonType(value: unknown): string {
  if (Array.isArray(value)) return "Array";
  if (value === null || value === undefined) return "Null";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "string") return "String";
  if (typeof value === "number" || typeof value === "bigint" || value instanceof IntegralFloat)
    return "Number";
  return "Object";
}

/** A short description of an offending JSON value for error messages. */
export function describe(value: unknown): string {
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value instanceof IntegralFloat) return value.text;
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  return String(value);
}
