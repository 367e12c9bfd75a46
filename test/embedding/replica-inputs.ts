/** The inputs embedding-replica.test.ts and its worker look up, and the outputs they compare. */
import { RaggedTensor } from "../../src/index.js";

export const BAGS = { watched: [[1, 2, 3], [499], []], history: [[5, 6, 7, 8], [9]], friends: [[1, 2], [3]] };

export function replicaInputs(): unknown {
  return {
    watched: RaggedTensor.fromNested(BAGS.watched),
    history: [RaggedTensor.fromNested(BAGS.history)],
    user: { friends: RaggedTensor.fromNested(BAGS.friends) },
  };
}

interface Out {
  watched: { data: Float32Array };
  history: { data: Float32Array }[];
  user: { friends: { data: Float32Array } };
}

/** Every output's values, by feature. */
export function replicaOutputs(result: unknown): Record<string, Float32Array> {
  const out = result as Out;
  return { watched: out.watched.data, history: out.history[0].data, friends: out.user.friends.data };
}
