import { Adagrad, AdagradMomentum, Adam, FTRL, SGD, type Optimizer } from "../config/optimizers.js";
import { UnimplementedError } from "../errors.js";

/*
 * The TPU's per-row update math (spec §4.3, optimization_parameters.proto). Hyperparameters travel to
 * the TPU as proto floats and the tables are float32, so every hyperparameter and every intermediate is
 * rounded to float32 (Math.fround; Float32Array stores round too).
 *
 * Per touched row and element, in the proto's order:
 *   1. g = clamp(g, clipGradientMin, clipGradientMax)
 *   2. decoupled weight decay, applied first as weight_decay_optimizers.py does: w ← w − λ·w
 *      (λ = weightDecayFactor, × lr when multiplyWeightDecayFactorByLearningRate)
 *   3. the optimizer's update of w and its slots
 *   4. w = clamp(w, clipWeightMin, clipWeightMax)
 */

const f = Math.fround;

/** Updates one table row: `base` is its offset in the table (and slot) arrays, its gradient is `grads[gBase…]`. */
export type RowUpdater = (base: number, grads: Float32Array, gBase: number) => void;

/** A table's parameters and slot arrays by slot name (`accumulators`, `momenta`, …), all `rows × dim`. */
export interface TableState {
  readonly parameters: Float32Array;
  readonly slots: Readonly<Record<string, Float32Array>>;
}

/** The float32 constants of the generic steps; unset limits are ±Infinity, no decay is 0. */
interface Common {
  readonly gMin: number;
  readonly gMax: number;
  readonly wMin: number;
  readonly wMax: number;
  readonly decay: number;
}

