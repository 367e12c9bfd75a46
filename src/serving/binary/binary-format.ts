import { InvalidArgumentError } from "../../errors.js";
import type { ByteReader, ByteWriter } from "./byte-io.js";

export { align8 } from "./byte-io.js";

/**
 * The binary predict format (documented in docs/serving.md): little-endian, every section padded
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

/**
 * Writes the 16-byte header: magic, format version, a reserved u16, the section count, a reserved u32.
 */
export function writeHeader(w: ByteWriter, magic: number, count: number): void {
  w.u32(magic);
  w.u16(FORMAT_VERSION);
  w.u16(0);
  w.u32(count);
  w.u32(0);
}

/** Reads and checks the header written by `writeHeader`; returns the section count. */
export function readHeader(r: ByteReader, magic: number, what: string): number {
  r.need(HEADER_BYTES, "the header");
  const found = r.u32();
  if (found !== magic) {
    throw new InvalidArgumentError(
      `${what}: bad magic 0x${found.toString(16).padStart(8, "0")} (expected "${magicName(magic)}").`,
    );
  }
  const version = r.u16();
  if (version !== FORMAT_VERSION) {
    throw new InvalidArgumentError(
      `${what}: format version ${version} is not supported (expected ${FORMAT_VERSION}).`,
    );
  }
  r.u16();
  const count = r.u32();
  r.u32();
  return count;
}

/** The four ASCII letters of a magic number (stored little-endian). */
function magicName(magic: number): string {
  return String.fromCharCode(magic & 0xff, (magic >>> 8) & 0xff, (magic >>> 16) & 0xff, magic >>> 24);
}
