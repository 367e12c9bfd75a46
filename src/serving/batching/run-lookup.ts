import type { FeatureStructure, FlatFeature, InputStructure, Tensor } from "../../embedding/index.js";
import { FeatureConfig } from "../../config/feature-config.js";
import { DenseTensor } from "../../tensor/dense-tensor.js";
import { RaggedTensor } from "../../tensor/ragged-tensor.js";
import { SparseTensor } from "../../tensor/sparse-tensor.js";
import { isPlainObject, joinPath } from "../../tensor/structure.js";
import { inlineLookupIds } from "../../flags.js";
import type { ServableModel } from "../model-registry.js";
import type { FeatureInput, FeatureOutput, PredictInputs, PredictOutputs } from "./feature-input.js";

/**
 * The one place the server calls the embedding, with the kernels on worker threads sharing the tables'
 * memory, so the event loop stays free to parse and answer other requests. Ragged and dense inputs go
 * flat to the batched route (typed arrays straight into the lookup batch: no tensor objects); what it
 * does not take (sparse inputs, inputs TF refuses) is built into tensors for `embeddingLookupAsync`,
 * whose planner decides TF's semantics and raises its exact errors.
 */
export async function runLookup(model: ServableModel, inputs: PredictInputs): Promise<PredictOutputs> {
  const flat = flatLookup(model, inputs);
  if (flat !== undefined) return flat;
  return tensorLookup(model, inputs);
}

/**
 * The batched route's answer, or `undefined` when it does not take these inputs. Lookups of fewer ids
 * than `inlineLookupIds()` (a request of the standard workload at batch 1 has ~270) run here, on the
 * event loop: they take 10-40 µs, less than handing them to a worker and back (a postMessage each way and
 * a thread wake-up; bench/results/2026-12-07-server-overheads.md).
 */
function flatLookup(
  model: ServableModel,
  inputs: PredictInputs,
): PredictOutputs | Promise<PredictOutputs> | undefined {
  const features: FlatFeature[] = [];
  let ids = 0;
  for (const [path, input] of inputs) {
    if (input.kind === "sparse") return undefined;
    ids += input.ids.length;
    features.push(
      input.kind === "ragged"
        ? { path, ids: input.ids, rowSplits: input.rowSplits, denseShape: [], weights: input.weights }
        : { path, ids: input.ids, rowSplits: null, denseShape: input.shape, weights: null },
    );
  }
  if (runsInline(ids)) {
    const outputs = model.embedding.lookupFlat(features);
    return outputs === undefined ? undefined : byPath(features, outputs);
  }
  const pending = model.embedding.lookupFlatAsync(features);
  if (pending === undefined) return undefined;
  return pending.then((outputs) => byPath(features, outputs));
}

/** Whether a lookup of `ids` ids runs on the calling thread (the event loop) rather than a worker. */
export function runsInline(ids: number): boolean {
  return ids < inlineLookupIds();
}

function byPath(features: readonly FlatFeature[], outputs: readonly FeatureOutput[]): PredictOutputs {
  const result = new Map<string, FeatureOutput>();
  for (let i = 0; i < features.length; i++) result.set(features[i].path, outputs[i]);
  return result;
}

async function tensorLookup(model: ServableModel, inputs: PredictInputs): Promise<PredictOutputs> {
  const features = new Map<string, Tensor>();
  const weights = new Map<string, Tensor>();
  for (const [name, input] of inputs) {
    const { ids, weight } = toTensors(input);
    features.set(name, ids);
    if (weight !== null) weights.set(name, weight);
  }
  const config = model.embedding.featureConfig;
  const featureTree = nest(config, features, "");
  const weightTree = weights.size > 0 ? nest(config, weights, "") : undefined;
  const result: unknown = await model.embedding.embeddingLookupAsync(featureTree, weightTree);
  const outputs = new Map<string, FeatureOutput>();
  for (const name of inputs.keys()) {
    const tensor = pick(config, result, name);
    outputs.set(name, { shape: tensor.shape, data: tensor.data });
  }
  return outputs;
}

function toTensors(input: FeatureInput): { ids: Tensor; weight: Tensor | null } {
  switch (input.kind) {
    case "ragged":
      return {
        ids: RaggedTensor.fromRowSplits(input.ids, input.rowSplits),
        weight: input.weights === null ? null : RaggedTensor.fromRowSplits(input.weights, input.rowSplits),
      };
    case "dense":
      return { ids: new DenseTensor(input.ids, input.shape), weight: null };
    case "sparse": {
      const { indices, denseShape } = input;
      return {
        ids: new SparseTensor({ indices, values: input.ids, denseShape }),
        weight:
          input.weights === null ? null : new SparseTensor({ indices, values: input.weights, denseShape }),
      };
    }
  }
}

/** Places path-keyed tensors into the feature structure's shape (only the branches that have inputs). */
function nest(node: FeatureStructure, leaves: ReadonlyMap<string, Tensor>, path: string): InputStructure {
  if (node instanceof FeatureConfig) return leaves.get(path);
  if (Array.isArray(node)) {
    const out: InputStructure[] = node.map((child, i) => nest(child, leaves, joinPath(path, i)));
    while (out.length > 0 && out[out.length - 1] === undefined) out.pop();
    return out.length === 0 ? undefined : out;
  }
  const out: Record<string, InputStructure> = {};
  for (const [key, child] of Object.entries(node as Record<string, FeatureStructure>)) {
    const value = nest(child, leaves, joinPath(path, key));
    if (value !== undefined) out[key] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** Follows a feature path through the lookup result, choosing index or key by the config's shape. */
function pick(config: FeatureStructure, result: unknown, path: string): DenseTensor<Float32Array> {
  let node: unknown = config;
  let value: unknown = result;
  for (const segment of path === "" ? [] : path.split("/")) {
    if (Array.isArray(node)) {
      node = node[Number(segment)];
      value = (value as unknown[])[Number(segment)];
    } else if (isPlainObject(node)) {
      node = node[segment];
      value = (value as Record<string, unknown>)[segment];
    }
  }
  return value as DenseTensor<Float32Array>;
}
