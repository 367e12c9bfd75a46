import { InvalidArgumentError } from "../errors.js";
import {
  describeValue,
  fail,
  optionalNumber,
  rejectUnknownOptions,
  requireBoolean,
  requireNumber,
} from "./validate.js";

/** A constant learning rate, or a zero-argument function evaluated at each training step (TF's dynamic LR). */
export type LearningRate = number | (() => number);

/** `c` clips gradients to `[-c, c]`; a pair clips to `[min, max]` with `null` meaning unbounded on that side. */
export type ClipValue = number | readonly [number | null, number | null];

/** A slot variable: its name in checkpoints (`<table>/<name>`) and the value every element starts at. */
export interface SlotSpec {
  readonly name: string;
  readonly initialValue: number;
}

/**
 * Creates the slot variables of one table instead of the built-in zero/constant fill (TF's
 * `slot_variable_creation_fn`). Must return one Float32Array of `rows × dim` values per slot name.
 */
export type SlotVariableCreationFn = (
  table: { name: string; shape: readonly [number, number]; values: Float32Array },
  slotNames: readonly string[],
  slotInitialValues: readonly number[],
) => Record<string, Float32Array>;

export interface OptimizerOptions {
  learningRate?: LearningRate;
  useGradientAccumulation?: boolean;
  clipWeightMin?: number | null;
  clipWeightMax?: number | null;
  weightDecayFactor?: number | null;
  multiplyWeightDecayFactorByLearningRate?: boolean | null;
  clipvalue?: ClipValue | null;
}

export interface OptimizerWithSlotsOptions extends OptimizerOptions {
  slotVariableCreationFn?: SlotVariableCreationFn | null;
}

const COMMON_OPTIONS = [
  "learningRate",
  "useGradientAccumulation",
  "clipWeightMin",
  "clipWeightMax",
  "weightDecayFactor",
  "multiplyWeightDecayFactorByLearningRate",
  "clipvalue",
] as const;

/** The base of the five TPU embedding optimizers; hyperparameters are validated as TF 2.9 does. */
export abstract class Optimizer {
  readonly learningRate: LearningRate;
  readonly useGradientAccumulation: boolean;
  readonly clipWeightMin: number | null;
  readonly clipWeightMax: number | null;
  readonly weightDecayFactor: number | null;
  readonly multiplyWeightDecayFactorByLearningRate: boolean | null;
  readonly clipGradientMin: number | null;
  readonly clipGradientMax: number | null;
  readonly slotVariableCreationFn: SlotVariableCreationFn | null;

  protected constructor(
    defaultLearningRate: number,
    options: OptimizerWithSlotsOptions,
    knownOptions: readonly string[],
  ) {
    const owner = this.constructor.name;
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError(
        `${owner}: options must be an object. Received: ${describeValue(options)}`,
      );
    }
    rejectUnknownOptions(owner, options, [...COMMON_OPTIONS, ...knownOptions]);
    const lr = options.learningRate ?? defaultLearningRate;
    if (typeof lr !== "function" && (typeof lr !== "number" || !Number.isFinite(lr))) {
      fail(owner, "learningRate", "must be a finite number or a function returning one", lr);
    }
    this.learningRate = lr;
    this.useGradientAccumulation = requireBoolean(
      owner,
      "useGradientAccumulation",
      options.useGradientAccumulation ?? true,
    );
    this.clipWeightMin = optionalNumber(owner, "clipWeightMin", options.clipWeightMin);
    this.clipWeightMax = optionalNumber(owner, "clipWeightMax", options.clipWeightMax);
    if (
      this.clipWeightMin !== null &&
      this.clipWeightMax !== null &&
      this.clipWeightMin > this.clipWeightMax
    ) {
      throw new InvalidArgumentError(
        `${owner}: \`clipWeightMin\` (${this.clipWeightMin}) must not exceed \`clipWeightMax\` (${this.clipWeightMax}).`,
      );
    }
    this.weightDecayFactor = optionalNumber(owner, "weightDecayFactor", options.weightDecayFactor);
    const multiply = options.multiplyWeightDecayFactorByLearningRate ?? null;
    this.multiplyWeightDecayFactorByLearningRate =
      multiply === null ? null : requireBoolean(owner, "multiplyWeightDecayFactorByLearningRate", multiply);

