import { InvalidArgumentError } from "../errors.js";
import { TableConfig } from "./table-config.js";
import { describeValue, fail, rejectUnknownOptions, requireBoolean } from "./validate.js";

export interface FeatureConfigOptions {
  table: TableConfig;
  /** 0: not a sequence feature. L > 0: outputs `[batch, L, dim]`, truncating and zero-padding. */
  maxSequenceLength?: number;
  /** Sparse inputs only: prune negative ids and non-positive weights, zero-fill empty rows (TF's safe lookup). */
  validateWeightsAndIndices?: boolean;
  /** Ragged inputs only: reshape the output to `outputShape + [dim]` (rules: docs/lookups.md). */
  outputShape?: readonly number[] | null;
  name?: string | null;
}

/** Binds one input feature to a table (TF's `tf.tpu.experimental.embedding.FeatureConfig`). */
export class FeatureConfig {
  readonly table: TableConfig;
  readonly maxSequenceLength: number;
  readonly validateWeightsAndIndices: boolean;
  /** `null` is TF's unknown-rank shape (falsy); any array, even `[]`, counts as set. */
  readonly outputShape: readonly number[] | null;
  readonly name: string | null;

  constructor(options: FeatureConfigOptions) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError(
        `FeatureConfig: options must be an object. Received: ${describeValue(options)}`,
      );
    }
    rejectUnknownOptions("FeatureConfig", options, [
      "table",
      "maxSequenceLength",
      "validateWeightsAndIndices",
      "outputShape",
      "name",
    ]);
    if (!(options.table instanceof TableConfig)) {
      fail("FeatureConfig", "table", "must be a TableConfig", options.table);
    }
    const maxSequenceLength = options.maxSequenceLength ?? 0;
    if (!Number.isSafeInteger(maxSequenceLength) || maxSequenceLength < 0) {
      fail("FeatureConfig", "maxSequenceLength", "must be an integer and must be >= 0", maxSequenceLength);
    }
    const outputShape = options.outputShape ?? null;
    if (outputShape !== null) {
      if (!Array.isArray(outputShape) || !outputShape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        fail(
          "FeatureConfig",
          "outputShape",
          "must be an array of non-negative integers (or null)",
          outputShape,
        );
      }
    }
    const name = options.name ?? null;
    if (name !== null && typeof name !== "string")
      fail("FeatureConfig", "name", "must be a string (or null)", name);
    this.table = options.table;
    this.maxSequenceLength = maxSequenceLength;
    this.validateWeightsAndIndices = requireBoolean(
      "FeatureConfig",
      "validateWeightsAndIndices",
      options.validateWeightsAndIndices ?? true,
    );
    this.outputShape = outputShape === null ? null : Object.freeze([...outputShape]);
    this.name = name;
  }

  toString(): string {
    return (
      `FeatureConfig(table=${this.table.toString()}, maxSequenceLength=${this.maxSequenceLength}, ` +
      `validateWeightsAndIndices=${this.validateWeightsAndIndices}, ` +
      `outputShape=${this.outputShape === null ? "null" : `[${this.outputShape.join(", ")}]`}, ` +
      `name=${this.name === null ? "null" : JSON.stringify(this.name)})`
    );
  }
}
