import type { TableConfig } from "../config/table-config.js";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import { executePlan } from "./execute.js";
import {
  flattenFeatures,
  matchInputs,
  quote,
  type FeatureStructure,
  type InputStructure,
  type LookupResult,
} from "./feature-structure.js";
import { planLookup, planOutputSize } from "./lookup-plan.js";

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
  flattenFeatures(featureConfig); // validates the feature structure itself
  const { leaves, pack } = matchInputs(featureConfig, inputs, weights ?? null);
  const results = leaves.map(({ path, feature, input, weight }) => {
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
    const plan = planLookup(path, feature, input, weight);
    const out = new Float32Array(planOutputSize(plan));
    executePlan(plan, memory, table.dim, out);
    return new DenseTensor(out, plan.outputShape);
  });
  return pack(results) as LookupResult<I>;
}
