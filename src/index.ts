/**
 * tpu-embedding: serve TPU-trained TensorFlow embedding tables on CPU with TensorFlow's exact
 * `TPUEmbeddingForServing` semantics. This file is the package's only public entry point.
 */
export {
  TableConfig,
  FeatureConfig,
  Optimizer,
  SGD,
  Adagrad,
  AdagradMomentum,
  Adam,
  FTRL,
  truncatedNormal,
  constant,
  zeros,
  ones,
  COMBINERS,
  MAX_VOCABULARY_SIZE,
  type Combiner,
  type TableConfigOptions,
  type FeatureConfigOptions,
  type Initializer,
  type TruncatedNormalOptions,
  type LearningRate,
  type ClipValue,
  type SlotSpec,
  type SlotVariableCreationFn,
  type OptimizerOptions,
  type OptimizerWithSlotsOptions,
  type SGDOptions,
  type AdagradOptions,
  type AdagradMomentumOptions,
  type AdamOptions,
  type FTRLOptions,
} from "./config/index.js";

export {
  DenseTensor,
  SparseTensor,
  RaggedTensor,
  KeyedJaggedTensor,
  type KeyedJaggedTensorOptions,
  type SparseTensorOptions,
  type DType,
  type IdDType,
  type FloatDType,
  type IdArray,
  type FloatArray,
  type TensorData,
  type NestedArray,
} from "./tensor/index.js";

export {
  TPUEmbeddingForServing,
  servingEmbeddingLookup,
  type TPUEmbeddingForServingOptions,
  type LookupOptions,
  type EmbeddingVariable,
  type TableValues,
  type StorageKind,
  type FeatureStructure,
  type InputStructure,
  type LookupResult,
  type Tensor,
} from "./embedding/index.js";

export {
  TpuEmbeddingError,
  InvalidArgumentError,
  OutOfRangeError,
  NotFoundError,
  FailedPreconditionError,
  UnavailableError,
  DataLossError,
  UnimplementedError,
  InternalError,
  ResourceExhaustedError,
  type ErrorCode,
} from "./errors.js";

export type { Trackable, TrackableVariableSpec } from "./checkpoint/trackable.js";

// Checkpoints (tensor bundles, object graphs, Checkpoint save/restore).
export { Checkpoint, type RestoreOptions, type RestoreResult } from "./checkpoint/checkpoint.js";
export {
  latestCheckpoint,
  readCheckpointState,
  parseCheckpointState,
  formatCheckpointState,
  type CheckpointState,
} from "./checkpoint/state-file.js";
export { resolveCheckpointPrefix } from "./checkpoint/resolve.js";
export { listCheckpointVariables, type CheckpointVariable } from "./checkpoint/list-variables.js";
export {
  BundleReader,
  type ReadOptions,
  type VariableInfo,
  type VerifyReport,
  type VerifyProblem,
} from "./checkpoint/bundle/bundle-reader.js";
export { BundleWriter, type BundleWriterOptions } from "./checkpoint/bundle/bundle-writer.js";
export type { BundleEntry, BundleHeader } from "./checkpoint/bundle/entry.js";
export {
  type Tensor as CheckpointTensor,
  type NumericTensor,
  type StringTensor,
} from "./checkpoint/bundle/tensor.js";
export {
  type DType as CheckpointDType,
  type NumericArray,
  halfToNumber,
  bfloat16ToNumber,
  numberToBfloat16,
} from "./checkpoint/bundle/dtypes.js";
export {
  encodeTensorNameSlice,
  decodeTensorNameSlice,
  formatSlice,
  parseSlice,
  type Extent,
  type TensorSlice,
} from "./checkpoint/bundle/slices.js";
export {
  escapeLocalName,
  checkpointKey,
  parseObjectGraph,
  listObjectAttributes,
  objectPaths,
  type ObjectAttribute,
} from "./checkpoint/object-graph.js";

// Training (CPU apply_gradients with the TPU's optimizer math; docs/training.md).
export {
  applyGradients,
  applyPlannedGradients,
  makeRowUpdater,
  TouchedRows,
  type ApplyGradientsResult,
  type TrainableEmbedding,
  type RowUpdater,
  type TableState,
} from "./training/index.js";

// Serving: the model registry contract, structured logs, and models served from directories on disk.
export type {
  ModelRegistry,
  ServableModel,
  ModelLease,
  VersionStatus,
  VersionStateName,
  ServableFeature,
  ModelEvent,
  VersionSelector,
} from "./serving/model-registry.js";
export { jsonLogger, silentLogger, type Logger, type LogLevel } from "./serving/log.js";
export {
  FileModelRegistry,
  DEFAULT_POLL_INTERVAL_SECONDS,
  type FileModelRegistryOptions,
} from "./serving/model/file-model-registry.js";
export type { ModelSourceOptions, TransitionPolicy } from "./serving/model/model-version-manager.js";
export {
  parseVersionPolicy,
  parseVersionLabels,
  selectVersions,
  type VersionPolicy,
} from "./serving/model/version-policy.js";
export {
  parseFeatureConfig,
  readFeatureConfig,
  type FeatureConfigSpec,
  type TableSpec,
  type FeatureSpec,
  type FeatureSpecTree,
} from "./serving/model/feature-config-json.js";
export { loadVersion, type ServableVersion, type EmbeddingOptions } from "./serving/model/model-loader.js";
export {
  scanModelRepository,
  FEATURE_CONFIG_FILENAME,
  type VersionSource,
  type RepositoryScan,
} from "./serving/model/model-repository.js";
// Serving: TF Serving compatible REST server, binary format and client (docs/serving.md).
export {
  startServer,
  DEFAULT_LIMITS,
  DEFAULT_BATCHING,
  type ServerLimits,
  type BatchingOptions,
  type ServerOptions,
  type RunningServer,
} from "./serving/http/server.js";
export {
  EmbeddingClient,
  EmbeddingServerError,
  type EmbeddingClientOptions,
  type ModelVersionStatusJson,
} from "./client/embedding-client.js";
export { BINARY_CONTENT_TYPE } from "./serving/binary/binary-format.js";

// Kernels: the family lookups run on in this process (also logged at server start and in the metrics).
export { activeKernelFamily } from "./kernels/kernel-family.js";
export type { KernelChoice } from "./kernels/kernel-choice.js";

// Tables in a Redis Cluster: publish a checkpoint, look rows up from any process (docs/scale.md).
export { StoreBackedEmbedding, type RowRequest, type RowSource } from "./embedding/index.js";
export {
  openRedisEmbedding,
  DEFAULT_CACHE_BYTES,
  DEFAULT_REDIS_TIMEOUT_MS,
  type OpenRedisEmbeddingOptions,
  type RedisEmbedding,
} from "./redis/open-redis-embedding.js";
export {
  publishVersion,
  publishedVersions,
  readManifest,
  type PublishOptions,
  type PublishProgress,
  type PublishResult,
} from "./redis/publish.js";
export { unpublishVersion, keepNewest, sweepRetired, type SweepResult } from "./redis/unpublish.js";
export { connectCluster, type BinaryCluster, type ClusterOptions } from "./redis/cluster-client.js";
export type { Manifest, ManifestTable } from "./redis/layout.js";
export { RedisModelRegistry, type RedisModelRegistryOptions } from "./serving/model/redis-model-registry.js";
