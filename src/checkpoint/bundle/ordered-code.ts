/**
 * The subset of TensorFlow's OrderedCode (`lib/strings/ordered_code.cc`) used by slice keys:
 * WriteNumIncreasing, WriteString and WriteSignedNumIncreasing, and their readers.
 */
import { ByteSink, DecodeError } from "../sstable/coding.js";
import { InternalError } from "../../errors.js";

export function writeNumIncreasing(sink: ByteSink, value: bigint | number): void {
  let v = BigInt(value);
  if (v < 0n || v > 0xffffffffffffffffn) throw new InternalError(`WriteNumIncreasing: ${v} out of range`);
  const bytes: number[] = [];
  while (v > 0n) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  sink.byte(bytes.length);
  for (const b of bytes) sink.byte(b);
}

export function readNumIncreasing(buf: Uint8Array, pos: number): { value: bigint; next: number } {
  if (pos >= buf.length) throw new DecodeError("truncated OrderedCode number");
  const n = buf[pos];
  if (n > 8 || pos + 1 + n > buf.length) throw new DecodeError("bad OrderedCode number");
  let v = 0n;
  for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(buf[pos + 1 + i]);
  return { value: v, next: pos + 1 + n };
}

export function writeString(sink: ByteSink, bytes: Uint8Array): void {
  for (const b of bytes) {
    if (b === 0x00) {
      sink.byte(0x00);
      sink.byte(0xff);
    } else if (b === 0xff) {
      sink.byte(0xff);
      sink.byte(0x00);
    } else {
      sink.byte(b);
    }
  }
  sink.byte(0x00);
  sink.byte(0x01);
}

export function readString(buf: Uint8Array, pos: number): { value: Uint8Array; next: number } {
  const out = new ByteSink(64);
  while (pos < buf.length) {
    const b = buf[pos];
    if (b === 0x00 || b === 0xff) {
      if (pos + 1 >= buf.length) break;
      const c = buf[pos + 1];
      if (b === 0x00 && c === 0x01) return { value: out.toBytes(), next: pos + 2 };
      if (b === 0x00 && c === 0xff) out.byte(0x00);
      else if (b === 0xff && c === 0x00) out.byte(0xff);
      else throw new DecodeError("bad OrderedCode string escape");
      pos += 2;
    } else {
      out.byte(b);
      pos++;
    }
  }
  throw new DecodeError("unterminated OrderedCode string");
}

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/** Header bits of a `len`-byte encoding of a non-negative number: `len` ones then a zero. */
function headerOnes(len: number): bigint {
  return ((1n << BigInt(len)) - 1n) << BigInt(8 * len - len);
}

export function writeSignedNumIncreasing(sink: ByteSink, value: bigint | number): void {
  const v = BigInt(value);
  const negative = v < 0n;
  const x = negative ? ~v : v;
  const len = Math.floor(bitLength(x) / 7) + 1;
  if (len > 10) throw new InternalError(`WriteSignedNumIncreasing: ${v} out of range`);
  let u = x | headerOnes(len);
  if (negative) u = ~u & ((1n << BigInt(8 * len)) - 1n);
  for (let i = len - 1; i >= 0; i--) sink.byte(Number((u >> BigInt(8 * i)) & 0xffn));
}

export function readSignedNumIncreasing(buf: Uint8Array, pos: number): { value: bigint; next: number } {
  if (pos >= buf.length) throw new DecodeError("truncated OrderedCode signed number");
  const negative = (buf[pos] & 0x80) === 0;
  const flip = negative ? 0xff : 0;
  const first = buf[pos] ^ flip;
  const second = pos + 1 < buf.length ? buf[pos + 1] ^ flip : 0;
  let len = 0;
  const header = (first << 8) | second;
  for (let bit = 15; bit >= 0 && header & (1 << bit); bit--) len++;
  if (len < 1 || len > 10 || pos + len > buf.length) throw new DecodeError("bad OrderedCode signed number");
  let u = 0n;
  for (let i = 0; i < len; i++) u = (u << 8n) | BigInt(buf[pos + i] ^ flip);
  const magnitude = u & ((1n << BigInt(7 * len - 1)) - 1n);
  return { value: negative ? ~magnitude : magnitude, next: pos + len };
}
