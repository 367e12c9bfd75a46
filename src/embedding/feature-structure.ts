import { FeatureConfig } from "../config/feature-config.js";
import { InvalidArgumentError } from "../errors.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import { RaggedTensor } from "../tensor/ragged-tensor.js";
import { SparseTensor } from "../tensor/sparse-tensor.js";
import { flattenWithPaths, isPlainObject, joinPath, typeName, type PathLeaf } from "../tensor/structure.js";

/** A nested structure of FeatureConfigs: one config, an array, or a plain object, nested freely. */
export type FeatureStructure =
  FeatureConfig | readonly FeatureStructure[] | { readonly [name: string]: FeatureStructure };

export type Tensor = DenseTensor | SparseTensor | RaggedTensor;

/** Inputs mirror (a subset of) the feature structure; `null`/`undefined` leaves are skipped. */
export type InputStructure =
  Tensor | null | undefined | readonly InputStructure[] | { readonly [name: string]: InputStructure };

/** The output of a lookup: the inputs' structure with every tensor replaced by its float32 embedding. */
export type LookupResult<T> = T extends Tensor
  ? DenseTensor<Float32Array>
  : T extends null | undefined
    ? T
    : T extends readonly (infer E)[]
      ? LookupResult<E>[]
      : T extends { readonly [name: string]: unknown }
        ? { [K in keyof T]: LookupResult<T[K]> }
        : never;

export function isTensor(value: unknown): value is Tensor {
  return value instanceof DenseTensor || value instanceof SparseTensor || value instanceof RaggedTensor;
}

export function flattenFeatures(structure: FeatureStructure): PathLeaf<FeatureConfig>[] {
  return flattenWithPaths(
    structure,
    (v): v is FeatureConfig => v instanceof FeatureConfig,
    (path, value) =>
      `featureConfig${path ? ` at "${path}"` : ""} is ${typeName(value)}; expected a FeatureConfig, an array or a plain object.`,
  );
}

/** One looked-up feature: where it is, its config, its input and optional weight. */
export interface MatchedFeature {
  readonly path: string;
  readonly feature: FeatureConfig;
  readonly input: Tensor;
  readonly weight: Tensor | null;
}

/**
 * Matches inputs (and weights) against the configured features, as TF >= 2.10 does: the inputs may be
 * any subset of the feature structure; an input where no feature is configured is an error. Returns the
 * matched leaves in TF's flatten order and a function that packs one result per leaf into the inputs'
 * structure.
 */
/** Puts per-leaf results (in `leaves` order) into one node of the inputs' structure. */
type Packer = (results: readonly unknown[]) => unknown;

export function matchInputs(
  features: FeatureStructure,
  inputs: unknown,
  weights: unknown,
): { leaves: MatchedFeature[]; pack: <R>(results: readonly R[]) => unknown } {
  const leaves: MatchedFeature[] = [];
  const build = (featureNode: unknown, inputNode: unknown, weightNode: unknown, path: string): Packer => {
    if (weightNode !== undefined && weightNode !== null) checkWeightShape(inputNode, weightNode, path);
    if (featureNode instanceof FeatureConfig) {
      if (!isTensor(inputNode)) {
        throw new InvalidArgumentError(
          `Input ${quote(path)} is type ${typeName(inputNode)}. DenseTensor, SparseTensor or RaggedTensor expected.`,
        );
      }
      const weight = weightNode ?? null;
      if (weight !== null && !isTensor(weight)) {
        throw new InvalidArgumentError(
          `Weight for ${quote(path)} is type ${typeName(weight)}. DenseTensor, SparseTensor or RaggedTensor expected.`,
        );
      }
      const index = leaves.length;
      leaves.push({ path, feature: featureNode, input: inputNode, weight });
      return (results) => results[index];
    }
    if (isTensor(inputNode)) {
      throw new InvalidArgumentError(
        `Inputs are not a subset of featureConfig: ${quote(path)} is a ${typeName(inputNode)} but the ` +
          `featureConfig there is a structure of features, not a FeatureConfig.`,
      );
    }
    if (Array.isArray(featureNode)) {
      if (!Array.isArray(inputNode)) throw structureMismatch(path, "an array", inputNode);
      if (inputNode.length > featureNode.length) {
        throw new InvalidArgumentError(
          `Inputs are not a subset of featureConfig: ${quote(path)} has ${inputNode.length} entries but only ` +
            `${featureNode.length} features are configured there.`,
        );
      }
      const children = inputNode.map((child, i) =>
        child === null || child === undefined
          ? () => child
          : build(
              featureNode[i],
              child,
              (weightNode as unknown[] | null | undefined)?.[i],
              joinPath(path, i),
            ),
      );
      return (results) => children.map((c) => c(results));
    }
    if (isPlainObject(featureNode)) {
      if (!isPlainObject(inputNode)) throw structureMismatch(path, "a plain object", inputNode);
      const keys = Object.keys(inputNode).sort();
      const children: [string, Packer][] = [];
      for (const key of keys) {
        const child = inputNode[key];
        if (!(key in featureNode)) {
          throw new InvalidArgumentError(
            `Inputs are not a subset of featureConfig: no feature is configured at ${quote(joinPath(path, key))}.`,
          );
        }
        if (child === null || child === undefined) {
          children.push([key, () => child]);
          continue;
        }
        const w = (weightNode as Record<string, unknown> | null | undefined)?.[key];
        children.push([key, build(featureNode[key], child, w, joinPath(path, key))]);
      }
      const byKey = new Map(children);
      return (results) => Object.fromEntries(Object.keys(inputNode).map((k) => [k, byKey.get(k)!(results)]));
    }
    throw new InvalidArgumentError(`featureConfig at ${quote(path)} is ${typeName(featureNode)}.`);
  };

  // One pass from the results to the inputs' structure (keys in the inputs' own order).
  const pack = build(features, inputs, weights, "") as <R>(results: readonly R[]) => unknown;
  return { leaves, pack };
}

/** Weights must have the inputs' structure (their leaves may be null). */
function checkWeightShape(inputNode: unknown, weightNode: unknown, path: string): void {
  if (isTensor(inputNode) || isTensor(weightNode)) return;
  if (Array.isArray(inputNode)) {
    if (!Array.isArray(weightNode) || weightNode.length !== inputNode.length) {
      throw new InvalidArgumentError(
        `Weights do not have the structure of the inputs at ${quote(path)}: expected an array of ` +
          `${inputNode.length} entries, got ${Array.isArray(weightNode) ? `${weightNode.length} entries` : typeName(weightNode)}.`,
      );
    }
    return;
  }
  if (isPlainObject(inputNode)) {
    if (!isPlainObject(weightNode)) {
      throw new InvalidArgumentError(
        `Weights do not have the structure of the inputs at ${quote(path)}: expected a plain object, got ${typeName(weightNode)}.`,
      );
    }
    for (const key of Object.keys(weightNode)) {
      if (!(key in inputNode) && weightNode[key] !== null && weightNode[key] !== undefined) {
        throw new InvalidArgumentError(
          `Weights do not have the structure of the inputs: weight ${quote(joinPath(path, key))} has no input.`,
        );
      }
    }
  }
}

function structureMismatch(path: string, expected: string, got: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    `Inputs are not a subset of featureConfig: at ${quote(path)} the featureConfig is ${expected} but the ` +
      `input is ${typeName(got)}.`,
  );
}

export function quote(path: string): string {
  return path === "" ? "(root)" : path;
}
