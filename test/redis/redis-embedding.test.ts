import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DenseTensor, FailedPreconditionError, OutOfRangeError, RaggedTensor } from "../../src/index.js";
import { BINARY, connectCluster, type BinaryCluster } from "../../src/redis/cluster-client.js";
import { partitionOf } from "../../src/redis/layout.js";
import { openRedisEmbedding, type RedisEmbedding } from "../../src/redis/open-redis-embedding.js";
import { publishVersion, readManifest } from "../../src/redis/publish.js";
import { RedisRowSource } from "../../src/redis/redis-rows.js";
import { StoreMetrics } from "../../src/redis/store-metrics.js";
import { assertSameBits, inputs, makeEmbedding, VOCAB } from "../embedding/every-kind.js";
import { tempDir } from "../serving/model/helpers.js";
import { EVERY_KIND_FEATURES, writeEveryKindVersion } from "./fixtures.js";
import { startCluster, type TestCluster } from "./redis-cluster.js";
import type { TPUEmbeddingForServing } from "../../src/index.js";

let cluster: TestCluster;
let client: BinaryCluster;
let local: TPUEmbeddingForServing;
let remote: RedisEmbedding;
before(async () => {
  cluster = await startCluster({ masters: 3 });
  client = await connectCluster({ url: cluster.url });
  const written = await writeEveryKindVersion(tempDir(), 1);
  local = written.embedding;
  await publishVersion(client, {
    model: "every",
    version: 1,
    prefix: join(written.dir, "ckpt-1"),
    featureConfigPath: join(written.dir, "features.json"),
  });
});
after(async () => {
  await remote?.close().catch(() => undefined);
  await client?.close().catch(() => undefined);
  cluster?.stop();
});

for (const cacheBytes of [0, 4096, 1 << 20]) {
  test(`a Redis-backed embedding answers every lookup kind bit-identically to the same tables in memory (cache ${cacheBytes} bytes)`, async () => {
    remote = await openRedisEmbedding({ url: cluster.url, model: "every", cacheBytes });
    try {
      assert.equal(remote.version, 1);
      for (const batch of [1, 5, 64, 300]) {
        for (let repeat = 0; repeat < 2; repeat++) {
          const { features, weights } = inputs(batch);
          const want = local.embeddingLookup(features, weights) as Record<string, DenseTensor>;
          const got = (await remote.embedding.embeddingLookupAsync(features, weights)) as Record<
            string,
            DenseTensor
          >;
          assertSameBits(got, want, `batch ${batch}`);
        }
      }
    } finally {
      await remote.close();
    }
  });
}

test("a Redis-backed embedding raises TF's errors exactly as local tables do, and refuses the synchronous call", async () => {
  remote = await openRedisEmbedding({ url: cluster.url, model: "every" });
  try {
    const bad = { sum: RaggedTensor.fromRowSplits(new Int32Array([3, VOCAB]), new Int32Array([0, 2])) };
    let localError: unknown;
    try {
      local.embeddingLookup(bad);
    } catch (e) {
      localError = e;
    }
    assert.ok(localError instanceof OutOfRangeError);
    await assert.rejects(remote.embedding.embeddingLookupAsync(bad), (e: unknown) => {
      assert.ok(e instanceof OutOfRangeError);
      assert.equal(e.message, (localError as Error).message);
      return true;
    });
    assert.throws(
      () => (remote.embedding.embeddingLookup as (f: unknown) => unknown)(bad),
      (e: unknown) => e instanceof FailedPreconditionError && /embeddingLookupAsync/.test(e.message),
    );
  } finally {
    await remote.close();
  }
});

test("concurrent misses for the same rows are fetched from Redis once", async () => {
  const manifest = (await readManifest(client, "every", 1))!;
  const metrics = new StoreMetrics();
  const rows = new RedisRowSource(client, manifest, ["t_sum"], { cacheBytes: 0, timeoutMs: 1000, metrics });
  const ids = Int32Array.from({ length: 50 }, (_, i) => i * 6);
  const outs = [0, 1, 2].map(() => new Float32Array(ids.length * 8));
  await Promise.all(outs.map((out) => rows.fetchRows([{ table: 0, ids, out: new Uint8Array(out.buffer) }])));
  const fetched = (await metrics.rows.get()).values.reduce((a, v) => a + v.value, 0);
  assert.equal(fetched, 50, "50 rows fetched once, not 150");
  const table = local.embeddingTables;
  const tSum = [...table.entries()].find(([t]) => t.name === "t_sum")![1].data;
  for (const out of outs) {
    for (let k = 0; k < ids.length; k++)
      assert.deepEqual(out.subarray(k * 8, k * 8 + 8), tSum.subarray(ids[k] * 8, ids[k] * 8 + 8));
  }
  rows.close();
});

