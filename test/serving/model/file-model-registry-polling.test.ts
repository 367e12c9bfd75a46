import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import { UnavailableError, InvalidArgumentError, NotFoundError } from "../../../src/index.js";
import { FileModelRegistry } from "../../../src/serving/model/file-model-registry.js";
import { FEATURES_JSON, tempDir, writeCheckpoint, writeVersion } from "./helpers.js";

import {
  assertWholeVersion,
  checkWhole,
  corruptDataFile,
  openRegistry,
  servedVersion,
} from "./registry-support.js";

test("failed versions are reported, never served, and retried only when their files change", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const { registry, events, lines } = await openRegistry(base);
  try {
    const v2 = await writeVersion(base, 2);
    corruptDataFile(v2);
    await registry.poll();
    const [s2, s1] = registry.status("m");
    assert.deepEqual([s2.version, s2.state, s2.errorCode], [2, "END", "DATA_LOSS"]);
    assert.match(s2.errorMessage, /ckpt-1/);
    assert.deepEqual([s1.version, s1.state], [1, "AVAILABLE"]);
    assert.equal(servedVersion(registry), 1);
    assert.ok(lines.some((l) => l.event === "model-load-failed" && l.fields.errorCode === "DATA_LOSS"));

    const before = events.length;
    await registry.poll();
    assert.equal(events.length, before, "an unchanged failed version is not retried");

    // Wrong shapes: the config pins video to 20 rows, the checkpoint has 30.
    const v3 = await writeVersion(base, 3, {
      videoRows: 30,
      features: {
        ...FEATURES_JSON,
        tables: [{ name: "video", vocabularySize: 20 }, FEATURES_JSON.tables[1]],
      },
    });
    await registry.poll();
    assert.deepEqual(
      registry.status("m", 3).map((s) => [s.state, s.errorCode]),
      [["END", "INVALID_ARGUMENT"]],
    );
    assert.match(registry.status("m", 3)[0].errorMessage, /table "video" has vocabularySize 20/);
    // Missing table in the checkpoint.
    writeFileSync(
      join(v3, "features.json"),
      JSON.stringify({ tables: [{ name: "item" }], features: { i: { table: "item" } } }),
    );
    await registry.poll();
    assert.equal(registry.status("m", 3)[0].errorCode, "NOT_FOUND");
    assert.equal(servedVersion(registry), 1);

    // Fixing the files brings the version in.
    rmSync(v3, { recursive: true });
    rmSync(v2, { recursive: true });
    await writeVersion(base, 2);
    await registry.poll();
    assert.deepEqual(
      registry.status("m").map((s) => [s.version, s.state, s.errorCode]),
      [
        [2, "AVAILABLE", "OK"],
        [1, "END", "OK"],
      ],
    );
    checkWhole(registry);
  } finally {
    await registry.close();
  }
});

test("a version that fails at startup is reported and the older one served", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  corruptDataFile(await writeVersion(base, 2));
  const { registry, events } = await openRegistry(base);
  try {
    assert.deepEqual(events, ["load-start 2", "load-failed 2", "load-start 1", "load-done 1"]);
    assert.equal(servedVersion(registry), 1);
  } finally {
    await registry.close();
  }
});

test("polling picks up removed versions and waits for half-written ones", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  await writeVersion(base, 2);
  const { registry, events, lines } = await openRegistry(base, { policy: "all" });
  try {
    assert.deepEqual(
      registry.status("m").map((s) => [s.version, s.state]),
      [
        [2, "AVAILABLE"],
        [1, "AVAILABLE"],
      ],
    );
    rmSync(join(base, "2"), { recursive: true });
    await registry.poll();
    assert.deepEqual(events.slice(-1), ["unloaded 2"]);
    assert.deepEqual(
      registry.status("m").map((s) => s.version),
      [1],
    );
    assert.equal(servedVersion(registry), 1);

    // A version being copied in: the data file is not there yet.
    const v3 = await writeVersion(base, 3);
    const data = join(v3, "ckpt-1.data-00000-of-00001");
    renameSync(data, join(base, "data.partial"));
    const before = events.length;
    await registry.poll();
    assert.equal(events.length, before, "a half-written version is not attempted");
    const pending = lines.find((l) => l.event === "model-version-pending");
    assert.equal(pending?.fields.version, 3);
    assert.match(String(pending?.fields.reason), /data files/);
    renameSync(join(base, "data.partial"), data);
    await registry.poll();
    assert.equal(servedVersion(registry), 3);
  } finally {
    await registry.close();
  }
});

test("the poll timer loads a new version on its own", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const { registry } = await openRegistry(base, { pollIntervalSeconds: 0.02 });
  try {
    const loaded = new Promise<number>((resolve) =>
      registry.onEvent((e) => {
        if (e.type === "load-done" && e.version === 5) resolve(e.version);
      }),
    );
    await writeVersion(base, 5);
    // The poll timer is unref'd (it never keeps a process alive by itself): hold the loop open meanwhile.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      assert.equal(await loaded, 5);
    } finally {
      clearInterval(keepAlive);
    }
    assert.equal(servedVersion(registry), 5);
  } finally {
    await registry.close();
  }
});

