import { test } from "node:test";
import assert from "node:assert/strict";
import { formatFloat32 } from "../../../src/serving/http/json-response.js";
import { parseJsonBody } from "../../../src/serving/http/json-body.js";

test("formatFloat32 prints the shortest decimal that reads back as the same float32", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [1, "1"],
    [-2.5, "-2.5"],
    [Math.fround(0.1), "0.1"],
    [Math.fround(-0.3), "-0.3"],
    [Math.fround(1 / 3), "0.33333334"],
    [Math.fround(123456.789), "123456.79"],
    [Math.fround(1.5e-7), "1.5e-7"],
    [Math.fround(2.5e-6), "0.0000025"],
    [16777216, "16777216"],
    [Math.fround(3e9), "3000000000"],
    [NaN, "NaN"],
    [-Infinity, "-Infinity"],
  ];
  for (const [value, text] of cases) assert.equal(formatFloat32(value), text, String(value));
  // Every output reads back exactly, over many magnitudes (including String's fallback for tiny/huge).
  const values = new Float32Array(20000);
  let s = 1;
  for (let i = 0; i < values.length; i++) {
    s = (s * 48271) % 2147483647;
    values[i] = (s / 2147483647 - 0.5) * 10 ** ((i % 60) - 30);
  }
  for (const v of values)
    assert.equal(Math.fround(Number(formatFloat32(v))), v, `${v} → ${formatFloat32(v)}`);
});

test("JSON bodies: integers beyond 2^53 become exact bigints, others stay numbers", () => {
  assert.deepEqual(parseJsonBody('{"a": [9007199254740993, 12, 0.5, "7"]}'), {
    a: [9007199254740993n, 12, 0.5, "7"],
  });
  assert.deepEqual(parseJsonBody('{"a": [1, 2]}'), { a: [1, 2] });
  assert.deepEqual(parseJsonBody('{"a": [1234567890123456789012, 0.12345678901234567]}'), {
    a: [1234567890123456789012n, Number("0.12345678901234567")],
  });
  assert.throws(() => parseJsonBody("   "), /The document is empty/);
  assert.throws(() => parseJsonBody('{"a": [NaN]}'), /JSON Parse error/);
});