test("one partition (--partitions 1): a lookup's 2,000+ misses go out as several HMGETs of at most 1,024 fields, same bits", async () => {
  const written = await writeEveryKindVersion(tempDir(), 1);
  await publishVersion(client, {
    model: "one",
    version: 1,
    prefix: join(written.dir, "ckpt-1"),
    featureConfigPath: join(written.dir, "features.json"),
    partitions: 1,
  });
  const manifest = (await readManifest(client, "one", 1))!;
  assert.equal(manifest.partitions.length, 1);
  const metrics = new StoreMetrics();
  const names = manifest.tables.map((t) => t.name);
  const rows = new RedisRowSource(client, manifest, names, {
    cacheBytes: 0,
    timeoutMs: 1000,
    metrics,
  });
  // Every row of the seven 300-row tables: 2,100 fields in one partition -> 3 commands (1024, 1024, 52).
  const ids = Int32Array.from({ length: VOCAB }, (_, i) => i);
  const outs = names.map(() => new Float32Array(VOCAB * 8));
  await rows.fetchRows(outs.map((out, table) => ({ table, ids, out: new Uint8Array(out.buffer) })));
  const commands = (await metrics.commands.get()).values.reduce((a, v) => a + v.value, 0);
  assert.equal(commands, 3);
  const tables = [...written.embedding.embeddingTables.entries()];
  names.forEach((name, i) => {
    const data = tables.find(([t]) => t.name === name)![1].data;
    assert.deepEqual(
      new Uint32Array(outs[i].buffer),
      new Uint32Array(data.buffer, data.byteOffset, data.length),
      name,
    );
  });
  rows.close();
});

test("published with --table-storage int8 (float16 for one table by features.json): rows stored quantized, answers equal the same quantized tables in memory, bit for bit", async () => {
  const written = await writeEveryKindVersion(tempDir(), 3);
  const features = JSON.parse(readFileSync(join(written.dir, "features.json"), "utf8")) as {
    tables: { name: string; storage?: string }[];
  };
  features.tables.find((t) => t.name === "t_seq")!.storage = "float16";
  writeFileSync(join(written.dir, "features.json"), JSON.stringify(features));
  await publishVersion(client, {
    model: "quantized",
    version: 3,
    prefix: join(written.dir, "ckpt-1"),
    featureConfigPath: join(written.dir, "features.json"),
    tableStorage: "int8",
  });
  const manifest = (await readManifest(client, "quantized", 3))!;
  const seq = manifest.tables.findIndex((t) => t.name === "t_seq");
  const sum = manifest.tables.findIndex((t) => t.name === "t_sum");
  assert.deepEqual(
    [manifest.tables[sum].encoding, manifest.tables[sum].rowBytes, manifest.tables[seq].encoding],
    ["int8-rowwise", 8 + 8, "float16-le"],
  );
  // The stored value of a row is its quantized layout: 16 bytes at dim 8 (scale, bias, 8 codes).
  const key = manifest.partitions[partitionOf(sum, 7, manifest.partitions.length)];
  const value = (await client.sendCommand(key, true, ["HGET", key, `${sum}:7`], BINARY)) as unknown as Buffer;
  assert.equal(value.length, 16);

  // The same checkpoint in memory, stored the same way.
  const inMemory = makeEmbedding(1, 8, { t_seq: "float16", ...int8Except("t_seq") });
  const restored = inMemory as unknown as { restoreVariables(v: Map<string, Float32Array>): void };
  restored.restoreVariables(
    new Map([...written.embedding.embeddingTables].map(([t, v]) => [t.name!, v.data])),
  );
  const quantized = await openRedisEmbedding({ url: cluster.url, model: "quantized", cacheBytes: 4096 });
  try {
    for (const batch of [1, 64, 300]) {
      const { features: f, weights } = inputs(batch);
      const want = inMemory.embeddingLookup(f, weights) as Record<string, DenseTensor>;
      const got = (await quantized.embedding.embeddingLookupAsync(f, weights)) as Record<string, DenseTensor>;
      assertSameBits(got, want, `batch ${batch}`);
      const exact = written.embedding.embeddingLookup(f, weights) as Record<string, DenseTensor>;
      assert.notDeepEqual(
        [...(got.sum.data as Float32Array)],
        [...(exact.sum.data as Float32Array)],
        "really quantized",
      );
    }
  } finally {
    await quantized.close();
  }
});

/** int8 for every table of the every-kind embedding except `but`. */
function int8Except(but: string): Record<string, "int8"> {
  return Object.fromEntries(
    EVERY_KIND_FEATURES.tables.filter((t) => t.name !== but).map((t) => [t.name, "int8"]),
  );
}
