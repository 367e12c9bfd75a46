export {
  TPUEmbeddingForServing,
  type TPUEmbeddingForServingOptions,
  type LookupOptions,
  type EmbeddingVariable,
} from "./tpu-embedding-for-serving.js";
export { servingEmbeddingLookup, type TableValues } from "./serving-embedding-lookup.js";
export type { StorageKind } from "../kernels/quantized-rows.js";
export type { FeatureStructure, InputStructure, LookupResult, Tensor } from "./feature-structure.js";
// For src/serving (not exported from the package root).
export { flattenFeatures } from "./feature-structure.js";
export type { FlatFeature, FlatOutput } from "./small-lookup.js";
export { describeReplica, embeddingReplica, type EmbeddingReplicaSpec } from "./embedding-replica.js";
export { StoreBackedEmbedding, type RowRequest, type RowSource } from "./store-embedding.js";
