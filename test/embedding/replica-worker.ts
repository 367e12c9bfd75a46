/** Worker for embedding-replica.test.ts: rebuilds the posted embedding and posts its lookup's outputs. */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { embeddingReplica, type EmbeddingReplicaSpec } from "../../src/embedding/embedding-replica.js";
import { replicaInputs, replicaOutputs } from "./replica-inputs.js";

// The test runner also loads every file under test/ on its own: nothing to do then.
if (!isMainThread) {
  const embedding = embeddingReplica(workerData as EmbeddingReplicaSpec);
  parentPort!.postMessage(replicaOutputs(embedding.embeddingLookup(replicaInputs() as never)));
}
