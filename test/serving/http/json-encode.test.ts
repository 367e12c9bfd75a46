import { test } from "node:test";
import assert from "node:assert/strict";
import { FeatureConfig, RaggedTensor, startServer, TableConfig } from "../../../src/index.js";
import type { FeatureOutput } from "../../../src/serving/batching/feature-input.js";
import {
  answerValues,
  arenasKept,
  encodeJsonOffThread,
  OFF_THREAD_ENCODE_VALUES,
  type OffThreadAnswer,
  setBigArenaMs,
} from "../../../src/serving/http/json-encode.js";
import { encodeJsonPredict } from "../../../src/serving/http/json-response.js";
import { WorkerCalls } from "../../../src/serving/http/worker-calls.js";
import { seededRandom } from "../../support/seeded-random.js";
import { buildTestModel, TestRegistry } from "../support/test-registry.js";

/** Outputs of these shapes, filled with values of every magnitude (shared memory when `shared`). */
function outputs(shapes: [string, number[]][], seed: number, shared = false): Map<string, FeatureOutput> {
  const { rand } = seededRandom(seed);
  const map = new Map<string, FeatureOutput>();
  for (const [name, shape] of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = shared ? new Float32Array(new SharedArrayBuffer(4 * size)) : new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = (rand() - 0.5) * 10 ** Math.floor(rand() * 8 - 4);
    map.set(name, { shape, data });
  }
  return map;
}

