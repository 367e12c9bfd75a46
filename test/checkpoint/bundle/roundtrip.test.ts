/** Write → read round trips, byte identity with TF-written files, and the Python reference reader. */
import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BundleReader } from "../../../src/checkpoint/bundle/bundle-reader.js";
import { BundleWriter } from "../../../src/checkpoint/bundle/bundle-writer.js";
import { numberToBfloat16 } from "../../../src/checkpoint/bundle/dtypes.js";
import {
  copySliceBytes,
  decodeTensorNameSlice,
  parseSlice,
  sliceShape,
} from "../../../src/checkpoint/bundle/slices.js";
import { dtypeFromEnum } from "../../../src/checkpoint/bundle/dtypes.js";
import { decodeEntry } from "../../../src/checkpoint/bundle/entry.js";
import type { Tensor } from "../../../src/checkpoint/bundle/tensor.js";
import { bytesOf } from "../../../src/checkpoint/crc.js";
import { TableBuilder } from "../../../src/checkpoint/sstable/table-builder.js";
import { readTable } from "../../../src/checkpoint/sstable/table-reader.js";
import { InvalidArgumentError } from "../../../src/errors.js";
import {
  fixture,
  FIXTURE_NAMES,
  hasReferenceReader,
  manifest,
  runReferenceReader,
  tempDir,
  type Json,
} from "../helpers.js";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** One tensor of every dtype TF writes, plus scalars and empty tensors. */
function everyDtype(): [string, Tensor][] {
  return [
    ["f32", { dtype: "float32", shape: [2, 3], data: Float32Array.of(1.5, -2, 3.25, NaN, Infinity, -0) }],
    ["f32_scalar", { dtype: "float32", shape: [], data: Float32Array.of(42) }],
    ["f32_empty", { dtype: "float32", shape: [0, 3], data: new Float32Array(0) }],
    ["f64", { dtype: "float64", shape: [2], data: Float64Array.of(1e300, -2.5) }],
    ["f16", { dtype: "float16", shape: [3], data: Uint16Array.of(0x3c00, 0xb800, 0x7bff) }],
    [
      "bf16",
      { dtype: "bfloat16", shape: [2], data: Uint16Array.of(numberToBfloat16(1), numberToBfloat16(-2.5)) },
    ],
    ["i8", { dtype: "int8", shape: [3], data: Int8Array.of(-128, 0, 127) }],
    ["i16", { dtype: "int16", shape: [2], data: Int16Array.of(-32768, 32767) }],
    ["i32", { dtype: "int32", shape: [2], data: Int32Array.of(-2147483648, 2147483647) }],
    ["i64", { dtype: "int64", shape: [3], data: BigInt64Array.of(-(2n ** 63n), -1n, 2n ** 53n + 1n) }],
    ["u8", { dtype: "uint8", shape: [3], data: Uint8Array.of(0, 128, 255) }],
    ["u16", { dtype: "uint16", shape: [2], data: Uint16Array.of(0, 65535) }],
    ["u32", { dtype: "uint32", shape: [2], data: Uint32Array.of(4294967295, 3) }],
    ["u64", { dtype: "uint64", shape: [2], data: BigUint64Array.of(2n ** 64n - 1n, 7n) }],
    ["bool", { dtype: "bool", shape: [4], data: Uint8Array.of(1, 0, 0, 1) }],
    ["c64", { dtype: "complex64", shape: [2], data: Float32Array.of(1, -1, 0.5, 2) }],
    ["c128", { dtype: "complex128", shape: [1], data: Float64Array.of(1e-300, 3) }],
    [
      "str",
      {
        dtype: "string",
        shape: [5],
        data: [...["", "a", "é中", "x".repeat(200)].map(utf8), Uint8Array.of(0, 255)],
      },
    ],
    ["str_scalar", { dtype: "string", shape: [], data: [utf8("hello")] }],
    ["str_empty", { dtype: "string", shape: [0], data: [] }],
  ];
}

