/** Decoding of one SSTable block: prefix-compressed entries followed by the restart array. */
import { DecodeError, readFixed32, readVarint } from "./coding.js";

export interface BlockEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * Decodes every entry of a block (data, index or metaindex). Validates the restart array, that each
 * entry's shared prefix and lengths stay inside the block, and that every restart point has shared = 0.
 */
export function decodeBlock(contents: Uint8Array): BlockEntry[] {
  if (contents.length < 4) throw new DecodeError("block shorter than its restart count");
  const numRestarts = readFixed32(contents, contents.length - 4);
  const maxRestarts = Math.floor((contents.length - 4) / 4);
  if (numRestarts < 1 || numRestarts > maxRestarts) {
    throw new DecodeError(`bad restart count ${numRestarts} in a ${contents.length}-byte block`);
  }
  const restartsStart = contents.length - 4 - 4 * numRestarts;
  const restarts = new Set<number>();
  for (let i = 0; i < numRestarts; i++) {
    const r = readFixed32(contents, restartsStart + 4 * i);
    if (r > restartsStart) throw new DecodeError(`restart point ${r} outside the block's entries`);
    restarts.add(r);
  }
  const entries: BlockEntry[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  let pos = 0;
  while (pos < restartsStart) {
    const start = pos;
    const shared = readVarint(contents, pos, 5);
    const nonShared = readVarint(contents, shared.next, 5);
    const valueLen = readVarint(contents, nonShared.next, 5);
    pos = valueLen.next;
    if (shared.value > prev.length)
      throw new DecodeError("entry shares more bytes than the previous key has");
    if (restarts.has(start) && shared.value !== 0) throw new DecodeError("restart entry with shared prefix");
    if (pos + nonShared.value + valueLen.value > restartsStart) {
      throw new DecodeError("entry runs past the end of the block");
    }
    const key = new Uint8Array(shared.value + nonShared.value);
    key.set(prev.subarray(0, shared.value));
    key.set(contents.subarray(pos, pos + nonShared.value), shared.value);
    pos += nonShared.value;
    const value = contents.subarray(pos, pos + valueLen.value);
    pos += valueLen.value;
    entries.push({ key, value });
    prev = key;
  }
  if (!restarts.has(0) && entries.length > 0) throw new DecodeError("first entry is not a restart point");
  return entries;
}
