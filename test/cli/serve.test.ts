import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { RaggedTensor } from "../../src/index.js";
import { loadVersion } from "../../src/serving/model/model-loader.js";
import { readFeatureConfig } from "../../src/serving/model/feature-config-json.js";
import { CLI, spawnCli } from "./helpers.js";
import { canHandOffConnections } from "../../src/serving/loops/socket-hand-off.js";
import { cellValue, tempDir, USER_DIM, VIDEO_DIM, writeVersion } from "../serving/model/helpers.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = any;

async function json(url: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** `serve` of the model at `base` named `name`, on any free port, with `flags`. */
function serveModel(base: string, name: string, ...flags: string[]) {
  return spawnCli(["serve", "--model-name", name, "--model-base-path", base, "--port", "0", ...flags]);
}

test("serve: status, predict equal to a direct lookup, a hot-swapped version, SIGTERM drains and exits 0", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  const server = await serveModel(
    base,
    "rank",
    "--poll-interval",
    "0.05",
    "--batch-timeout-micros",
    "200000",
    "--threads",
    "2",
  );
  try {
    const status = await json(`${server.url}/v1/models/rank`);
    assert.equal(status.status, 200);
    assert.deepEqual(status.body, {
      model_version_status: [
        { version: "1", state: "AVAILABLE", status: { error_code: "OK", error_message: "" } },
      ],
    });

    const request = { inputs: { watched: [[2, 5], [7]], "user/friends": [[1, 3], []] } };
    const direct = await loadVersion({
      model: "rank",
      version: 1,
      prefix: join(base, "1", "ckpt-1"),
      config: await readFeatureConfig(join(base, "1", "features.json")),
    });
    const expected = direct.embedding.embeddingLookup({
      watched: RaggedTensor.fromNested([[2, 5], [7]]),
      user: { friends: RaggedTensor.fromNested([[1, 3], []]) },
    });
    const predicted = await json(`${server.url}/v1/models/rank:predict`, request);
    assert.equal(predicted.status, 200, JSON.stringify(predicted.body));
    const watched = predicted.body.outputs.watched as number[][];
    assert.deepEqual(watched.flat().map(Math.fround), Array.from(expected.watched.data));
    assert.deepEqual(
      (predicted.body.outputs["user/friends"] as number[][]).flat().map(Math.fround),
      Array.from(expected.user.friends.data),
    );
    assert.equal(watched[1][0], cellValue(1, "video", 7 * VIDEO_DIM));

    // A new version appears and is served once loaded; the old one is unloaded.
    await writeVersion(base, 2);
    for (let i = 0; i < 1000; i++) {
      const s = await json(`${server.url}/v1/models/rank`);
      if (
        s.body.model_version_status[0].version === "2" &&
        s.body.model_version_status[0].state === "AVAILABLE"
      )
        break;
      await sleep(10);
    }
    const after = await json(`${server.url}/v1/models/rank:predict`, { inputs: { "user/friends": [[4]] } });
    assert.deepEqual(
      after.body.outputs["user/friends"],
      Array.from({ length: 1 }, () =>
        Array.from({ length: USER_DIM }, (_, c) => cellValue(2, "user", 4 * USER_DIM + c)),
      ),
    );

    // A request waiting in the batcher (200 ms) when SIGTERM arrives is still answered.
    const inFlight = json(`${server.url}/v1/models/rank:predict`, { inputs: { watched: [[1]] } });
    await sleep(50);
    server.proc.kill("SIGTERM");
    const answered = await inFlight;
    assert.equal(answered.status, 200);
    assert.deepEqual(
      answered.body.outputs.watched[0].map(Math.fround),
      Array.from({ length: VIDEO_DIM }, (_, c) => cellValue(2, "video", VIDEO_DIM + c)),
    );
    assert.equal(await server.exited, 0);
    const events = server.logs.map((l) => l.event);
    for (const e of ["model-load-done", "serving", "model-unloaded", "shutdown-start", "shutdown-done"]) {
      assert.ok(events.includes(e), `log has ${e}: ${events.join(", ")}`);
    }
  } finally {
    server.proc.kill("SIGKILL");
    rmSync(base, { recursive: true, force: true });
  }
});

