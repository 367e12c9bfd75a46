import type { Combiner } from "../config/table-config.js";
import type { FeatureConfig } from "../config/feature-config.js";
import { InvalidArgumentError } from "../errors.js";
import type { BagBatch } from "../kernels/bag-batch.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import { int64Words } from "../tensor/dtype.js";
import { RaggedTensor } from "../tensor/ragged-tensor.js";
import { SparseTensor } from "../tensor/sparse-tensor.js";
import { typeName } from "../tensor/structure.js";
import { classifyIds, floatWeights, NEGATIVE_ID, outOfRange, tableRows } from "./ids.js";
import { quote, type Tensor } from "./feature-structure.js";

/**
 * What one feature's lookup computes, decided from its config and input exactly as TF's CPU path
 * decides, with the ids already checked and laid out as CSR. Executing a plan needs only the table.
 */
export type LookupPlan =
  | { readonly kind: "gather"; readonly ids: Int32Array; readonly outputShape: readonly number[] }
  | {
      readonly kind: "bags";
      /** `segment`: TF's unweighted sparse-segment order; `weighted`: Σw·e then div_no_nan. */
      readonly order: "segment" | "weighted";
      readonly combiner: Combiner;
      readonly batch: BagBatch;
      readonly outputShape: readonly number[];
    }
  | {
      readonly kind: "sequence";
      readonly sequenceLength: number;
      readonly batch: BagBatch;
      readonly outputShape: readonly number[];
    };

export function planLookup(
  path: string,
  feature: FeatureConfig,
  input: Tensor,
  weight: Tensor | null,
): LookupPlan {
  const p = quote(path);
  if (weight !== null) {
    if (input instanceof DenseTensor) {
      throw new InvalidArgumentError(`Weight specified for ${p}, but input is dense.`);
    }
    if (weight.constructor !== input.constructor) {
      throw new InvalidArgumentError(
        `Weight for ${p} is of type ${typeName(weight)} but it does not match type of the input which is ${typeName(input)}.`,
      );
    }
    if (feature.maxSequenceLength > 0) {
      throw new InvalidArgumentError(`Weight specified for ${p}, but this is a sequence feature.`);
    }
  }
  if (input instanceof DenseTensor) return planDense(p, feature, input);
  if (input instanceof SparseTensor) return planSparse(p, feature, input, weight as SparseTensor | null);
  return planRagged(p, feature, input, weight as RaggedTensor | null);
}

function planDense(path: string, feature: FeatureConfig, input: DenseTensor): LookupPlan {
  if (feature.maxSequenceLength > 0) {
    throw new InvalidArgumentError(`Feature ${path} is a sequence feature but a dense tensor was passed.`);
  }
  const ids = tableRows(input.data, feature.table, path);
  return { kind: "gather", ids, outputShape: [...input.shape, feature.table.dim] };
}

