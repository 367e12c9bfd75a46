/**
 * Where the rows of an embedding's tables come from, as the batch kernels see them (batch-kernels.ts
 * `createSet`). One kind today: float32 rows in memory (the tables' arenas or shared buffers, read in
 * place by every thread). Other kinds (quantized rows, rows fetched from a shared store) are added here
 * and implemented by the kernel families; the encoders and the executor do not change.
 */
export interface Float32TableStorage {
  readonly kind: "float32";
  /** One row-major `[rows, dim]` table per index a batch's D_TABLE names. */
  readonly tables: readonly Float32Array[];
  readonly dims: readonly number[];
}

export type TableStorage = Float32TableStorage;

/** Float32 tables held in memory. */
export function float32Storage(
  tables: readonly Float32Array[],
  dims: readonly number[],
): Float32TableStorage {
  return { kind: "float32", tables, dims };
}
