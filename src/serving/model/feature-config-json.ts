/**
 * The model's feature configuration as a JSON file (`features.json`): which tables the checkpoint holds
 * and which features look them up. Parsed and validated here (every error names the file and the field),
 * then turned into real `TableConfig` / `FeatureConfig` objects once the checkpoint's shapes are known.
 */
import { readFile } from "node:fs/promises";
import { COMBINERS, type Combiner } from "../../config/table-config.js";
import { Adagrad, AdagradMomentum, Adam, FTRL, Optimizer, SGD } from "../../config/optimizers.js";
import { InvalidArgumentError, NotFoundError, TpuEmbeddingError } from "../../errors.js";
import { isStorageKind, STORAGE_KINDS, type StorageKind } from "../../kernels/quantized-rows.js";

/** Name of the embedding object in `tf.train.Checkpoint(embedding=...)` unless the file says otherwise. */
export const DEFAULT_CHECKPOINT_OBJECT = "embedding";

export interface TableSpec {
  readonly name: string;
  readonly combiner: Combiner;
  /** Undefined: taken from the checkpoint's variable shape. */
  readonly vocabularySize: number | undefined;
  readonly dim: number | undefined;
  /** The optimizer the model was trained with: tells which slot variables the checkpoint holds (skipped). */
  readonly optimizer: Optimizer | null;
  /** How the table is stored for serving (quantized at load); absent: the server's --table-storage. */
  readonly storage?: StorageKind;
}

/**
 * What a feature's input is, as a SavedModel signature would fix it: `dense` (an id tensor of any
 * rank: TF's plain gather, output `shape + [dim]`), `ragged` (bags of ids: combined, or a sequence), or
 * `sparse` (a SparseTensor: TF's safe sparse lookup, negative ids pruned).
 */
export type InputKind = "dense" | "ragged" | "sparse";
export const INPUT_KINDS: readonly InputKind[] = ["dense", "ragged", "sparse"];

export interface FeatureSpec {
  readonly table: string;
  /** Declared input kind; null: not declared (plain JSON lists are bags, explicit forms say their kind). */
  readonly input: InputKind | null;
  readonly maxSequenceLength: number;
  readonly outputShape: readonly number[] | null;
  readonly validateWeightsAndIndices: boolean;
  readonly name: string | null;
}

/** Features nested like the model's feature structure (objects and arrays of features). */
export type FeatureSpecTree =
  FeatureSpec | readonly FeatureSpecTree[] | { readonly [key: string]: FeatureSpecTree };

export interface FeatureConfigSpec {
  /** Where the file came from (for messages). */
  readonly source: string;
  readonly checkpointObject: string;
  readonly tables: readonly TableSpec[];
  readonly features: FeatureSpecTree;
}

const OPTIMIZERS: Record<string, (options: Record<string, unknown>) => Optimizer> = {
  sgd: (o) => new SGD(o),
  adagrad: (o) => new Adagrad(o),
  adagrad_momentum: (o) => new AdagradMomentum(o),
  adam: (o) => new Adam(o),
  ftrl: (o) => new FTRL(o),
};

/** Collects the file name into every message, so each error says where to look. */
class SpecReader {
  constructor(readonly source: string) {}

  fail(field: string, message: string): never {
    throw new InvalidArgumentError(`Feature config "${this.source}": ${field ? `${field} ` : ""}${message}`);
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.fail(field, `must be an object, got ${describeJson(value)}.`);
    }
    return value as Record<string, unknown>;
  }

  known(obj: Record<string, unknown>, field: string, keys: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!keys.includes(key)) {
        this.fail(`${field}.${key}`, `is not a known field (known: ${keys.join(", ")}).`);
      }
    }
  }

  positiveInteger(value: unknown, field: string): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
      this.fail(field, `must be a positive integer, got ${describeJson(value)}.`);
    }
    return value;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== "string" || value.length === 0) {
      this.fail(field, `must be a non-empty string, got ${describeJson(value)}.`);
    }
    return value;
  }
}