function planSparse(
  path: string,
  feature: FeatureConfig,
  input: SparseTensor,
  weight: SparseTensor | null,
): LookupPlan {
  const table = feature.table;
  const rank = input.rank;
  const classified = classifyIds(input.values, path);
  const weights = weight === null ? null : floatWeights(weight.values, path);
  if (weights !== null && weights.length !== classified.length) {
    throw new InvalidArgumentError(
      `Weight for ${path} has ${weights.length} values but the input has ${classified.length} ids.`,
    );
  }
  const words = int64Words(input.indices);
  const coordinate = (entry: number, d: number): number => {
    const k = 2 * (entry * rank + d);
    return words[k + 1] * 4294967296 + (words[k] >>> 0);
  };

  // Sequence path: rank 2 only (TF >= 2.11; higher ranks fall through to the combiner path).
  if (feature.outputShape === null && feature.maxSequenceLength > 0 && rank === 2) {
    const length = feature.maxSequenceLength;
    const batchSize = input.denseShape[0];
    checkOutputSize(path, batchSize * length, table.dim);
    const rowOf = new Int32Array(classified.length).fill(-1);
    for (let e = 0; e < classified.length; e++) {
      const column = coordinate(e, 1);
      if (column >= length) continue;
      const id = classified[e];
      if (id < 0 || id >= table.vocabularySize) outOfRange(path, table, input.values, e);
      rowOf[e] = coordinate(e, 0);
    }
    const batch = groupByRow(rowOf, batchSize, classified, null, (e) => coordinate(e, 1));
    return { kind: "sequence", sequenceLength: length, batch, outputShape: [batchSize, length, table.dim] };
  }

  if (!feature.validateWeightsAndIndices && rank <= 2) {
    // Plain embedding_lookup_sparse: segment ids are the row coordinates and must be sorted.
    let lastRow = -1;
    const rowOf = new Int32Array(classified.length);
    for (let e = 0; e < classified.length; e++) {
      const row = coordinate(e, 0);
      if (row < lastRow) {
        throw new InvalidArgumentError(
          `Input ${path}: sparse indices must be sorted by row when validateWeightsAndIndices is false ` +
            `(entry ${e} has row ${row} after row ${lastRow}); segment ids are not increasing.`,
        );
      }
      lastRow = row;
      const id = classified[e];
      if (id < 0 || id >= table.vocabularySize) outOfRange(path, table, input.values, e);
      rowOf[e] = row;
    }
    const batch = groupByRow(rowOf, lastRow + 1, classified, weights, null);
    return {
      kind: "bags",
      order: weights === null ? "segment" : "weighted",
      combiner: table.combiner,
      batch,
      outputShape: [lastRow + 1, table.dim],
    };
  }

  // Safe lookup (TF's safe_embedding_lookup_sparse_v2): rows over all leading dimensions; prune ids < 0
  // (_prune_invalid_ids), then, unless the combiner is sum, weights not > 0 (_prune_invalid_weights:
  // NaN too); only the entries left reach the gather, so only they must be < vocab. Rows left empty
  // produce zeros.
  if (rank < 2) {
    throw new InvalidArgumentError(
      `Input ${path}: a SparseTensor of rank ${rank} cannot be looked up; rank >= 2 expected.`,
    );
  }
  const leading = input.denseShape.slice(0, -1);
  let rows = 1;
  for (const d of leading) rows *= d;
  checkOutputSize(path, rows, table.dim);
  const pruneWeights = weights !== null && table.combiner !== "sum";
  const rowOf = new Int32Array(classified.length);
  for (let e = 0; e < classified.length; e++) {
    const id = classified[e];
    if (id === NEGATIVE_ID || (pruneWeights && !(weights![e] > 0))) {
      rowOf[e] = -1;
      continue;
    }
    if (id < 0 || id >= table.vocabularySize) outOfRange(path, table, input.values, e);
    let row = 0;
    for (let d = 0; d < rank - 1; d++) row = row * input.denseShape[d] + coordinate(e, d);
    rowOf[e] = row;
  }
  const batch = groupByRow(rowOf, rows, classified, weights, null);
  return {
    kind: "bags",
    order: weights === null ? "segment" : "weighted",
    combiner: table.combiner,
    batch,
    outputShape: [...leading, table.dim],
  };
}

function planRagged(
  path: string,
  feature: FeatureConfig,
  input: RaggedTensor,
  weight: RaggedTensor | null,
): LookupPlan {
  const table = feature.table;
  const batchSize = input.nrows;
  const ids = tableRows(input.values, table, path);
  let weights: Float32Array | null = null;
  if (weight !== null) {
    if (!sameSplits(weight.rowSplits, input.rowSplits)) {
      throw new InvalidArgumentError(`Weight for ${path} does not have the same row lengths as the input.`);
    }
    weights = floatWeights(weight.values, path);
  }
  const combine = (outputShape: readonly number[]): LookupPlan => ({
    kind: "bags",
    order: "weighted",
    combiner: table.combiner,
    batch: { rowSplits: input.rowSplits, ids, weights, positions: null },
    outputShape,
  });
  const sequence = (length: number, outputShape: readonly number[]): LookupPlan => {
    checkOutputSize(path, batchSize * length, table.dim);
    return {
      kind: "sequence",
      sequenceLength: length,
      batch: truncateRows(input.rowSplits, ids, length),
      outputShape,
    };
  };

  if (feature.outputShape !== null) {
    const shape = feature.outputShape;
    const size = shape.reduce((a, b) => a * b, 1);
    if (size === batchSize) return combine([...shape, table.dim]);
    if (batchSize > 0 && size > batchSize && size % batchSize === 0) {
      // TF ignores weights and the combiner here: a per-id lookup padded to size / batch per row.
      return sequence(size / batchSize, [...shape, table.dim]);
    }
    throw new InvalidArgumentError(
      `Output shape set in the FeatureConfig should be the factor of the input data batch size. But instead ` +
        `got output shape [${shape.join(", ")}], input data batch size ${batchSize} (feature ${path}).`,
    );
  }
  if (feature.maxSequenceLength > 0) {
    return sequence(feature.maxSequenceLength, [batchSize, feature.maxSequenceLength, table.dim]);
  }
  return combine([batchSize, table.dim]);
}

