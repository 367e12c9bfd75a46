import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError, KeyedJaggedTensor } from "../../src/index.js";

const invalid = (pattern: RegExp) => (e: unknown) =>
  e instanceof InvalidArgumentError && pattern.test(e.message);

test("KeyedJaggedTensor: key-major layout, lengths or offsets, per-key ragged views", () => {
  // Two keys, batch 3: a = [[1, 2], [], [3]], b = [[4], [5, 6, 7], [8]].
  const kjt = new KeyedJaggedTensor({
    keys: ["a", "b"],
    values: Int32Array.of(1, 2, 3, 4, 5, 6, 7, 8),
    lengths: [2, 0, 1, 1, 3, 1],
    weights: [0.5, 1, 2, 3, 4, 5, 6, 7],
  });
  assert.equal(kjt.stride, 3);
  assert.deepEqual([...kjt.offsets], [0, 2, 2, 3, 4, 7, 8]);
  assert.deepEqual([...kjt.lengths()], [2, 0, 1, 1, 3, 1]);
  const { features, weights } = kjt.toDict();
  assert.deepEqual(features.a.toArray(), [[1, 2], [], [3]]);
  assert.deepEqual(features.b.toArray(), [[4], [5, 6, 7], [8]]);
  assert.deepEqual(weights!.b.toArray(), [[3], [4, 5, 6], [7]]);
  assert.equal(features.b.values.buffer, kjt.values.buffer, "views, not copies");
  const same = new KeyedJaggedTensor({
    keys: ["a", "b"],
    values: [1, 2, 3, 4, 5, 6, 7, 8],
    offsets: kjt.offsets,
  });
  assert.deepEqual(same.toDict().features.b.toArray(), [[4], [5, 6, 7], [8]]);
  assert.equal(same.weights, null);
  assert.equal(
    new KeyedJaggedTensor({ keys: ["a"], values: [2n ** 40n], lengths: [1] }).values instanceof BigInt64Array,
    true,
  );
});

test("KeyedJaggedTensor: inconsistent layouts are InvalidArgumentErrors that say what is wrong", () => {
  const make = (o: object) => () =>
    new KeyedJaggedTensor({ keys: ["a", "b"], values: [1, 2, 3], ...o } as never);
  assert.throws(make({ lengths: [1, 1, 1] }), invalid(/3 lengths do not split evenly over 2 keys/));
  assert.throws(make({ lengths: [1, 1] }), invalid(/the lengths add up to 2 but there are 3 values/));
  assert.throws(make({ lengths: [1, -1, 2, 1] }), invalid(/lengths\[1\] is -1/));
  assert.throws(make({}), invalid(/exactly one of lengths and offsets/));
  assert.throws(make({ lengths: [1, 2], offsets: [0, 1, 3] }), invalid(/exactly one of lengths and offsets/));
  assert.throws(make({ offsets: [0, 2, 1] }), invalid(/non-decreasing/));
  assert.throws(make({ offsets: [1, 2, 3] }), invalid(/start with 0/));
  assert.throws(
    make({ offsets: [0, 1, 2] }),
    invalid(/last offset \(2\) must equal the number of values \(3\)/),
  );
  assert.throws(make({ lengths: [1, 2], weights: [1] }), invalid(/1 weights for 3 values/));
  assert.throws(make({ lengths: [1, 2], values: [1.5, 2, 3] }), invalid(/integer ids/));
  assert.throws(
    () => new KeyedJaggedTensor({ keys: ["a", "a"], values: [1], lengths: [1, 0] }),
    invalid(/key "a" appears twice/),
  );
});
