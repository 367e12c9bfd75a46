import { C_TASK_ROWS } from "./batch-layout.js";
import { shareTaskRows } from "../flags.js";

/**
 * A pool request: one lookup batch (src/kernels/batch-layout.ts) behind a header of control words, in a
 * slot's SharedArrayBuffer, so the calling thread and every worker that joins run their shares of it
 * without structured-clone copies. Threads claim features (and check them first) through the batch
 * kernels' control words (batch-layout.ts C_*), which are words of this header.
 */

/** Control words at the start of a request (int32 indices). */
export const CLAIMED = 0;
/** Workers that have left the claim loop of this request (their claimed pieces are finished). */
export const DEPARTED = 1;
export const FAILED = 2;
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

// Word 5 is unused (it told two request formats apart).
/** The output buffer (0: the slot's), the output's float32 offset and length in it. */
export const STAGED_OUT = 6;
export const STAGED_OUT_OFFSET = 7;
export const STAGED_OUT_LENGTH = 8;
/** The batch's length (int32 words); it starts at STAGED_HEADER. */
export const STAGED_LENGTH = 9;
/**
 * Words 10 and 11 are the batch kernels' check claims and its count of features
 * checked (every feature is checked, by whichever thread claims it, before any thread runs one:
 * C_CHECK_CLAIMED and C_CHECKED in batch-layout.ts); packStaged zeroes them. Word 12 (C_TASK_ROWS) is the
 * output rows per run task, written here by the calling thread so that every thread splits alike.
 */
export const STAGED_HEADER = 16;

/** Lays a batch out as a request (every word but ENTRY; open it afterwards). */
export function packStaged(
  work: Int32Array,
  request: Int32Array,
  out: number,
  outOffset: number,
  outLength: number,
): void {
  request.fill(0, 0, ENTRY);
  request.fill(0, ENTRY + 1, STAGED_HEADER);
  request[STAGED_OUT] = out;
  request[STAGED_OUT_OFFSET] = outOffset;
  request[STAGED_OUT_LENGTH] = outLength;
  request[STAGED_LENGTH] = work.length;
  request[C_TASK_ROWS] = shareTaskRows;
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

/** Opens a request to helpers sent with `generation` (after everything else is written). */
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
