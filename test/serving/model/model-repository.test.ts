import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NotFoundError } from "../../../src/index.js";
import { scanModelRepository } from "../../../src/serving/model/model-repository.js";
import { FEATURES_JSON, tempDir, writeCheckpoint, writeVersion } from "./helpers.js";

test("TF Serving layout: numeric folders are versions, newest first; other entries are ignored", async () => {
  const base = tempDir();
  await writeVersion(base, 3);
  await writeVersion(base, 12);
  mkdirSync(join(base, "tmp-13"));
  mkdirSync(join(base, "14")); // empty: a version being created
  writeFileSync(join(base, "README"), "not a version");
  const scan = await scanModelRepository({ basePath: base });
  assert.equal(scan.layout, "versioned");
  assert.deepEqual(
    scan.versions.map((v) => [v.version, v.prefix, v.featureConfigPath]),
    [
      [12, join(base, "12", "ckpt-1"), join(base, "12", "features.json")],
      [3, join(base, "3", "ckpt-1"), join(base, "3", "features.json")],
    ],
  );
  assert.deepEqual(scan.pending, [{ version: 14, reason: "no checkpoint yet" }]);
});

test("feature config lookup: the version's own file, then --feature-config, then the base path's", async () => {
  const base = tempDir();
  await writeVersion(base, 1, { features: null });
  const shared = join(base, "features.json");
  writeFileSync(shared, JSON.stringify(FEATURES_JSON));
  const flag = join(tempDir(), "flag.json");
  writeFileSync(flag, "{}");
  assert.equal((await scanModelRepository({ basePath: base })).versions[0].featureConfigPath, shared);
  assert.equal(
    (await scanModelRepository({ basePath: base, featureConfig: flag })).versions[0].featureConfigPath,
    flag,
  );
  writeFileSync(join(base, "1", "features.json"), "{}");
  assert.equal(
    (await scanModelRepository({ basePath: base, featureConfig: flag })).versions[0].featureConfigPath,
    join(base, "1", "features.json"),
  );
  rmSync(join(base, "1", "features.json"));
  rmSync(shared);
  const scan = await scanModelRepository({ basePath: base });
  assert.equal(scan.versions.length, 0);
  assert.match(scan.pending[0].reason, /no feature config/);
});

test("half-written versions are pending until the index and every data shard exist", async () => {
  const base = tempDir();
  const dir = await writeVersion(base, 1);
  const data = join(dir, "ckpt-1.data-00000-of-00001");
  renameSync(data, `${data}.partial`);
  let scan = await scanModelRepository({ basePath: base });
  assert.deepEqual(scan.versions, []);
  assert.match(scan.pending[0].reason, /data files of ".*ckpt-1" are not all there/);
  renameSync(`${data}.partial`, data);
  renameSync(join(dir, "ckpt-1.index"), join(dir, "index.partial"));
  scan = await scanModelRepository({ basePath: base });
  assert.match(scan.pending[0].reason, /names "ckpt-1", whose index does not exist/);
  renameSync(join(dir, "index.partial"), join(dir, "ckpt-1.index"));
  // Without a state file, a folder holding exactly one checkpoint is enough.
  rmSync(join(dir, "checkpoint"));
  scan = await scanModelRepository({ basePath: base });
  assert.equal(scan.versions[0].prefix, join(dir, "ckpt-1"));
});

test("the fingerprint changes when a version's files change", async () => {
  const base = tempDir();
  const dir = await writeVersion(base, 1);
  const before = (await scanModelRepository({ basePath: base })).versions[0].fingerprint;
  assert.equal((await scanModelRepository({ basePath: base })).versions[0].fingerprint, before);
  writeFileSync(
    join(dir, "features.json"),
    JSON.stringify({ ...FEATURES_JSON, checkpointObject: "embedding" }),
  );
  assert.notEqual((await scanModelRepository({ basePath: base })).versions[0].fingerprint, before);
});

test("a single checkpoint directory or prefix is one version numbered by the checkpoint", async () => {
  const dir = tempDir();
  await writeCheckpoint(dir, 1);
  writeFileSync(join(dir, "features.json"), JSON.stringify(FEATURES_JSON));
  const scan = await scanModelRepository({ basePath: dir });
  assert.equal(scan.layout, "single");
  assert.deepEqual(
    scan.versions.map((v) => [v.version, v.prefix]),
    [[1, join(dir, "ckpt-1")]],
  );
  const byPrefix = await scanModelRepository({ basePath: join(dir, "ckpt-1") });
  assert.deepEqual(
    byPrefix.versions.map((v) => [v.version, v.featureConfigPath]),
    [[1, join(dir, "features.json")]],
  );
  renameSync(join(dir, "ckpt-1.index"), join(dir, "model.index"));
  renameSync(join(dir, "ckpt-1.data-00000-of-00001"), join(dir, "model.data-00000-of-00001"));
  rmSync(join(dir, "checkpoint"));
  assert.deepEqual(
    (await scanModelRepository({ basePath: dir })).versions.map((v) => v.version),
    [1],
    "a prefix without a number is version 1",
  );
});

test("a missing base path is NOT_FOUND; an empty one has no versions", async () => {
  await assert.rejects(scanModelRepository({ basePath: "/no/such/dir" }), NotFoundError);
  const scan = await scanModelRepository({ basePath: tempDir() });
  assert.deepEqual([scan.versions, scan.pending], [[], []]);
});
