import type { TableConfig } from "../config/table-config.js";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import { allocateOutputs } from "../kernels/outputs.js";
import { executePlan } from "./execute.js";
import {
  flattenFeatures,
  matchInputs,
  quote,
  type FeatureStructure,
  type InputStructure,
  type LookupResult,
} from "./feature-structure.js";
import { planLookup, planOutputSize, type LookupPlan } from "./lookup-plan.js";
import type { FeatureConfig } from "../config/feature-config.js";

/** Table memory as `embeddingTables` gives it, or a bare row-major Float32Array of `vocabularySize × dim`. */
export type TableValues = DenseTensor<Float32Array> | Float32Array;

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
  /** The table memory each feature reads, in `features` order. */
  readonly tables: Float32Array[];
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
  tables: ReadonlyMap<TableConfig, TableValues>,
  featureConfig: FeatureStructure,
  featureConfigValidated = false,
): PlannedLookup {
  // Validates the feature structure itself (TPUEmbeddingForServing did so once, in its constructor).
  if (!featureConfigValidated) flattenFeatures(featureConfig);
  const { leaves, pack } = matchInputs(featureConfig, inputs, weights ?? null);
  const features: PlannedFeature[] = [];
  const memories: Float32Array[] = [];
  for (const { path, feature, input, weight } of leaves) {
    const table = feature.table;
    const values = tables.get(table);
    if (values === undefined) {
      throw new NotFoundError(`No table values given for table "${table.name}" (feature ${quote(path)}).`);
    }
    const memory = values instanceof DenseTensor ? values.data : values;
    if (!(memory instanceof Float32Array) || memory.length !== table.vocabularySize * table.dim) {
      throw new InvalidArgumentError(
        `Table "${table.name}" must be ${table.vocabularySize} × ${table.dim} float32 values, got ` +
          `${memory instanceof Float32Array ? memory.length : typeof memory}.`,
      );
    }
    features.push({ path, feature, plan: planLookup(path, feature, input, weight) });
    memories.push(memory);
  }
  return { features, tables: memories, pack };
}

/** Runs every planned feature on the calling thread into fresh caller-owned outputs (`features` order). */
export function runPlanned(planned: PlannedLookup): Float32Array[] {
  const outputs = allocateOutputs(planned.features.map(({ plan }) => planOutputSize(plan)));
  planned.features.forEach(({ feature, plan }, i) =>
    executePlan(plan, planned.tables[i], feature.table.dim, outputs[i]),
  );
  return outputs;
}

/** Wraps per-feature outputs (in `features` order) as tensors in the inputs' structure. */
export function packOutputs(planned: PlannedLookup, outputs: readonly Float32Array[]): unknown {
  return planned.pack(planned.features.map((f, i) => new DenseTensor(outputs[i], f.plan.outputShape)));
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
