/** Checkpoint with the real TPUEmbeddingForServing: TF key names, slots, sliced tables, failures. */
import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BundleReader } from "../../src/checkpoint/bundle/bundle-reader.js";
import { BundleWriter } from "../../src/checkpoint/bundle/bundle-writer.js";
import type { Tensor } from "../../src/checkpoint/bundle/tensor.js";
import { Checkpoint } from "../../src/checkpoint/checkpoint.js";
import { Adagrad, FeatureConfig, SGD, TableConfig } from "../../src/config/index.js";
import { TPUEmbeddingForServing } from "../../src/embedding/index.js";
import { DataLossError, InvalidArgumentError, NotFoundError } from "../../src/errors.js";
import { fixture, hasReferenceReader, runReferenceReader, tempDir, type Json } from "./helpers.js";

const V = ".ATTRIBUTES/VARIABLE_VALUE";

function makeEmbedding(
  options: { optimizer?: "adagrad" | null; videoRows?: number; extraTable?: boolean } = {},
) {
  const video = new TableConfig({ vocabularySize: options.videoRows ?? 8, dim: 4, name: "video" });
  const user = new TableConfig({ vocabularySize: 5, dim: 3, name: "user" });
  const featureConfig: Record<string, FeatureConfig> = {
    watched: new FeatureConfig({ table: video }),
    viewer: new FeatureConfig({ table: user }),
  };
  if (options.extraTable)
    featureConfig.genre = new FeatureConfig({
      table: new TableConfig({ vocabularySize: 2, dim: 2, name: "genre" }),
    });
  const optimizer = options.optimizer === null ? null : new Adagrad({ learningRate: 0.1 });
  return new TPUEmbeddingForServing({ featureConfig, optimizer });
}

/** Gives every variable distinct, non-initializer values. */
function fill(emb: TPUEmbeddingForServing, salt: number): void {
  let k = 0;
  for (const v of emb.variables.values()) {
    const d = v.value.data;
    for (let i = 0; i < d.length; i++) d[i] = Math.fround(Math.sin(salt + k * 100 + i) * 3);
    k++;
  }
}

function snapshot(emb: TPUEmbeddingForServing): Map<string, Float32Array> {
  return new Map([...emb.variables].map(([name, v]) => [name, v.value.data.slice()]));
}

function assertVariables(emb: TPUEmbeddingForServing, expected: Map<string, Float32Array>): void {
  const got = snapshot(emb);
  assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort());
  for (const [name, values] of expected) assert.deepEqual(got.get(name), values, name);
}

async function savedAdagrad(): Promise<{ dir: string; values: Map<string, Float32Array> }> {
  const dir = tempDir();
  const emb = makeEmbedding();
  emb.build();
  fill(emb, 1);
  await new Checkpoint({ embedding: emb }).save(join(dir, "ckpt"));
  return { dir, values: snapshot(emb) };
}

test("Adagrad embedding: save uses TF's keys and restore reproduces tables and slots exactly", async () => {
  const { dir, values } = await savedAdagrad();
  const r = await BundleReader.open(join(dir, "ckpt-1"));
  assert.deepEqual(
    r.listVariables().map((v) => [v.key, v.shape]),
    [
      ["_CHECKPOINTABLE_OBJECT_GRAPH", []],
      [`embedding/user.Saccumulators/${V}`, [5, 3]],
      [`embedding/user/${V}`, [5, 3]],
      [`embedding/video.Saccumulators/${V}`, [8, 4]],
      [`embedding/video/${V}`, [8, 4]],
      [`save_counter/${V}`, []],
    ],
  );
  await r.close();

  const restored = makeEmbedding();
  restored.build();
  const tableView = restored.embeddingTables;
  const result = await new Checkpoint({ embedding: restored }).restore(dir);
  assert.equal(result.restoredKeys.length, 4);
  assertVariables(restored, values);
  // restored into the existing memory: earlier views see the new values
  const videoTable = [...tableView.values()].find((t) => t.shape[0] === 8)!;
  assert.deepEqual(videoTable.data, values.get("video"));

  if (hasReferenceReader()) {
    const m = runReferenceReader(dir).checkpoints[0];
    assert.equal(m.all_crc32c_verified, true);
    const acc = m.entries.find((e: Json) => e.key === `embedding/video.Saccumulators/${V}`);
    assert.deepEqual(acc.stats.first, Array.from(values.get("video/accumulators")!.slice(0, 8)));
  }
});