test("serve: a failed version is reported in status while the good one serves", async () => {
  const base = tempDir();
  await writeVersion(base, 1);
  await writeVersion(base, 2, {
    features: { tables: [{ name: "video" }], features: { x: { table: "nope" } } },
  });
  const server = await serveModel(
    base,
    "m",
    "--max-ids-per-request",
    "3",
    "--no-enable-batching",
    "--cors-allowed-origins",
    "https://app.test, http://localhost:3000",
  );
  try {
    const status = await json(`${server.url}/v1/models/m`);
    assert.equal(status.body.model_version_status[0].version, "2");
    assert.equal(status.body.model_version_status[0].state, "END");
    assert.equal(status.body.model_version_status[0].status.error_code, "INVALID_ARGUMENT");
    assert.match(status.body.model_version_status[0].status.error_message, /features\.json.*"nope"/);
    assert.equal(status.body.model_version_status[1].state, "AVAILABLE");
    const p = await json(`${server.url}/v1/models/m:predict`, { inputs: { watched: [[0]] } });
    assert.equal(p.status, 200);
    // The CORS flag reaches the server.
    const cors = await fetch(`${server.url}/v1/models/m`, { headers: { Origin: "http://localhost:3000" } });
    assert.equal(cors.headers.get("access-control-allow-origin"), "http://localhost:3000");
    // The limit flags reach the server.
    const tooMany = await json(`${server.url}/v1/models/m:predict`, {
      inputs: {
        watched: [
          [0, 1],
          [2, 3],
        ],
      },
    });
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.error, /4/);
    server.proc.kill("SIGINT");
    assert.equal(await server.exited, 0);
  } finally {
    server.proc.kill("SIGKILL");
    rmSync(base, { recursive: true, force: true });
  }
});

test("serve: bad flags and a missing base path fail with a clear message", async () => {
  for (const [args, pattern] of [
    [
      ["--model-base-path", "/no/such/models", "--port", "0"],
      /Model base path "\/no\/such\/models" does not exist/,
    ],
    [["--model-base-path", ".", "--version-policy", "newest"], /--version-policy/],
    [["--model-base-path", ".", "--poll-interval", "-1"], /--poll-interval/],
    [["--model-base-path", ".", "--event-loops", "0"], /--event-loops must be an integer >= 1/],
  ] as const) {
    const proc = spawn(process.execPath, [CLI, "serve", "--model-name", "m", ...args], { stdio: "pipe" });
    let err = "";
    proc.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const code = await new Promise<number | null>((resolve) => proc.on("exit", resolve));
    assert.equal(code, 2, err); // every error exits 2 (1 is verify's "bad entries")
    assert.match(err, pattern);
  }
});

test(
  "serve --event-loops 2: two event loops answer what one does, and SIGTERM drains both",
  { skip: !canHandOffConnections() && "needs the native addon" },
  async () => {
    const base = tempDir();
    await writeVersion(base, 1);
    const server = await serveModel(base, "rank", "--event-loops", "2");
    try {
      // Separate connections, handed to the loops in turn: every answer is version 1's sum of rows 1 and 3.
      const want = Array.from({ length: USER_DIM }, (_, c) =>
        Math.fround(cellValue(1, "user", 1 * USER_DIM + c) + cellValue(1, "user", 3 * USER_DIM + c)),
      );
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${server.url}/v1/models/rank:predict`, {
          method: "POST",
          body: JSON.stringify({ inputs: { "user/friends": [[1, 3]] } }),
          headers: { connection: "close" },
        });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { outputs: Record<string, number[][]> };
        assert.deepEqual(body.outputs["user/friends"][0].map(Math.fround), want);
      }
      const listening = server.logs.find((l) => l.event === "server-listening");
      assert.equal(listening?.loops, 2);
      server.proc.kill("SIGTERM");
      assert.equal(await server.exited, 0);
    } finally {
      server.proc.kill("SIGKILL");
      rmSync(base, { recursive: true, force: true });
    }
  },
);
