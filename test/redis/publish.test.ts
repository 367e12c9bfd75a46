import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createClient } from "redis";
import { BundleReader } from "../../src/checkpoint/bundle/bundle-reader.js";
import { unmaskCrc } from "../../src/checkpoint/crc.js";
import { FailedPreconditionError } from "../../src/errors.js";
import { connectCluster, type BinaryCluster } from "../../src/redis/cluster-client.js";
import { fieldOf, manifestKey, partitionOf, SENTINEL_FIELD, versionsKey } from "../../src/redis/layout.js";
import { publishVersion, readManifest } from "../../src/redis/publish.js";
import { cellValue, tempDir, writeVersion } from "../serving/model/helpers.js";
import { startCluster, type TestCluster } from "./redis-cluster.js";

let cluster: TestCluster;
let client: BinaryCluster;
before(async () => {
  cluster = await startCluster({ masters: 3 });
  client = await connectCluster({ url: cluster.url });
});
after(async () => {
  await client?.close().catch(() => undefined);
  cluster?.stop();
});

const VIDEO_ROWS = 300;

async function keysPerMaster(): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const port of cluster.masterPorts()) {
    const node = createClient({ url: `redis://127.0.0.1:${port}` });
    await node.connect();
    out.set(port, await node.keys("*"));
    await node.destroy();
  }
  return out;
}

test("publish: every row lands in its partition hash as the checkpoint's bytes, tables spread over all 3 masters, the manifest last", async () => {
  const base = tempDir();
  const dir = await writeVersion(base, 1, { videoRows: VIDEO_ROWS });
  const result = await publishVersion(client, {
    model: "m",
    version: 1,
    prefix: join(dir, "ckpt-1"),
    featureConfigPath: join(dir, "features.json"),
  });
  assert.equal(result.rows, VIDEO_ROWS + 6);
  assert.equal(result.bytes, VIDEO_ROWS * 4 * 4 + 6 * 2 * 4);
  assert.equal(result.republished, false);
  const manifest = (await readManifest(client, "m", 1))!;
  assert.deepEqual(
    manifest.tables.map((t) => [t.name, t.vocabularySize, t.dim, t.encoding]),
    [
      ["video", VIDEO_ROWS, 4, "float32-le"],
      ["user", 6, 2, "float32-le"],
    ],
  );
  assert.equal(manifest.partitions.length, 12, "4 partitions per master");
  assert.deepEqual(await client.zRange(versionsKey("m"), 0, -1).then((v) => v.map(String)), ["1"]);

  // Round trip: HGET of every id gives the checkpoint's row (cellValue: version*1000 + i/8 per element).
  const reader = await BundleReader.open(join(dir, "ckpt-1"));
  try {
    for (const [ti, table] of manifest.tables.entries()) {
      const stored = unmaskCrc(reader.entry(`embedding/${table.name}/.ATTRIBUTES/VARIABLE_VALUE`).crc32c);
      assert.equal(table.crc32c, stored, `${table.name}: manifest CRC = the checkpoint's`);
      for (let id = 0; id < table.vocabularySize; id++) {
        const key: string = manifest.partitions[partitionOf(ti, id, manifest.partitions.length)];
        const value: Buffer = (await client.hGet(key, fieldOf(ti, id)))!;
        const row: Float32Array = new Float32Array(
          value.buffer.slice(value.byteOffset, value.byteOffset + value.length),
        );
        const expected = Float32Array.from({ length: table.dim }, (_, j) =>
          cellValue(1, table.name as "video" | "user", id * table.dim + j),
        );
        assert.deepEqual(row, expected, `${table.name}[${id}]`);
      }
    }
    for (const key of manifest.partitions)
      assert.equal((await client.hGet(key, SENTINEL_FIELD))!.toString(), manifest.contentId);
  } finally {
    await reader.close();
  }

  // Every master holds 4 of the 12 partitions, and rows of every table (video: 300 rows, user: 6 rows).
  const perMaster = await keysPerMaster();
  assert.equal(perMaster.size, 3);
  for (const [port, keys] of perMaster) {
    const mine = manifest.partitions.filter((k) => keys.includes(k));
    assert.equal(mine.length, 4, `master ${port}`);
    const fields: string[] = [];
    for (const k of mine) fields.push(...(await client.hKeys(k)).map(String));
    const video = fields.filter((f) => f.startsWith("0:")).length;
    const user = fields.filter((f) => f.startsWith("1:")).length;
    assert.ok(video > 50, `master ${port} holds ${video} video rows`);
    assert.ok(user >= 1, `master ${port} holds ${user} user rows`);
  }
});

test("publish: re-publishing a version is idempotent; other content under the same version is refused and changes nothing", async () => {
  const base = tempDir();
  const dir = await writeVersion(base, 2, { videoRows: VIDEO_ROWS });
  const args = {
    model: "idem",
    version: 2,
    prefix: join(dir, "ckpt-1"),
    featureConfigPath: join(dir, "features.json"),
  };
  await publishVersion(client, args);
  const before = (await client.get(manifestKey("idem", 2)))!.toString();
  const keysBefore = [...(await keysPerMaster()).values()].flat().sort();
  const again = await publishVersion(client, args);
  assert.equal(again.republished, true);
  assert.equal((await client.get(manifestKey("idem", 2)))!.toString(), before);
  assert.deepEqual([...(await keysPerMaster()).values()].flat().sort(), keysBefore);

  // Version 3's checkpoint (other values) published as version 2: refused before any row is written.
  const other = await writeVersion(tempDir(), 3, { videoRows: VIDEO_ROWS });
  await assert.rejects(
    publishVersion(client, {
      ...args,
      prefix: join(other, "ckpt-1"),
      featureConfigPath: join(other, "features.json"),
    }),
    (e: unknown) =>
      e instanceof FailedPreconditionError && /already published with other content/.test(e.message),
  );
  const manifest = (await readManifest(client, "idem", 2))!;
  const row = (await client.hGet(manifest.partitions[partitionOf(0, 7, manifest.partitions.length)], "0:7"))!;
  assert.equal(row.readFloatLE(0), cellValue(2, "video", 28), "row 7 still holds version 2's value");
});
