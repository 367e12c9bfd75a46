/** LevelDB/protobuf primitive encodings: varints and little-endian fixed-width integers. */

import { DataLossError, InternalError } from "../../errors.js";

/** Thrown by the decoders below; callers turn it into a DataLossError naming the file and key. */
export class DecodeError extends DataLossError {}

/** Decodes a varint at `pos`; values up to 2^53 are exact (more than any file offset or length). */
export function readVarint(buf: Uint8Array, pos: number, maxBytes = 10): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (pos + i >= buf.length) throw new DecodeError("truncated varint");
    const b = buf[pos + i];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (value > Number.MAX_SAFE_INTEGER) throw new DecodeError("varint larger than 2^53");
      return { value, next: pos + i + 1 };
    }
    scale *= 128;
  }
  throw new DecodeError(`varint longer than ${maxBytes} bytes`);
}

export function varintLength(value: number): number {
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** A growable byte buffer for building blocks and small files. */
export class ByteSink {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialCapacity = 1024) {
    this.buf = new Uint8Array(initialCapacity);
  }

  get length(): number {
    return this.len;
  }

  private reserve(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new InternalError(`bad varint value ${value}`);
    while (value >= 128) {
      this.byte((value % 128) | 0x80);
      value = Math.floor(value / 128);
    }
    this.byte(value);
  }

  fixed32(value: number): void {
    this.reserve(4);
    const v = value >>> 0;
    this.buf[this.len++] = v & 0xff;
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = (v >>> 16) & 0xff;
    this.buf[this.len++] = (v >>> 24) & 0xff;
  }

  /** The bytes written so far (a view; valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** A copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  clear(): void {
    this.len = 0;
  }
}

export function readFixed32(buf: Uint8Array, pos: number): number {
  if (pos + 4 > buf.length) throw new DecodeError("truncated fixed32");
  return (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
}

/** Unsigned bytewise comparison (memcmp order), as SSTable keys are sorted. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
