/**
 * Every shared fixture (real TF checkpoints + the synthetic sliced one) reads with values matching the
 * MANIFEST.json written by the independent Python reader.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BundleReader } from "../../../src/checkpoint/bundle/bundle-reader.js";
import { decodeTensorNameSlice, formatSlice } from "../../../src/checkpoint/bundle/slices.js";
import { listCheckpointVariables } from "../../../src/checkpoint/list-variables.js";
import { readTable } from "../../../src/checkpoint/sstable/table-reader.js";
import { TableBuilder } from "../../../src/checkpoint/sstable/table-builder.js";
import { parseCheckpointState } from "../../../src/checkpoint/state-file.js";
import { elementValues, fixture, FIXTURE_NAMES, manifest, manifestValue, type Json } from "../helpers.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function checkStats(key: string, values: (number | bigint)[], stats: Json): void {
  assert.equal(values.length, stats.count, `${key}: count`);
  assert.deepEqual(values.slice(0, 8).map(manifestValue), stats.first, `${key}: first values`);
  if (values.length === 0 || stats.sum === undefined) return;
  if (typeof values[0] === "bigint") {
    const big = values as bigint[];
    assert.equal(big.reduce((a, b) => a + b, 0n).toString(), stats.sum, `${key}: sum`);
    assert.equal(big.reduce((a, b) => (b < a ? b : a)).toString(), stats.min);
    assert.equal(big.reduce((a, b) => (b > a ? b : a)).toString(), stats.max);
    return;
  }
  const nums = values as number[];
  let sum = 0;
  for (const v of nums) sum += v;
  assert.equal(manifestValue(sum), stats.sum, `${key}: sum`);
  const finite = nums.filter((v) => !Number.isNaN(v));
  assert.equal(manifestValue(Math.min(...finite)), stats.min, `${key}: min`);
  assert.equal(manifestValue(Math.max(...finite)), stats.max, `${key}: max`);
}

for (const name of FIXTURE_NAMES) {
  const m = manifest(name);
  for (const ck of m.checkpoints as Json[]) {
    test(`fixture ${name}/${ck.prefix} matches its manifest`, async () => {
      const prefix = fixture(name, ck.prefix);
      const reader = await BundleReader.open(prefix);
      try {
        assert.equal(reader.header.numShards, ck.header.num_shards);
        assert.equal(reader.header.version.producer, ck.header.version.producer);
        const indexBytes = readFileSync(`${prefix}.index`);
        const table = readTable(indexBytes, "index");
        assert.equal(table.dataBlocks.length, ck.table.num_data_blocks);
        assert.deepEqual(
          [...table.dataBlockCompression, 0, 0],
          ck.table.block_compression_types.length === 1
            ? [...ck.table.block_compression_types, 0, 0]
            : [ck.table.block_compression_types[1], 0, 0],
        );
        assert.equal(table.entries.length, ck.num_keys + 1);

        // list_variables: key, dtype, shape
        const vars = reader.listVariables();
        assert.deepEqual(
          vars.map((v) => [v.key, v.shape]),
          ck.list_variables.map((v: Json) => [v.key, v.shape]),
        );

        // every entry (including slice entries): metadata, CRC, values
        for (const e of ck.entries as Json[]) {
          const keyBytes = Buffer.from(e.key_hex, "hex");
          const stored = table.entries.find((x) => hex(x.key) === e.key_hex);
          assert.ok(stored, `entry ${e.key_hex} present`);
          if (e.key === null) {
            const d = decodeTensorNameSlice(keyBytes);
            assert.equal(new TextDecoder().decode(d.name), e.slice_of);
            assert.equal(
              formatSlice(d.slice),
              formatSlice(e.slice.map((x: Json) => (x.length === null ? { start: 0 } : x))),
            );
            continue;
          }
          const entry = reader.entry(e.key);
          assert.equal(entry.dtype, e.dtype, `${e.key}: dtype`);
          assert.deepEqual(entry.shape, e.shape, `${e.key}: shape`);
          if (e.slices !== undefined) {
            assert.deepEqual(
              entry.slices.map(formatSlice),
              e.slices.map((s: Json) =>
                formatSlice(s.map((x: Json) => (x.length === null ? { start: 0 } : x))),
              ),
            );
          } else {
            assert.equal(entry.shardId, e.shard);
            assert.equal(entry.offset, e.offset);
            assert.equal(entry.size, e.size);
            assert.equal(entry.crc32c.toString(16).padStart(8, "0"), e.crc32c_masked);
          }
          const t = await reader.readTensor(e.key);
          if (t.dtype === "string") {
            assert.equal(t.data.length, e.strings.count);
            // the manifest keeps a prefix of long elements, plus every element's length
            e.strings.first.forEach((s: Json, i: number) => {
              if (s.utf8 !== undefined) assert.ok(new TextDecoder().decode(t.data[i]).startsWith(s.utf8));
              else assert.ok(hex(t.data[i]).startsWith(s.hex), `${e.key}[${i}]`);
              assert.ok(
                s.utf8 !== undefined ? s.utf8.length > 0 || t.data[i].length === 0 : s.hex.length > 0,
              );
            });
            assert.deepEqual(
              t.data.slice(0, e.strings.first_lengths.length).map((x) => x.length),
              e.strings.first_lengths,
            );
          } else if (t.dtype === "complex64" || t.dtype === "complex128") {
            const pairs = [];
            for (let i = 0; i < t.data.length; i += 2) pairs.push([t.data[i], t.data[i + 1]]);
            assert.deepEqual(pairs.slice(0, 8), e.stats.first);
          } else {
            checkStats(e.key, elementValues(t), e.stats);
          }
        }

        // object graph: (checkpoint_key, object path) pairs
        const listed = await listCheckpointVariables(reader);
        if (ck.object_graph) {
          const byKey = new Map(listed.map((v) => [v.key, v.objectPath]));
          for (const a of ck.object_graph.attributes as Json[]) {
            if (byKey.has(a.checkpoint_key))
              assert.equal(byKey.get(a.checkpoint_key), a.object_path, a.checkpoint_key);
          }
        } else {
          assert.ok(listed.every((v) => v.objectPath === undefined));
        }

        const report = await reader.verify();
        assert.deepEqual(report.problems, []);
        assert.equal(ck.all_crc32c_verified, true);

        // an uncompressed index is rebuilt bit-for-bit from its entries
        if (table.dataBlockCompression.every((c) => c === 0)) {
          const builder = new TableBuilder();
          for (const entry of table.entries) builder.add(entry.key, entry.value);
          assert.deepEqual(Buffer.from(builder.finish()), indexBytes);
        }
      } finally {
        await reader.close();
      }
    });
  }
  const states = (m.checkpoint_state_files ?? []) as Json[];
  for (const s of states) {
    test(`fixture ${name}/${s.path} parses like the reference reader`, () => {
      const parsed = parseCheckpointState(readFileSync(join(fixture(name), s.path), "utf8"));
      assert.equal(parsed.modelCheckpointPath, s.parsed.model_checkpoint_path);
      assert.deepEqual(parsed.allModelCheckpointPaths, s.parsed.all_model_checkpoint_paths ?? []);
    });
  }
}
