import type { FeatureConfig } from "../../config/feature-config.js";
import { flattenFeatures } from "../../embedding/index.js";
import { InvalidArgumentError } from "../../errors.js";
import { excerpt } from "../excerpt.js";
import type { ServableFeature, ServableModel } from "../model-registry.js";

/** A model's features by path, with their configs (for rules ServableFeature does not carry). */
export interface ModelFeatures {
  readonly byName: ReadonlyMap<string, ServableFeature>;
  readonly configs: ReadonlyMap<string, FeatureConfig>;
}

const cache = new WeakMap<ServableModel, ModelFeatures>();

export function modelFeatures(model: ServableModel): ModelFeatures {
  let found = cache.get(model);
  if (found === undefined) {
    const configs = new Map(flattenFeatures(model.embedding.featureConfig).map((l) => [l.path, l.value]));
    found = { byName: new Map(model.features.map((f) => [f.name, f])), configs };
    cache.set(model, found);
  }
  return found;
}

/** The feature for an input name, or a 400 naming the input and the model's inputs. */
export function requireFeature(features: ModelFeatures, name: string): ServableFeature {
  const feature = features.byName.get(name);
  if (feature === undefined) {
    throw new InvalidArgumentError(
      `Input "${excerpt(name)}" is not a feature of this model. Inputs: ${[...features.byName.keys()].join(", ")}.`,
    );
  }
  return feature;
}
