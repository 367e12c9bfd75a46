/**
 * Reads a whole LevelDB-style SSTable held in memory (a checkpoint's `.index` file): footer and magic,
 * index block, every data block (masked CRC-32C of each verified, Snappy blocks decompressed).
 */
import SnappyJS from "snappyjs";
import { DataLossError } from "../../errors.js";
import { crc32c, crc32cExtend, unmaskCrc } from "../crc.js";
import { compareBytes, DecodeError, readFixed32 } from "./coding.js";
import { decodeBlock, type BlockEntry } from "./block.js";
import {
  BLOCK_TRAILER_LENGTH,
  decodeBlockHandle,
  decodeFooter,
  FOOTER_LENGTH,
  NO_COMPRESSION,
  SNAPPY_COMPRESSION,
  type BlockHandle,
  type Footer,
} from "./format.js";

export interface TableContents {
  readonly footer: Footer;
  /** Entries of every data block, in key order. */
  readonly entries: readonly BlockEntry[];
  readonly dataBlocks: readonly BlockHandle[];
  /** Compression type byte of each data block, in order. */
  readonly dataBlockCompression: readonly number[];
}

function corrupt(file: string, what: string, reason: string, cause?: unknown): DataLossError {
  return new DataLossError(`Corrupt checkpoint index "${file}" (${what}): ${reason}`, { cause });
}

/** Reads, checks and (if needed) decompresses the block at `handle`. */
export function readBlock(
  table: Uint8Array,
  handle: BlockHandle,
  file: string,
  what: string,
): { contents: Uint8Array; compression: number } {
  const end = handle.offset + handle.size + BLOCK_TRAILER_LENGTH;
  if (end > table.length - FOOTER_LENGTH) {
    throw corrupt(file, what, `block [${handle.offset}, ${end}) extends past the end of the table`);
  }
  const stored = table.subarray(handle.offset, handle.offset + handle.size);
  const type = table[handle.offset + handle.size];
  const expected = unmaskCrc(readFixed32(table, handle.offset + handle.size + 1));
  const actual = crc32cExtend(
    crc32c(stored),
    table.subarray(handle.offset + handle.size, handle.offset + handle.size + 1),
  );
  if (actual !== expected) {
    throw corrupt(
      file,
      what,
      `block checksum mismatch at offset ${handle.offset} (stored crc32c 0x${expected.toString(16)}, ` +
        `computed 0x${actual.toString(16)})`,
    );
  }
  if (type === NO_COMPRESSION) return { contents: stored, compression: type };
  if (type === SNAPPY_COMPRESSION) {
    try {
      return { contents: SnappyJS.uncompress(stored), compression: type };
    } catch (e) {
      throw corrupt(file, what, `corrupted Snappy compressed block: ${(e as Error).message}`, e);
    }
  }
  throw corrupt(file, what, `bad block type ${type}`);
}

function decode(file: string, what: string, contents: Uint8Array): BlockEntry[] {
  try {
    return decodeBlock(contents);
  } catch (e) {
    if (e instanceof DecodeError) throw corrupt(file, what, e.message, e);
    throw e;
  }
}

/** Parses a complete table; throws DataLossError naming `file` on any inconsistency. */
export function readTable(table: Uint8Array, file: string): TableContents {
  if (table.length < FOOTER_LENGTH) {
    throw corrupt(
      file,
      "footer",
      `file is ${table.length} bytes, shorter than the 48-byte footer (truncated?)`,
    );
  }
  let footer: Footer;
  try {
    footer = decodeFooter(table.subarray(table.length - FOOTER_LENGTH));
  } catch (e) {
    if (e instanceof DecodeError) throw corrupt(file, "footer", e.message, e);
    throw e;
  }
  // TF itself never reads the (always empty) metaindex block; we still check its checksum and format.
  decode(file, "metaindex block", readBlock(table, footer.metaindex, file, "metaindex block").contents);
  const indexBlock = readBlock(table, footer.index, file, "index block");
  const indexEntries = decode(file, "index block", indexBlock.contents);
  const entries: BlockEntry[] = [];
  const dataBlocks: BlockHandle[] = [];
  const dataBlockCompression: number[] = [];
  for (let i = 0; i < indexEntries.length; i++) {
    let handle: BlockHandle;
    try {
      handle = decodeBlockHandle(indexEntries[i].value).handle;
    } catch (e) {
      throw corrupt(file, "index block", `bad block handle: ${(e as Error).message}`, e);
    }
    const what = `data block ${i}`;
    const block = readBlock(table, handle, file, what);
    const blockEntries = decode(file, what, block.contents);
    for (const entry of blockEntries) {
      const prev = entries.length > 0 ? entries[entries.length - 1].key : undefined;
      if (prev !== undefined && compareBytes(prev, entry.key) >= 0) {
        throw corrupt(file, what, "keys are not in strictly increasing order");
      }
      if (compareBytes(entry.key, indexEntries[i].key) > 0) {
        throw corrupt(file, what, "key greater than its index separator");
      }
      entries.push(entry);
    }
    dataBlocks.push(handle);
    dataBlockCompression.push(block.compression);
  }
  return { footer, entries, dataBlocks, dataBlockCompression };
}
