import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { describeReplica, embeddingReplica } from "../../src/embedding/embedding-replica.js";
import {
  FailedPreconditionError,
  FeatureConfig,
  TableConfig,
  TPUEmbeddingForServing,
} from "../../src/index.js";
import type { StorageKind } from "../../src/kernels/quantized-rows.js";
import { replicaInputs, replicaOutputs } from "./replica-inputs.js";

function embedding(storage: StorageKind): TPUEmbeddingForServing {
  const video = new TableConfig({ vocabularySize: 500, dim: 16, combiner: "mean", name: "video" });
  const user = new TableConfig({ vocabularySize: 40, dim: 4, combiner: "sqrtn", name: "user" });
  return new TPUEmbeddingForServing({
    featureConfig: {
      watched: new FeatureConfig({ table: video }),
      history: [new FeatureConfig({ table: video, maxSequenceLength: 3 })],
      user: { friends: new FeatureConfig({ table: user, outputShape: [2] }) },
    },
    optimizer: null,
    seed: 11,
    tableStorage: { video: storage },
  });
}

function lookupInWorker(spec: unknown): Promise<Record<string, Float32Array>> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL("./replica-worker.js", import.meta.url), { workerData: spec });
    w.once("message", (m: Record<string, Float32Array>) => void w.terminate().then(() => resolve(m)));
    w.once("error", reject);
  });
}

/** The float32 values' bit patterns (bit for bit: -0 and NaN payloads count). */
function bits(values: Float32Array): number[] {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

for (const storage of ["float32", "int8", "float16"] as const) {
  test(`a replica in another thread looks up the original's ${storage} tables bit for bit`, async () => {
    const original = embedding(storage);
    original.build();
    const want = replicaOutputs(original.embeddingLookup(replicaInputs() as never));
    const spec = describeReplica(original);
    const got = await lookupInWorker(spec);
    for (const name of ["watched", "history", "friends"]) {
      assert.deepEqual(bits(got[name]), bits(want[name]), name);
    }
    assert.equal(embeddingReplica(spec).tableBytes, original.tableBytes);
  });
}

test("a replica reads the original's memory (no copy): a write through the original shows in the replica's lookups", () => {
  const original = embedding("float32");
  original.build();
  const replica = embeddingReplica(describeReplica(original));
  const before = replicaOutputs(replica.embeddingLookup(replicaInputs() as never)).friends.slice();
  original.variable("user").value.data.fill(0.5);
  const after = replicaOutputs(replica.embeddingLookup(replicaInputs() as never)).friends;
  assert.notDeepEqual(after, before);
  // sqrtn of the bag [1, 2]: (0.5 + 0.5) / sqrt(2); of [3]: 0.5; reshaped to outputShape [2].
  assert.deepEqual(Array.from(after), [...Array(4).fill(Math.fround(1 / Math.SQRT2)), ...Array(4).fill(0.5)]);
});

test("only a built embedding with its tables in memory can be described", () => {
  assert.throws(() => describeReplica(embedding("float32")), FailedPreconditionError);
  const disposed = embedding("float32");
  disposed.build();
  disposed.dispose();
  assert.throws(() => describeReplica(disposed), FailedPreconditionError);
});
