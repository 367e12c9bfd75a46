import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Adagrad,
  DenseTensor,
  FailedPreconditionError,
  FeatureConfig,
  InvalidArgumentError,
  SGD,
  TableConfig,
  TPUEmbeddingForServing,
  constant,
} from "../../src/index.js";
import { assertUnchanged, grad, snapshot } from "./helpers.js";

/*
 * Invalid gradients are rejected with a typed error naming the feature, and leave every table and slot
 * bit-identical: features "a" (table t) and "b" (table u) are looked up, "a" is always valid so a
 * failure on "b" (visited after "a") proves nothing was applied early.
 */
function setup(optimizer = new Adagrad({ learningRate: 0.1 })): TPUEmbeddingForServing {
  const t = new TableConfig({ vocabularySize: 4, dim: 2, initializer: constant(1), name: "t" });
  const u = new TableConfig({ vocabularySize: 4, dim: 2, initializer: constant(2), name: "u" });
  const e = new TPUEmbeddingForServing({
    featureConfig: { a: new FeatureConfig({ table: t }), b: new FeatureConfig({ table: u }) },
    optimizer,
  });
  e.embeddingLookup({
    a: DenseTensor.from(Int32Array.from([0, 1])),
    b: DenseTensor.from(Int32Array.from([2])),
  });
  return e;
}
const goodA = () => grad([1, 1, 1, 1], [2, 2]);

function rejects(
  e: TPUEmbeddingForServing,
  gradients: unknown,
  message: RegExp,
  type = InvalidArgumentError,
): void {
  const before = snapshot(e);
  assert.throws(
    () => e.applyGradients(gradients),
    (err: unknown) => err instanceof type && message.test((err as Error).message),
  );
  assertUnchanged(e, before);
}

test("a gradient of the wrong shape names the feature and both shapes", () => {
  rejects(setup(), { a: goodA(), b: grad([1, 1, 1, 1], [2, 2]) }, /\[2, 2\] for feature b.*\[1, 2\]/);
  rejects(setup(), { a: goodA(), b: grad([1, 1], [2]) }, /shape \[2\] for feature b/);
});

test("NaN and ±Infinity gradients are rejected before anything changes", () => {
  rejects(
    setup(),
    { a: goodA(), b: grad([1, Number.NaN], [1, 2]) },
    /feature b has a non-finite value NaN at flat index 1/,
  );
  rejects(setup(), { a: goodA(), b: grad([Infinity, 1], [1, 2]) }, /non-finite value Infinity/);
});

test("finite gradients whose per-row sum overflows float32 are rejected", () => {
  const e = setup();
  const before = snapshot(e);
  e.embeddingLookup({
    a: DenseTensor.from(Int32Array.from([0, 0])),
    b: DenseTensor.from(Int32Array.from([2])),
  });
  assert.throws(
    () => e.applyGradients({ a: grad([3e38, 0, 3e38, 0], [2, 2]), b: null }),
    /row 0 of table "t" is not finite/,
  );
  assertUnchanged(e, before);
});

test("wrong structures: missing feature, unknown key, non-tensor, array for object", () => {
  rejects(setup(), { a: goodA() }, /missing b.*pass null/);
  rejects(setup(), { a: goodA(), b: null, c: null }, /c has no matching feature/);
  rejects(setup(), { a: goodA(), b: [[1, 2]] }, /feature b is type Array; found non-tensor type/);
  rejects(setup(), [goodA(), null], /expected a plain object, got an array of 2 entries/);
});

test("non-float32 gradients are rejected", () => {
  rejects(
    setup(),
    { a: goodA(), b: new DenseTensor(Float64Array.of(1, 1), [1, 2]) },
    /feature b has dtype float64.*must be float32/,
  );
});

test("applyGradients before any lookup is a FailedPreconditionError", () => {
  const t = new TableConfig({ vocabularySize: 4, dim: 2, name: "t" });
  const e = new TPUEmbeddingForServing({
    featureConfig: { a: new FeatureConfig({ table: t }) },
    optimizer: new SGD(),
  });
  assert.throws(() => e.applyGradients({ a: null }), FailedPreconditionError);
});

test("a gradient for a table without optimizer is an error; a null gradient for it is fine", () => {
  const e = setup(null as unknown as Adagrad);
  rejects(e, { a: goodA(), b: null }, /feature a: table "t" has no optimizer/, FailedPreconditionError);
  const before = snapshot(e);
  e.applyGradients({ a: null, b: null });
  assertUnchanged(e, before);
});

test("a learning-rate function returning NaN or throwing leaves everything unchanged", () => {
  rejects(
    setup(new Adagrad({ learningRate: () => Number.NaN })),
    { a: goodA(), b: null },
    /learning rate function returned NaN/,
  );
  const e = setup(
    new Adagrad({
      learningRate: () => {
        throw new Error("schedule broke");
      },
    }),
  );
  const before = snapshot(e);
  assert.throws(() => e.applyGradients({ a: goodA(), b: null }), /schedule broke/);
  assertUnchanged(e, before);
});

test("partial lookups: only looked-up features take gradients; skipped inputs must stay null", () => {
  const e = setup();
  e.embeddingLookup({ a: DenseTensor.from(Int32Array.from([3])) });
  rejects(e, { a: grad([1, 1], [1, 2]), b: grad([1, 1], [1, 2]) }, /b has no matching feature/);
  e.applyGradients({ a: grad([1, 1], [1, 2]) });
  assert.notEqual(e.variable("t").value.data[6], 1);
});
