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
  type EmbeddingVariable,
  type TableValues,
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
  DataLossError,
  UnimplementedError,
  type ErrorCode,
} from "./errors.js";

export type { Trackable, TrackableVariableSpec } from "./checkpoint/trackable.js";