test("every dtype, scalars and empty tensors round trip exactly", async () => {
  const dir = tempDir();
  const prefix = join(dir, "all");
  const w = await BundleWriter.create(prefix);
  for (const [k, t] of everyDtype()) await w.add(k, t);
  await w.finish();
  const r = await BundleReader.open(prefix);
  for (const [k, t] of everyDtype()) {
    const got = await r.readTensor(k);
    assert.equal(got.dtype, t.dtype, k);
    assert.deepEqual(got.shape, t.shape, k);
    if (t.dtype === "string") {
      assert.deepEqual(
        (got.data as Uint8Array[]).map((x) => Buffer.from(x)),
        t.data.map((x) => Buffer.from(x)),
      );
    } else assert.deepEqual(Buffer.from(bytesOf(got.data as Float32Array)), Buffer.from(bytesOf(t.data)), k);
  }
  assert.deepEqual((await r.verify()).problems, []);
  await r.close();
  if (hasReferenceReader()) {
    const m = runReferenceReader(dir).checkpoints[0];
    assert.equal(m.all_crc32c_verified, true);
    assert.equal(m.entries_reencode_identical, true);
    assert.equal(m.index_rebuild_identical, true);
    assert.deepEqual(m.problems, []);
    const str = m.entries.find((e: Json) => e.key === "str");
    assert.deepEqual(str.strings.first_lengths, [0, 1, 5, 200, 2]);
    assert.equal(str.length_checksum_ok, true);
  }
});

test("string tensor bytes follow the spec's example (§6.4)", async () => {
  const dir = tempDir();
  const w = await BundleWriter.create(join(dir, "s"));
  await w.add("s", { dtype: "string", shape: [3], data: ["", "a", "hello"].map(utf8) });
  await w.finish();
  assert.equal(
    readFileSync(join(dir, "s.data-00000-of-00001")).toString("hex"),
    "000105" + "4e73e648" + "61" + "68656c6c6f",
  );
  const r = await BundleReader.open(join(dir, "s"));
  assert.equal(r.entry("s").crc32c, 0x9292698e);
  await r.close();
});

test("single-shard header bytes are 08 01 1a 02 08 01 and scalar entries match TF's bytes", async () => {
  const dir = tempDir();
  const w = await BundleWriter.create(join(dir, "h"));
  await w.add("pad", { dtype: "int64", shape: [], data: BigInt64Array.of(0n) });
  await w.add("v2/.ATTRIBUTES/VARIABLE_VALUE", { dtype: "int64", shape: [], data: BigInt64Array.of(3n) });
  await w.finish();
  const table = readTable(readFileSync(join(dir, "h.index")), "h");
  assert.equal(Buffer.from(table.entries[0].value).toString("hex"), "08011a020801");
  // dtype INT64, scalar shape, offset 8, size 8, masked crc of int64 3
  assert.equal(
    Buffer.from(table.entries[2].value).toString("hex"),
    "0809" + "1200" + "2008" + "2808" + "35b099490e",
  );
});

/** Rewrites a fixture's content with BundleWriter, in the data files' order, for byte comparison. */
async function rewrite(srcPrefix: string, dstPrefix: string): Promise<void> {
  const r = await BundleReader.open(srcPrefix);
  const table = readTable(readFileSync(`${srcPrefix}.index`), "src");
  const stored = table.entries
    .slice(1)
    .map((e) => ({ key: e.key, entry: decodeEntry(e.value, "src") }))
    .filter((x) => x.entry.slices.length === 0)
    .sort((a, b) => a.entry.shardId - b.entry.shardId || a.entry.offset - b.entry.offset);
  const w = await BundleWriter.create(dstPrefix, { numShards: r.header.numShards });
  // data is appended per shard, so adding in (shard, offset) order reproduces every offset
  for (const { key, entry } of stored) {
    if (key[0] !== 0) {
      const name = new TextDecoder().decode(key);
      await w.add(name, await r.readTensor(name), entry.shardId);
      continue;
    }
    const d = decodeTensorNameSlice(key);
    const name = new TextDecoder().decode(d.name);
    const full = await r.readTensor(name);
    const info = dtypeFromEnum(entry.dtype);
    const shape = sliceShape(full.shape, d.slice);
    const part = new info.arrayType!(shape.reduce((a, b) => a * b, 1));
    copySliceBytes(
      bytesOf(full.data as Float32Array),
      full.shape,
      d.slice,
      bytesOf(part),
      info.elementSize,
      false,
    );
    await w.addSlice(
      name,
      full.shape,
      d.slice,
      { dtype: full.dtype, shape, data: part } as Tensor,
      entry.shardId,
    );
  }
  await w.finish();
  await r.close();
}

