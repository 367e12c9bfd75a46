import type { TableConfig } from "../config/table-config.js";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import { allocateOutputs } from "../kernels/outputs.js";
import { adviseOutputHugePages } from "../kernels/table-memory.js";
import { executePlan } from "./execute.js";
import { typeName } from "../tensor/structure.js";
import { describeValue } from "../config/validate.js";
import {
  flattenFeatures,
  matchInputs,
  quote,
  type FeatureStructure,
  type InputStructure,
  type LookupResult,
} from "./feature-structure.js";
import { planLookup, planOutputSize, type LookupPlan } from "./lookup-plan.js";
import { float32Table, type StoredTable } from "../kernels/table-storage.js";
import type { FeatureConfig } from "../config/feature-config.js";

/** Table memory as `embeddingTables` gives it, or a bare row-major Float32Array of `vocabularySize × dim`. */
export type TableValues = DenseTensor<Float32Array> | Float32Array;

/** What the planner reads a table from: the public forms, or an embedding's stored (maybe quantized) rows. */
export type PlannerTables = ReadonlyMap<TableConfig, TableValues | StoredTable>;

/** A planner table value as stored rows (float32 forms wrapped, stored tables as they are). */
export function asStoredTable(value: TableValues | StoredTable, dim: number): StoredTable {
  if (isStoredTable(value)) return value;
  return float32Table(value instanceof DenseTensor ? value.data : value, dim);
}

function isStoredTable(value: unknown): value is StoredTable {
  return (
    typeof value === "object" &&
    value !== null &&
    !(value instanceof DenseTensor) &&
    !ArrayBuffer.isView(value) &&
    "kind" in value
  );
}

/**
 * TF's `serving_embedding_lookup(inputs, weights, tables, feature_config)`: looks up every input on CPU
 * with TensorFlow's semantics and returns float32 embeddings in the inputs' structure.
 */
export function servingEmbeddingLookup<I extends InputStructure>(
  inputs: I,
  weights: unknown,
  tables: ReadonlyMap<TableConfig, TableValues>,
  featureConfig: FeatureStructure,
): LookupResult<I> {
  return lookupWithPlans(inputs, weights, tables, featureConfig).result as LookupResult<I>;
}

/** One feature of a finished lookup: what was computed, kept so training can back-propagate through it. */
export interface PlannedFeature {
  readonly path: string;
  readonly feature: FeatureConfig;
  readonly plan: LookupPlan;
}

/** Every feature of a lookup, planned and validated but not yet executed. */
export interface PlannedLookup {
  readonly features: PlannedFeature[];
  /** The table each feature reads, in `features` order. */
  readonly tables: StoredTable[];
  /** Puts one value per feature (in `features` order) back into the inputs' structure. */
  readonly pack: <R>(values: readonly R[]) => unknown;
}

/**
 * Validates the inputs and plans every feature (all errors are thrown here, before any kernel runs), so
 * the kernels can then run on this thread or on workers.
 */
export function planLookups(
  inputs: unknown,
  weights: unknown,
  tables: PlannerTables,
  featureConfig: FeatureStructure,
  featureConfigValidated = false,
): PlannedLookup {
  // Validates the feature structure itself (TPUEmbeddingForServing did so once, in its constructor).
  if (!featureConfigValidated) flattenFeatures(featureConfig);
  const { leaves, pack } = matchInputs(featureConfig, inputs, weights ?? null);
  const features: PlannedFeature[] = [];
  const memories: StoredTable[] = [];
  for (const { path, feature, input, weight } of leaves) {
    const table = feature.table;
    const values = tables.get(table);
    if (values === undefined) {
      throw new NotFoundError(`No table values given for table "${table.name}" (feature ${quote(path)}).`);
    }
    if (isStoredTable(values)) {
      if (values.rows !== table.vocabularySize || values.dim !== table.dim) {
        throw new InvalidArgumentError(
          `Table "${table.name}" must have ${table.vocabularySize} rows of ${table.dim} values, got ` +
            `${values.rows} × ${values.dim} (${values.kind}).`,
        );
      }
      features.push({ path, feature, plan: planLookup(path, feature, input, weight) });
      memories.push(values);
      continue;
    }
    const memory = values instanceof DenseTensor ? values.data : values;
    if (!(memory instanceof Float32Array) || memory.length !== table.vocabularySize * table.dim) {
      throw new InvalidArgumentError(
        `Table "${table.name}" must be ${table.vocabularySize} × ${table.dim} float32 values, got ` +
          `${memory instanceof Float32Array ? memory.length : typeof memory}.`,
      );
    }
    features.push({ path, feature, plan: planLookup(path, feature, input, weight) });
    memories.push(float32Table(memory, table.dim));
  }
  return { features, tables: memories, pack };
}

/**
 * Runs every planned feature on the calling thread into `into` (caller-owned arrays from `matchOutputs`)
 * or fresh outputs, in `features` order.
 */
