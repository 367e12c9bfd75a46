/** Corrupt checkpoints give clear typed errors naming file and key, never a crash or wrong data. */
import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BundleReader } from "../../../src/checkpoint/bundle/bundle-reader.js";
import { BundleWriter } from "../../../src/checkpoint/bundle/bundle-writer.js";
import { parseSlice } from "../../../src/checkpoint/bundle/slices.js";
import { DataLossError, NotFoundError, TpuEmbeddingError } from "../../../src/errors.js";
import { fixture, tempDir } from "../helpers.js";

async function makeBundle(): Promise<string> {
  const dir = tempDir();
  const prefix = join(dir, "ckpt-1");
  const w = await BundleWriter.create(prefix, { numShards: 2 });
  await w.add("table", {
    dtype: "float32",
    shape: [4, 2],
    data: Float32Array.from({ length: 8 }, (_, i) => i),
  });
  await w.add(
    "names",
    { dtype: "string", shape: [2], data: [new Uint8Array([97]), new Uint8Array([98, 99])] },
    1,
  );
  await w.addSlice(
    "part",
    [4, 1],
    parseSlice("0,2:0,1"),
    { dtype: "int32", shape: [2, 1], data: Int32Array.of(1, 2) },
    0,
  );
  await w.addSlice(
    "part",
    [4, 1],
    parseSlice("2,2:0,1"),
    { dtype: "int32", shape: [2, 1], data: Int32Array.of(3, 4) },
    1,
  );
  await w.finish();
  return prefix;
}

async function readAll(prefix: string): Promise<void> {
  const r = await BundleReader.open(prefix);
  try {
    for (const v of r.listVariables()) await r.readTensor(v.key);
  } finally {
    await r.close();
  }
}

test("a flipped byte anywhere in the index is a DataLossError naming the index file", async () => {
  const prefix = await makeBundle();
  const good = readFileSync(`${prefix}.index`);
  let detected = 0;
  for (let i = 0; i < good.length; i++) {
    const bad = Buffer.from(good);
    bad[i] ^= 0x01;
    writeFileSync(`${prefix}.index`, bad);
    try {
      await readAll(prefix);
    } catch (e) {
      assert.ok(e instanceof DataLossError, `byte ${i}: ${String(e)}`);
      assert.match((e as Error).message, /ckpt-1\.index/);
      detected++;
    }
  }
  // only the footer's ignored zero padding may go unnoticed
  assert.ok(detected >= good.length - 40, `${detected} of ${good.length}`);
});

test("a flipped byte in any tensor's data is a checksum error naming file and key", async () => {
  const prefix = await makeBundle();
  for (const shard of [0, 1]) {
    const file = `${prefix}.data-0000${shard}-of-00002`;
    const good = readFileSync(file);
    for (let i = 0; i < good.length; i++) {
      const bad = Buffer.from(good);
      bad[i] ^= 0x80;
      writeFileSync(file, bad);
      await assert.rejects(readAll(prefix), (e: unknown) => {
        assert.ok(e instanceof DataLossError, String(e));
        assert.match((e as Error).message, /key "(table|names|part)/);
        return true;
      });
      const r = await BundleReader.open(prefix);
      const report = await r.verify();
      await r.close();
      assert.equal(report.problems.length, 1, `shard ${shard} byte ${i}`);
    }
    writeFileSync(file, good);
  }
});

test("a truncated data file, a missing shard and a wrong magic are clear errors", async () => {
  const prefix = await makeBundle();
  const shard1 = `${prefix}.data-00001-of-00002`;
  const saved = readFileSync(shard1);
  truncateSync(shard1, saved.length - 3);
  await assert.rejects(readAll(prefix), /truncated: key "(names|part)/);
  rmSync(shard1);
  await assert.rejects(
    readAll(prefix),
    (e: unknown) => e instanceof NotFoundError && /data-00001-of-00002/.test((e as Error).message),
  );
  writeFileSync(shard1, saved);
  await readAll(prefix);

  const index = readFileSync(`${prefix}.index`);
  const badMagic = Buffer.from(index);
  badMagic.writeUInt32LE(0x12345678, badMagic.length - 8);
  writeFileSync(`${prefix}.index`, badMagic);
  await assert.rejects(BundleReader.open(prefix), /bad table magic number/);
  writeFileSync(`${prefix}.index`, index.subarray(0, 30));
  await assert.rejects(BundleReader.open(prefix), DataLossError);
  rmSync(`${prefix}.index`);
  await assert.rejects(BundleReader.open(prefix), NotFoundError);
});

test("corrupting a real TF fixture's Snappy block is detected", async () => {
  const dir = tempDir();
  cpSync(fixture("tfserving-testdata", "saved_model_half_plus_two_tf2_cpu"), dir, { recursive: true });
  const prefix = join(dir, "variables", "variables");
  const good = readFileSync(`${prefix}.index`);
  for (let i = 0; i < good.length - 48; i += 7) {
    const bad = Buffer.from(good);
    bad[i] ^= 0x10;
    writeFileSync(`${prefix}.index`, bad);
    await assert.rejects(
      readAll(prefix),
      (e: unknown) => e instanceof TpuEmbeddingError && e.code === "DATA_LOSS",
    );
  }
});
