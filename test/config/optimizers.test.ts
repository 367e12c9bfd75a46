import { test } from "node:test";
import assert from "node:assert/strict";
import { Adagrad, AdagradMomentum, Adam, FTRL, SGD, InvalidArgumentError } from "../../src/index.js";

test("defaults match TF 2.9", () => {
  const sgd = new SGD();
  assert.equal(sgd.learningRate, 0.01);
  assert.equal(sgd.useGradientAccumulation, true);
  assert.equal(sgd.clipGradientMin, null);
  assert.deepEqual(sgd.slots(), []);

  const adagrad = new Adagrad();
  assert.equal(adagrad.learningRate, 0.001);
  assert.equal(adagrad.initialAccumulatorValue, 0.1);
  assert.deepEqual(adagrad.slots(), [{ name: "accumulators", initialValue: 0.1 }]);

  const momentum = new AdagradMomentum();
  assert.deepEqual(
    [momentum.momentum, momentum.useNesterov, momentum.exponent, momentum.beta2, momentum.epsilon],
    [0, false, 2, 1, 1e-10],
  );
  assert.deepEqual(
    momentum.slots().map((s) => [s.name, s.initialValue]),
    [
      ["accumulators", 0],
      ["momenta", 0],
    ],
  );

  const adam = new Adam();
  assert.deepEqual(
    [adam.beta1, adam.beta2, adam.epsilon, adam.lazyAdam, adam.sumInsideSqrt],
    [0.9, 0.999, 1e-7, true, true],
  );
  assert.deepEqual(
    adam.slots().map((s) => s.name),
    ["momenta", "velocities"],
  );

  const ftrl = new FTRL();
  assert.deepEqual(
    [ftrl.learningRatePower, ftrl.l1RegularizationStrength, ftrl.l2RegularizationStrength, ftrl.beta],
    [-0.5, 0, 0, 0],
  );
  assert.deepEqual(
    ftrl.slots().map((s) => [s.name, s.initialValue]),
    [
      ["accumulators", 0.1],
      ["linears", 0],
    ],
  );
  assert.equal(ftrl.multiplyLinearByLearningRate, false);
  assert.equal(ftrl.allowZeroAccumulator, false);
});

test("clipvalue: scalar becomes [-c, c], a pair is kept with null sides unbounded", () => {
  const a = new SGD({ clipvalue: 2.5 });
  assert.deepEqual([a.clipGradientMin, a.clipGradientMax], [-2.5, 2.5]);
  const b = new Adagrad({ clipvalue: [null, 3] });
  assert.deepEqual([b.clipGradientMin, b.clipGradientMax], [null, 3]);
});

test("clipvalue without gradient accumulation is rejected, even 0", () => {
  assert.throws(
    () => new SGD({ useGradientAccumulation: false, clipvalue: 0 }),
    /useGradientAccumulation.*clipvalue/s,
  );
  assert.doesNotThrow(() => new SGD({ useGradientAccumulation: false }));
});

test("validation names the argument and the value", () => {
  assert.throws(
    () => new Adagrad({ initialAccumulatorValue: 0 }),
    (e: Error) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.match(e.message, /initialAccumulatorValue.*Received: 0/);
      return true;
    },
  );
  assert.throws(() => new FTRL({ initialAccumulatorValue: -1 }), /initialAccumulatorValue.*-1/);
  assert.throws(() => new AdagradMomentum({ epsilon: 0 }), /epsilon.*positive/);
  assert.throws(() => new AdagradMomentum({ exponent: 0 }), /exponent/);
  assert.throws(() => new Adam({ beta1: 1 }), /beta1.*\[0, 1\).*Received: 1/);
  assert.throws(() => new Adam({ beta2: -0.1 }), /beta2.*-0.1/);
  assert.throws(() => new Adam({ epsilon: 0 }), /epsilon/);
  assert.throws(() => new Adam({ lazyAdam: false, useGradientAccumulation: false }), /lazy/);
  assert.doesNotThrow(() => new Adam({ lazyAdam: false }));
  assert.throws(() => new SGD({ learningRate: Number.NaN }), /learningRate/);
  assert.throws(() => new SGD({ learningRate: "0.1" as unknown as number }), /learningRate.*"0.1"/);
  assert.throws(() => new SGD({ clipWeightMin: 2, clipWeightMax: 1 }), /clipWeightMin/);
  assert.throws(() => new SGD({ learningrate: 1 } as never), /unknown option `learningrate`/);
  assert.throws(() => new Adagrad({ slotVariableCreationFn: 3 as never }), /slotVariableCreationFn/);
});

test("dynamic learning rate is called at each step", () => {
  let step = 0;
  const sgd = new SGD({ learningRate: () => 0.1 * ++step });
  assert.equal(sgd.currentLearningRate(), 0.1);
  assert.equal(sgd.currentLearningRate(), 0.2);
  const bad = new SGD({ learningRate: () => Number.NaN });
  assert.throws(() => bad.currentLearningRate(), /learning rate function returned NaN/);
});

test("toString lists the hyperparameters", () => {
  assert.equal(
    new Adagrad({ learningRate: 0.5, clipvalue: 1 }).toString(),
    "Adagrad(learningRate=0.5, initialAccumulatorValue=0.1, useGradientAccumulation=true, clipWeightMin=null, " +
      "clipWeightMax=null, weightDecayFactor=null, multiplyWeightDecayFactorByLearningRate=null, clipvalue=[-1, 1])",
  );
});
