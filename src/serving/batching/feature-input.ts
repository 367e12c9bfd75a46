/**
 * The request side's one representation of a feature's input, whatever the wire format (JSON rows,
 * JSON columns, binary): typed arrays only, validated against the feature before it reaches a batch.
 */
export type IdArray = Int32Array | BigInt64Array;

/** One bag of ids per row: row `r` holds `ids[rowSplits[r] .. rowSplits[r + 1])`; TF's RaggedTensor. */
export interface RaggedInput {
  readonly kind: "ragged";
  readonly ids: IdArray;
  readonly rowSplits: Int32Array;
  readonly weights: Float32Array | null;
}

/** A dense id tensor (TF's plain gather): output shape is `shape + [dim]`. */
export interface DenseInput {
  readonly kind: "dense";
  readonly ids: IdArray;
  readonly shape: readonly number[];
}

/** TF's SparseTensor: `indices` is row-major `[nnz, rank]`. */
export interface SparseInput {
  readonly kind: "sparse";
  readonly ids: IdArray;
  readonly indices: BigInt64Array;
  readonly denseShape: readonly number[];
  readonly weights: Float32Array | null;
}

export type FeatureInput = RaggedInput | DenseInput | SparseInput;

/** A decoded predict request: feature path → input, in request order. */
export type PredictInputs = ReadonlyMap<string, FeatureInput>;

/** One feature's embedding output: row-major float32 of `shape`. */
export interface FeatureOutput {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type PredictOutputs = ReadonlyMap<string, FeatureOutput>;

/** Rows along dimension 0 (the dimension batching concatenates). */
export function inputRows(input: FeatureInput): number {
  switch (input.kind) {
    case "ragged":
      return input.rowSplits.length - 1;
    case "dense":
      return input.shape.length === 0 ? 1 : input.shape[0];
    case "sparse":
      return input.denseShape[0];
  }
}

export function countIds(inputs: PredictInputs): number {
  let n = 0;
  for (const input of inputs.values()) n += input.ids.length;
  return n;
}
