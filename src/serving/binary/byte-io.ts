import { InvalidArgumentError } from "../../errors.js";
import { align8 } from "./binary-format.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Writes little-endian sections into one preallocated buffer, each section padded to 8 bytes. */
export class ByteWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(v: number): void {
    this.view.setUint8(this.offset, v);
    this.offset += 1;
  }
  u16(v: number): void {
    this.view.setUint16(this.offset, v, true);
    this.offset += 2;
  }
  u32(v: number): void {
    this.view.setUint32(this.offset, v, true);
    this.offset += 4;
  }
  /** Copies a typed array's bytes (the platform is little-endian, as Node on x86/ARM always is). */
  array(data: ArrayBufferView): void {
    this.bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), this.offset);
    this.offset = align8(this.offset + data.byteLength);
  }
  pad(): void {
    this.offset = align8(this.offset);
  }
}

/** Reads a body whose every length is checked against its size before anything is read. */
export class ByteReader {
  private readonly view: DataView;
  offset = 0;

  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(n: number, section: string): void {
    if (!Number.isSafeInteger(n) || n < 0 || this.offset + n > this.bytes.byteLength) {
      throw new InvalidArgumentError(
        `${this.what}: truncated at byte ${this.offset}: ${section} needs ${n} bytes but only ` +
          `${this.bytes.byteLength - this.offset} remain.`,
      );
    }
  }
  u8(): number {
    return this.view.getUint8(this.offset++);
  }
  u16(): number {
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }
  u32(): number {
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  /** A zero-copy view of `count` elements (the body is 8-byte aligned, so every section is too). */
  array<T>(
    Type: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number },
    count: number,
    section: string,
  ): T {
    const bytes = count * Type.BYTES_PER_ELEMENT;
    this.need(bytes, section);
    // Only past a cut at the body's end can a section start unaligned (sections are padded to 8 bytes).
    if (this.offset % Type.BYTES_PER_ELEMENT !== 0) {
      throw new InvalidArgumentError(
        `${this.what}: truncated at byte ${this.offset}: ${section} would start inside the padding.`,
      );
    }
    const out = new Type(this.bytes.buffer, this.bytes.byteOffset + this.offset, count);
    this.offset = Math.min(align8(this.offset + bytes), this.bytes.byteLength);
    return out;
  }
  text(n: number, section: string): string {
    this.need(n, section);
    let s: string;
    try {
      s = utf8.decode(this.bytes.subarray(this.offset, this.offset + n));
    } catch {
      throw new InvalidArgumentError(`${this.what}: ${section} at byte ${this.offset} is not valid UTF-8.`);
    }
    this.offset = Math.min(align8(this.offset + n), this.bytes.byteLength);
    return s;
  }
}

/** An 8-byte-aligned copy when the bytes do not start on an 8-byte boundary (typed views need it). */
export function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
}
