import assert from "node:assert/strict";
import { test } from "node:test";
import SnappyJS from "snappyjs";
import { crc32c, crc32cExtend, maskCrc } from "../../../src/checkpoint/crc.js";
import { BlockBuilder } from "../../../src/checkpoint/sstable/block-builder.js";
import { decodeBlock } from "../../../src/checkpoint/sstable/block.js";
import { ByteSink } from "../../../src/checkpoint/sstable/coding.js";
import { decodeBlockHandle, encodeFooter } from "../../../src/checkpoint/sstable/format.js";
import {
  findShortestSeparator,
  findShortSuccessor,
  TableBuilder,
} from "../../../src/checkpoint/sstable/table-builder.js";
import { readTable } from "../../../src/checkpoint/sstable/table-reader.js";
import { DataLossError } from "../../../src/errors.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

test("empty block is 00000000 01000000", () => {
  assert.equal(Buffer.from(new BlockBuilder(16).finish()).toString("hex"), "0000000001000000");
});

test("block entries use shared prefixes and restart every 16 entries", () => {
  const b = new BlockBuilder(16);
  const keys = Array.from({ length: 40 }, (_, i) => `key/${String(i).padStart(3, "0")}`);
  for (const k of keys) b.add(enc(k), enc(`v${k}`));
  const block = b.finish();
  const view = new DataView(block.buffer);
  const restarts = view.getUint32(block.length - 4, true);
  assert.equal(restarts, 3);
  // the second entry shares "key/00" (6 bytes) with the first
  const firstLen = 3 + 7 + 8;
  assert.equal(block[firstLen], 6);
  const entries = decodeBlock(block);
  assert.deepEqual(
    entries.map((e) => dec(e.key)),
    keys,
  );
  assert.deepEqual(
    entries.map((e) => dec(e.value)),
    keys.map((k) => `v${k}`),
  );
});

test("LevelDB key shortening", () => {
  assert.equal(dec(findShortSuccessor(enc("v2/.ATTRIBUTES/VARIABLE_VALUE"))), "w");
  assert.deepEqual([...findShortSuccessor(new Uint8Array([0xff, 0xff, 0x10, 0x20]))], [0xff, 0xff, 0x11]);
  assert.equal(dec(findShortestSeparator(enc("abcdef"), enc("abzz"))), "abd");
  assert.equal(dec(findShortestSeparator(enc("abc"), enc("abd"))), "abc"); // b+1 == limit byte
  assert.equal(dec(findShortestSeparator(enc("ab"), enc("abc"))), "ab"); // prefix
});

test("a table with many 256 KiB data blocks reads back in order", () => {
  const builder = new TableBuilder();
  const n = 3000;
  const value = new Uint8Array(300).fill(7);
  const keys = Array.from({ length: n }, (_, i) => `tensor/${String(i).padStart(6, "0")}`);
  for (const k of keys) builder.add(enc(k), value);
  const file = builder.finish();
  const table = readTable(file, "mem");
  assert.ok(table.dataBlocks.length >= 3, `blocks: ${table.dataBlocks.length}`);
  assert.equal(table.entries.length, n);
  assert.deepEqual(
    table.entries.map((e) => dec(e.key)),
    keys,
  );
  assert.ok(table.dataBlocks.slice(0, -1).every((h) => h.size >= 262144 && h.size < 262144 + 400));
});

test("a large value is flushed into a block of its own first", () => {
  const builder = new TableBuilder({ blockSize: 64 });
  builder.add(enc("a"), enc("small"));
  builder.add(enc("b"), new Uint8Array(200));
  const table = readTable(builder.finish(), "mem");
  assert.equal(table.dataBlocks.length, 2);
});

test("keys must be strictly increasing", () => {
  const builder = new TableBuilder();
  builder.add(enc("b"), enc(""));
  assert.throws(() => builder.add(enc("a"), enc("")), /increasing/);
});

/** Builds a table by hand whose single data block is Snappy-compressed. */
function snappyTable(entries: [string, string][]): Uint8Array {
  const data = new BlockBuilder(16);
  for (const [k, v] of entries) data.add(enc(k), enc(v));
  const compressed = SnappyJS.compress(data.finish());
  const out = new ByteSink();
  const write = (contents: Uint8Array, type: number) => {
    const handle = { offset: out.length, size: contents.length };
    out.bytes(contents);
    out.byte(type);
    out.fixed32(maskCrc(crc32cExtend(crc32c(contents), new Uint8Array([type]))));
    return handle;
  };
  const dataHandle = write(compressed, 1);
  const meta = write(new BlockBuilder(16).finish(), 0);
  const index = new BlockBuilder(1);
  const h = new ByteSink();
  h.varint(dataHandle.offset);
  h.varint(dataHandle.size);
  index.add(enc("z"), h.toBytes());
  const indexHandle = write(index.finish(), 0);
  out.bytes(encodeFooter({ metaindex: meta, index: indexHandle }));
  return out.toBytes();
}

test("Snappy-compressed data blocks are decompressed", () => {
  const entries: [string, string][] = Array.from({ length: 50 }, (_, i) => [
    `k${String(i).padStart(2, "0")}`,
    "x".repeat(40),
  ]);
  const table = readTable(snappyTable(entries), "snappy");
  assert.deepEqual(table.dataBlockCompression, [1]);
  assert.deepEqual(
    table.entries.map((e) => [dec(e.key), dec(e.value)]),
    entries,
  );
});

test("every flipped byte in any block, a wrong magic and truncation are DataLossErrors", () => {
  const builder = new TableBuilder();
  for (let i = 0; i < 20; i++) builder.add(enc(`key${String(i).padStart(2, "0")}`), enc(`value${i}`));
  const good = builder.finish();
  readTable(good, "good");
  // every byte except the footer's zero padding (which TF ignores too)
  const footerStart = good.length - 48;
  const handlesEnd = decodeBlockHandle(good, decodeBlockHandle(good, footerStart).next).next;
  for (let i = 0; i < good.length; i++) {
    if (i >= handlesEnd && i < good.length - 8) continue;
    const bad = good.slice();
    bad[i] ^= 0x40;
    assert.throws(() => readTable(bad, "bad.index"), DataLossError, `flipped byte ${i}`);
  }
  const wrongMagic = good.slice();
  wrongMagic[wrongMagic.length - 1] = 0;
  assert.throws(() => readTable(wrongMagic, "m.index"), /magic/);
  for (const cut of [1, 10, 48, good.length - 10]) {
    assert.throws(
      () => readTable(good.subarray(0, good.length - cut), "t.index"),
      DataLossError,
      `cut ${cut}`,
    );
  }
  assert.throws(() => readTable(new Uint8Array(0), "empty.index"), /shorter than the 48-byte footer/);
});
