import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FileModelRegistry } from "../../../src/serving/model/file-model-registry.js";
import {
  captureLogger,
  describeEvent,
  FEATURES_JSON,
  tempDir,
  writeCheckpoint,
  writeVersion,
} from "./helpers.js";

/**
 * Issue 20, item 7: a version whose data shard is still being written (index there, shard growing) is
 * not read until its files stop changing, so it never fails with DATA_LOSS on the way.
 */
test("a version whose shard is still growing is read only once its files are stable: no DATA_LOSS", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const staging = tempDir();
  await writeCheckpoint(staging, 2);
  const shard = readFileSync(join(staging, "ckpt-1.data-00000-of-00001"));
  const events: string[] = [];
  const { logger, lines } = captureLogger();
  const registry = await FileModelRegistry.open({
    models: [{ name: "m", basePath: base }],
    pollIntervalSeconds: 0,
    settleMs: 300,
    logger,
    onEvent: (e) => events.push(describeEvent(e)),
  });
  try {
    assert.deepEqual(events, ["load-start 1", "load-done 1"]);
    // Version 2 appears: features.json, the state file and the index first, then the shard, bit by bit.
    const dir = join(base, "2");
    mkdirSync(dir);
    writeFileSync(join(dir, "features.json"), JSON.stringify(FEATURES_JSON));
    copyFileSync(join(staging, "checkpoint"), join(dir, "checkpoint"));
    copyFileSync(join(staging, "ckpt-1.index"), join(dir, "ckpt-1.index"));
    const target = join(dir, "ckpt-1.data-00000-of-00001");
    writeFileSync(target, shard.subarray(0, 0));
    const chunk = Math.max(1, Math.ceil(shard.length / 25));
    let written = 0;
    let polls = 0;
    const writer = (async () => {
      while (written < shard.length) {
        appendFileSync(target, shard.subarray(written, written + chunk));
        written = Math.min(shard.length, written + chunk);
        await sleep(40);
      }
    })();
    // Poll as often as a short --poll-interval would while the shard grows.
    while (written < shard.length) {
      await registry.poll();
      polls++;
    }
    await writer;
    assert.ok(polls >= 2, `${polls} polls while the shard grew`);
    assert.ok(
      !events.includes("load-start 2"),
      `version 2 was read while being written: ${events.join(", ")}`,
    );
    for (let i = 0; i < 20 && !events.includes("load-done 2"); i++) await registry.poll();
    assert.deepEqual(events.slice(2), ["load-start 2", "load-done 2", "unload-start 1", "unloaded 1"]);
    assert.equal(lines.filter((l) => l.event === "model-load-failed").length, 0);
    const pending = lines.filter((l) => l.event === "model-version-pending" && l.fields.version === 2);
    assert.ok(
      pending.some((l) => /still changing/.test(String(l.fields.reason))),
      JSON.stringify(pending),
    );
    const lease = registry.acquire("m");
    assert.equal(lease.model.version, 2);
    lease.release();
  } finally {
    await registry.close();
  }
});

test("settleMs 0 reads a version as soon as its files exist (the old behaviour, for tests and tools)", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const registry = await FileModelRegistry.open({
    models: [{ name: "m", basePath: base }],
    pollIntervalSeconds: 0,
    settleMs: 0,
  });
  try {
    await writeVersion(base, 2);
    await registry.poll();
    assert.equal(registry.status("m")[0].state, "AVAILABLE");
  } finally {
    await registry.close();
  }
});
