import type { Combiner } from "../config/table-config.js";
import { jobIds, jobRows, rowValues, type KernelJob } from "./kernel-job.js";

/**
 * A lookup's kernel work laid out in one SharedArrayBuffer, so every thread can run any piece of it
 * without structured-clone copies: each feature's row splits, ids and weights or positions, plus a
 * table of pieces (row ranges of one feature, cut to balance the threads) that threads claim one at a
 * time with an atomic counter.
 */

/** Int32 fields per piece. */
const FIELDS = 13;
const KIND = { gather: 0, segment: 1, weighted: 2, sequence: 3 } as const;
const COMBINER: readonly Combiner[] = ["sum", "mean", "sqrtn"];

export interface PackableWork {
  readonly job: KernelJob;
  readonly table: number;
  readonly dim: number;
  /**
   * Where the work's output goes: 0 for the request's slot output buffer, else the id of an output buffer
   * registered with the workers (a caller-owned shared output, written in place).
   */
  readonly out: number;
  /** Float32 offset of the work's output in that buffer. */
  readonly outOffset: number;
}

/** A piece as the main thread runs it (straight from the original jobs). */
export interface Piece {
  readonly work: number;
  readonly rowStart: number;
  readonly rowEnd: number;
}

/**
 * Cuts the works into pieces of about `pieceCost` (ids + rows) at row boundaries, in order.
 */
export function cutPieces(works: readonly PackableWork[], pieceCost: number): Piece[] {
  const pieces: Piece[] = [];
  works.forEach((w, work) => {
    const rows = jobRows(w.job);
    if (rows === 0) return;
    if (jobIds(w.job) + rows <= pieceCost * 1.5) {
      pieces.push({ work, rowStart: 0, rowEnd: rows });
      return;
    }
    const splits = w.job.kind === "gather" ? null : w.job.batch.rowSplits;
    let start = 0;
    let cost = 0;
    for (let r = 0; r < rows; r++) {
      cost += 1 + (splits === null ? 1 : splits[r + 1] - splits[r]);
      if (cost >= pieceCost && r + 1 < rows) {
        pieces.push({ work, rowStart: start, rowEnd: r + 1 });
        start = r + 1;
        cost = 0;
      }
    }
    pieces.push({ work, rowStart: start, rowEnd: rows });
  });
  return pieces;
}

/** Int32 words a packed request takes (see packRequest). */
export function requestWords(works: readonly PackableWork[], pieces: readonly Piece[]): number {
  let size = HEADER + pieces.length * FIELDS;
  for (const w of works) {
    if (w.job.kind === "gather") size += w.job.ids.length;
    else {
      const b = w.job.batch;
      size += b.rowSplits.length + b.ids.length * (b.weights !== null || b.positions !== null ? 2 : 1);
    }
  }
  return size;
}

/**
 * Writes the request into `i32` (a view of shared memory, at least `requestWords` long). Layout:
 * `[claimed, departed, failed, pieceCount, 0 ×4, …piece table, …arrays]` (int32 words; weights are float32
 * bits in place).
 */
export function packRequest(works: readonly PackableWork[], pieces: readonly Piece[], i32: Int32Array): void {
  const f32 = new Float32Array(i32.buffer, i32.byteOffset, i32.length);
  let p = HEADER + pieces.length * FIELDS;
  const arrays = works.map((w) => {
    if (w.job.kind === "gather") {
      i32.set(w.job.ids, p);
      p += w.job.ids.length;
      return { splits: -1, ids: p - w.job.ids.length, extra: -1 };
    }
    const { rowSplits, ids, weights, positions } = w.job.batch;
    const splits = p;
    i32.set(rowSplits, p);
    p += rowSplits.length;
    const idsAt = p;
    i32.set(ids, p);
    p += ids.length;
    let extra = -1;
    if (weights !== null) {
      f32.set(weights, p);
      extra = p | (1 << 30);
      p += ids.length;
    } else if (positions !== null) {
      i32.set(positions, p);
      extra = p | (2 << 30);
      p += ids.length;
    }
    return { splits, ids: idsAt, extra };
  });
  // Every word but ENTRY (the request stays closed to late helpers until `openRequest`).
  i32.fill(0, 0, ENTRY);
  i32.fill(0, ENTRY + 1, HEADER);
  i32[COUNT] = pieces.length;
  pieces.forEach((piece, k) => {
    const w = works[piece.work];
    const job = w.job;
    const a = arrays[piece.work];
    const o = HEADER + k * FIELDS;
    i32[o] = job.kind === "gather" ? KIND.gather : job.kind === "sequence" ? KIND.sequence : KIND[job.order];
    i32[o + 1] = job.kind === "bags" ? COMBINER.indexOf(job.combiner) : 0;
    i32[o + 2] = job.kind === "sequence" ? job.sequenceLength : 0;
    i32[o + 3] = w.dim;
    i32[o + 4] = w.table;
    i32[o + 5] = jobRows(job);
    i32[o + 6] = piece.rowStart;
    i32[o + 7] = piece.rowEnd;
    i32[o + 8] = a.splits;
    i32[o + 9] = a.ids;
    i32[o + 10] = a.extra;
    i32[o + 11] = w.outOffset + piece.rowStart * rowValues(job, w.dim);
    i32[o + 12] = w.out;
  });
}