test("restore before build adopts the checkpoint's values when the variables are created", async () => {
  const { dir, values } = await savedAdagrad();
  const emb = makeEmbedding();
  assert.equal(emb.built, false);
  await new Checkpoint({ embedding: emb }).restore(dir);
  assertVariables(emb, values);
  const tables = [...emb.embeddingTables.values()];
  assert.deepEqual(tables[0].data, values.get(tables[0].shape[0] === 8 ? "video" : "user"));
});

test("optimizer: null restores only the tables and skips the slots in the file", async () => {
  const { dir, values } = await savedAdagrad();
  const emb = makeEmbedding({ optimizer: null });
  const result = await new Checkpoint({ embedding: emb }).restore(dir);
  assert.deepEqual([...emb.variables.keys()].sort(), ["user", "video"]);
  assert.deepEqual(emb.variables.get("video")!.value.data, values.get("video"));
  assert.deepEqual([...result.unusedKeys].sort(), [
    `embedding/user.Saccumulators/${V}`,
    `embedding/video.Saccumulators/${V}`,
  ]);
});

test("slots the checkpoint lacks keep their initial values, as TF restores them, and are reported", async () => {
  // A serving export: tables only (optimizer: null), restored into an Adagrad embedding.
  const dir = tempDir();
  const src = makeEmbedding({ optimizer: null });
  src.build();
  fill(src, 7);
  await new Checkpoint({ embedding: src }).save(join(dir, "ckpt"));
  const tables = snapshot(src);

  const fresh = makeEmbedding();
  const result = await new Checkpoint({ embedding: fresh }).restore(dir);
  assert.deepEqual([...result.missingSlots].sort(), [
    "embedding/user/accumulators",
    "embedding/video/accumulators",
  ]);
  assert.deepEqual([...result.restoredKeys].sort(), [`embedding/user/${V}`, `embedding/video/${V}`]);
  assert.deepEqual(fresh.variables.get("video")!.value.data, tables.get("video"));
  // Adagrad's initial_accumulator_value (0.1) in every slot element.
  const acc = fresh.variables.get("video/accumulators")!.value.data;
  assert.equal(acc.length, 32);
  assert.ok(acc.every((x) => x === Math.fround(0.1)));

  // Restoring into a built embedding leaves its slots as they were.
  const built = makeEmbedding();
  built.build();
  fill(built, 3);
  const before = built.variables.get("user/accumulators")!.value.data.slice();
  const again = await new Checkpoint({ embedding: built }).restore(dir);
  assert.equal(again.missingSlots.length, 2);
  assert.deepEqual(built.variables.get("user/accumulators")!.value.data, before);
  assert.deepEqual(built.variables.get("user")!.value.data, tables.get("user"));
});

/** Re-saves a checkpoint as a 2-host TPU job would: every table row-split over two hosts/shards. */
async function resaveSliced(src: string, dst: string): Promise<void> {
  const r = await BundleReader.open(src);
  const w = await BundleWriter.create(dst, { numShards: 2 });
  for (const v of r.listVariables()) {
    const t = await r.readTensor(v.key);
    if (v.shape.length !== 2) {
      await w.add(v.key, t, 0);
      continue;
    }
    const [rows, dim] = v.shape;
    const q = Math.floor(rows / 2);
    const counts = [q + (rows % 2), q];
    let offset = 0;
    for (let host = 0; host < 2; host++) {
      const data = (t.data as Float32Array).slice(offset * dim, (offset + counts[host]) * dim);
      const slice = [
        { start: offset, length: counts[host] },
        { start: 0, length: dim },
      ];
      await w.addSlice(
        v.key,
        v.shape,
        slice,
        { dtype: "float32", shape: [counts[host], dim], data } as Tensor,
        host,
      );
      offset += counts[host];
    }
  }
  await w.finish();
  await r.close();
}

test("a 2-host sliced table restores to the same values as the unsliced one", async () => {
  const { dir, values } = await savedAdagrad();
  const sliced = join(tempDir(), "ckpt-1");
  await resaveSliced(join(dir, "ckpt-1"), sliced);
  const r = await BundleReader.open(sliced);
  assert.deepEqual(
    r.entry(`embedding/user/${V}`).slices.map((s) => s.map((e) => [e.start, e.length])),
    [
      [
        [0, 3],
        [0, 3],
      ],
      [
        [3, 2],
        [0, 3],
      ],
    ],
  );
  await r.close();
  for (const built of [true, false]) {
    const emb = makeEmbedding();
    if (built) emb.build();
    await new Checkpoint({ embedding: emb }).restore(sliced);
    assertVariables(emb, values);
  }
});

