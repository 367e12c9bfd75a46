import { test } from "node:test";
import assert from "node:assert/strict";
import {
  closeRequest,
  enterRequest,
  nextGeneration,
  openRequest,
  previousGeneration,
} from "../../src/kernels/packed-request.js";

test("request entry: helpers join only the open request of the generation they were sent to", () => {
  const control = new Int32Array(new SharedArrayBuffer(32));
  // A fresh slot (all zero) holds no request anyone was sent to: generations start at 1.
  assert.equal(nextGeneration(0), 1);
  assert.equal(enterRequest(control, 1), false);

  openRequest(control, 1);
  assert.equal(enterRequest(control, 2), false, "another generation");
  assert.equal(enterRequest(control, 1), true);
  assert.equal(enterRequest(control, 1), true);
  assert.equal(closeRequest(control), 2, "the caller waits for the two that entered");
  assert.equal(enterRequest(control, 1), false, "a late helper is shut out of a closed request");
  assert.equal(closeRequest(control), 2, "closing twice changes nothing");

  // The slot reused for the next request: a helper still holding generation 1 stays out of it.
  openRequest(control, nextGeneration(1));
  assert.equal(enterRequest(control, 1), false);
  assert.equal(enterRequest(control, 2), true);
  assert.equal(closeRequest(control), 1);
});

test("request generations cycle through 1 .. 2^22 - 1 and never produce 0", () => {
  assert.equal(nextGeneration(0x3fffff - 1), 0x3fffff);
  assert.equal(nextGeneration(0x3fffff), 1);
  for (const g of [1, 2, 0x3fffff]) assert.equal(nextGeneration(previousGeneration(g)), g);
  const control = new Int32Array(new SharedArrayBuffer(32));
  openRequest(control, 0x3fffff);
  assert.equal(enterRequest(control, 0x3fffff), true, "the largest generation round-trips through the word");
  assert.ok(control[4] > 0, "the entry word stays a positive int32");
});
