import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileSync } from "node:fs";
import {
  DataLossError,
  DenseTensor,
  InvalidArgumentError,
  NotFoundError,
  RaggedTensor,
} from "../../../src/index.js";
import { tempDir } from "./helpers.js";
import { parseFeatureConfig } from "../../../src/serving/model/feature-config-json.js";
import { checkDeclaredBytes, loadVersion, prepareVersion } from "../../../src/serving/model/model-loader.js";

const SLICED = join(
  fileURLToPath(new URL("../../../../", import.meta.url)),
  "test/fixtures/checkpoints/synthetic-sliced/ckpt-1",
);

/** The 2-host TPU fixture: user [10,4] (Adagrad slots) and video [7,3], both split across two shards. */
const CONFIG = {
  tables: [
    { name: "user", combiner: "sum", optimizer: { type: "adagrad" } },
    { name: "video", combiner: "mean" },
  ],
  features: { u: { table: "user" }, v: { table: "video", name: "video_feature" } },
};

test("a sliced TPU checkpoint loads with sizes from the checkpoint; slots stay on disk", async () => {
  const model = await loadVersion({
    model: "m",
    version: 1,
    prefix: SLICED,
    config: parseFeatureConfig(CONFIG, "features.json"),
  });
  assert.equal(model.checkpoint, SLICED);
  assert.deepEqual(
    model.features.map((f) => [f.name, f.table, f.vocabularySize, f.dim, f.combiner]),
    [
      ["u", "user", 10, 4, "sum"],
      ["v", "video", 7, 3, "mean"],
    ],
  );
  assert.equal(model.tableBytes, (10 * 4 + 7 * 3) * 4);
  assert.ok(model.skippedKeys.some((k) => k.includes("user.Saccumulators")));
  assert.deepEqual([...model.embedding.variables.keys()], ["user", "video"]);
  // user row r, column c holds r*10 + c + 0.25 (see the fixture's SOURCE.md and checkpoint tests).
  const out = model.embedding.embeddingLookup({
    u: RaggedTensor.fromNested([[1, 3], [9]]),
    v: DenseTensor.from([0]),
  });
  assert.deepEqual(Array.from(out.u.data), [
    10.25 + 30.25,
    11.25 + 31.25,
    12.25 + 32.25,
    13.25 + 33.25,
    90.25,
    91.25,
    92.25,
    93.25,
  ]);
  assert.deepEqual(out.v.shape, [1, 3]);
});

test("sizes in the config must match the checkpoint; missing tables are named", async () => {
  const wrongDim = parseFeatureConfig(
    { ...CONFIG, tables: [CONFIG.tables[0], { name: "video", dim: 5 }] },
    "cfg/features.json",
  );
  await assert.rejects(
    prepareVersion({ model: "m", version: 1, prefix: SLICED, config: wrongDim }),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      /Feature config "cfg\/features.json": table "video" has dim 5, but checkpoint .* holds \[7, 3\]/.test(
        e.message,
      ),
  );
  const missing = parseFeatureConfig(
    { tables: [{ name: "item" }], features: { i: { table: "item" } } },
    "cfg/features.json",
  );
  await assert.rejects(
    prepareVersion({ model: "m", version: 1, prefix: SLICED, config: missing }),
    (e: unknown) =>
      e instanceof NotFoundError && e.message.includes('no table "item"') && e.message.includes(SLICED),
  );
  const otherObject = parseFeatureConfig({ ...CONFIG, checkpointObject: "model" }, "cfg/features.json");
  await assert.rejects(
    prepareVersion({ model: "m", version: 1, prefix: SLICED, config: otherObject }),
    (e: unknown) => e instanceof NotFoundError && e.message.includes("model/user"),
  );
});

test("an index that declares more table bytes than the data files hold fails before allocating", async () => {
  const dir = tempDir();
  const shard = join(dir, "ckpt-1.data-00000-of-00001");
  writeFileSync(shard, new Uint8Array(1000));
  const reader = { prefix: join(dir, "ckpt-1"), dataFiles: () => [shard] };
  // A few-KB index claiming a 2^31 x 1024 table (8 TiB).
  await assert.rejects(
    checkDeclaredBytes(reader, new Map([["huge", { vocabularySize: 2 ** 31 - 1, dim: 1024 }]])),
    (e: unknown) =>
      e instanceof DataLossError &&
      e.message.includes(
        `declares ${(2 ** 31 - 1) * 1024 * 4} bytes of tables, but its data files hold only 1000 bytes`,
      ),
  );
  await checkDeclaredBytes(reader, new Map([["fits", { vocabularySize: 25, dim: 10 }]]));
  await assert.rejects(
    checkDeclaredBytes(reader, new Map([["over", { vocabularySize: 25, dim: 11 }]])),
    DataLossError,
  );
});
