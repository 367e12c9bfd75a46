import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FailedPreconditionError, UnavailableError, NotFoundError } from "../../../src/index.js";
import { describeEvent, tempDir, writeVersion } from "./helpers.js";

import {
  assertWholeVersion,
  checkWhole,
  corruptDataFile,
  openRegistry,
  servedVersion,
  waitFor,
} from "./registry-support.js";

test("open serves the latest version, reports status and leases complete versions", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  await writeVersion(base, 2);
  const { registry, events, lines } = await openRegistry(base);
  try {
    assert.deepEqual(registry.modelNames(), ["m"]);
    assert.deepEqual(registry.status("m"), [
      { version: 2, state: "AVAILABLE", errorCode: "OK", errorMessage: "" },
    ]);
    assert.deepEqual(events, ["load-start 2", "load-done 2"]);
    // A late subscriber (the server's metrics) is replayed the events it missed.
    const late: string[] = [];
    const unsubscribe = registry.onEvent((e) => late.push(describeEvent(e)));
    unsubscribe();
    assert.deepEqual(late, ["load-start 2", "load-done 2"]);
    const lease = registry.acquire("m");
    assert.equal(lease.model.version, 2);
    assert.equal(lease.model.name, "m");
    assert.deepEqual(
      lease.model.features.map((f) => [f.name, f.table, f.vocabularySize, f.dim, f.maxSequenceLength]),
      [
        ["favorited", "video", 20, 4, 3],
        ["user/friends", "user", 6, 2, 0],
        ["watched", "video", 20, 4, 0],
      ],
    );
    assert.equal(lease.model.tableBytes, (20 * 4 + 6 * 2) * 4);
    assertWholeVersion(lease);
    lease.release();
    lease.release(); // a second release is harmless
    assert.throws(() => registry.acquire("m", { version: 1 }), NotFoundError);
    assert.throws(() => registry.acquire("nope"), NotFoundError);
    assert.throws(() => registry.status("nope"), NotFoundError);
    assert.throws(() => registry.status("m", 7), NotFoundError);
    const done = lines.find((l) => l.event === "model-load-done")!;
    assert.equal(done.fields.version, 2);
    assert.equal(done.fields.tables, 2);
    assert.ok(lines.some((l) => l.event === "model-load-progress" && l.fields.percent === 100));
  } finally {
    await registry.close();
  }
  assert.deepEqual(events.slice(-1), ["unloaded 2"]);
  assert.deepEqual(registry.status("m"), [{ version: 2, state: "END", errorCode: "OK", errorMessage: "" }]);
});

test("availability-preserving swap: new version first, old one unloaded only after its last lease", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const { registry, events } = await openRegistry(base);
  try {
    const old = registry.acquire("m");
    await writeVersion(base, 2);
    await registry.poll();
    assert.deepEqual(events, [
      "load-start 1",
      "load-done 1",
      "load-start 2",
      "load-done 2",
      "unload-start 1",
    ]);
    assert.deepEqual(
      registry.status("m").map((s) => [s.version, s.state]),
      [
        [2, "AVAILABLE"],
        [1, "UNLOADING"],
      ],
    );
    const fresh = registry.acquire("m");
    assert.equal(fresh.model.version, 2);
    assertWholeVersion(old); // the old version still answers completely for its holder
    assertWholeVersion(fresh);
    fresh.release();
    assert.equal(old.model.embedding.isDisposed, false);
    old.release();
    assert.deepEqual(events.slice(-1), ["unloaded 1"]);
    assert.equal(old.model.embedding.isDisposed, true);
    assert.throws(() => assertWholeVersion(old), FailedPreconditionError);
    assert.deepEqual(registry.status("m", 1), [
      { version: 1, state: "END", errorCode: "OK", errorMessage: "" },
    ]);
  } finally {
    await registry.close();
  }
});

test("resource-preserving swap: old version drained and unloaded before the new one is read", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const { registry, events } = await openRegistry(base, { transitionPolicy: "resource-preserving" });
  try {
    const old = registry.acquire("m");
    await writeVersion(base, 2);
    const polled = registry.poll();
    await waitFor(() => registry.status("m").some((s) => s.version === 1 && s.state === "UNLOADING"));
    // Version 2 checked out (config, index, shapes), version 1 is draining, nothing new is leased.
    assert.deepEqual(
      registry.status("m").map((s) => [s.version, s.state]),
      [
        [2, "LOADING"],
        [1, "UNLOADING"],
      ],
    );
    assert.throws(() => registry.acquire("m"), UnavailableError);
    assertWholeVersion(old);
    old.release();
    await polled;
    assert.deepEqual(events, [
      "load-start 1",
      "load-done 1",
      "load-start 2",
      "unload-start 1",
      "unloaded 1",
      "load-done 2",
    ]);
    assert.equal(servedVersion(registry), 2);
  } finally {
    await registry.close();
  }
});

test("resource-preserving keeps the old version when the new one's config or shapes are wrong", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const { registry, events } = await openRegistry(base, { transitionPolicy: "resource-preserving" });
  try {
    const dir = await writeVersion(base, 2);
    writeFileSync(join(dir, "features.json"), '{"tables": ');
    await registry.poll();
    assert.deepEqual(events, ["load-start 1", "load-done 1", "load-start 2", "load-failed 2"]);
    assert.equal(servedVersion(registry), 1);
  } finally {
    await registry.close();
  }
});

test("resource-preserving: when the new version's data turn out corrupt, the old version is loaded again", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const { registry, events } = await openRegistry(base, { transitionPolicy: "resource-preserving" });
  try {
    corruptDataFile(await writeVersion(base, 2));
    await registry.poll();
    assert.deepEqual(events.slice(2), [
      "load-start 2",
      "unload-start 1",
      "unloaded 1",
      "load-failed 2",
      "load-start 1",
      "load-done 1",
    ]);
    assert.deepEqual(
      registry.status("m").map((s) => [s.version, s.state, s.errorCode]),
      [
        [2, "END", "DATA_LOSS"],
        [1, "AVAILABLE", "OK"],
      ],
    );
    checkWhole(registry);
  } finally {
    await registry.close();
  }
});
