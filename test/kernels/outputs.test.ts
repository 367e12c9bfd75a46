import { test } from "node:test";
import assert from "node:assert/strict";
import { allocateOutputs, SHARED_OUTPUT_MAX_VALUES } from "../../src/kernels/outputs.js";

test("small lookups: every output is a disjoint, zeroed view of one backing store", () => {
  const outputs = allocateOutputs([64, 0, 128, 8]);
  assert.deepEqual(
    outputs.map((o) => [o.byteOffset / 4, o.length]),
    [
      [0, 64],
      [64, 0],
      [64, 128],
      [192, 8],
    ],
  );
  assert.ok(outputs.every((o) => o.buffer === outputs[0].buffer && o.every((v) => v === 0)));
  outputs[2].fill(1);
  assert.ok(outputs[0].every((v) => v === 0) && outputs[3].every((v) => v === 0));
});

test("large lookups: one array (and backing store) per output", () => {
  const outputs = allocateOutputs([SHARED_OUTPUT_MAX_VALUES, 1]);
  assert.notEqual(outputs[0].buffer, outputs[1].buffer);
  assert.deepEqual(
    outputs.map((o) => [o.byteOffset, o.length]),
    [
      [0, SHARED_OUTPUT_MAX_VALUES],
      [0, 1],
    ],
  );
});
