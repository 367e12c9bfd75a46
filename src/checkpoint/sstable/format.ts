/** SSTable framing shared by reader and writer: block handles, trailers, footer, magic. */
import { DecodeError, ByteSink, readFixed32, readVarint } from "./coding.js";

export const TABLE_MAGIC_LO = 0x8b80fb57;
export const TABLE_MAGIC_HI = 0xdb477524;
export const FOOTER_LENGTH = 48;
export const BLOCK_TRAILER_LENGTH = 5;
export const NO_COMPRESSION = 0;
export const SNAPPY_COMPRESSION = 1;

/** Where a block lies in the file; `size` excludes the 5-byte trailer. */
export interface BlockHandle {
  readonly offset: number;
  readonly size: number;
}

export function decodeBlockHandle(buf: Uint8Array, pos = 0): { handle: BlockHandle; next: number } {
  const off = readVarint(buf, pos);
  const size = readVarint(buf, off.next);
  return { handle: { offset: off.value, size: size.value }, next: size.next };
}

export function encodeBlockHandle(sink: ByteSink, handle: BlockHandle): void {
  sink.varint(handle.offset);
  sink.varint(handle.size);
}

export interface Footer {
  readonly metaindex: BlockHandle;
  readonly index: BlockHandle;
}

export function decodeFooter(footer: Uint8Array): Footer {
  if (footer.length !== FOOTER_LENGTH) throw new DecodeError("file too short to hold an SSTable footer");
  const lo = readFixed32(footer, 40);
  const hi = readFixed32(footer, 44);
  if (lo !== TABLE_MAGIC_LO || hi !== TABLE_MAGIC_HI) {
    throw new DecodeError(
      `bad table magic number 0x${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")} ` +
        "(expected 0xdb4775248b80fb57); not a TensorFlow V2 checkpoint index",
    );
  }
  const meta = decodeBlockHandle(footer, 0);
  const index = decodeBlockHandle(footer, meta.next);
  return { metaindex: meta.handle, index: index.handle };
}

export function encodeFooter(footer: Footer): Uint8Array {
  const sink = new ByteSink(FOOTER_LENGTH);
  encodeBlockHandle(sink, footer.metaindex);
  encodeBlockHandle(sink, footer.index);
  while (sink.length < 40) sink.byte(0);
  sink.fixed32(TABLE_MAGIC_LO);
  sink.fixed32(TABLE_MAGIC_HI);
  return sink.toBytes();
}