test("labels point only at available versions; specific versions are served on request", async () => {
  const base = tempDir();
  for (const v of [1, 2, 3]) await writeVersion(base, v);
  const labels = new Map([
    ["stable", 1],
    ["canary", 2],
    ["future", 9],
  ]);
  const { registry, lines } = await openRegistry(base, { policy: "specific:1,2", labels });
  try {
    assert.deepEqual(
      [...registry.labels("m")],
      [
        ["stable", 1],
        ["canary", 2],
      ],
    );
    assert.equal(servedVersion(registry), 2);
    assert.equal(servedVersion(registry, { label: "stable" }), 1);
    assert.equal(servedVersion(registry, { version: 1 }), 1);
    assert.throws(() => registry.acquire("m", { version: 3 }), NotFoundError);
    assert.throws(() => registry.acquire("m", { label: "future" }), /version 9 is not available/);
    assert.throws(
      () => registry.acquire("m", { label: "nope" }),
      (e: unknown) =>
        e instanceof InvalidArgumentError && /Unrecognized servable version label: nope/.test(e.message),
    );
    assert.ok(lines.some((l) => l.event === "model-label-unavailable" && l.fields.label === "future"));
  } finally {
    await registry.close();
  }
});

test("a single checkpoint directory is one version numbered by its checkpoint; new saves become versions", async () => {
  const base = tempDir();
  await writeCheckpoint(base, 1);
  writeFileSync(join(base, "features.json"), JSON.stringify(FEATURES_JSON));
  const { registry, events } = await openRegistry(base);
  try {
    assert.equal(servedVersion(registry), 1);
    // A trainer saving again: ckpt-2 (our writer restarts at 1, so write it under the next name by hand).
    rmSync(join(base, "checkpoint"));
    await writeCheckpoint(join(base, "next"), 2);
    for (const f of ["ckpt-1.index", "ckpt-1.data-00000-of-00001"]) {
      renameSync(join(base, "next", f), join(base, f.replace("ckpt-1", "ckpt-2")));
    }
    writeFileSync(join(base, "checkpoint"), 'model_checkpoint_path: "ckpt-2"\n');
    await registry.poll();
    assert.deepEqual(events.slice(-4), ["load-start 2", "load-done 2", "unload-start 1", "unloaded 1"]);
    checkWhole(registry);
  } finally {
    await registry.close();
  }
});

test("open rejects a base path that does not exist", async () => {
  await assert.rejects(
    FileModelRegistry.open({ models: [{ name: "m", basePath: "/nonexistent/models/m" }] }),
    (e: unknown) => e instanceof NotFoundError && e.message.includes("/nonexistent/models/m"),
  );
});

test("close waits for outstanding leases before unloading", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const { registry, events } = await openRegistry(base);
  const lease = registry.acquire("m");
  let closed = false;
  const closing = registry.close().then(() => (closed = true));
  for (let i = 0; i < 10; i++) await tick();
  assert.equal(closed, false);
  assert.ok(!events.includes("unloaded 1"));
  assertWholeVersion(lease);
  lease.release();
  await closing;
  assert.deepEqual(events.slice(-1), ["unloaded 1"]);
});

test("requests racing with reloads always see one complete version, and no version unloads under a lease", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const { registry } = await openRegistry(base, { policy: "latest:1" });
  const held = new Map<number, number>();
  const violations: string[] = [];
  registry.onEvent((e) => {
    if (e.type === "unloaded" && (held.get(e.version) ?? 0) > 0)
      violations.push(`unloaded ${e.version} while leased`);
  });
  let failures = 0;
  let served = 0;
  let stop = false;
  const client = async () => {
    while (!stop) {
      try {
        const lease = registry.acquire("m");
        const v = lease.model.version;
        held.set(v, (held.get(v) ?? 0) + 1);
        await tick(); // the request is in flight while versions change
        assertWholeVersion(lease);
        held.set(v, held.get(v)! - 1);
        lease.release();
        served++;
      } catch (e) {
        failures++;
        violations.push(String(e));
        await tick();
      }
    }
  };
  const clients = Array.from({ length: 8 }, client);
  try {
    for (let v = 2; v <= 5; v++) {
      await writeVersion(base, v);
      await registry.poll();
      rmSync(join(base, String(v - 1)), { recursive: true });
    }
  } finally {
    stop = true;
    await Promise.all(clients);
    await registry.close();
  }
  assert.deepEqual(violations, []);
  assert.equal(failures, 0);
  assert.ok(served > 0);
  assert.deepEqual(
    registry.status("m").map((s) => [s.version, s.state]),
    [
      [5, "END"],
      [4, "END"],
    ],
  );
});

test("TF Serving's own SavedModel test data: the version is found, and its missing tables are reported", async () => {
  const base = tempDir();
  const fixture = fileURLToPath(
    new URL(
      "../../../../test/fixtures/checkpoints/tfserving-testdata/saved_model_half_plus_two_tf2_cpu",
      import.meta.url,
    ),
  );
  cpSync(fixture, join(base, "123"), { recursive: true });
  writeFileSync(
    join(base, "features.json"),
    JSON.stringify({ tables: [{ name: "a" }], features: { x: { table: "a" } } }),
  );
  const { registry } = await openRegistry(base);
  try {
    const [status] = registry.status("m");
    assert.deepEqual([status.version, status.state, status.errorCode], [123, "END", "NOT_FOUND"]);
    assert.match(
      status.errorMessage,
      /variables\/variables" has no table "a" \(key "embedding\/a\/\.ATTRIBUTES\/VARIABLE_VALUE"\)/,
    );
    assert.throws(() => registry.acquire("m"), UnavailableError);
  } finally {
    await registry.close();
  }
});
