import { InvalidArgumentError } from "../../errors.js";
import type { FeatureInput } from "../batching/feature-input.js";
import { IdBuilder } from "../batching/typed-builders.js";
import { IntegralFloat } from "./json-body.js";
import { parseId, probeDenseShape } from "./json-feature-forms.js";

/**
 * Plain JSON lists for a feature declared `"input": "dense"`, read as TF Serving reads a tensor
 * (json_tensor.cc): the shape comes from the first element at each level (`GetDenseTensorShape`), every
 * list must have that size and every id sit at the innermost level (`FillTensorProto`), and in the row
 * format every instance must have the same size and shape (`AddInstanceItem`). The messages are TF
 * Serving's, prefixed with the feature.
 */

/** Appends one dense value's ids to `ids` and returns its shape (`[]` for a bare id). */
function fillDense(feature: string, value: unknown, where: string, ids: IdBuilder): number[] {
  const shape = probeDenseShape(feature, value, where);
  const rank = shape.length;
  const fail = (message: string) => new InvalidArgumentError(`Feature "${feature}": ${message}`);
  const visit = (node: unknown, level: number, at: string): void => {
    if (!Array.isArray(node)) {
      if (level !== rank) {
        throw fail(
          `JSON Value: ${debugString(node)} found at incorrect level: ${level + 1} in the JSON DOM. ` +
            `Expected at level: ${rank} (${at}).`,
        );
      }
      if (node !== null && typeof node === "object" && !(node instanceof IntegralFloat)) {
        throw fail(`JSON Value: ${debugString(node)} Type: Object is not of expected type: int64 (${at}).`);
      }
      ids.push(parseId(feature, node, at));
      return;
    }
    if (level >= rank) {
      throw fail(`Encountered list at unexpected level: ${level} expected < ${rank} (${at}).`);
    }
    if (node.length !== shape[level]) {
      throw fail(
        `Encountered list at unexpected size: ${node.length} at level: ${level} expected size: ` +
          `${shape[level]} (${at}).`,
      );
    }
    for (let i = 0; i < node.length; i++) visit(node[i], level + 1, `${at}[${i}]`);
  };
  visit(value, 0, where);
  return shape;
}

/** A columnar (`inputs`) dense value: the tensor as written (a bare id is a scalar: output `[dim]`). */
export function decodeDenseColumn(feature: string, value: unknown, where: string): FeatureInput {
  const ids = new IdBuilder();
  const shape = fillDense(feature, value, where, ids);
  return { kind: "dense", ids: ids.finish(), shape };
}

/** Row format: instances stacked along a new first dimension, each of the first one's size and shape. */
export class DenseStacker {
  private readonly ids = new IdBuilder();
  private shape: number[] | null = null;
  private size = 0;
  private rows = 0;

  constructor(
    private readonly feature: string,
    /** The instance's key in named instances; null for a one-feature model's bare instances. */
    private readonly key: string | null,
  ) {}

  add(value: unknown, where: string): void {
    const index = this.rows;
    const wrap = (message: string) =>
      new InvalidArgumentError(
        `Failed to process element: ${index}${this.key === null ? "" : ` key: ${this.key}`} of 'instances' ` +
          `list. Error: INVALID_ARGUMENT: Feature "${this.feature}": ${message}`,
      );
    const before = this.ids.length;
    let shape: number[];
    try {
      shape = fillDense(this.feature, value, where, this.ids);
    } catch (error) {
      if (error instanceof InvalidArgumentError) {
        throw wrap(error.message.replace(`Feature "${this.feature}": `, ""));
      }
      throw error;
    }
    const size = this.ids.length - before;
    if (this.shape === null) {
      this.shape = shape;
      this.size = size;
    } else if (size !== this.size) {
      throw wrap(`Expecting tensor size: ${this.size} but got: ${size} (${where}).`);
    } else if (shape.join(",") !== this.shape.join(",")) {
      throw wrap(`Expecting shape [${this.shape.join(",")}] but got: [${shape.join(",")}] (${where}).`);
    }
    this.rows++;
  }

  finish(): FeatureInput {
    return { kind: "dense", ids: this.ids.finish(), shape: [this.rows, ...(this.shape ?? [])] };
  }
}

/** rapidjson's compact rendering of a value in TF Serving's messages (`1.0`, `"x"`, `{"a":1}`). */
export function debugString(value: unknown): string {
  if (value instanceof IntegralFloat) return `${value.value}.0`;
  if (typeof value === "bigint") return String(value);
  if (value === undefined) return "null";
  const text = JSON.stringify(value, (_k, v: unknown) =>
    typeof v === "bigint" ? Number(v) : v instanceof IntegralFloat ? v.value : v,
  );
  return text.length > 256 ? text.slice(0, 256) : text;
}