    const clipvalue = options.clipvalue ?? null;
    if (!this.useGradientAccumulation && clipvalue !== null) {
      throw new InvalidArgumentError(
        `${owner}: when \`useGradientAccumulation\` is false, gradient clipping cannot be used and ` +
          `\`clipvalue\` should be left as null. Received: ${describeValue(clipvalue)}`,
      );
    }
    if (clipvalue === null) {
      this.clipGradientMin = null;
      this.clipGradientMax = null;
    } else if (Array.isArray(clipvalue)) {
      if (clipvalue.length !== 2)
        fail(owner, "clipvalue", "must be a number or a [min, max] pair", clipvalue);
      this.clipGradientMin = optionalNumber(owner, "clipvalue[0]", clipvalue[0]);
      this.clipGradientMax = optionalNumber(owner, "clipvalue[1]", clipvalue[1]);
    } else {
      const c = requireNumber(owner, "clipvalue", clipvalue);
      this.clipGradientMin = -1.0 * c;
      this.clipGradientMax = c;
    }

    const creation = options.slotVariableCreationFn ?? null;
    if (creation !== null && typeof creation !== "function") {
      fail(owner, "slotVariableCreationFn", "must be a function (or null)", creation);
    }
    this.slotVariableCreationFn = creation;
  }

  /** Slot variables in TF's creation order, with their initial values. */
  abstract slots(): readonly SlotSpec[];

  /** The learning rate for the current step (calls a dynamic learning rate). */
  currentLearningRate(): number {
    const lr = typeof this.learningRate === "function" ? this.learningRate() : this.learningRate;
    if (typeof lr !== "number" || !Number.isFinite(lr)) {
      throw new InvalidArgumentError(
        `${this.constructor.name}: the learning rate function returned ${describeValue(lr)}, expected a finite number.`,
      );
    }
    return lr;
  }

  /** The hyperparameters shown by `toString()`, in TF's argument order. */
  protected abstract hyperparameters(): [string, unknown][];

  toString(): string {
    const common: [string, unknown][] = [
      ["learningRate", this.learningRate],
      ...this.hyperparameters(),
      ["useGradientAccumulation", this.useGradientAccumulation],
      ["clipWeightMin", this.clipWeightMin],
      ["clipWeightMax", this.clipWeightMax],
      ["weightDecayFactor", this.weightDecayFactor],
      ["multiplyWeightDecayFactorByLearningRate", this.multiplyWeightDecayFactorByLearningRate],
      [
        "clipvalue",
        this.clipGradientMin === null && this.clipGradientMax === null
          ? null
          : [this.clipGradientMin, this.clipGradientMax],
      ],
    ];
    return `${this.constructor.name}(${common.map(([k, v]) => `${k}=${describeValue(v)}`).join(", ")})`;
  }
}

export type SGDOptions = OptimizerOptions;

/** Stochastic gradient descent: `w ← w − lr·g`. No slots. */
export class SGD extends Optimizer {
  constructor(options: SGDOptions = {}) {
    super(0.01, options, []);
  }
  slots(): readonly SlotSpec[] {
    return [];
  }
  protected hyperparameters(): [string, unknown][] {
    return [];
  }
}

export interface AdagradOptions extends OptimizerWithSlotsOptions {
  initialAccumulatorValue?: number;
}

/** Adagrad without epsilon: `acc ← acc + g²; w ← w − lr·g/√acc`. Slot `accumulators`. */
export class Adagrad extends Optimizer {
  readonly initialAccumulatorValue: number;

