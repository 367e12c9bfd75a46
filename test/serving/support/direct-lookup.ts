import { DenseTensor, RaggedTensor, SparseTensor, type ServableModel } from "../../../src/index.js";
import type {
  FeatureInput,
  FeatureOutput,
  PredictInputs,
  PredictOutputs,
} from "../../../src/serving/batching/feature-input.js";

/**
 * The library's own answer to decoded predict inputs: one synchronous `embeddingLookup` of the same
 * tensors on the model's embedding (no batching, no workers, no server), outputs by feature path.
 */
export function directLookup(model: ServableModel, inputs: PredictInputs): PredictOutputs {
  const features: Record<string, unknown> = {};
  const weights: Record<string, unknown> = {};
  let weighted = false;
  for (const [name, input] of inputs) {
    const { ids, weight } = tensors(input);
    place(features, name, ids);
    if (weight !== null) {
      place(weights, name, weight);
      weighted = true;
    }
  }
  const result = model.embedding.embeddingLookup(features as never, weighted ? weights : undefined);
  const out = new Map<string, FeatureOutput>();
  for (const name of inputs.keys()) {
    let node: unknown = result;
    for (const key of name.split("/")) node = (node as Record<string, unknown>)[key];
    const tensor = node as DenseTensor<Float32Array>;
    out.set(name, { shape: tensor.shape, data: tensor.data });
  }
  return out;
}

function place(tree: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split("/");
  let node = tree;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]] = value;
}

function tensors(input: FeatureInput): { ids: unknown; weight: unknown } {
  switch (input.kind) {
    case "ragged":
      return {
        ids: RaggedTensor.fromRowSplits(input.ids, input.rowSplits),
        weight: input.weights === null ? null : RaggedTensor.fromRowSplits(input.weights, input.rowSplits),
      };
    case "dense":
      return { ids: new DenseTensor(input.ids, input.shape), weight: null };
    case "sparse":
      return {
        ids: new SparseTensor({ indices: input.indices, values: input.ids, denseShape: input.denseShape }),
        weight:
          input.weights === null
            ? null
            : new SparseTensor({
                indices: input.indices,
                values: input.weights,
                denseShape: input.denseShape,
              }),
      };
  }
}
