export {
  TableConfig,
  COMBINERS,
  MAX_VOCABULARY_SIZE,
  type Combiner,
  type TableConfigOptions,
} from "./table-config.js";
export { FeatureConfig, type FeatureConfigOptions } from "./feature-config.js";
export {
  Optimizer,
  SGD,
  Adagrad,
  AdagradMomentum,
  Adam,
  FTRL,
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
} from "./optimizers.js";
export {
  truncatedNormal,
  constant,
  zeros,
  ones,
  runInitializer,
  defaultTableInitializer,
  isDefaultTableInitializer,
  type Initializer,
  type TruncatedNormalOptions,
} from "./initializers.js";
