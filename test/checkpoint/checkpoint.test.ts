import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BundleReader } from "../../src/checkpoint/bundle/bundle-reader.js";
import { Checkpoint } from "../../src/checkpoint/checkpoint.js";
import { listCheckpointVariables } from "../../src/checkpoint/list-variables.js";
import { latestCheckpoint } from "../../src/checkpoint/state-file.js";
import {
  DataLossError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from "../../src/errors.js";
import { FakeTrackable, spec } from "./fake-trackable.js";
import { hasReferenceReader, runReferenceReader, tempDir, type Json } from "./helpers.js";

const specs = () => [spec("video", [8, 4]), spec("video/accumulators", [8, 4])];

test("save writes numbered checkpoints, save_counter, the object graph and the state file", async () => {
  const dir = tempDir();
  const ckpt = new Checkpoint({ embedding: new FakeTrackable(specs()) });
  assert.equal(await ckpt.save(join(dir, "ckpt")), join(dir, "ckpt-1"));
  assert.equal(await ckpt.save(join(dir, "ckpt")), join(dir, "ckpt-2"));
  assert.equal(ckpt.saveCounter, 2);
  assert.equal(
    readFileSync(join(dir, "checkpoint"), "utf8"),
    'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n',
  );
  assert.equal(await latestCheckpoint(dir), join(dir, "ckpt-2"));
  assert.deepEqual(readdirSync(dir).sort(), [
    "checkpoint",
    "ckpt-1.data-00000-of-00001",
    "ckpt-1.index",
    "ckpt-2.data-00000-of-00001",
    "ckpt-2.index",
  ]);

  const r = await BundleReader.open(join(dir, "ckpt-2"));
  const vars = await listCheckpointVariables(r);
  assert.deepEqual(
    vars.map((v) => [v.key, v.objectPath, v.dtype, v.shape]),
    [
      ["_CHECKPOINTABLE_OBJECT_GRAPH", undefined, "string", []],
      [
        "embedding/video.Saccumulators/.ATTRIBUTES/VARIABLE_VALUE",
        "(root).embedding.video/accumulators",
        "float32",
        [8, 4],
      ],
      ["embedding/video/.ATTRIBUTES/VARIABLE_VALUE", "(root).embedding.video", "float32", [8, 4]],
      ["save_counter/.ATTRIBUTES/VARIABLE_VALUE", "(root).save_counter", "int64", []],
    ],
  );
  const counter = await r.readTensor("save_counter/.ATTRIBUTES/VARIABLE_VALUE");
  assert.deepEqual(counter.data, BigInt64Array.of(2n));
  await r.close();

  if (hasReferenceReader()) {
    const m = runReferenceReader(dir);
    for (const c of m.checkpoints as Json[]) {
      assert.equal(c.all_crc32c_verified, true);
      assert.equal(c.index_rebuild_identical, true);
      assert.deepEqual(c.object_graph.key_derivation_mismatches, []);
      assert.deepEqual(c.object_graph.unreachable_nodes, []);
    }
  }
});

test("write() neither counts nor touches the state file", async () => {
  const dir = tempDir();
  const ckpt = new Checkpoint({ embedding: new FakeTrackable(specs()) });
  assert.equal(await ckpt.write(join(dir, "manual")), join(dir, "manual"));
  assert.equal(ckpt.saveCounter, 0);
  assert.equal(existsSync(join(dir, "checkpoint")), false);
  assert.equal(await latestCheckpoint(dir), undefined);
});

test("restore from a directory, a prefix or an .index path; save_counter comes back", async () => {
  const dir = tempDir();
  const src = new FakeTrackable(specs());
  const saver = new Checkpoint({ embedding: src });
  await saver.save(join(dir, "ckpt"));
  src.values.get("video")!.fill(9);
  await saver.save(join(dir, "ckpt"));
  for (const path of [dir, join(dir, "ckpt-2"), join(dir, "ckpt-2.index")]) {
    const dst = new FakeTrackable(specs(), false);
    const ckpt = new Checkpoint({ embedding: dst });
    const result = await ckpt.restore(path);
    assert.equal(result.path, join(dir, "ckpt-2"));
    assert.equal(ckpt.saveCounter, 2);
    assert.deepEqual(dst.values.get("video"), new Float32Array(32).fill(9));
    assert.deepEqual(dst.values.get("video/accumulators"), src.values.get("video/accumulators"));
    assert.ok(dst.values.get("video")!.buffer instanceof SharedArrayBuffer);
  }
  const older = new FakeTrackable(specs(), false);
  await new Checkpoint({ embedding: older }).restore(join(dir, "ckpt-1"));
  assert.equal(older.values.get("video")![1], 0.5);
});

test("local names with '.' and '/' are escaped like TF", async () => {
  const dir = tempDir();
  const t = new FakeTrackable([spec("a.b", [1]), spec("a.b/slot", [1])]);
  await new Checkpoint({ "my.model": t }).write(join(dir, "x"));
  const r = await BundleReader.open(join(dir, "x"));
  assert.deepEqual(
    (await listCheckpointVariables(r)).map((v) => [v.key, v.objectPath]),
    [
      ["_CHECKPOINTABLE_OBJECT_GRAPH", undefined],
      ["my..model/a..b.Sslot/.ATTRIBUTES/VARIABLE_VALUE", "(root).my.model.a.b/slot"],
      ["my..model/a..b/.ATTRIBUTES/VARIABLE_VALUE", "(root).my.model.a.b"],
      ["save_counter/.ATTRIBUTES/VARIABLE_VALUE", "(root).save_counter"],
    ],
  );
  await r.close();
  const back = new FakeTrackable([spec("a.b", [1]), spec("a.b/slot", [1])], false);
  await new Checkpoint({ "my.model": back }).restore(join(dir, "x"));
  assert.deepEqual(back.values.get("a.b/slot"), t.values.get("a.b/slot"));
});

test("several trackables are tracked in sorted order and restore independently", async () => {
  const dir = tempDir();
  const a = new FakeTrackable([spec("w", [2])]);
  const b = new FakeTrackable([spec("w", [3])]);
  await new Checkpoint({ zeta: a, alpha: b }).save(join(dir, "ckpt"));
  const r = await BundleReader.open(join(dir, "ckpt-1"));
  assert.deepEqual(
    r.listVariables().map((v) => v.key),
    [
      "_CHECKPOINTABLE_OBJECT_GRAPH",
      "alpha/w/.ATTRIBUTES/VARIABLE_VALUE",
      "save_counter/.ATTRIBUTES/VARIABLE_VALUE",
      "zeta/w/.ATTRIBUTES/VARIABLE_VALUE",
    ],
  );
  await r.close();
  // only zeta here: alpha's keys are simply unused
  const z = new FakeTrackable([spec("w", [2])], false);
  const result = await new Checkpoint({ zeta: z }).restore(dir);
  assert.deepEqual(result.unusedKeys, ["alpha/w/.ATTRIBUTES/VARIABLE_VALUE"]);
  assert.deepEqual(z.values.get("w"), a.values.get("w"));
});

test("restore failures change nothing and name the key", async () => {
  const dir = tempDir();
  await new Checkpoint({ embedding: new FakeTrackable(specs()) }).save(join(dir, "ckpt"));

  const wrongShape = new FakeTrackable([spec("video", [8, 5])]);
  const before = wrongShape.values.get("video")!.slice();
  await assert.rejects(
    new Checkpoint({ embedding: wrongShape }).restore(dir),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      /key "embedding\/video\/\.ATTRIBUTES\/VARIABLE_VALUE".*\[8, 4\].*\[8, 5\]/.test((e as Error).message),
  );
  assert.deepEqual(wrongShape.values.get("video"), before);
  assert.equal(wrongShape.restoreCalls, 0);

  const missing = new FakeTrackable([spec("video", [8, 4]), spec("user", [3, 4])]);
  await assert.rejects(
    new Checkpoint({ embedding: missing }).restore(dir),
    (e: unknown) =>
      e instanceof NotFoundError &&
      /embedding\/user\/\.ATTRIBUTES\/VARIABLE_VALUE/.test((e as Error).message),
  );
  assert.equal(missing.restoreCalls, 0);

  await assert.rejects(new Checkpoint({ embedding: missing }).restore(join(dir, "nope")), NotFoundError);
  await assert.rejects(new Checkpoint({ embedding: missing }).restore(tempDir()), NotFoundError);

  // corrupt the accumulators (read second): the table read first must not be installed either
  const data = join(dir, "ckpt-1.data-00000-of-00001");
  const bytes = readFileSync(data);
  const r = await BundleReader.open(join(dir, "ckpt-1"));
  const acc = r.entry("embedding/video.Saccumulators/.ATTRIBUTES/VARIABLE_VALUE");
  await r.close();
  bytes[acc.offset + 5] ^= 0xff;
  const { writeFileSync } = await import("node:fs");
  writeFileSync(data, bytes);
  const victim = new FakeTrackable(specs());
  const snapshot = victim.values.get("video")!.slice();
  await assert.rejects(
    new Checkpoint({ embedding: victim }).restore(dir),
    (e: unknown) => e instanceof DataLossError && /video\.Saccumulators/.test((e as Error).message),
  );
  assert.deepEqual(victim.values.get("video"), snapshot);
  assert.equal(victim.restoreCalls, 0);
});

test("constructor and save validate their input", async () => {
  assert.throws(() => new Checkpoint({ x: {} as never }), InvalidArgumentError);
  assert.throws(() => new Checkpoint({ save_counter: new FakeTrackable([]) }), /reserved/);
  const unbuilt = new FakeTrackable(specs(), false);
  await assert.rejects(
    new Checkpoint({ embedding: unbuilt }).save(join(tempDir(), "c")),
    FailedPreconditionError,
  );
});

test("progress reports reach the total", async () => {
  const dir = tempDir();
  await new Checkpoint({ embedding: new FakeTrackable(specs()) }).save(join(dir, "ckpt"));
  const seen: [number, number][] = [];
  await new Checkpoint({ embedding: new FakeTrackable(specs(), false) }).restore(dir, {
    onProgress: (done, total) => seen.push([done, total]),
  });
  assert.deepEqual(seen.at(-1), [256, 256]);
});