  constructor(options: AdagradOptions = {}) {
    super(0.001, options, ["initialAccumulatorValue", "slotVariableCreationFn"]);
    const value = requireNumber("Adagrad", "initialAccumulatorValue", options.initialAccumulatorValue ?? 0.1);
    if (value <= 0) fail("Adagrad", "initialAccumulatorValue", "must be greater than zero", value);
    this.initialAccumulatorValue = value;
  }
  slots(): readonly SlotSpec[] {
    return [{ name: "accumulators", initialValue: this.initialAccumulatorValue }];
  }
  protected hyperparameters(): [string, unknown][] {
    return [["initialAccumulatorValue", this.initialAccumulatorValue]];
  }
}

export interface AdagradMomentumOptions extends OptimizerWithSlotsOptions {
  momentum?: number;
  useNesterov?: boolean;
  exponent?: number;
  beta2?: number;
  epsilon?: number;
}

/** Adagrad with momentum as the TPU applies it. Slots `accumulators` and `momenta`, both starting at 0. */
export class AdagradMomentum extends Optimizer {
  readonly momentum: number;
  readonly useNesterov: boolean;
  readonly exponent: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(options: AdagradMomentumOptions = {}) {
    super(0.001, options, [
      "momentum",
      "useNesterov",
      "exponent",
      "beta2",
      "epsilon",
      "slotVariableCreationFn",
    ]);
    const owner = "AdagradMomentum";
    this.momentum = requireNumber(owner, "momentum", options.momentum ?? 0.0);
    this.useNesterov = requireBoolean(owner, "useNesterov", options.useNesterov ?? false);
    this.exponent = requireNumber(owner, "exponent", options.exponent ?? 2);
    this.beta2 = requireNumber(owner, "beta2", options.beta2 ?? 1);
    this.epsilon = requireNumber(owner, "epsilon", options.epsilon ?? 1e-10);
    if (this.epsilon <= 0) fail(owner, "epsilon", "must be positive", this.epsilon);
    if (this.exponent <= 0) fail(owner, "exponent", "(the precondition exponent) must be > 0", this.exponent);
  }
  slots(): readonly SlotSpec[] {
    return [
      { name: "accumulators", initialValue: 0 },
      { name: "momenta", initialValue: 0 },
    ];
  }
  protected hyperparameters(): [string, unknown][] {
    return [
      ["momentum", this.momentum],
      ["useNesterov", this.useNesterov],
      ["exponent", this.exponent],
      ["beta2", this.beta2],
      ["epsilon", this.epsilon],
    ];
  }
}

export interface AdamOptions extends OptimizerWithSlotsOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  lazyAdam?: boolean;
  sumInsideSqrt?: boolean;
}

/** Adam without bias correction, lazy by default, as on TPU. Slots `momenta` and `velocities`. */
export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly lazyAdam: boolean;
  readonly sumInsideSqrt: boolean;

  constructor(options: AdamOptions = {}) {
    super(0.001, options, [
      "beta1",
      "beta2",
      "epsilon",
      "lazyAdam",
      "sumInsideSqrt",
      "slotVariableCreationFn",
    ]);
    const owner = "Adam";
    this.beta1 = requireNumber(owner, "beta1", options.beta1 ?? 0.9);
    this.beta2 = requireNumber(owner, "beta2", options.beta2 ?? 0.999);
    this.epsilon = requireNumber(owner, "epsilon", options.epsilon ?? 1e-7);
    this.lazyAdam = requireBoolean(owner, "lazyAdam", options.lazyAdam ?? true);
    this.sumInsideSqrt = requireBoolean(owner, "sumInsideSqrt", options.sumInsideSqrt ?? true);
    if (!(this.beta1 >= 0 && this.beta1 < 1)) fail(owner, "beta1", "must be in the range [0, 1)", this.beta1);
    if (!(this.beta2 >= 0 && this.beta2 < 1)) fail(owner, "beta2", "must be in the range [0, 1)", this.beta2);
    if (this.epsilon <= 0) fail(owner, "epsilon", "must be positive", this.epsilon);
    if (!this.lazyAdam && !this.useGradientAccumulation) {
      throw new InvalidArgumentError(
        "Adam: when `useGradientAccumulation` is false, non-lazy Adam (`lazyAdam: false`) is not supported.",
      );
    }
  }
  slots(): readonly SlotSpec[] {
    return [
      { name: "momenta", initialValue: 0 },
      { name: "velocities", initialValue: 0 },
    ];
  }
  protected hyperparameters(): [string, unknown][] {
    return [
      ["beta1", this.beta1],
      ["beta2", this.beta2],
      ["epsilon", this.epsilon],
      ["lazyAdam", this.lazyAdam],
      ["sumInsideSqrt", this.sumInsideSqrt],
    ];
  }
}