for (const name of FIXTURE_NAMES) {
  for (const ck of manifest(name).checkpoints as Json[]) {
    if (ck.table.block_compression_types.some((c: number) => c !== 0)) continue;
    test(`rewriting ${name}/${ck.prefix} reproduces TF's index and data files byte for byte`, async () => {
      const src = fixture(name, ck.prefix);
      const dst = join(tempDir(), "copy");
      await rewrite(src, dst);
      assert.deepEqual(readFileSync(`${dst}.index`), readFileSync(`${src}.index`));
      for (let i = 0; i < ck.header.num_shards; i++) {
        const suffix = `.data-${String(i).padStart(5, "0")}-of-${String(ck.header.num_shards).padStart(5, "0")}`;
        assert.deepEqual(readFileSync(dst + suffix), readFileSync(src + suffix), suffix);
      }
    });
  }
}

test("sliced, multi-shard layouts round trip; slices covering the whole tensor become plain entries", async () => {
  const dir = tempDir();
  const prefix = join(dir, "sliced");
  const full = Float32Array.from({ length: 7 * 3 }, (_, i) => i * 0.5 - 3);
  const w = await BundleWriter.create(prefix, { numShards: 3 });
  await w.addSlice(
    "emb",
    [7, 3],
    parseSlice("0,4:0,3"),
    { dtype: "float32", shape: [4, 3], data: full.slice(0, 12) },
    0,
  );
  await w.addSlice(
    "emb",
    [7, 3],
    parseSlice("4,3:0,3"),
    { dtype: "float32", shape: [3, 3], data: full.slice(12) },
    2,
  );
  const cols = Float32Array.from({ length: 4 * 6 }, (_, i) => i);
  const left = Float32Array.from({ length: 12 }, (_, i) => cols[Math.floor(i / 3) * 6 + (i % 3)]);
  const right = Float32Array.from({ length: 12 }, (_, i) => cols[Math.floor(i / 3) * 6 + 3 + (i % 3)]);
  await w.addSlice("cols", [4, 6], parseSlice("-:3,3"), { dtype: "float32", shape: [4, 3], data: right }, 1);
  await w.addSlice("cols", [4, 6], parseSlice("-:0,3"), { dtype: "float32", shape: [4, 3], data: left }, 0);
  await w.addSlice(
    "whole",
    [2, 2],
    parseSlice("0,2:0,2"),
    { dtype: "int32", shape: [2, 2], data: Int32Array.of(1, 2, 3, 4) },
    1,
  );
  await w.finish();
  assert.deepEqual(readdirSync(dir).sort(), [
    "sliced.data-00000-of-00003",
    "sliced.data-00001-of-00003",
    "sliced.data-00002-of-00003",
    "sliced.index",
  ]);
  const r = await BundleReader.open(prefix);
  assert.deepEqual((await r.readTensor("emb")).data, full);
  assert.deepEqual((await r.readTensor("cols")).data, cols);
  assert.equal(r.entry("whole").slices.length, 0);
  assert.deepEqual(
    r.listVariables().map((v) => [v.key, v.slices.length]),
    [
      ["cols", 2],
      ["emb", 2],
      ["whole", 0],
    ],
  );
  // row ranges across the slice boundary, without reading the rest
  assert.deepEqual((await r.readRows("emb", 3, 2)).data, full.slice(9, 15));
  assert.deepEqual((await r.readRows("cols", 1, 2)).data, cols.slice(6, 18));
  assert.deepEqual((await r.readRows("whole", 1, 1)).data, Int32Array.of(3, 4));
  await assert.rejects(r.readRows("emb", 6, 2), InvalidArgumentError);
  // straight into caller memory
  const into = new Float32Array(21);
  const t = await r.readTensor("emb", { into });
  assert.equal(t.data, into);
  await assert.rejects(r.readTensor("emb", { into: new Float32Array(20) }), /length 21/);
  await r.close();
  if (hasReferenceReader()) {
    const m = runReferenceReader(dir).checkpoints[0];
    assert.equal(m.all_crc32c_verified, true);
    assert.equal(m.index_rebuild_identical, true);
    assert.deepEqual(m.problems, []);
    const emb = m.entries.find((e: Json) => e.key === "emb");
    assert.equal(emb.assembled, true);
    assert.equal(
      emb.stats.sum,
      Array.from(full).reduce((a, b) => a + b, 0),
    );
  }
});

