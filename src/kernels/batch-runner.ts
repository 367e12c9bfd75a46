import { jobRows, rowValues, type KernelJob } from "./kernel-job.js";
import { runStoredJob } from "./run-job.js";
import type { StoredTable } from "./table-storage.js";
import {
  C_CHECK_CLAIMED,
  C_CHECKED,
  C_CLAIMED,
  C_FAILED,
  D_IDS,
  D_IDS_AT,
  D_IDS_REF,
  D_KIND,
  D_OUT_AT,
  D_PARAM,
  D_ROWS,
  D_SPLITS_AT,
  D_SPLITS_REF,
  D_TABLE,
  D_WEIGHTS_AT,
  D_WEIGHTS_REF,
  DESCRIPTOR,
  KIND_BAGS,
  KIND_GATHER,
  KIND_SEGMENT,
  KIND_SEQUENCE,
  D_POSITIONS_AT,
  D_POSITIONS_REF,
  MODE_SQRTN,
  taskRows,
  tasksOf,
  W_COUNT,
  W_HEADER,
  W_REFS,
} from "./batch-layout.js";

/**
 * The portable runner of lookup batches (batch-layout.ts): the same checks as the native `smallLookup`
 * (every feature in bounds, row splits well formed, every id a row of its table, before anything is
 * written), then each feature through `runJob`, i.e. the WebAssembly SIMD kernels where the table lives in
 * a kernel arena, else the JS reference kernels: the same bits as the native kernels. Batches for this
 * runner never hold refs (caller arrays read in place need the native addon).
 */

/** The tables a batch's D_TABLE indexes. */
export interface PortableTableSet {
  readonly tables: readonly StoredTable[];
}

const COMBINERS = ["sum", "mean", "sqrtn"] as const;

function within(at: number, count: number, length: number): boolean {
  return at >= 0 && count >= 0 && at + count <= length;
}

function headerFits(w: Int32Array): boolean {
  if (w.length < W_HEADER) return false;
  const n = w[W_COUNT];
  return n >= 0 && n < 0x8000 && within(W_HEADER, n * DESCRIPTOR, w.length) && w[W_REFS] === 0;
}

/**
 * Feature `f`'s kernel job and output offset, or null when it does not fit. `deep`: also the row splits
 * well formed and every id a row of its table (the check before anything runs).
 */
function featureJob(
  set: PortableTableSet,
  w: Int32Array,
  f: number,
  outLength: number,
  deep: boolean,
): { job: KernelJob; table: StoredTable; outAt: number } | null {
  const d = W_HEADER + f * DESCRIPTOR;
  const kind = w[d + D_KIND];
  const t = w[d + D_TABLE];
  const rows = w[d + D_ROWS];
  const n = w[d + D_IDS];
  if (t < 0 || t >= set.tables.length || rows < 0 || n < 0) return null;
  if (w[d + D_IDS_REF] !== -1) return null;
  const idsAt = w[d + D_IDS_AT];
  if (!within(idsAt, n, w.length)) return null;
  const table = set.tables[t];
  const dim = table.dim;
  const ids = w.subarray(idsAt, idsAt + n);
  let perRow = dim;
  let job: KernelJob;
  if (kind === KIND_GATHER) {
    if (n !== rows) return null;
    job = { kind: "gather", ids };
  } else if (kind === KIND_BAGS || kind === KIND_SEQUENCE || kind === KIND_SEGMENT) {
    const splitsAt = w[d + D_SPLITS_AT];
    if (w[d + D_SPLITS_REF] !== -1 || !within(splitsAt, rows + 1, w.length)) return null;
    const splits = w.subarray(splitsAt, splitsAt + rows + 1);
    if (splits[0] !== 0 || splits[rows] !== n) return null;
    const param = w[d + D_PARAM];
    let weights: Float32Array | null = null;
    let positions: Int32Array | null = null;
    if (kind !== KIND_SEQUENCE) {
      if (param < 0 || param > MODE_SQRTN) return null;
      const weightsAt = w[d + D_WEIGHTS_AT];
      if (kind === KIND_BAGS && weightsAt !== -1) {
        if (w[d + D_WEIGHTS_REF] !== -1 || !within(weightsAt, n, w.length)) return null;
        weights = new Float32Array(w.buffer, w.byteOffset + weightsAt * 4, n);
      }
    } else {
      if (param < 1) return null;
      perRow = param * dim;
      const positionsAt = w[d + D_POSITIONS_AT];
      if (positionsAt !== -1) {
        if (w[d + D_POSITIONS_REF] !== -1 || !within(positionsAt, n, w.length)) return null;
        positions = w.subarray(positionsAt, positionsAt + n);
      }
    }
    if (deep) {
      for (let r = 0; r < rows; r++) {
        const length = splits[r + 1] - splits[r];
        if (length < 0 || (kind === KIND_SEQUENCE && positions === null && length > param)) return null;
      }
      if (positions !== null)
        for (let j = 0; j < n; j++) if (positions[j] < 0 || positions[j] >= param) return null;
    }
    const batch = { rowSplits: splits, ids, weights, positions };
    job =
      kind === KIND_SEQUENCE
        ? { kind: "sequence", sequenceLength: param, batch }
        : {
            kind: "bags",
            order: kind === KIND_SEGMENT ? "segment" : "weighted",
            combiner: COMBINERS[param],
            batch,
          };
  } else {
    return null;
  }
  const outAt = w[d + D_OUT_AT];
  if (!within(outAt, rows * perRow, outLength)) return null;
  if (deep) {
    const tableRows = table.rows;
    for (let j = 0; j < n; j++) {
      const id = ids[j];
      if (id < 0 || id >= tableRows) return null;
    }
  }
  return { job, table, outAt };
}