export interface FTRLOptions extends OptimizerWithSlotsOptions {
  learningRatePower?: number;
  l1RegularizationStrength?: number;
  l2RegularizationStrength?: number;
  beta?: number;
  initialAccumulatorValue?: number;
  multiplyLinearByLearningRate?: boolean;
  allowZeroAccumulator?: boolean;
}

/** Follow-the-regularized-leader with TF's extra `beta`. Slots `accumulators` and `linears`. */
export class FTRL extends Optimizer {
  readonly learningRatePower: number;
  readonly l1RegularizationStrength: number;
  readonly l2RegularizationStrength: number;
  readonly beta: number;
  readonly initialAccumulatorValue: number;
  readonly multiplyLinearByLearningRate: boolean;
  readonly allowZeroAccumulator: boolean;

  constructor(options: FTRLOptions = {}) {
    super(0.001, options, [
      "learningRatePower",
      "l1RegularizationStrength",
      "l2RegularizationStrength",
      "beta",
      "initialAccumulatorValue",
      "multiplyLinearByLearningRate",
      "allowZeroAccumulator",
      "slotVariableCreationFn",
    ]);
    const owner = "FTRL";
    this.learningRatePower = requireNumber(owner, "learningRatePower", options.learningRatePower ?? -0.5);
    this.l1RegularizationStrength = requireNumber(
      owner,
      "l1RegularizationStrength",
      options.l1RegularizationStrength ?? 0.0,
    );
    this.l2RegularizationStrength = requireNumber(
      owner,
      "l2RegularizationStrength",
      options.l2RegularizationStrength ?? 0.0,
    );
    this.beta = requireNumber(owner, "beta", options.beta ?? 0.0);
    this.initialAccumulatorValue = requireNumber(
      owner,
      "initialAccumulatorValue",
      options.initialAccumulatorValue ?? 0.1,
    );
    if (this.initialAccumulatorValue <= 0) {
      fail(owner, "initialAccumulatorValue", "must be greater than zero", this.initialAccumulatorValue);
    }
    this.multiplyLinearByLearningRate = requireBoolean(
      owner,
      "multiplyLinearByLearningRate",
      options.multiplyLinearByLearningRate ?? false,
    );
    this.allowZeroAccumulator = requireBoolean(
      owner,
      "allowZeroAccumulator",
      options.allowZeroAccumulator ?? false,
    );
  }
  slots(): readonly SlotSpec[] {
    return [
      { name: "accumulators", initialValue: this.initialAccumulatorValue },
      { name: "linears", initialValue: 0 },
    ];
  }
  protected hyperparameters(): [string, unknown][] {
    return [
      ["learningRatePower", this.learningRatePower],
      ["l1RegularizationStrength", this.l1RegularizationStrength],
      ["l2RegularizationStrength", this.l2RegularizationStrength],
      ["beta", this.beta],
      ["initialAccumulatorValue", this.initialAccumulatorValue],
      ["multiplyLinearByLearningRate", this.multiplyLinearByLearningRate],
      ["allowZeroAccumulator", this.allowZeroAccumulator],
    ];
  }
}
