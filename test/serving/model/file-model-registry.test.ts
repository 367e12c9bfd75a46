import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { setImmediate as tick, setTimeout as sleep } from "node:timers/promises";
import {
  DenseTensor,
  FailedPreconditionError,
  UnavailableError,
  InvalidArgumentError,
  NotFoundError,
  RaggedTensor,
  type ModelEvent,
  type ModelLease,
} from "../../../src/index.js";
import {
  FileModelRegistry,
  type FileModelRegistryOptions,
} from "../../../src/serving/model/file-model-registry.js";
import { parseVersionPolicy } from "../../../src/serving/model/version-policy.js";
import {
  captureLogger,
  cellValue,
  describeEvent,
  FEATURES_JSON,
  tempDir,
  USER_DIM,
  VIDEO_DIM,
  writeCheckpoint,
  writeVersion,
} from "./helpers.js";

async function openRegistry(
  base: string,
  options: Partial<FileModelRegistryOptions> & { policy?: string; labels?: Map<string, number> } = {},
) {
  const events: string[] = [];
  const { logger, lines } = captureLogger();
  const registry = await FileModelRegistry.open({
    models: [
      {
        name: "m",
        basePath: base,
        versionPolicy: options.policy === undefined ? undefined : parseVersionPolicy(options.policy),
        versionLabels: options.labels,
      },
    ],
    pollIntervalSeconds: 0,
    // These tests write versions and poll at once; waiting for files to settle is tested in settle.test.ts.
    settleMs: 0,
    logger,
    onEvent: (e: ModelEvent) => events.push(describeEvent(e)),
    ...options,
  });
  return { registry, events, lines };
}

/** Looks up both tables through a lease and checks every value comes from the leased version. */
function assertWholeVersion(lease: ModelLease): void {
  const v = lease.model.version;
  const out = lease.model.embedding.embeddingLookup({
    watched: DenseTensor.from([2]),
    user: { friends: RaggedTensor.fromNested([[1, 3]]) },
  });
  assert.deepEqual(
    Array.from(out.watched.data),
    Array.from({ length: VIDEO_DIM }, (_, c) => cellValue(v, "video", 2 * VIDEO_DIM + c)),
  );
  const friends = out.user.friends.data;
  for (let c = 0; c < USER_DIM; c++) {
    assert.equal(
      friends[c],
      Math.fround(cellValue(v, "user", USER_DIM + c) + cellValue(v, "user", 3 * USER_DIM + c)),
    );
  }
}

/** The version a request gets now (lease released right away). */
function servedVersion(registry: FileModelRegistry, selector?: { version?: number; label?: string }): number {
  const lease = registry.acquire("m", selector);
  lease.release();
  return lease.model.version;
}

function checkWhole(registry: FileModelRegistry): void {
  const lease = registry.acquire("m");
  try {
    assertWholeVersion(lease);
  } finally {
    lease.release();
  }
}

/** Waits (without a deadline in the assertion sense) until `condition` holds; gives up after ~5 s. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2500 && !condition(); i++) await sleep(2);
  assert.ok(condition(), "condition never became true");
}

function corruptDataFile(versionDir: string): void {
  const file = join(versionDir, "ckpt-1.data-00000-of-00001");
  const bytes = readFileSync(file);
  bytes[20] ^= 0xff; // inside the first table (after the 8-byte save counter), which is read
  writeFileSync(file, bytes);
}

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
    assert.deepEqual(events, ["load-start 1", "load-done 1", "load-start 2", "load-done 2"]);
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
    assert.deepEqual(events, ["load-start 1", "load-done 1", "load-start 2", "unloaded 1", "load-done 2"]);
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
    assert.deepEqual(events.slice(-3), ["load-start 2", "load-done 2", "unloaded 1"]);
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
