/**
 * The rows of one table that a step touches and their summed gradients: a sorted list of unique rows and
 * one float32 gradient row per entry. Built in two passes (register every looked-up id, then add
 * contributions), so a step allocates two typed arrays per table and nothing per id.
 */

import { InternalError } from "../errors.js";
export class TouchedRows {
  /** Sorted, unique table rows. */
  readonly rows: Int32Array;
  /** `rows.length × dim` summed gradients; row `k` belongs to table row `rows[k]`. */
  readonly gradients: Float32Array;
  readonly dim: number;

  private constructor(rows: Int32Array, dim: number, storage: Float32Array | null) {
    this.rows = rows;
    this.dim = dim;
    const size = rows.length * dim;
    this.gradients =
      storage !== null && storage.length >= size ? storage.subarray(0, size).fill(0) : new Float32Array(size);
  }

  /**
   * Every id in `idLists` is touched (even ids whose gradient turns out to be zero, as on the TPU).
   * `storage`, when large enough, is zeroed and reused for the gradients (saves faulting in fresh pages
   * every step).
   */
  static fromIds(
    idLists: readonly Int32Array[],
    dim: number,
    storage: Float32Array | null = null,
  ): TouchedRows {
    let total = 0;
    for (const ids of idLists) total += ids.length;
    const all = new Int32Array(total);
    let offset = 0;
    for (const ids of idLists) {
      all.set(ids, offset);
      offset += ids.length;
    }
    all.sort();
    let unique = 0;
    for (let i = 0; i < total; i++) if (i === 0 || all[i] !== all[i - 1]) all[unique++] = all[i];
    return new TouchedRows(all.slice(0, unique), dim, storage);
  }

  /** Index of `row` in `rows` (binary search; the row must have been registered). */
  slotOf(row: number): number {
    const rows = this.rows;
    let lo = 0;
    let hi = rows.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const value = rows[mid];
      if (value < row) lo = mid + 1;
      else if (value > row) hi = mid - 1;
      else return mid;
    }
    throw new InternalError(`row ${row} was not registered as touched`);
  }

  /**
   * `gradient[row] += fround(source[offset + d] · factor)` for every d. Each product and each sum is
   * rounded to float32 (the Float32Array store rounds), as a float32 scatter-add does.
   */
  addScaled(row: number, source: Float32Array, offset: number, factor: number): void {
    const dim = this.dim;
    const out = this.gradients;
    const base = this.slotOf(row) * dim;
    if (factor === 1) {
      for (let d = 0; d < dim; d++) out[base + d] += source[offset + d];
    } else {
      for (let d = 0; d < dim; d++) out[base + d] += Math.fround(source[offset + d] * factor);
    }
  }

  /** Index of the first non-finite gradient value, or -1 (sums of finite values can still overflow). */
  firstNonFinite(): number {
    const g = this.gradients;
    for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i])) return i;
    return -1;
  }
}
