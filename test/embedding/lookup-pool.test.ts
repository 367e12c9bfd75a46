import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  DenseTensor,
  FailedPreconditionError,
  InvalidArgumentError,
  OutOfRangeError,
  RaggedTensor,
  TPUEmbeddingForServing,
} from "../../src/index.js";
import { lookupPool } from "../../src/kernels/lookup-pool.js";
import { assertSameBits, inputs, makeEmbedding, VOCAB } from "./every-kind.js";

test("threads option: integers >= 1 only, default 1", () => {
  for (const bad of [0, -1, 1.5, Number.NaN, "2"]) {
    assert.throws(
      () =>
        new TPUEmbeddingForServing({ featureConfig: makeEmbedding(1).featureConfig, threads: bad as number }),
      (e: unknown) => e instanceof InvalidArgumentError && /threads must be an integer >= 1/.test(e.message),
    );
  }
  assert.equal(makeEmbedding(1).threads, 1);
  assert.equal(makeEmbedding(3).threads, 3);
});

test("threads > 1: large batches split across threads give bit-identical results to 1 thread", () => {
  const one = makeEmbedding(1);
  const two = makeEmbedding(2);
  const three = makeEmbedding(3);
  for (const batch of [1, 7, 700, 2500]) {
    const { features, weights } = inputs(batch);
    const expected = one.embeddingLookup(features, weights) as Record<string, DenseTensor>;
    assertSameBits(
      two.embeddingLookup(features, weights) as Record<string, DenseTensor>,
      expected,
      `2@${batch}`,
    );
    assertSameBits(
      three.embeddingLookup(features, weights) as Record<string, DenseTensor>,
      expected,
      `3@${batch}`,
    );
  }
  for (const e of [one, two, three]) e.dispose();
});

test("embeddingLookupAsync equals embeddingLookup, also with many concurrent calls", async () => {
  const sync = makeEmbedding(1);
  const pooled = makeEmbedding(2);
  const cases = [1, 3, 900, 2000].map((batch) => inputs(batch));
  const expected = cases.map(({ features, weights }) => sync.embeddingLookup(features, weights));
  const results = await Promise.all(
    [...cases, ...cases, ...cases].map(({ features, weights }) =>
      pooled.embeddingLookupAsync(features, weights),
    ),
  );
  results.forEach((r, i) =>
    assertSameBits(
      r as Record<string, DenseTensor>,
      expected[i % cases.length] as Record<string, DenseTensor>,
      `call ${i}`,
    ),
  );
  // The plans of the latest started lookup are kept for training, as with the synchronous call.
  assert.equal(pooled.lastLookupPlans?.inputs, cases[cases.length - 1].features);
  sync.dispose();
  pooled.dispose();
});

test("embeddingLookupAsync rejects with the synchronous call's validation errors", async () => {
  const embedding = makeEmbedding(2);
  const { features } = inputs(4);
  await assert.rejects(
    embedding.embeddingLookupAsync({ ...features, sum: RaggedTensor.fromNested([[1, VOCAB]]) }),
    OutOfRangeError,
  );
  await assert.rejects(
    embedding.embeddingLookupAsync(features, { seq: RaggedTensor.fromNested([[1]], "float32") }),
    InvalidArgumentError,
  );
  embedding.dispose();
});

test("dispose is idempotent, workers drop the tables, and later lookups fail", async () => {
  const embedding = makeEmbedding(2);
  const { features, weights } = inputs(3000);
  await embedding.embeddingLookupAsync(features, weights);
  embedding.embeddingLookup(features, weights);
  const held = (await lookupPool().workerSets()).flat();
  assert.ok(held.length > 0, "some worker holds the embedding's tables while it is live");
  embedding.dispose();
  embedding.dispose();
  assert.equal(embedding.isDisposed, true);
  const after = await lookupPool().workerSets();
  for (const sets of after) for (const s of held) assert.ok(!sets.includes(s), `worker still holds set ${s}`);
  assert.throws(() => embedding.embeddingLookup(features), FailedPreconditionError);
  await assert.rejects(embedding.embeddingLookupAsync(features), FailedPreconditionError);
});

test("pool workers do not keep the process alive (sync-only and async lookups)", () => {
  for (const call of ["e.embeddingLookup({ f: ids })", "await e.embeddingLookupAsync({ f: ids })"]) {
    const script = `
      import { FeatureConfig, RaggedTensor, TableConfig, TPUEmbeddingForServing } from ${JSON.stringify(
        fileURLToPath(new URL("../../src/index.js", import.meta.url)),
      )};
      const table = new TableConfig({ vocabularySize: 10, dim: 4, name: "t" });
      const e = new TPUEmbeddingForServing({ featureConfig: { f: new FeatureConfig({ table }) }, threads: 2, seed: 1 });
      const ids = RaggedTensor.fromRowSplits(new Int32Array(40000).fill(3), Int32Array.from({ length: 10001 }, (_, i) => 4 * i));
      const r = ${call};
      console.log(r.f.shape.join("x"));
    `;
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(output.trim(), "10000x4", call);
  }
});