test("the synthetic 2-host TPU fixture restores into a serving embedding", async () => {
  const user = new TableConfig({
    vocabularySize: 10,
    dim: 4,
    name: "user",
    optimizer: new Adagrad({ learningRate: 0.1 }),
  });
  const video = new TableConfig({
    vocabularySize: 7,
    dim: 3,
    name: "video",
    optimizer: new SGD({ learningRate: 0.1 }),
  });
  const emb = new TPUEmbeddingForServing({
    featureConfig: { u: new FeatureConfig({ table: user }), v: new FeatureConfig({ table: video }) },
    optimizer: null,
  });
  const ckpt = new Checkpoint({ embedding: emb });
  const result = await ckpt.restore(fixture("synthetic-sliced"));
  assert.equal(ckpt.saveCounter, 1);
  assert.deepEqual(
    Array.from(emb.variables.get("user")!.value.data),
    Array.from({ length: 40 }, (_, i) => Math.floor(i / 4) * 10 + (i % 4) + 0.25),
  );
  assert.deepEqual(
    Array.from(emb.variables.get("user/accumulators")!.value.data.slice(0, 8)),
    [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0].map(Math.fround),
  );
  assert.equal(emb.variables.get("video")!.value.data[3], Math.fround(-3 / 8));
  assert.ok(result.unusedKeys.includes("misc/cols"));
});

test("failed restores (shape mismatch, missing table, corrupt data, missing shard) leave old values intact", async () => {
  const { dir } = await savedAdagrad();

  const wrongShape = makeEmbedding({ videoRows: 9 });
  wrongShape.build();
  fill(wrongShape, 7);
  let before = snapshot(wrongShape);
  await assert.rejects(
    new Checkpoint({ embedding: wrongShape }).restore(dir),
    (e: unknown) =>
      e instanceof InvalidArgumentError && (e as Error).message.includes(`embedding/video/${V}`),
  );
  assertVariables(wrongShape, before);

  const extra = makeEmbedding({ extraTable: true });
  extra.build();
  before = snapshot(extra);
  await assert.rejects(
    new Checkpoint({ embedding: extra }).restore(dir),
    (e: unknown) => e instanceof NotFoundError && (e as Error).message.includes(`embedding/genre/${V}`),
  );
  assertVariables(extra, before);

  const notBuilt = makeEmbedding({ extraTable: true });
  await assert.rejects(new Checkpoint({ embedding: notBuilt }).restore(dir), NotFoundError);
  assert.equal(notBuilt.built, false);

  // corrupt the last tensor the restore reads (user accumulators come after video's in creation order)
  const r = await BundleReader.open(join(dir, "ckpt-1"));
  const last = r.entry(`embedding/user.Saccumulators/${V}`);
  await r.close();
  const dataFile = join(dir, "ckpt-1.data-00000-of-00001");
  const good = readFileSync(dataFile);
  const bad = Buffer.from(good);
  bad[last.offset + last.size - 1] ^= 0x01;
  writeFileSync(dataFile, bad);
  const victim = makeEmbedding();
  victim.build();
  fill(victim, 3);
  before = snapshot(victim);
  await assert.rejects(
    new Checkpoint({ embedding: victim }).restore(dir),
    (e: unknown) =>
      e instanceof DataLossError && (e as Error).message.includes(`embedding/user.Saccumulators/${V}`),
  );
  assertVariables(victim, before);

  const sliced = join(tempDir(), "ckpt-1");
  writeFileSync(dataFile, good);
  await resaveSliced(join(dir, "ckpt-1"), sliced);
  rmSync(`${sliced}.data-00001-of-00002`);
  await assert.rejects(
    new Checkpoint({ embedding: victim }).restore(sliced),
    /data-00001-of-00002.*is missing/,
  );
  assertVariables(victim, before);
});

test("a copied TF-style checkpoint directory restores through its state file", async () => {
  const { dir, values } = await savedAdagrad();
  const moved = tempDir();
  cpSync(dir, moved, { recursive: true });
  const emb = makeEmbedding();
  const result = await new Checkpoint({ embedding: emb }).restore(moved);
  assert.equal(result.path, join(moved, "ckpt-1"));
  assertVariables(emb, values);
});
