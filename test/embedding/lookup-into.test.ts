import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { DenseTensor, InvalidArgumentError, OutOfRangeError, RaggedTensor } from "../../src/index.js";
import { lookupPool } from "../../src/kernels/lookup-pool.js";
import { nativeAddon } from "../../src/kernels/native-addon.js";
import { assertSameBits, inputs, makeEmbedding, VOCAB } from "./every-kind.js";

type Result = Record<string, DenseTensor<Float32Array>>;

test("into: the caller's tensors are filled and returned, bit-identical to fresh outputs", () => {
  const embedding = makeEmbedding(1);
  for (const batch of [1, 40]) {
    const first = inputs(batch);
    const second = inputs(batch);
    const into = embedding.embeddingLookup(first.features, first.weights) as Result;
    const expected = embedding.embeddingLookup(second.features, second.weights) as Result;
    const before = into.sum.data.slice();
    const result = embedding.embeddingLookup(second.features, second.weights, {
      into: into as never,
    }) as Result;
    for (const key of Object.keys(into)) assert.equal(result[key], into[key], `${key}: the same tensor`);
    assert.notDeepEqual(into.sum.data, before, "the outputs were overwritten");
    assertSameBits(result, expected, `into@${batch}`);
  }
  embedding.dispose();
});

test("createOutputs: one SharedArrayBuffer, written in place by every thread, reusable across lookups", async () => {
  const one = makeEmbedding(1);
  const two = makeEmbedding(2);
  const batches = [inputs(2500), inputs(2500)];
  const into = two.createOutputs(batches[0].features, batches[0].weights) as Result;
  const buffers = new Set(Object.values(into).map((t) => t.data.buffer));
  assert.equal(buffers.size, 1);
  assert.ok([...buffers][0] instanceof SharedArrayBuffer);
  for (const t of Object.values(into)) assert.ok(t.data.every((v) => v === 0));
  for (const { features, weights } of [...batches, ...batches]) {
    const expected = one.embeddingLookup(features, weights) as Result;
    assertSameBits(
      two.embeddingLookup(features, weights, { into: into as never }) as Result,
      expected,
      "sync",
    );
    assertSameBits(
      (await two.embeddingLookupAsync(features, weights, { into: into as never })) as Result,
      expected,
      "async",
    );
  }
  // The workers received the shared output buffer (so they wrote their pieces in place, not via a copy).
  const held = await lookupPool().workerOutputs();
  assert.ok(
    held.some((ids) => ids.length > 0),
    "a worker holds the caller's output buffer",
  );
  one.dispose();
  two.dispose();
});

test("into is checked before any kernel runs: wrong shape, missing or extra outputs, bad ids write nothing", () => {
  const embedding = makeEmbedding(1);
  const { features, weights } = inputs(5);
  const into = embedding.createOutputs(features, weights) as Result;
  for (const t of Object.values(into)) t.data.fill(Number.NaN);
  const untouched = () => Object.values(into).every((t) => t.data.every((v) => Number.isNaN(v)));
  const invalid = (pattern: RegExp) => (e: unknown) =>
    e instanceof InvalidArgumentError && pattern.test(e.message);

  const wrongShape = { ...into, mean: new DenseTensor(new Float32Array(6 * 8), [6, 8]) };
  assert.throws(
    () => embedding.embeddingLookup(features, weights, { into: wrongShape as never }),
    invalid(
      /into at mean must be a float32 DenseTensor of shape \[5, 8\], got a float32 DenseTensor of shape \[6, 8\]/,
    ),
  );
  const wrongType = { ...into, mean: new DenseTensor(new Int32Array(5 * 8), [5, 8]) };
  assert.throws(
    () => embedding.embeddingLookup(features, weights, { into: wrongType as never }),
    invalid(/int32 DenseTensor/),
  );
  const { seq: _seq, ...missing } = into;
  assert.throws(
    () => embedding.embeddingLookup(features, weights, { into: missing as never }),
    invalid(/into has no output tensor for input seq/),
  );
  const { seq, ...fewer } = features;
  void seq;
  assert.throws(
    () => embedding.embeddingLookup(fewer, weights, { into: into as never }),
    invalid(/into has an output tensor at seq, where there is no input/),
  );
  assert.throws(
    () => embedding.embeddingLookup(features, weights, { into: { ...into, nope: into.sum } as never }),
    invalid(/into does not have the structure of the inputs: .*nope/),
  );
  assert.throws(
    () =>
      embedding.embeddingLookup(
        { ...features, sum: RaggedTensor.fromNested([[1], [2], [3], [4], [VOCAB]]) },
        weights,
        { into: into as never },
      ),
    OutOfRangeError,
  );
  assert.throws(
    () => embedding.embeddingLookup(features, weights, 7 as never),
    invalid(/Lookup options must be an object/),
  );
  assert.ok(untouched(), "no output was written by a failed lookup");
  embedding.dispose();
});