function describeJson(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return "an object";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function parseOptimizer(r: SpecReader, value: unknown, field: string): Optimizer | null {
  if (value === undefined || value === null) return null;
  const obj = r.object(value, field);
  const type = typeof obj.type === "string" ? obj.type.toLowerCase() : undefined;
  const make = type === undefined ? undefined : OPTIMIZERS[type];
  if (make === undefined) {
    r.fail(
      `${field}.type`,
      `must be one of ${Object.keys(OPTIMIZERS)
        .map((k) => `"${k}"`)
        .join(", ")}, got ${describeJson(obj.type)}.`,
    );
  }
  const { type: _type, ...hyperparameters } = obj;
  try {
    return make(hyperparameters);
  } catch (e) {
    if (e instanceof TpuEmbeddingError) r.fail(field, `is invalid: ${e.message}`);
    throw e;
  }
}

function parseTable(r: SpecReader, value: unknown, field: string): TableSpec {
  const obj = r.object(value, field);
  r.known(obj, field, ["name", "combiner", "vocabularySize", "dim", "optimizer", "storage"]);
  const name = r.string(obj.name, `${field}.name`);
  const combiner = obj.combiner ?? "mean";
  if (!COMBINERS.includes(combiner as Combiner)) {
    r.fail(
      `${field}.combiner`,
      `must be one of ${COMBINERS.map((c) => `"${c}"`).join(", ")}, got ${describeJson(combiner)}.`,
    );
  }
  return {
    name,
    combiner: combiner as Combiner,
    vocabularySize: r.positiveInteger(obj.vocabularySize, `${field}.vocabularySize`),
    dim: r.positiveInteger(obj.dim, `${field}.dim`),
    optimizer: parseOptimizer(r, obj.optimizer, `${field}.optimizer`),
    ...(obj.storage !== undefined ? { storage: parseStorage(r, obj.storage, `${field}.storage`) } : {}),
  };
}

function parseStorage(r: SpecReader, value: unknown, field: string): StorageKind | undefined {
  if (value === undefined) return undefined;
  if (!isStorageKind(value)) {
    r.fail(
      field,
      `must be one of ${STORAGE_KINDS.map((k) => `"${k}"`).join(", ")}, got ${describeJson(value)}.`,
    );
  }
  return value as StorageKind;
}

function parseFeature(r: SpecReader, obj: Record<string, unknown>, field: string): FeatureSpec {
  r.known(obj, field, [
    "table",
    "input",
    "maxSequenceLength",
    "outputShape",
    "validateWeightsAndIndices",
    "name",
  ]);
  const maxSequenceLength = obj.maxSequenceLength ?? 0;
  if (
    typeof maxSequenceLength !== "number" ||
    !Number.isSafeInteger(maxSequenceLength) ||
    maxSequenceLength < 0
  ) {
    r.fail(`${field}.maxSequenceLength`, `must be an integer >= 0, got ${describeJson(maxSequenceLength)}.`);
  }
  const outputShape = obj.outputShape ?? null;
  if (
    outputShape !== null &&
    (!Array.isArray(outputShape) ||
      !outputShape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0))
  ) {
    r.fail(`${field}.outputShape`, `must be an array of integers >= 0, got ${describeJson(outputShape)}.`);
  }
  const validate = obj.validateWeightsAndIndices ?? true;
  if (typeof validate !== "boolean") {
    r.fail(`${field}.validateWeightsAndIndices`, `must be true or false, got ${describeJson(validate)}.`);
  }
  const name = obj.name === undefined || obj.name === null ? null : r.string(obj.name, `${field}.name`);
  const input = obj.input ?? null;
  if (input !== null && !INPUT_KINDS.includes(input as InputKind)) {
    r.fail(
      `${field}.input`,
      `must be one of ${INPUT_KINDS.map((k) => `"${k}"`).join(", ")}, got ${describeJson(input)}.`,
    );
  }
  if (input === "dense" && maxSequenceLength > 0) {
    r.fail(
      `${field}.input`,
      `is "dense" but the feature is a sequence feature (maxSequenceLength ${maxSequenceLength}); ` +
        `TF refuses dense input for sequence features: use "ragged" or "sparse".`,
    );
  }
  return {
    table: r.string(obj.table, `${field}.table`),
    input: input as InputKind | null,
    maxSequenceLength,
    outputShape: outputShape === null ? null : Object.freeze([...(outputShape as number[])]),
    validateWeightsAndIndices: validate,
    name,
  };
}

