import { InvalidArgumentError } from "../errors.js";
import {
  defaultTableInitializer,
  describeInitializer,
  isDefaultTableInitializer,
  type Initializer,
} from "./initializers.js";
import { Optimizer } from "./optimizers.js";
import { describeValue, fail, rejectUnknownOptions } from "./validate.js";

export type Combiner = "mean" | "sum" | "sqrtn";
export const COMBINERS: readonly Combiner[] = ["mean", "sum", "sqrtn"];

/** Rows are addressed with 32-bit integers internally; larger tables do not fit one typed array anyway. */
export const MAX_VOCABULARY_SIZE = 2 ** 31 - 1;

export interface TableConfigOptions {
  vocabularySize: number;
  dim: number;
  initializer?: Initializer | null;
  optimizer?: Optimizer | null;
  combiner?: Combiner;
  name?: string | null;
}

/**
 * One embedding table (TF's `tf.tpu.experimental.embedding.TableConfig`). Compared by identity: two
 * configs with equal fields are two tables. Like TF, the embedding object fills in `optimizer` (from its
 * global optimizer) and `name` (`table_<i>`) when they are null, and those changes stay on this object.
 */
export class TableConfig {
  readonly vocabularySize: number;
  readonly dim: number;
  readonly initializer: Initializer;
  optimizer: Optimizer | null;
  readonly combiner: Combiner;
  name: string | null;

  constructor(options: TableConfigOptions) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError(
        `TableConfig: options must be an object. Received: ${describeValue(options)}`,
      );
    }
    rejectUnknownOptions("TableConfig", options, [
      "vocabularySize",
      "dim",
      "initializer",
      "optimizer",
      "combiner",
      "name",
    ]);
    const { vocabularySize, dim } = options;
    if (!Number.isSafeInteger(vocabularySize) || vocabularySize < 1) {
      fail("TableConfig", "vocabularySize", "must be an integer and must be >= 1", vocabularySize);
    }
    if (vocabularySize > MAX_VOCABULARY_SIZE) {
      fail(
        "TableConfig",
        "vocabularySize",
        `must be <= ${MAX_VOCABULARY_SIZE} in this library`,
        vocabularySize,
      );
    }
    if (!Number.isSafeInteger(dim) || dim < 1) {
      fail("TableConfig", "dim", "(embedding dimension) must be an integer and must be >= 1", dim);
    }
    const initializer = options.initializer ?? null;
    if (initializer !== null && typeof initializer !== "function") {
      fail("TableConfig", "initializer", "must be a function (or null)", initializer);
    }
    const optimizer = options.optimizer ?? null;
    if (optimizer !== null && !(optimizer instanceof Optimizer)) {
      fail(
        "TableConfig",
        "optimizer",
        "must be an instance of SGD, Adagrad, AdagradMomentum, Adam or FTRL (or null)",
        optimizer,
      );
    }
    const combiner = options.combiner ?? "mean";
    if (!COMBINERS.includes(combiner)) {
      fail("TableConfig", "combiner", `must be one of ("mean", "sum", "sqrtn")`, combiner);
    }
    const name = options.name ?? null;
    if (name !== null && (typeof name !== "string" || name.length === 0)) {
      fail("TableConfig", "name", "must be a non-empty string (or null)", name);
    }
    this.vocabularySize = vocabularySize;
    this.dim = dim;
    this.initializer = initializer ?? defaultTableInitializer(dim);
    this.optimizer = optimizer;
    this.combiner = combiner;
    this.name = name;
  }

  /** Like TF's repr; the default initializer prints as `null`. */
  toString(): string {
    const init = isDefaultTableInitializer(this.initializer) ? "null" : describeInitializer(this.initializer);
    return (
      `TableConfig(vocabularySize=${this.vocabularySize}, dim=${this.dim}, initializer=${init}, ` +
      `optimizer=${this.optimizer === null ? "null" : this.optimizer.toString()}, ` +
      `combiner=${JSON.stringify(this.combiner)}, name=${this.name === null ? "null" : JSON.stringify(this.name)})`
    );
  }
}
