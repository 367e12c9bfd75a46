import { REF_WORDS, W_REFS, W_REFS_AT } from "../kernels/batch-layout.js";

/**
 * Synchronous lookups shared with workers read arrays longer than this in place instead of copying them:
 * the calling thread is blocked until every thread is done, so a non-shared array can neither change nor
 * go away meanwhile, and the copies delayed every worker. Shorter arrays are copied: resolving a cold
 * typed array costs about as much as copying a few hundred values, and small typed arrays live on V8's
 * heap, where taking their address would move them off it (measured: bench/results/2026-11-30-fast-kernels.md).
 */
export const REF_MIN_LENGTH = 256;

/**
 * The arrays a synchronous staging reads in place, in ref order (the arguments of `resolveRefs`). The array
 * is reused from lookup to lookup (its entries overwritten, its length changed only when the count does),
 * so a steady stream of lookups allocates nothing here; it keeps the last lookup's arrays referenced until
 * the next one, as the staged paths keep its inputs.
 */
export class StagingRefs {
  /** The last staging's refs: exactly its count long once `table` ran. */
  readonly arrays: (Int32Array | Float32Array)[] = [];
  /** Whether this staging may use refs (synchronous lookups shared with workers only). */
  private enabled = false;
  private count = 0;

  reset(enabled: boolean): void {
    this.enabled = enabled;
    this.count = 0;
  }

  /** `array`'s ref index, or -1 when it is to be copied (short, shared memory, or refs disabled). */
  add(array: Int32Array | Float32Array): number {
    if (!this.enabled || array.length <= REF_MIN_LENGTH || array.buffer instanceof SharedArrayBuffer)
      return -1;
    const k = this.count++;
    if (k < this.arrays.length) this.arrays[k] = array;
    else this.arrays.push(array);
    return k;
  }

  /** Writes the header's ref words and reserves the (zeroed) ref table at `cursor`; the new cursor. */
  table(work: Int32Array, cursor: number): number {
    const count = this.count;
    if (this.arrays.length !== count) this.arrays.length = count;
    const words = count * REF_WORDS;
    work[W_REFS] = count;
    work[W_REFS_AT] = cursor;
    if (words > 0) work.fill(0, cursor, cursor + words);
    return cursor + words;
  }
}

export function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
