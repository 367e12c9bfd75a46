/**
 * CRC-32C (Castagnoli) as TensorFlow uses it, plus LevelDB's masking of stored checksums.
 * The CRC itself comes from @node-rs/crc32 (hardware accelerated); only the masking is ours.
 */
import { crc32c as nativeCrc32c } from "@node-rs/crc32";

const MASK_DELTA = 0xa282ead8;

/** CRC-32C of `data` (check value: "123456789" → 0xE3069283). */
export function crc32c(data: Uint8Array): number {
  return data.length === 0 ? 0 : nativeCrc32c(data) >>> 0;
}

/** Continues `crc` over `data`: equal to the CRC of the concatenation. */
export function crc32cExtend(crc: number, data: Uint8Array): number {
  return data.length === 0 ? crc >>> 0 : nativeCrc32c(data, crc >>> 0) >>> 0;
}

/** The masked form TF stores: `rotr32(crc, 15) + 0xA282EAD8`. */
export function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0;
}

export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

/** A byte view (no copy) of any typed array, for hashing and I/O. */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
