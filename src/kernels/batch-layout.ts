/**
 * The lookup batch: the one work format every lookup kernel family runs (native `smallLookup`, the
 * portable WebAssembly / JS runner in batch-runner.ts). An Int32Array of a header of W_HEADER words (the
 * feature count, the ref count, the ref table's offset), one descriptor of DESCRIPTOR words per feature,
 * then the ids, row splits and weights (float bits) copied in, and the ref table. A descriptor's ids,
 * splits or weights are either words of the batch (their ref -1) or elements of a ref: one of the
 * caller's typed arrays, read in place by the native kernels only (`resolveRefs` writes its pointer into
 * the ref table). Mirrored in native/batch.c (W_*, SMALL_*, D_*, REF_*).
 */
export const W_COUNT = 0;
export const W_REFS = 1;
export const W_REFS_AT = 2;
export const W_HEADER = 3;
/** Dense ids: a plain gather, `rows` ids. */
export const KIND_GATHER = 0;
/** Bags combined in TF's ragged order (Σ w·e left to right, then div_no_nan). */
export const KIND_BAGS = 1;
/**
 * Sequences of D_PARAM positions: each row's ids in order, zero-padded (rows no longer than D_PARAM), or
 * at explicit positions (D_POSITIONS_AT: one per id, each < D_PARAM; repeated positions add up).
 */
export const KIND_SEQUENCE = 2;
/** Unweighted bags in TF's sparse-segment order (SparseSegmentSum/Mean/SqrtN's grouping); D_PARAM: MODE. */
export const KIND_SEGMENT = 3;
export const D_KIND = 0;
export const D_TABLE = 1;
export const D_ROWS = 2;
export const D_IDS = 3;
export const D_IDS_AT = 4;
export const D_SPLITS_AT = 5;
/** Weights' offset (float bits, one per id), -1 for none. */
export const D_WEIGHTS_AT = 6;
export const D_OUT_AT = 7;
/** Bags: the combiner (MODE); sequences: the length. */
export const D_PARAM = 8;
export const D_IDS_REF = 9;
export const D_SPLITS_REF = 10;
export const D_WEIGHTS_REF = 11;
/** Sequences: positions' offset (one per id), -1 for none (rows in order). */
export const D_POSITIONS_AT = 12;
export const D_POSITIONS_REF = 13;
export const DESCRIPTOR = 14;
/** Int32 words per ref in the ref table (pointer, length, type), zeroed (unresolved) by staging. */
export const REF_WORDS = 4;

/** The kernels' combiner codes (D_PARAM of bags). */
export const MODE = { sum: 0, mean: 1, sqrtn: 2 } as const;
export const MODE_SQRTN = 2;

/**
 * Control words of a batch shared by several threads (inside a pool request's header; see
 * packed-request.ts): run claims, the failure flag, check claims, the count of features checked and the
 * output rows per run task (0: whole features; see `taskRows`). Claim words count items (features, or
 * tasks) taken from the front (low 16 bits) and from the back (high 16 bits).
 */
export const C_CLAIMED = 0;
export const C_FAILED = 2;
export const C_CHECK_CLAIMED = 10;
export const C_CHECKED = 11;
export const C_TASK_ROWS = 12;
export const C_WORDS = 13;

/** A shared request's run tasks stay under this many (the claim word's counts are 16 bits each). */
export const TASKS_MAX = 1 << 14;

/**
 * The output rows per task of a shared request (the native `task_rows`, native/batch.c, computes the same,
 * so threads of either kernel family split it alike): `control[C_TASK_ROWS]`, grown so that the request
 * has under TASKS_MAX tasks; 0 for whole features (asked for, or about one task per feature anyway).
 */
export function taskRows(w: Int32Array, control: Int32Array): number {
  const n = w[W_COUNT];
  let chunk = control[C_TASK_ROWS];
  if (chunk <= 0 || n >= TASKS_MAX) return 0;
  let total = 0;
  for (let f = 0; f < n; f++) total += w[W_HEADER + f * DESCRIPTOR + D_ROWS];
  if (Math.floor(total / chunk) <= n) return 0;
  if (Math.floor(total / chunk) + n >= TASKS_MAX) chunk = Math.floor(total / (TASKS_MAX - n)) + 1;
  return chunk;
}

/** Feature f's run tasks of `chunk` output rows (0: the whole feature); at least one. */
export function tasksOf(w: Int32Array, f: number, chunk: number): number {
  const rows = w[W_HEADER + f * DESCRIPTOR + D_ROWS];
  return chunk > 0 && rows > chunk ? Math.floor((rows - 1) / chunk) + 1 : 1;
}
