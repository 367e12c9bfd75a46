/**
 * Builds an SSTable exactly as TensorFlow's `table::TableBuilder` does for tensor bundles:
 * 256 KiB blocks, restart interval 16 (1 in the index block), no compression, shortened index keys.
 */
import { InvalidArgumentError } from "../../errors.js";
import { crc32c, crc32cExtend, maskCrc } from "../crc.js";
import { BlockBuilder } from "./block-builder.js";
import { ByteSink, compareBytes } from "./coding.js";
import { encodeBlockHandle, encodeFooter, NO_COMPRESSION, type BlockHandle } from "./format.js";

export const TF_BLOCK_SIZE = 262144;
export const TF_RESTART_INTERVAL = 16;

/** LevelDB BytewiseComparator::FindShortestSeparator. */
export function findShortestSeparator(start: Uint8Array, limit: Uint8Array): Uint8Array {
  const n = Math.min(start.length, limit.length);
  let i = 0;
  while (i < n && start[i] === limit[i]) i++;
  if (i < n) {
    const b = start[i];
    if (b < 0xff && b + 1 < limit[i]) {
      const out = start.slice(0, i + 1);
      out[i] = b + 1;
      return out;
    }
  }
  return start;
}

/** LevelDB BytewiseComparator::FindShortSuccessor. */
export function findShortSuccessor(key: Uint8Array): Uint8Array {
  for (let i = 0; i < key.length; i++) {
    if (key[i] !== 0xff) {
      const out = key.slice(0, i + 1);
      out[i] = key[i] + 1;
      return out;
    }
  }
  return key;
}

export interface TableBuilderOptions {
  blockSize?: number;
  restartInterval?: number;
}

export class TableBuilder {
  private readonly out = new ByteSink(4096);
  private readonly data: BlockBuilder;
  private readonly index = new BlockBuilder(1);
  private readonly blockSize: number;
  private readonly restartInterval: number;
  private pendingHandle: BlockHandle | undefined;
  private lastKey: Uint8Array | undefined;

  constructor(options: TableBuilderOptions = {}) {
    this.blockSize = options.blockSize ?? TF_BLOCK_SIZE;
    this.restartInterval = options.restartInterval ?? TF_RESTART_INTERVAL;
    this.data = new BlockBuilder(this.restartInterval);
  }

  /** Adds an entry; keys must be strictly increasing in unsigned bytewise order. */
  add(key: Uint8Array, value: Uint8Array): void {
    if (this.lastKey !== undefined && compareBytes(this.lastKey, key) >= 0) {
      throw new InvalidArgumentError("SSTable keys must be added in strictly increasing order");
    }
    if (this.lastKey !== undefined && key.length + value.length >= 2 * this.blockSize) this.flush();
    if (this.pendingHandle !== undefined && this.lastKey !== undefined) {
      this.addIndexEntry(findShortestSeparator(this.lastKey, key));
    }
    this.lastKey = key;
    this.data.add(key, value);
    if (this.data.currentSizeEstimate() >= this.blockSize) this.flush();
  }

  /** Finishes the table and returns the whole file. */
  finish(): Uint8Array {
    this.flush();
    const metaindex = this.writeBlock(new BlockBuilder(this.restartInterval).finish());
    if (this.pendingHandle !== undefined && this.lastKey !== undefined) {
      this.addIndexEntry(findShortSuccessor(this.lastKey));
    }
    const index = this.writeBlock(this.index.finish());
    this.out.bytes(encodeFooter({ metaindex, index }));
    return this.out.toBytes();
  }

  private addIndexEntry(separator: Uint8Array): void {
    const handle = new ByteSink(20);
    encodeBlockHandle(handle, this.pendingHandle as BlockHandle);
    this.index.add(separator, handle.view());
    this.pendingHandle = undefined;
  }

  private flush(): void {
    if (this.data.empty) return;
    this.pendingHandle = this.writeBlock(this.data.finish());
  }

  private writeBlock(contents: Uint8Array): BlockHandle {
    const handle = { offset: this.out.length, size: contents.length };
    const type = new Uint8Array([NO_COMPRESSION]);
    this.out.bytes(contents);
    this.out.bytes(type);
    this.out.fixed32(maskCrc(crc32cExtend(crc32c(contents), type)));
    return handle;
  }
}
