/**
 * The internal form of one feature's lookup: compressed sparse rows over already validated table rows.
 * Row `r` (one output vector, or one sequence) owns entries `rowSplits[r] .. rowSplits[r + 1])`.
 * Everything is a typed array so that batches can be merged, split, moved to workers or handed to
 * faster kernels without conversion. Callers own all memory, including the outputs.
 */
export interface BagBatch {
  /** `numRows + 1` offsets into `ids`, starting at 0, non-decreasing. */
  readonly rowSplits: Int32Array;
  /** Table rows, each already checked to lie in `[0, vocabularySize)`. */
  readonly ids: Int32Array;
  /** One float32 weight per id, or `null` for unweighted lookups. */
  readonly weights: Float32Array | null;
  /** Sequence lookups only: the position of each id within its row (`null`: 0, 1, 2, … in order). */
  readonly positions: Int32Array | null;
}

export function numRows(batch: BagBatch): number {
  return batch.rowSplits.length - 1;
}
