/**
 * The staging layout of staged lookups (small-lookup.ts, keyed-lookup.ts), mirrored in
 * native/lookup_kernels.c (SMALL_*, D_*): work[0] = the feature count, then one descriptor of DESCRIPTOR
 * int32 words per feature, then the ids, row splits and weights (float bits) they point into.
 */
export const KIND_GATHER = 0;
export const KIND_BAGS = 1;
export const KIND_SEQUENCE = 2;
export const D_KIND = 0;
export const D_TABLE = 1;
export const D_ROWS = 2;
export const D_IDS = 3;
export const D_IDS_AT = 4;
export const D_SPLITS_AT = 5;
export const D_WEIGHTS_AT = 6;
export const D_OUT_AT = 7;
export const D_PARAM = 8;
export const DESCRIPTOR = 9;

/** The native kernels' combiner codes (D_PARAM of bags). */
export const MODE = { sum: 0, mean: 1, sqrtn: 2 } as const;

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
