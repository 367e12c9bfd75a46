/** The lookup pool's reusable shared request/output buffers, one slot per request in flight (lookup-pool.ts). */

/** A slot buffer's next size: at least `needed`, grown by half, 64 KiB minimum, a multiple of 64. */
export function grow(current: number, needed: number): number {
  return Math.ceil(Math.max(needed, current * 1.5, 1 << 16) / 64) * 64;
}

export const EMPTY = new SharedArrayBuffer(0);

/** A slot keeps buffers up to this size between requests (bigger ones are allocated per request). */
export const SLOT_KEEP_BYTES = 16 * 1024 * 1024;

/** Reusable shared buffers for one request in flight. */
export interface Slot {
  readonly id: number;
  /** Bumped when the buffers are replaced, so workers are sent the new ones. */
  version: number;
  /** The generation of the request last packed into the slot (packed-request.ts `ENTRY`). */
  generation: number;
  request: SharedArrayBuffer;
  out: SharedArrayBuffer;
  busy: boolean;
}