/** The first feature (f + 1) that does not fit, 0 when all do, -1 for a malformed header. */
export function checkBatch(set: PortableTableSet, w: Int32Array, outLength: number): number {
  if (!headerFits(w)) return -1;
  const n = w[W_COUNT];
  for (let f = 0; f < n; f++) if (featureJob(set, w, f, outLength, true) === null) return f + 1;
  return 0;
}

/** Checks every feature, then runs them all into `out`: 0, or checkBatch's code (nothing written). */
export function runBatch(set: PortableTableSet, w: Int32Array, out: Float32Array): number {
  const code = checkBatch(set, w, out.length);
  if (code !== 0) return code;
  const n = w[W_COUNT];
  for (let f = 0; f < n; f++) {
    const x = featureJob(set, w, f, out.length, false)!;
    runStoredJob(x.job, x.table, out, x.outAt);
  }
  return 0;
}

/** The next of n features for this thread, claimed from the front or the back (as the native code). */
function claimFeature(control: Int32Array, word: number, n: number, fromBack: boolean): number {
  for (;;) {
    const seen = Atomics.load(control, word);
    const front = seen & 0xffff;
    const back = seen >>> 16;
    if (front + back >= n) return -1;
    const next = fromBack ? (seen + 0x10000) | 0 : seen + 1;
    if (Atomics.compareExchange(control, word, seen, next) === seen) return fromBack ? n - 1 - back : front;
  }
}

/**
 * One thread's share of a batch run by several threads (the native `smallLookupShare`'s protocol): check
 * the features it claims, wait until every feature is checked, then, unless one did not fit, run the
 * tasks it claims (rows of features, `taskRows`, the same as the native threads'). 0 when done, f + 1
 * when this thread found feature f not fitting, -2 when another thread did (nothing is written by any
 * thread then).
 */
export function shareBatch(
  set: PortableTableSet,
  w: Int32Array,
  out: Float32Array,
  control: Int32Array,
  fromBack: boolean,
): number {
  if (!headerFits(w)) return -1;
  const n = w[W_COUNT];
  let code = 0;
  for (let f; (f = claimFeature(control, C_CHECK_CLAIMED, n, fromBack)) >= 0;) {
    if (featureJob(set, w, f, out.length, true) === null) {
      Atomics.store(control, C_FAILED, 1);
      code = f + 1;
    }
    Atomics.add(control, C_CHECKED, 1);
  }
  while (Atomics.load(control, C_CHECKED) < n) {
    // the other threads are checking their claims
  }
  if (Atomics.load(control, C_FAILED) !== 0) return code !== 0 ? code : -2;
  if (n === 0) return 0;
  const chunk = taskRows(w, control);
  // Tasks of `chunk` output rows (0: whole features), feature after feature, as the native share_run: a
  // thread's claims only move away from its end, so it walks the features along with them (feature f:
  // tasks [first, first + tasksOf(f))).
  let tasks = 0;
  for (let f = 0; f < n; f++) tasks += tasksOf(w, f, chunk);
  let f = fromBack ? n - 1 : 0;
  let first = fromBack ? tasks - tasksOf(w, f, chunk) : 0;
  let x = featureJob(set, w, f, out.length, false);
  for (let t; (t = claimFeature(control, C_CLAIMED, tasks, fromBack)) >= 0;) {
    const was = f;
    while (t >= first + tasksOf(w, f, chunk)) first += tasksOf(w, f++, chunk);
    while (t < first) first -= tasksOf(w, --f, chunk);
    if (f !== was) x = featureJob(set, w, f, out.length, false);
    if (x === null) continue;
    const rows = jobRows(x.job);
    const r0 = (t - first) * chunk;
    const r1 = chunk > 0 ? Math.min(r0 + chunk, rows) : rows;
    runStoredJob(x.job, x.table, out, x.outAt + r0 * rowValues(x.job, x.table.dim), r0, r1);
  }
  return 0;
}