/**
 * Stable counting sort of entries by row; entries with row -1 are dropped. Within a row the input order
 * is kept (TF's sparse_fill_empty_rows keeps it too).
 */
function groupByRow(
  rowOf: Int32Array,
  rows: number,
  ids: Int32Array,
  weights: Float32Array | null,
  positionOf: ((entry: number) => number) | null,
): BagBatch {
  const rowSplits = new Int32Array(rows + 1);
  let kept = 0;
  let sorted = true;
  let previous = 0;
  for (let e = 0; e < rowOf.length; e++) {
    const r = rowOf[e];
    if (r < 0) continue;
    kept++;
    if (r < previous) sorted = false;
    previous = r;
  }
  if (sorted) {
    // Rows in order: each split is the count so far, filled a run at a time (a sparse batch of a
    // million rows and a few ids costs a few memsets, not a JS loop over every row).
    let count = 0;
    let filled = 0; // rowSplits[0..filled] are final
    for (let e = 0; e < rowOf.length; e++) {
      const r = rowOf[e];
      if (r < 0) continue;
      if (r > filled) {
        rowSplits.fill(count, filled + 1, r + 1);
        filled = r;
      }
      rowSplits[r + 1] = ++count;
      filled = r + 1;
    }
    rowSplits.fill(count, filled + 1, rows + 1);
  } else {
    for (let e = 0; e < rowOf.length; e++) if (rowOf[e] >= 0) rowSplits[rowOf[e] + 1]++;
    for (let r = 0; r < rows; r++) rowSplits[r + 1] += rowSplits[r];
  }
  if (sorted && kept === rowOf.length && positionOf === null) {
    return { rowSplits, ids, weights, positions: null };
  }
  const outIds = new Int32Array(kept);
  const outWeights = weights === null ? null : new Float32Array(kept);
  const positions = positionOf === null ? null : new Int32Array(kept);
  const cursor = rowSplits.slice(0, rows);
  for (let e = 0; e < rowOf.length; e++) {
    const r = rowOf[e];
    if (r < 0) continue;
    const k = cursor[r]++;
    outIds[k] = ids[e];
    if (outWeights !== null) outWeights[k] = weights![e];
    if (positions !== null) positions[k] = positionOf!(e);
  }
  return { rowSplits, ids: outIds, weights: outWeights, positions };
}

/** Keeps the first `length` ids of each row (sequence truncation). */
function truncateRows(rowSplits: Int32Array, ids: Int32Array, length: number): BagBatch {
  const rows = rowSplits.length - 1;
  let needed = false;
  for (let r = 0; r < rows && !needed; r++) needed = rowSplits[r + 1] - rowSplits[r] > length;
  if (!needed) return { rowSplits, ids, weights: null, positions: null };
  const splits = new Int32Array(rows + 1);
  for (let r = 0; r < rows; r++)
    splits[r + 1] = splits[r] + Math.min(length, rowSplits[r + 1] - rowSplits[r]);
  const kept = new Int32Array(splits[rows]);
  for (let r = 0; r < rows; r++)
    kept.set(ids.subarray(rowSplits[r], rowSplits[r] + splits[r + 1] - splits[r]), splits[r]);
  return { rowSplits: splits, ids: kept, weights: null, positions: null };
}

function sameSplits(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * One output array holds at most 2^31 - 1 float32 values: a larger one is an input error (an
 * InvalidArgumentError, before anything is allocated), not a RangeError from the allocation.
 */
function checkOutputSize(path: string, rows: number, dim: number): void {
  if (rows * dim > 2 ** 31 - 1) {
    throw new InvalidArgumentError(
      `Input ${path}: the output would hold ${rows * dim} values, more than one array can.`,
    );
  }
}

/** The number of float32 values a plan writes. */
export function planOutputSize(plan: LookupPlan): number {
  return plan.outputShape.reduce((a, b) => a * b, 1);
}
