import { InvalidArgumentError } from "../../errors.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Texts up to this many bytes are tried as ASCII first. */
const SHORT_TEXT_BYTES = 64;

/** Writes little-endian sections into one preallocated buffer, each section padded to 8 bytes. */
export class ByteWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset = 0;

  constructor(size: number) {
    // The ArrayBuffer first: `.buffer` of a small typed array would copy it off the V8 heap.
    const buffer = new ArrayBuffer(size);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
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

/**
 * A section's name for error messages. With a `feature`, the text is `${what}, feature "${feature}"${section}`
 * (e.g. `Binary request, feature "f00" ids`), joined only when an error is raised: a request's hot path
 * builds no text.
 */
export type Section = string;

function sectionText(section: Section, what: string, feature: string | undefined): string {
  return feature === undefined ? section : `${what}, feature "${feature}"${section}`;
}

/** Reads a body whose every length is checked against its size before anything is read. */
export class ByteReader {
  private readonly view: DataView;
  private readonly buffer: ArrayBufferLike;
  offset = 0;

  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.buffer = bytes.buffer;
    this.view = new DataView(this.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(n: number, section: Section, feature?: string): void {
    if (!Number.isSafeInteger(n) || n < 0 || this.offset + n > this.bytes.byteLength) {
      throw new InvalidArgumentError(
        `${this.what}: truncated at byte ${this.offset}: ${sectionText(section, this.what, feature)} needs ${n} bytes but only ` +
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
  /**
   * `array(Int32Array, …)` for the hot path (row splits and int32 ids of every feature): one element
   * type, so V8 keeps the construction monomorphic.
   */
  int32(count: number, section: Section, feature?: string): Int32Array {
    return new Int32Array(this.buffer, this.viewAt(4, count, section, feature), count);
  }
  /** A zero-copy view of `count` elements (the body is 8-byte aligned, so every section is too). */
  array<T>(
    Type: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number },
    count: number,
    section: Section,
    feature?: string,
  ): T {
    return new Type(this.buffer, this.viewAt(Type.BYTES_PER_ELEMENT, count, section, feature), count);
  }
  /** Steps over a section of `count` elements of `size` bytes: where in the buffer its view starts. */
  private viewAt(size: number, count: number, section: Section, feature: string | undefined): number {
    const start = this.offset;
    this.section(size * count, section, feature);
    // Sections start on 8-byte boundaries by construction; checked anyway before any typed view.
    const at = this.bytes.byteOffset + start;
    if (at % size !== 0) {
      throw new InvalidArgumentError(
        `${this.what}: ${sectionText(section, this.what, feature)} at byte ${start} is not aligned.`,
      );
    }
    return at;
  }
  text(n: number, section: Section, feature?: string): string {
    const start = this.offset;
    this.section(n, section, feature);
    // Short ASCII texts (feature names) char by char: TextDecoder's call costs ~100 ns a name.
    if (n <= SHORT_TEXT_BYTES) {
      let text = "";
      let i = start;
      for (; i < start + n && this.bytes[i] < 0x80; i++) text += String.fromCharCode(this.bytes[i]);
      if (i === start + n) return text;
    }
    try {
      return utf8.decode(this.bytes.subarray(start, start + n));
    } catch {
      throw new InvalidArgumentError(
        `${this.what}: ${sectionText(section, this.what, feature)} at byte ${start} is not valid UTF-8.`,
      );
    }
  }
  /** A reserved field: must be zero (so the format can give it a meaning later). */
  reserved(value: number, field: string): void {
    if (value !== 0) {
      throw new InvalidArgumentError(
        `${this.what}: ${field} is ${value}; it is reserved and must be 0 in format version 1.`,
      );
    }
  }
  /**
   * Steps over a section of `n` bytes and its padding to the next 8-byte boundary: both must be in the
   * body (the last section is padded too) and the padding must be zeros.
   */
  private section(n: number, section: Section, feature: string | undefined): void {
    if (!Number.isSafeInteger(n) || n < 0) this.need(n, section, feature);
    const padded = align8(n);
    if (this.offset + padded > this.bytes.byteLength)
      this.need(padded, `${sectionText(section, this.what, feature)} (${n} bytes padded to ${padded})`);
    for (let i = this.offset + n; i < this.offset + padded; i++) {
      if (this.bytes[i] !== 0) {
        throw new InvalidArgumentError(
          `${this.what}: padding byte ${i} after ${sectionText(section, this.what, feature)} is ${this.bytes[i]}; padding must be zeros.`,
        );
      }
    }
    this.offset += padded;
  }
}

/** An 8-byte-aligned copy when the bytes do not start on an 8-byte boundary (typed views need it). */
export function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
}

/** `n` rounded up to a multiple of 8 (every section of the binary format starts on an 8-byte boundary). */
export function align8(n: number): number {
  // Arithmetic, not `& ~7`: lengths read from a body may exceed 2^31 and must stay huge (and refused).
  return Math.ceil(n / 8) * 8;
}
