import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RaggedTensor } from "../../src/index.js";
import { DEMO_FEATURES_JSON, DEMO_REQUEST, demoTrainer, ensureDemoModel } from "../../src/cli/demo-model.js";
import { parseFeatureConfig } from "../../src/serving/model/feature-config-json.js";
import { loadVersion } from "../../src/serving/model/model-loader.js";
import { tempDir } from "../serving/model/helpers.js";
import { spawnCli } from "./helpers.js";

const NAMES = ["watched", "favorited", "friends", "country"] as const;

/** The demo request's answer from the float32 trainer, per output. */
function float32Answer(): Record<string, Float32Array> {
  const out = demoTrainer().embeddingLookup(
    {
      watched: RaggedTensor.fromNested([[3, 14, 15], [92]]),
      favorited: RaggedTensor.fromNested([[7, 8], [9]]),
      friends: RaggedTensor.fromNested([[1, 2], [3]]),
      country: RaggedTensor.fromNested([[4], [7]]),
    },
    { friends: RaggedTensor.fromNested([[1, 0.5], [2]]) },
  );
  return Object.fromEntries(NAMES.map((n) => [n, out[n].data]));
}

for (const [kind, tolerance] of [
  ["int8", 0.01],
  ["float16", 0.002],
] as const) {
  test(`demo --table-storage ${kind}: answers within ${tolerance * 100} % of float32's largest, not identical`, async () => {
    const dir = tempDir("tpu-embedding-quant-");
    const server = await spawnCli(
      ["demo", "--dir", dir, "--port", "0", "--no-grpc", "--log-level", "warn", "--table-storage", kind],
      /at (http:\/\/\S+)/,
    );
    try {
      const res = await fetch(`${server.url}/v1/models/demo:predict`, {
        method: "POST",
        body: JSON.stringify(DEMO_REQUEST),
      });
      assert.equal(res.status, 200);
      const { predictions } = (await res.json()) as { predictions: Record<string, unknown>[] };
      const exact = float32Answer();
      const largest = Math.max(...NAMES.flatMap((n) => [...exact[n]].map(Math.abs)));
      let differ = 0;
      for (const name of NAMES) {
        const got = predictions.flatMap((row) => [row[name]].flat(2) as number[]).map(Math.fround);
        assert.equal(got.length, exact[name].length);
        got.forEach((v, i) => {
          assert.ok(
            Math.abs(v - exact[name][i]) <= tolerance * largest,
            `${name}[${i}]: ${v} vs ${exact[name][i]}`,
          );
          if (v !== exact[name][i]) differ++;
        });
      }
      assert.ok(differ > 0, "really quantized");
      server.proc.kill("SIGTERM");
      assert.equal(await server.exited, 0);
    } finally {
      server.proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("features.json tables[].storage wins over the server's --table-storage, table by table", async () => {
  const dir = tempDir("tpu-embedding-quant-");
  try {
    const { versionDir } = await ensureDemoModel(dir);
    const json = structuredClone(DEMO_FEATURES_JSON) as { tables: { name: string; storage?: string }[] };
    json.tables.find((t) => t.name === "video")!.storage = "bfloat16";
    writeFileSync(join(versionDir, "features.json"), JSON.stringify(json));
    const config = parseFeatureConfig(
      JSON.parse(readFileSync(join(versionDir, "features.json"), "utf8")),
      "f",
    );
    const model = await loadVersion({
      model: "demo",
      version: 1,
      prefix: join(versionDir, "ckpt-1"),
      config,
      embeddingOptions: { tableStorage: "int8" },
    });
    const kinds = Object.fromEntries([...model.embedding.tableStorage].map(([t, k]) => [t.name, k]));
    assert.deepEqual(kinds, { video: "bfloat16", user: "int8", country: "int8" });
    // video 1000 × 8 bfloat16 (16 B a row), user 100 × 4 and country 50 × 4 int8 (8 + 4 B a row)
    assert.equal(model.tableBytes, 1000 * 16 + 100 * 12 + 50 * 12);
    assert.equal(model.embedding.tableBytes, model.tableBytes);

    assert.throws(
      () => parseFeatureConfig({ ...json, tables: [{ name: "video", storage: "int3" }] }, "f.json"),
      /f\.json.*tables\[0\]\.storage.*"int3"/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
