import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { EmbeddingClient, FileModelRegistry, RaggedTensor, startServer } from "../../../src/index.js";
import { cellValue, tempDir, VIDEO_DIM, USER_DIM, writeVersion } from "../model/helpers.js";
import { postJson } from "../support/http.js";

/** The answer version `v` gives for watched [[2]] (mean of one row) and user/friends [[1, 3]] (sum). */
function expected(v: number): { watched: number[]; friends: number[] } {
  return {
    watched: Array.from({ length: VIDEO_DIM }, (_, k) => cellValue(v, "video", 2 * VIDEO_DIM + k)),
    friends: Array.from({ length: USER_DIM }, (_, k) =>
      Math.fround(cellValue(v, "user", 1 * USER_DIM + k) + cellValue(v, "user", 3 * USER_DIM + k)),
    ),
  };
}

test("FileModelRegistry behind the server: versions swap under concurrent load with zero failures and never a mixed answer", async () => {
  const base = tempDir("tpu-embedding-swap-");
  await writeVersion(base, 1);
  const registry = await FileModelRegistry.open({
    models: [{ name: "m", basePath: base }],
    pollIntervalSeconds: 0,
  });
  const server = await startServer({ registry, port: 0 });
  const binary = new EmbeddingClient({ url: server.url, model: "m", format: "binary" });
  const seen = new Map<number, number>();
  const failures: string[] = [];
  let stop = false;

  const identify = (watched: ArrayLike<number>, friends: ArrayLike<number>): void => {
    const version = Math.round((watched[0] - 1) / 1000);
    const want = expected(version);
    if (
      Array.from(watched).join() !== want.watched.join() ||
      Array.from(friends).join() !== want.friends.join()
    ) {
      failures.push(`mixed or wrong answer: watched ${Array.from(watched)} friends ${Array.from(friends)}`);
    }
    seen.set(version, (seen.get(version) ?? 0) + 1);
  };
  const worker = async (i: number): Promise<void> => {
    while (!stop) {
      if (i % 2 === 0) {
        const out = await binary.predict({
          watched: RaggedTensor.fromNested([[2]]),
          "user/friends": RaggedTensor.fromNested([[1, 3]]),
        });
        identify(out.watched.data, out["user/friends"].data);
      } else {
        const reply = await postJson(`${server.url}/v1/models/m:predict`, {
          instances: [{ watched: [2], "user/friends": [1, 3] }],
        });
        if (reply.status !== 200) {
          failures.push(`${reply.status} ${reply.text}`);
          continue;
        }
        const [p] = (reply.json() as { predictions: { watched: number[]; "user/friends": number[] }[] })
          .predictions;
        identify(p.watched, p["user/friends"]);
      }
    }
  };
  const until = async (condition: () => boolean) => {
    while (!condition()) await new Promise((r) => setTimeout(r, 2));
  };

  try {
    const load = Promise.all(
      Array.from({ length: 6 }, (_, i) => worker(i).catch((e) => failures.push(String(e)))),
    );
    await until(() => (seen.get(1) ?? 0) >= 20);
    await writeVersion(base, 2);
    await registry.poll();
    await until(() => (seen.get(2) ?? 0) >= 20);
    // A corrupt version 3 is reported and does not replace version 2.
    const corrupt = await writeVersion(base, 3);
    truncateSync(join(corrupt, "ckpt-1.data-00000-of-00001"), 10);
    await registry.poll();
    const afterCorrupt = await binary.status();
    assert.deepEqual(
      afterCorrupt.slice(0, 2).map((s) => [s.version, s.state]),
      [
        ["3", "END"],
        ["2", "AVAILABLE"],
      ],
    );
    assert.notEqual(afterCorrupt[0].status.error_code, "OK");
    assert.notEqual(afterCorrupt[0].status.error_message, "");
    const before = seen.get(2)!;
    await until(() => seen.get(2)! >= before + 20);
    await writeVersion(base, 4);
    await registry.poll();
    await until(() => (seen.get(4) ?? 0) >= 20);
    stop = true;
    await load;

    assert.deepEqual(failures, []);
    assert.deepEqual([...seen.keys()].sort(), [1, 2, 4]);
    assert.deepEqual(
      (await binary.status()).map((s) => [s.version, s.state]),
      [
        ["4", "AVAILABLE"],
        ["3", "END"],
        ["2", "END"],
        ["1", "END"],
      ],
    );
  } finally {
    stop = true;
    await server.close();
    await registry.close();
    rmSync(base, { recursive: true, force: true });
  }
});