export function runPlanned(
  planned: PlannedLookup,
  into: readonly Float32Array[] | null = null,
): Float32Array[] {
  const outputs =
    (into as Float32Array[] | null) ??
    allocateOutputs(planned.features.map(({ plan }) => planOutputSize(plan)));
  planned.features.forEach(({ plan }, i) => executePlan(plan, planned.tables[i], outputs[i]));
  return outputs;
}

/**
 * Wraps per-feature outputs (in `features` order) as tensors in the inputs' structure; `into` tensors
 * (the caller's, from `matchOutputs`) are returned as they are.
 */
export function packOutputs(
  planned: PlannedLookup,
  outputs: readonly Float32Array[],
  into: readonly DenseTensor<Float32Array>[] | null = null,
): unknown {
  return planned.pack(
    into ?? planned.features.map((f, i) => new DenseTensor(outputs[i], f.plan.outputShape)),
  );
}

/** The lookup options' `into` matched to a planned lookup (matchOutputs), or null when not given. */
export function outputsOf(
  planned: PlannedLookup,
  featureConfig: FeatureStructure,
  options: { readonly into?: unknown } | undefined,
): DenseTensor<Float32Array>[] | null {
  if (options === undefined || options === null) return null;
  if (typeof options !== "object") {
    throw new InvalidArgumentError(`Lookup options must be an object, got ${describeValue(options)}.`);
  }
  return options.into === undefined ? null : matchOutputs(planned, featureConfig, options.into);
}

/**
 * The caller's output tensors for a planned lookup (`embeddingLookup`'s `into`), in `features` order:
 * `into` must have the inputs' structure with a float32 DenseTensor of the lookup's output shape where
 * each input is. Checked before any kernel runs; nothing is written when it does not fit.
 */
export function matchOutputs(
  planned: PlannedLookup,
  featureConfig: FeatureStructure,
  into: unknown,
): DenseTensor<Float32Array>[] {
  let leaves: ReturnType<typeof matchInputs>["leaves"];
  try {
    leaves = matchInputs(featureConfig, into, null).leaves;
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    throw new InvalidArgumentError(`into does not have the structure of the inputs: ${e.message}`);
  }
  const features = planned.features;
  const paths = new Map(leaves.map((leaf) => [leaf.path, leaf.input]));
  const outputs: DenseTensor<Float32Array>[] = [];
  for (const { path, plan } of features) {
    const out = paths.get(path);
    if (out === undefined) {
      throw new InvalidArgumentError(`into has no output tensor for input ${quote(path)}.`);
    }
    const shape = plan.outputShape;
    if (
      !(out instanceof DenseTensor) ||
      !(out.data instanceof Float32Array) ||
      out.shape.length !== shape.length ||
      out.shape.some((d, i) => d !== shape[i])
    ) {
      throw new InvalidArgumentError(
        `into at ${quote(path)} must be a float32 DenseTensor of shape [${shape.join(", ")}], got ` +
          (out instanceof DenseTensor
            ? `a ${out.dtype} DenseTensor of shape [${out.shape.join(", ")}]`
            : typeName(out)) +
          ".",
      );
    }
    outputs.push(out as DenseTensor<Float32Array>);
  }
  if (leaves.length !== features.length) {
    const extra = leaves.find((leaf) => !features.some((f) => f.path === leaf.path))!;
    throw new InvalidArgumentError(
      `into has an output tensor at ${quote(extra.path)}, where there is no input.`,
    );
  }
  return outputs;
}

/**
 * Fresh output tensors for lookups of inputs like these, in the inputs' structure, all views of one
 * SharedArrayBuffer (so worker threads write them in place).
 */
export function sharedOutputs(planned: PlannedLookup): unknown {
  const sizes = planned.features.map(({ plan }) => planOutputSize(plan));
  const buffer = new SharedArrayBuffer(sizes.reduce((a, b) => a + b, 0) * Float32Array.BYTES_PER_ELEMENT);
  adviseOutputHugePages(buffer);
  let offset = 0;
  return planned.pack(
    planned.features.map(({ plan }, i) => {
      const data = new Float32Array(buffer, offset * Float32Array.BYTES_PER_ELEMENT, sizes[i]);
      offset += sizes[i];
      return new DenseTensor(data, plan.outputShape);
    }),
  );
}

/**
 * The lookup behind `servingEmbeddingLookup`, also returning each feature's plan and a `pack` that puts
 * one value per feature (in `features` order) back into the inputs' structure.
 */
export function lookupWithPlans(
  inputs: unknown,
  weights: unknown,
  tables: ReadonlyMap<TableConfig, TableValues>,
  featureConfig: FeatureStructure,
): { result: unknown; features: PlannedFeature[]; pack: <R>(values: readonly R[]) => unknown } {
  const planned = planLookups(inputs, weights, tables, featureConfig);
  const outputs = runPlanned(planned);
  return { result: packOutputs(planned, outputs), features: planned.features, pack: planned.pack };
}