/** Piece `k` of a packed request as a job over views of the request buffer, and where it goes. */
export function unpackPiece(
  buffer: SharedArrayBuffer,
  k: number,
): {
  job: KernelJob;
  table: number;
  dim: number;
  rowStart: number;
  rowEnd: number;
  out: number;
  outOffset: number;
} {
  const i32 = new Int32Array(buffer);
  const o = HEADER + k * FIELDS;
  const kind = i32[o];
  const rows = i32[o + 5];
  const idsAt = i32[o + 9];
  const place = {
    table: i32[o + 4],
    dim: i32[o + 3],
    rowStart: i32[o + 6],
    rowEnd: i32[o + 7],
    outOffset: i32[o + 11],
    out: i32[o + 12],
  };
  if (kind === KIND.gather)
    return { job: { kind: "gather", ids: new Int32Array(buffer, idsAt * 4, rows) }, ...place };
  const splitsAt = i32[o + 8];
  const rowSplits = new Int32Array(buffer, splitsAt * 4, rows + 1);
  const count = rowSplits[rows];
  const ids = new Int32Array(buffer, idsAt * 4, count);
  const extraField = i32[o + 10];
  const extraAt = extraField === -1 ? -1 : extraField & 0x3fffffff;
  const extraKind = extraField === -1 ? 0 : extraField >>> 30;
  const batch = {
    rowSplits,
    ids,
    weights: extraKind === 1 ? new Float32Array(buffer, extraAt * 4, count) : null,
    positions: extraKind === 2 ? new Int32Array(buffer, extraAt * 4, count) : null,
  };
  if (kind === KIND.sequence)
    return { job: { kind: "sequence", sequenceLength: i32[o + 2], batch }, ...place };
  return {
    job: {
      kind: "bags",
      order: kind === KIND.segment ? "segment" : "weighted",
      combiner: COMBINER[i32[o + 1]],
      batch,
    },
    ...place,
  };
}

/** Control words at the start of a packed request (int32 indices). */
export const CLAIMED = 0;
/** Workers that have left the claim loop of this request (their claimed pieces are finished). */
export const DEPARTED = 1;
export const FAILED = 2;
export const COUNT = 3;
/**
 * Who may still join the request: bits 0-7 count the helpers that entered, bit 8 closes it, bits 9-30
 * are the request's generation. A helper enters only a request of the generation it was sent to and
 * only while it is open, so a late helper (one woken after the caller already did all the work and
 * closed the request, or whose slot now holds another request) never touches it, and the caller waits
 * only for the helpers that actually entered, never for one still waking up.
 */
const ENTRY = 4;
const ENTERED_MASK = 0xff;
const CLOSED = 0x100;
const GENERATION_SHIFT = 9;
const HEADER = 8;

/**
 * A staged request (the small-lookup layout of src/embedding/staging-layout.ts, run by the native
 * `smallLookupShare`, features claimed for checks, then through CLAIMED to run) instead of packed pieces: the header's
 * STAGED word is 1, and the staging buffer follows a longer header.
 */
export const STAGED = 5;
/** Staged requests: the output buffer (0: the slot's), the output's float32 offset and length in it. */
export const STAGED_OUT = 6;
export const STAGED_OUT_OFFSET = 7;
export const STAGED_OUT_LENGTH = 8;
/** Staged requests: the staging buffer's length (int32 words); it starts at STAGED_HEADER. */
export const STAGED_LENGTH = 9;
/**
 * Words 10 and 11 of a staged request are the native side's check claims and its count of features
 * checked (every feature is checked, by whichever thread claims it, before any thread runs one:
 * C_CHECK_CLAIMED and C_CHECKED in native/batch.c); packStaged zeroes them.
 */
export const STAGED_HEADER = 16;

/** Lays a staging buffer out as a staged request (every word but ENTRY; open it afterwards). */
export function packStaged(
  work: Int32Array,
  request: Int32Array,
  out: number,
  outOffset: number,
  outLength: number,
): void {
  request.fill(0, 0, ENTRY);
  request.fill(0, ENTRY + 1, STAGED_HEADER);
  request[STAGED] = 1;
  request[STAGED_OUT] = out;
  request[STAGED_OUT_OFFSET] = outOffset;
  request[STAGED_OUT_LENGTH] = outLength;
  request[STAGED_LENGTH] = work.length;
  request.set(work, STAGED_HEADER);
}

/** Request generations cycle through 1 .. 2^22 - 1 (0 is never sent). */
export function nextGeneration(generation: number): number {
  return (generation % 0x3fffff) + 1;
}

/** The generation before `generation` (the one a slot holds while its next request is being packed). */
export function previousGeneration(generation: number): number {
  return generation === 1 ? 0x3fffff : generation - 1;
}

/** Opens a packed request to helpers sent with `generation` (after everything else is written). */
export function openRequest(control: Int32Array, generation: number): void {
  Atomics.store(control, ENTRY, generation << GENERATION_SHIFT);
}

/** The generation of the request a slot holds (its last opened one, open or closed). */
export function requestGeneration(control: Int32Array): number {
  return Atomics.load(control, ENTRY) >>> GENERATION_SHIFT;
}

/** A helper's entry into the request it was sent to: false when it is closed or holds another request. */
export function enterRequest(control: Int32Array, generation: number): boolean {
  for (;;) {
    const entry = Atomics.load(control, ENTRY);
    if (entry >>> GENERATION_SHIFT !== generation || (entry & CLOSED) !== 0) return false;
    if (Atomics.compareExchange(control, ENTRY, entry, entry + 1) === entry) return true;
  }
}

/** Closes the request to helpers that have not entered yet; returns how many entered. */
export function closeRequest(control: Int32Array): number {
  for (;;) {
    const entry = Atomics.load(control, ENTRY);
    if (Atomics.compareExchange(control, ENTRY, entry, entry | CLOSED) === entry) return entry & ENTERED_MASK;
  }
}
