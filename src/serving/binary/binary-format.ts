/**
 * The binary predict format (documented in docs/serving-api.md): little-endian, every section padded
 * to 8 bytes so typed arrays can view the body without copying.
 */
export const BINARY_CONTENT_TYPE = "application/x-tpu-embedding";
export const REQUEST_MAGIC = 0x52455054; // "TPER" read as a little-endian u32
export const RESPONSE_MAGIC = 0x4f455054; // "TPEO"
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 16;

export const KIND_CODES = { ragged: 0, dense: 1, sparse: 2 } as const;
export const ID_INT32 = 0;
export const ID_INT64 = 1;

export function align8(n: number): number {
  return (n + 7) & ~7;
}
