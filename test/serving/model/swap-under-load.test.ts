import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer } from "../../../src/serving/http/server.js";
import { FileModelRegistry } from "../../../src/serving/model/file-model-registry.js";
import { cellValue, tempDir, USER_DIM, VIDEO_DIM, writeVersion } from "./helpers.js";

/** The version whose tables produced `value` (each version's cells are version × 1000 + small offsets). */
const versionOf = (value: number): number => Math.floor(value / 1000);

test("over HTTP, versions swap under concurrent load with zero failed requests and never a mixed answer", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const registry = await FileModelRegistry.open({
    models: [{ name: "m", basePath: base }],
    pollIntervalSeconds: 0,
  });
  const server = await startServer({
    registry,
    port: 0,
    batching: { enabled: true, batchTimeoutMicros: 500 },
  });
  const request = JSON.stringify({
    instances: [
      { watched: [3], "user/friends": [2] },
      { watched: [5], "user/friends": [4] },
    ],
  });
  const seen = new Map<number, number>();
  const failures: string[] = [];
  let answered = 0;
  let stop = false;
  const client = async () => {
    while (!stop) {
      const res = await fetch(`${server.url}/v1/models/m:predict`, { method: "POST", body: request });
      const text = await res.text();
      if (res.status !== 200) {
        failures.push(`${res.status} ${text}`);
        continue;
      }
      const { predictions } = JSON.parse(text) as { predictions: Record<string, number[]>[] };
      const v = versionOf(predictions[0].watched[0]);
      seen.set(v, (seen.get(v) ?? 0) + 1);
      // Every number of the answer comes from version v: both features, both examples.
      const expected = [
        { watched: [3], friends: 2 },
        { watched: [5], friends: 4 },
      ].map((row) => ({
        watched: Array.from({ length: VIDEO_DIM }, (_, c) =>
          cellValue(v, "video", row.watched[0] * VIDEO_DIM + c),
        ),
        "user/friends": Array.from({ length: USER_DIM }, (_, c) =>
          cellValue(v, "user", row.friends * USER_DIM + c),
        ),
      }));
      const got = predictions.map((p) => ({
        watched: p.watched.map(Math.fround),
        "user/friends": p["user/friends"].map(Math.fround),
      }));
      try {
        assert.deepEqual(got, expected);
      } catch {
        failures.push(`mixed answer: ${text}`);
      }
      answered++;
    }
  };
  const clients = Array.from({ length: 6 }, client);
  /** Lets the clients run until `version` has answered a few requests. */
  const servedBy = async (version: number) => {
    for (let i = 0; i < 2000 && (seen.get(version) ?? 0) < 10 && failures.length === 0; i++) await sleep(5);
  };
  try {
    await servedBy(1);
    for (let v = 2; v <= 4; v++) {
      await writeVersion(base, v);
      await registry.poll();
      await servedBy(v);
      rmSync(join(base, String(v - 1)), { recursive: true });
      await registry.poll(); // the removed version is unloaded once its requests finish
    }
  } finally {
    stop = true;
    await Promise.all(clients);
    await server.close();
    await registry.close();
    rmSync(base, { recursive: true, force: true });
  }
  assert.deepEqual(failures, []);
  assert.ok(answered > 0);
  assert.deepEqual([...seen.keys()].sort(), [1, 2, 3, 4], "every version answered requests");
});