/** A leaf is an object whose `table` is a string; any other object or array is a level of nesting. */
function parseFeatureTree(
  r: SpecReader,
  value: unknown,
  field: string,
  leaves: FeatureSpec[],
): FeatureSpecTree {
  if (Array.isArray(value)) {
    if (value.length === 0) r.fail(field, "must not be empty.");
    return value.map((v, i) => parseFeatureTree(r, v, `${field}[${i}]`, leaves));
  }
  const obj = r.object(value, field);
  if (typeof obj.table === "string") {
    const leaf = parseFeature(r, obj, field);
    leaves.push(leaf);
    return leaf;
  }
  const keys = Object.keys(obj);
  if (keys.length === 0) r.fail(field, 'must not be empty (a feature needs a "table").');
  const out: Record<string, FeatureSpecTree> = {};
  for (const key of keys) out[key] = parseFeatureTree(r, obj[key], `${field}.${key}`, leaves);
  return out;
}

/** Validates a parsed JSON value; `source` (usually the file path) prefixes every error message. */
export function parseFeatureConfig(json: unknown, source: string): FeatureConfigSpec {
  const r = new SpecReader(source);
  const root = r.object(json, "");
  r.known(root, "(root)", ["checkpointObject", "tables", "features"]);
  const checkpointObject =
    root.checkpointObject === undefined
      ? DEFAULT_CHECKPOINT_OBJECT
      : r.string(root.checkpointObject, "checkpointObject");
  if (checkpointObject.includes("/")) {
    r.fail(
      "checkpointObject",
      `must be a top-level name in the checkpoint (no "/"), got "${checkpointObject}".`,
    );
  }
  const tableList = root.tables;
  if (!Array.isArray(tableList) || tableList.length === 0) {
    r.fail("tables", `must be a non-empty array of tables, got ${describeJson(tableList)}.`);
  }
  const tables: TableSpec[] = (tableList as unknown[]).map((t, i) => parseTable(r, t, `tables[${i}]`));
  const names = new Set<string>();
  tables.forEach((t, i) => {
    if (names.has(t.name)) r.fail(`tables[${i}].name`, `"${t.name}" is used by more than one table.`);
    names.add(t.name);
  });
  if (root.features === undefined) r.fail("features", "is missing.");
  const leaves: FeatureSpec[] = [];
  const features = parseFeatureTree(r, root.features, "features", leaves);
  const used = new Set(leaves.map((l) => l.table));
  for (const leaf of leaves) {
    if (!names.has(leaf.table)) {
      r.fail(
        "features",
        `refer to table "${leaf.table}", which is not in "tables" (${[...names].join(", ")}).`,
      );
    }
  }
  tables.forEach((t, i) => {
    if (!used.has(t.name)) r.fail(`tables[${i}]`, `("${t.name}") is not used by any feature.`);
  });
  return { source, checkpointObject, tables, features };
}

/** Reads and validates a feature config file. */
export async function readFeatureConfig(path: string): Promise<FeatureConfigSpec> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new NotFoundError(`Feature config "${path}" does not exist.`, { cause: e });
    }
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`Feature config "${path}" is not valid JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return parseFeatureConfig(json, path);
}
