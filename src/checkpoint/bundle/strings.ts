/** The DT_STRING payload layout: varint lengths, masked CRC of the lengths, then the bytes. */
import { crc32cExtend, maskCrc, unmaskCrc } from "../crc.js";
import { ByteSink, DecodeError, readFixed32, readVarint } from "../sstable/coding.js";

function lengthBytes(len: number): Uint8Array {
  const wide = len > 0xffffffff;
  const out = new Uint8Array(wide ? 8 : 4);
  const view = new DataView(out.buffer);
  if (wide) view.setBigUint64(0, BigInt(len), true);
  else view.setUint32(0, len, true);
  return out;
}

/** Encodes a string tensor; returns the bytes and the unmasked entry CRC. */
export function encodeStringTensor(values: readonly Uint8Array[]): { bytes: Uint8Array; crc: number } {
  const sink = new ByteSink(64 + values.reduce((a, v) => a + v.length + 2, 0));
  let crc = 0;
  for (const v of values) {
    sink.varint(v.length);
    crc = crc32cExtend(crc, lengthBytes(v.length));
  }
  const stored = sink.length;
  sink.fixed32(maskCrc(crc));
  crc = crc32cExtend(crc, sink.view().subarray(stored, stored + 4));
  for (const v of values) {
    sink.bytes(v);
    crc = crc32cExtend(crc, v);
  }
  return { bytes: sink.toBytes(), crc };
}

/**
 * Decodes `count` strings, verifying the length checksum; returns the elements (views into `bytes`)
 * and the unmasked CRC of the whole payload, for the caller to compare with the entry's.
 */
export function decodeStringTensor(bytes: Uint8Array, count: number): { values: Uint8Array[]; crc: number } {
  const lengths: number[] = [];
  let pos = 0;
  let crc = 0;
  for (let i = 0; i < count; i++) {
    const v = readVarint(bytes, pos);
    lengths.push(v.value);
    pos = v.next;
    crc = crc32cExtend(crc, lengthBytes(v.value));
  }
  const stored = readFixed32(bytes, pos);
  if (unmaskCrc(stored) !== crc) throw new DecodeError("string tensor length checksum mismatch");
  crc = crc32cExtend(crc, bytes.subarray(pos, pos + 4));
  pos += 4;
  const values: Uint8Array[] = [];
  for (const len of lengths) {
    if (pos + len > bytes.length) throw new DecodeError("string tensor element runs past the entry's size");
    const v = bytes.subarray(pos, pos + len);
    crc = crc32cExtend(crc, v);
    values.push(v);
    pos += len;
  }
  if (pos !== bytes.length) throw new DecodeError(`string tensor has ${bytes.length - pos} trailing bytes`);
  return { values, crc };
}