test("workers drop a shared output buffer once the caller's is garbage collected", () => {
  const script = `
    import { FeatureConfig, RaggedTensor, TableConfig, TPUEmbeddingForServing } from ${JSON.stringify(
      fileURLToPath(new URL("../../src/index.js", import.meta.url)),
    )};
    import { lookupPool } from ${JSON.stringify(fileURLToPath(new URL("../../src/kernels/lookup-pool.js", import.meta.url)))};
    const table = new TableConfig({ vocabularySize: 10, dim: 4, name: "t" });
    let e = new TPUEmbeddingForServing({ featureConfig: { f: new FeatureConfig({ table }) }, threads: 2, seed: 1 });
    const ids = RaggedTensor.fromRowSplits(new Int32Array(40000).fill(3), Int32Array.from({ length: 10001 }, (_, i) => 4 * i));
    let into = e.createOutputs({ f: ids });
    e.embeddingLookup({ f: ids }, undefined, { into });
    const held = (await lookupPool().workerOutputs()).flat().length;
    // The embedding's fast path remembers its last outputs until its next lookup: drop both.
    e.dispose();
    into = null;
    e = null;
    for (let i = 0; i < 20 && (await lookupPool().workerOutputs()).flat().length > 0; i++) {
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 20));
    }
    console.log(held, (await lookupPool().workerOutputs()).flat().length);
  `;
  const output = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(output.trim(), "1 0");
});

test("createOutputs: a large output buffer is backed by transparent huge pages (Linux), unless turned off", (t) => {
  const thp = (() => {
    try {
      return readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8");
    } catch {
      return "";
    }
  })();
  if (!/\[(always|madvise)\]/.test(thp) || nativeAddon() === null) {
    t.skip("no transparent huge pages or no native addon here");
    return;
  }
  // A sequence feature, batch 1024 x 40 positions x dim 64: a 10.5 MB output (at least four whole 2 MiB
  // pages inside it). The child reports the AnonHugePages its process gained once the output was written.
  const script = `
    import { readFileSync } from "node:fs";
    import { FeatureConfig, RaggedTensor, TableConfig, TPUEmbeddingForServing } from ${JSON.stringify(
      fileURLToPath(new URL("../../src/index.js", import.meta.url)),
    )};
    const huge = () => +/AnonHugePages:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/smaps_rollup", "utf8"))[1];
    const table = new TableConfig({ vocabularySize: 8, dim: 64, name: "t" });
    const e = new TPUEmbeddingForServing({
      featureConfig: { f: new FeatureConfig({ table, maxSequenceLength: 40 }) }, seed: 1,
    });
    e.build();
    const ids = RaggedTensor.fromRowSplits(new Int32Array(1024).fill(3), Int32Array.from({ length: 1025 }, (_, i) => i));
    const before = huge();
    const into = e.createOutputs({ f: ids });
    const out = e.embeddingLookup({ f: ids }, undefined, { into });
    console.log(JSON.stringify({ gainedKb: huge() - before, size: out.f.data.byteLength, first: out.f.data[0] }));
  `;
  const run = (hugePages: string) =>
    JSON.parse(
      execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, TPU_EMBEDDING_HUGE_PAGES: hugePages },
      }),
    ) as { gainedKb: number; size: number; first: number };
  const on = run("1");
  assert.equal(on.size, 1024 * 40 * 64 * 4);
  assert.notEqual(on.first, 0, "the lookup wrote the output");
  assert.ok(on.gainedKb >= 4 * 2048, `huge pages gained: ${on.gainedKb} kB`);
  const off = run("0");
  assert.ok(off.gainedKb < 2048, `huge pages gained with TPU_EMBEDDING_HUGE_PAGES=0: ${off.gainedKb} kB`);
});