function common(optimizer: Optimizer, lr: number): Common {
  const factor = optimizer.weightDecayFactor;
  // TF writes the decay only when the factor is truthy (null and 0 both mean no decay).
  const decay = factor ? f(optimizer.multiplyWeightDecayFactorByLearningRate ? f(factor) * lr : factor) : 0;
  return {
    gMin: optimizer.clipGradientMin === null ? -Infinity : f(optimizer.clipGradientMin),
    gMax: optimizer.clipGradientMax === null ? Infinity : f(optimizer.clipGradientMax),
    wMin: optimizer.clipWeightMin === null ? -Infinity : f(optimizer.clipWeightMin),
    wMax: optimizer.clipWeightMax === null ? Infinity : f(optimizer.clipWeightMax),
    decay,
  };
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** `lr` is the step's learning rate, already float32. */
export function makeRowUpdater(optimizer: Optimizer, lr: number, dim: number, state: TableState): RowUpdater {
  const c = common(optimizer, lr);
  if (optimizer instanceof SGD) return sgd(c, lr, dim, state);
  if (optimizer instanceof Adagrad) return adagrad(c, lr, dim, state);
  if (optimizer instanceof AdagradMomentum) return adagradMomentum(optimizer, c, lr, dim, state);
  if (optimizer instanceof Adam) return adam(optimizer, c, lr, dim, state);
  if (optimizer instanceof FTRL) return ftrl(optimizer, c, lr, dim, state);
  throw new UnimplementedError(`No TPU update math for optimizer ${optimizer.constructor.name}.`);
}

/** SGD: `w ← w − lr·g`. */
function sgd(c: Common, lr: number, dim: number, { parameters: w }: TableState): RowUpdater {
  return (base, grads, gBase) => {
    for (let d = 0; d < dim; d++) {
      const g = clamp(grads[gBase + d], c.gMin, c.gMax);
      let x = w[base + d];
      if (c.decay !== 0) x = f(x - f(c.decay * x));
      w[base + d] = clamp(f(x - f(lr * g)), c.wMin, c.wMax);
    }
  };
}

/** Adagrad (no epsilon): `acc ← acc + g²; w ← w − lr·g/√acc`. */
function adagrad(c: Common, lr: number, dim: number, { parameters: w, slots }: TableState): RowUpdater {
  const acc = slots.accumulators;
  return (base, grads, gBase) => {
    for (let d = 0; d < dim; d++) {
      const i = base + d;
      const g = clamp(grads[gBase + d], c.gMin, c.gMax);
      const a = f(acc[i] + f(g * g));
      acc[i] = a;
      let x = w[i];
      if (c.decay !== 0) x = f(x - f(c.decay * x));
      w[i] = clamp(f(x - f(f(lr * g) / f(Math.sqrt(a)))), c.wMin, c.wMax);
    }
  };
}

/**
 * AdagradMomentum in the hardware-verified form (TF's TPU test):
 * `acc ← beta2 == 1 ? acc + g² : beta2·acc + (1−beta2)·g²`; `p = (acc + epsilon)^(−1/exponent)`;
 * `m ← momentum·m + g·p`; `update = nesterov ? momentum·m + g·p : m`; `w ← w − lr·update`.
 */
function adagradMomentum(
  o: AdagradMomentum,
  c: Common,
  lr: number,
  dim: number,
  { parameters: w, slots }: TableState,
): RowUpdater {
  const acc = slots.accumulators;
  const mom = slots.momenta;
  const momentum = f(o.momentum);
  const beta2 = f(o.beta2);
  const oneMinusBeta2 = f(1 - beta2);
  const epsilon = f(o.epsilon);
  const power = f(-1 / f(o.exponent));
  const nesterov = o.useNesterov;
  return (base, grads, gBase) => {
    for (let d = 0; d < dim; d++) {
      const i = base + d;
      const g = clamp(grads[gBase + d], c.gMin, c.gMax);
      const g2 = f(g * g);
      const a = beta2 === 1 ? f(acc[i] + g2) : f(f(beta2 * acc[i]) + f(oneMinusBeta2 * g2));
      acc[i] = a;
      const gp = f(g * f(Math.pow(f(a + epsilon), power)));
      const m = f(f(momentum * mom[i]) + gp);
      mom[i] = m;
      const update = nesterov ? f(f(momentum * m) + gp) : m;
      let x = w[i];
      if (c.decay !== 0) x = f(x - f(c.decay * x));
      w[i] = clamp(f(x - f(lr * update)), c.wMin, c.wMax);
    }
  };
}

/**
 * Adam without bias correction (fold it into a dynamic learning rate, as on TPU):
 * `m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; w ← w − lr·m/√(v + ε²)` (sumInsideSqrt) or
 * `w ← w − lr·m/(√v + ε)`.
 */
function adam(o: Adam, c: Common, lr: number, dim: number, { parameters: w, slots }: TableState): RowUpdater {
  const mom = slots.momenta;
  const vel = slots.velocities;
  const beta1 = f(o.beta1);
  const beta2 = f(o.beta2);
  const oneMinusBeta1 = f(1 - beta1);
  const oneMinusBeta2 = f(1 - beta2);
  const epsilon = f(o.epsilon);
  const epsilonSquared = f(epsilon * epsilon);
  const inside = o.sumInsideSqrt;
  return (base, grads, gBase) => {
    for (let d = 0; d < dim; d++) {
      const i = base + d;
      const g = clamp(grads[gBase + d], c.gMin, c.gMax);
      const m = f(f(beta1 * mom[i]) + f(oneMinusBeta1 * g));
      const v = f(f(beta2 * vel[i]) + f(oneMinusBeta2 * f(g * g)));
      mom[i] = m;
      vel[i] = v;
      const denominator = inside ? f(Math.sqrt(f(v + epsilonSquared))) : f(f(Math.sqrt(v)) + epsilon);
      let x = w[i];
      if (c.decay !== 0) x = f(x - f(c.decay * x));
      w[i] = clamp(f(x - f(f(lr * m) / denominator)), c.wMin, c.wMax);
    }
  };
}

/**
 * FTRL with TF's `beta` (p = learningRatePower): `acc' = acc + g²; σ = (acc'^−p − acc^−p)/lr;
 * linear ← linear + g − σ·w; quadratic = acc'^−p/lr + 2·l2 + beta/lr;
 * w = |linear| > l1 ? (sign(linear)·l1 − linear)/quadratic : 0`. With multiplyLinearByLearningRate the
 * `linears` slot holds lr·linear: `linear ← linear + lr·g − (acc'^−p − acc^−p)·w;
 * quadratic = acc'^−p + 2·l2·lr + beta; w = |linear| > l1·lr ? (sign(linear)·l1·lr − linear)/quadratic : 0`.
 */
function ftrl(o: FTRL, c: Common, lr: number, dim: number, { parameters: w, slots }: TableState): RowUpdater {
  const acc = slots.accumulators;
  const lin = slots.linears;
  const negPower = f(-o.learningRatePower);
  const l1 = f(o.l1RegularizationStrength);
  const l2 = f(o.l2RegularizationStrength);
  const beta = f(o.beta);
  const scaled = o.multiplyLinearByLearningRate;
  // TF's CPU kernel takes sqrt for the default power −0.5; pow otherwise.
  const pow = negPower === 0.5 ? (x: number) => f(Math.sqrt(x)) : (x: number) => f(Math.pow(x, negPower));
  const threshold = scaled ? f(l1 * lr) : l1;
  const quadraticConstant = scaled ? f(f(f(2 * l2) * lr) + beta) : f(f(2 * l2) + f(beta / lr));
  return (base, grads, gBase) => {
    for (let d = 0; d < dim; d++) {
      const i = base + d;
      const g = clamp(grads[gBase + d], c.gMin, c.gMax);
      let x = w[i];
      if (c.decay !== 0) x = f(x - f(c.decay * x));
      const a = acc[i];
      const aNew = f(a + f(g * g));
      const powNew = pow(aNew);
      const powDelta = f(powNew - pow(a));
      const linear = scaled
        ? f(f(lin[i] + f(lr * g)) - f(powDelta * x))
        : f(f(lin[i] + g) - f(f(powDelta / lr) * x));
      const quadratic = f((scaled ? powNew : f(powNew / lr)) + quadraticConstant);
      lin[i] = linear;
      acc[i] = aNew;
      const next =
        Math.abs(linear) > threshold ? f(f((linear > 0 ? threshold : -threshold) - linear) / quadratic) : 0;
      w[i] = clamp(next, c.wMin, c.wMax);
    }
  };
}