test("the synthetic 2-host fixture reassembles to the values its generator wrote", async () => {
  const dir = tempDir();
  cpSync(fixture("synthetic-sliced"), dir, { recursive: true });
  const r = await BundleReader.open(join(dir, "ckpt-1"));
  const user = await r.readTensor("embedding/user/.ATTRIBUTES/VARIABLE_VALUE");
  assert.deepEqual(
    Array.from(user.data as Float32Array),
    Array.from({ length: 40 }, (_, i) => Math.floor(i / 4) * 10 + (i % 4) + 0.25),
  );
  const video = await r.readTensor("embedding/video/.ATTRIBUTES/VARIABLE_VALUE");
  assert.deepEqual(
    Array.from(video.data as Float32Array),
    Array.from({ length: 21 }, (_, i) => Math.fround(((-1) ** i * i) / 8)),
  );
  assert.deepEqual(
    Array.from((await r.readRows("embedding/video/.ATTRIBUTES/VARIABLE_VALUE", 3, 2)).data as Float32Array),
    Array.from(video.data as Float32Array).slice(9, 15),
  );
  await r.close();
});

test("writer rejects bad input", async () => {
  const w = await BundleWriter.create(join(tempDir(), "bad"));
  await assert.rejects(
    w.add("a", { dtype: "float32", shape: [2], data: Float32Array.of(1) }),
    InvalidArgumentError,
  );
  await assert.rejects(
    w.add("a", { dtype: "float32", shape: [1], data: Float64Array.of(1) } as unknown as Tensor),
    InvalidArgumentError,
  );
  await w.add("a", { dtype: "float32", shape: [1], data: Float32Array.of(1) });
  await assert.rejects(w.add("a", { dtype: "float32", shape: [1], data: Float32Array.of(1) }), /Duplicate/);
  await assert.rejects(
    w.addSlice("s", [4], parseSlice("2,3"), { dtype: "float32", shape: [3], data: new Float32Array(3) }),
    /outside/,
  );
  await w.abort();
});

test("a big-endian bundle is byte-swapped after its checksum is verified", async () => {
  const dir = tempDir();
  const prefix = join(dir, "be");
  // store big-endian bytes: swap the values before writing, then mark the header BIG
  const values = Float32Array.of(1.5, -2, 1e-3);
  const swapped = new Uint8Array(bytesOf(values.slice()));
  for (let i = 0; i < swapped.length; i += 4) swapped.subarray(i, i + 4).reverse();
  const w = await BundleWriter.create(prefix);
  await w.add("x", { dtype: "float32", shape: [3], data: new Float32Array(swapped.buffer) });
  await w.add("n", { dtype: "int64", shape: [1], data: BigInt64Array.of(0x0102030405060708n) });
  await w.finish();
  const table = readTable(readFileSync(`${prefix}.index`), "be");
  const builder = new TableBuilder();
  builder.add(new Uint8Array(0), Buffer.from("080110011a020801", "hex")); // num_shards 1, BIG, version 1
  for (const e of table.entries.slice(1)) builder.add(e.key, e.value);
  writeFileSync(`${prefix}.index`, builder.finish());
  const r = await BundleReader.open(prefix);
  assert.equal(r.header.endianness, "big");
  assert.deepEqual((await r.readTensor("x")).data, values);
  assert.deepEqual((await r.readTensor("n")).data, BigInt64Array.of(0x0807060504030201n));
  assert.deepEqual((await r.readRows("x", 1, 2)).data, values.slice(1));
  assert.deepEqual((await r.verify()).problems, []);
  await r.close();
});
