import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  Adagrad,
  Checkpoint,
  FeatureConfig,
  TableConfig,
  TpuEmbeddingError,
  TPUEmbeddingForServing,
} from "../../../src/index.js";
import { FUZZ_SCALE, FUZZ_SEED, fuzzRandom, rssMiB, type Random } from "./fuzz-support.js";

/**
 * Seeded fuzzing of checkpoint bytes (issue 14, item 7): a real embedding checkpoint (two tables, Adagrad
 * slots, object graph) with bytes of its index or data file changed, varint-sized fields set to
 * extremes, cut or extended, restored again and again. Every restore either succeeds with exactly the
 * saved values or throws a TpuEmbeddingError (DATA_LOSS, NOT_FOUND, INVALID_ARGUMENT...): never another
 * error, a crash or a huge allocation (memory stays bounded).
 */
const RESTORES = Math.round(1000 * FUZZ_SCALE);

function features() {
  const a = new TableConfig({ vocabularySize: 64, dim: 4, combiner: "sum", name: "a" });
  const b = new TableConfig({ vocabularySize: 16, dim: 2, combiner: "mean", name: "b" });
  return { x: new FeatureConfig({ table: a }), y: { z: new FeatureConfig({ table: b }) } };
}

function mutate(r: Random, valid: Buffer): Buffer {
  let bytes = Buffer.from(valid);
  const steps = 1 + r.int(3);
  for (let s = 0; s < steps; s++) {
    switch (r.int(5)) {
      case 0:
        if (bytes.length > 0) bytes[r.int(bytes.length)] = r.int(256);
        break;
      case 1:
        if (bytes.length > 0) bytes[r.int(bytes.length)] ^= 1 << r.int(8);
        break;
      case 2: {
        // a varint or fixed field set to an extreme (sizes, offsets, shapes, counts)
        if (bytes.length < 5) break;
        const at = r.int(bytes.length - 4);
        const value = r.pick([
          [0xff, 0xff, 0xff, 0xff, 0x0f],
          [0x80, 0x80, 0x80, 0x80, 0x08],
          [0, 0, 0, 0, 0],
        ]);
        for (let i = 0; i < 5; i++) bytes[at + i] = value[i];
        break;
      }
      case 3:
        bytes = bytes.subarray(0, r.int(bytes.length + 1));
        break;
      default: {
        const extra = Buffer.alloc(1 + r.int(16));
        for (let i = 0; i < extra.length; i++) extra[i] = r.int(256);
        bytes = Buffer.concat([bytes, extra]);
      }
    }
  }
  return bytes;
}

test(`checkpoint bytes: ${RESTORES} seeded mutated restores give the saved values or a typed error`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tpu-embedding-ckpt-fuzz-"));
  try {
    const trainer = new TPUEmbeddingForServing({
      featureConfig: features(),
      optimizer: new Adagrad({ learningRate: 0.1 }),
      seed: 5,
    });
    trainer.build();
    const prefix = await new Checkpoint({ embedding: trainer }).save(join(dir, "ckpt"));
    const saved = new Map([...trainer.embeddingTables].map(([t, v]) => [t.name, Float32Array.from(v.data)]));
    const files = readdirSync(dir).filter((f) => f.startsWith(basename(prefix) + "."));
    const originals = new Map(files.map((f) => [f, readFileSync(join(dir, f))]));
    const r = fuzzRandom(FUZZ_SEED * 15485863 + 5);
    const counts = new Map<string, number>();
    const rssStart = rssMiB();
    for (let i = 0; i < RESTORES; i++) {
      const target = r.pick(files);
      for (const [f, bytes] of originals) {
        writeFileSync(join(dir, f), f === target ? mutate(r, bytes) : bytes);
      }
      const embedding = new TPUEmbeddingForServing({ featureConfig: features(), optimizer: null });
      let outcome: string;
      try {
        await new Checkpoint({ embedding }).restore(prefix);
        for (const [table, values] of embedding.embeddingTables) {
          assert.deepEqual(
            values.data,
            saved.get(table.name),
            `restore ${i} (${target}): table ${table.name}`,
          );
        }
        outcome = "restored";
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(
          e instanceof TpuEmbeddingError,
          `restore ${i} (${target} mutated): ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
        );
        outcome = e.code;
      } finally {
        embedding.dispose();
      }
      counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    }
    const rssEnd = rssMiB();
    console.log(
      `# checkpoint fuzz: ${RESTORES} restores (seed ${FUZZ_SEED}), ` +
        `${[...counts].map(([k, v]) => `${k}: ${v}`).join(", ")}; RSS ${rssStart.toFixed(0)} → ${rssEnd.toFixed(0)} MiB`,
    );
    assert.ok((counts.get("DATA_LOSS") ?? 0) > RESTORES / 4, "most corruptions are caught as DATA_LOSS");
    assert.ok(rssEnd < rssStart + 512, `RSS grew from ${rssStart.toFixed(0)} to ${rssEnd.toFixed(0)} MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