/** encodeJsonOffThread's answer, which these sizes always get. */
async function offThread(
  format: "row" | "columnar",
  out: Map<string, FeatureOutput>,
  bare: boolean,
): Promise<OffThreadAnswer> {
  const answer = await encodeJsonOffThread(format, out, bare);
  assert.ok(answer !== null);
  return answer;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString();

test("the encode worker writes the same bytes as the main thread, every format and shape", async () => {
  const cases: [string, [string, number[]][], boolean][] = [
    [
      "two rank-2 outputs",
      [
        ["a", [64, 512]],
        ['é"name', [64, 100]],
      ],
      false,
    ],
    ["one bare rank-3 output", [["seq", [16, 40, 64]]], true],
    [
      "rank 1 and a zero dimension",
      [
        ["flat", [40_000]],
        ["none", [40_000, 0]],
      ],
      false,
    ],
  ];
  let seed = 1;
  for (const [what, shapes, bare] of cases) {
    for (const shared of [false, true]) {
      const out = outputs(shapes, seed++, shared);
      assert.ok(answerValues(out) >= OFF_THREAD_ENCODE_VALUES, what);
      for (const format of ["row", "columnar"] as const) {
        const answer = await offThread(format, out, bare);
        assert.equal(
          text(answer.bytes),
          encodeJsonPredict(format, out, bare),
          `${what}, ${format}, shared ${shared}`,
        );
        answer.release();
        answer.release(); // idempotent
      }
    }
  }
});

test("answers held unreleased keep their bytes while others are formatted; released arenas are reused", async () => {
  const shapes: [string, number[]][] = [["x", [64, 600]]];
  const held = await Promise.all([1, 2, 3].map((s) => offThread("columnar", outputs(shapes, s), false)));
  // More answers, concurrently, while the first three are held (as a socket still writing them would).
  const heldArenas = new Set(held.map((a) => a.bytes.buffer));
  let released = new Set<ArrayBufferLike>();
  for (let round = 0; round < 3; round++) {
    const more = await Promise.all(
      [4, 5, 6, 7, 8].map(async (s) => ({
        s,
        a: await offThread("row", outputs(shapes, s), false),
      })),
    );
    const arenas = new Set(more.map(({ a }) => a.bytes.buffer));
    assert.equal(arenas.size, more.length, "one arena an answer");
    for (const arena of arenas) assert.ok(!heldArenas.has(arena), "a held arena handed out again");
    // After the first round, answers reuse the arenas released before them.
    if (round > 0)
      assert.ok(
        [...arenas].some((arena) => released.has(arena)),
        "no arena reused",
      );
    for (const { s, a } of more) {
      assert.equal(text(a.bytes), encodeJsonPredict("row", outputs(shapes, s), false), `seed ${s}`);
      a.release();
    }
    released = arenas;
  }
  [1, 2, 3].forEach((s, i) => {
    assert.equal(text(held[i].bytes), encodeJsonPredict("columnar", outputs(shapes, s), false), `held ${s}`);
    held[i].release();
  });
});

test("arenas are kept for as many answers as clients wait for at once, up to 32 MiB of them", async () => {
  // 14 answers of 106,496 values (a batch-64 answer of the standard workload) in flight at once, then
  // written: 4 MiB arenas each (values and the text's bound), 56 MiB in all. Up to 32 MiB of arenas stay
  // for the next answers (four stayed before: half of 8 clients' answers took a fresh arena).
  const shapes: [string, number[]][] = [["x", [64, 1664]]];
  const answers = await Promise.all(
    Array.from({ length: 14 }, (_, s) => offThread("columnar", outputs(shapes, s), true)),
  );
  const size = answers[0].bytes.buffer.byteLength;
  assert.equal(size, 4 << 20);
  assert.equal(new Set(answers.map((a) => a.bytes.buffer)).size, 14, "one arena an answer");
  for (const a of answers) a.release();
  const kept = arenasKept();
  assert.ok(kept.smallBytes <= 32 << 20, `${kept.smallBytes} bytes kept`);
  assert.ok(kept.smallBytes > (32 << 20) - size, `${kept.smallBytes} bytes kept: the budget filled`);
  assert.ok(kept.small >= 8, `${kept.small} arenas kept`);
  // The next answers reuse them: eight at once, each taking one kept arena, none a fresh one.
  const again = await Promise.all(
    Array.from({ length: 8 }, (_, s) => offThread("columnar", outputs(shapes, s), true)),
  );
  assert.equal(arenasKept().small, kept.small - 8, "every answer in an arena kept");
  again.forEach((a, s) => {
    assert.equal(text(a.bytes), encodeJsonPredict("columnar", outputs(shapes, s), true), `seed ${s}`);
    a.release();
  });
});

test("an arena over 16 MiB is reused by the next big answer, and dropped once the keep period is over", async () => {
  setBigArenaMs(300);
  try {
    // 2,000,000 values: 8 MB of values and a 32 MB bound on the text.
    const big = new Map<string, FeatureOutput>([
      ["x", { shape: [2_000_000], data: new Float32Array(2_000_000) }],
    ]);
    const first = await offThread("columnar", big, true);
    const arena = first.bytes.buffer;
    assert.ok(arena.byteLength > 16 << 20, `${arena.byteLength} bytes`);
    first.release();
    const second = await offThread("columnar", big, true);
    assert.equal(second.bytes.buffer, arena, "the big arena reused");
    assert.equal(text(second.bytes), `{"outputs":[${"0.0,".repeat(1_999_999)}0.0]}`);
    second.release();
    await new Promise((r) => setTimeout(r, 500));
    const third = await offThread("columnar", big, true);
    assert.notEqual(third.bytes.buffer, arena, "the big arena dropped after the period");
    third.release();
  } finally {
    setBigArenaMs(10_000);
  }
});

test("an answer too big for the largest arena (64 MiB) is left to the caller", async () => {
  const huge = new Map<string, FeatureOutput>([
    ["x", { shape: [3_500_000], data: new Float32Array(3_500_000) }],
  ]);
  assert.equal(await encodeJsonOffThread("columnar", huge, true), null);
});

test("a big JSON answer through the server is the main thread's bytes; small ones stay on the event loop", async () => {
  const features = () => ({
    wide: new FeatureConfig({
      table: new TableConfig({ vocabularySize: 50, dim: 512, combiner: "mean", name: "w" }),
    }),
    narrow: new FeatureConfig({
      table: new TableConfig({ vocabularySize: 50, dim: 4, combiner: "sum", name: "n" }),
    }),
  });
  const model = await buildTestModel(1, 7, features, "big");
  const registry = new TestRegistry("big");
  registry.add(model);
  const server = await startServer({ registry, port: 0, batching: { enabled: false } });
  try {
    for (const batch of [80, 2]) {
      const bags = Array.from({ length: batch }, (_, b) => [b % 50, (3 * b + 1) % 50]);
      const response = await fetch(`${server.url}/v1/models/big:predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs: { wide: bags, narrow: bags } }),
      });
      assert.equal(response.status, 200);
      const result = model.embedding.embeddingLookup({
        wide: RaggedTensor.fromNested(bags),
        narrow: RaggedTensor.fromNested(bags),
      }) as Record<string, { shape: readonly number[]; data: Float32Array }>;
      const expected = new Map<string, FeatureOutput>([
        ["wide", { shape: [...result.wide.shape], data: result.wide.data }],
        ["narrow", { shape: [...result.narrow.shape], data: result.narrow.data }],
      ]);
      assert.equal(answerValues(expected) >= OFF_THREAD_ENCODE_VALUES, batch === 80);
      assert.equal(await response.text(), encodeJsonPredict("columnar", expected, false), `batch ${batch}`);
    }
  } finally {
    await server.close();
  }
});

test("WorkerCalls: a worker that exits rejects its pending calls, and the next call starts a new one", async () => {
  const calls = new WorkerCalls<{ id: number; value: unknown }>(
    new URL("../../support/echo-worker.js", import.meta.url),
    "echo",
  );
  assert.deepEqual((await calls.call({ value: [1, "a"] })).value, [1, "a"]);
  const pending = calls.call({ value: "never" }).then(
    (r) => r.value,
    (e: Error) => e.message,
  );
  await assert.rejects(calls.call({ exit: 3 }), /The echo worker exited with code 3\./);
  // The call posted before the exit was answered or rejected, never left hanging.
  assert.ok(["never", "The echo worker exited with code 3."].includes((await pending) as string));
  assert.equal((await calls.call({ value: 42 })).value, 42);
});
