import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bfloat16ToFloat,
  dequantizeRows,
  floatToBfloat16Bits,
  floatToHalfBits,
  HALF_TO_FLOAT,
  INT8_HEADER_BYTES,
  quantizeTable,
  rowBytes,
} from "../../src/kernels/quantized-rows.js";
import { InvalidArgumentError } from "../../src/index.js";
import { seededRandom } from "../support/seeded-random.js";

const { rand } = seededRandom(4242);

test("row sizes: float16/bfloat16 2 bytes a value; int8 8 bytes of scale and bias, codes padded to 4", () => {
  assert.equal(rowBytes("float32", 64), 256);
  assert.equal(rowBytes("float16", 64), 128);
  assert.equal(rowBytes("bfloat16", 7), 14);
  assert.equal(rowBytes("int8", 64), 72); // 0.28× float32
  assert.equal(rowBytes("int8", 5), 16);
});

test("float16: every binary16 pattern reads back to itself; ties round to even; beyond 65504 is ∞", () => {
  for (let h = 0; h < 65536; h++) {
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (!isNaN) assert.equal(floatToHalfBits(HALF_TO_FLOAT[h]), h, `pattern ${h.toString(16)}`);
    else assert.ok(Number.isNaN(HALF_TO_FLOAT[h]));
  }
  assert.equal(HALF_TO_FLOAT[0x3c00], 1);
  assert.equal(HALF_TO_FLOAT[0x0001], 2 ** -24); // the smallest subnormal
  assert.equal(HALF_TO_FLOAT[0x7bff], 65504);
  assert.equal(floatToHalfBits(1 + 2 ** -11), 0x3c00); // halfway: to the even 1.0
  assert.equal(floatToHalfBits(1 + 3 * 2 ** -11), 0x3c02); // halfway: to the even 1 + 2^-9
  assert.equal(floatToHalfBits(1 + 2 ** -11 + 2 ** -20), 0x3c01); // above halfway
  assert.equal(floatToHalfBits(2 ** -25), 0x0000); // halfway to the smallest subnormal: to even 0
  assert.equal(floatToHalfBits(3 * 2 ** -25), 0x0002); // 1.5 units: to the even 2
  assert.equal(floatToHalfBits(-0), 0x8000);
  assert.equal(floatToHalfBits(65519), 0x7bff);
  assert.equal(floatToHalfBits(65520), 0x7c00);
  assert.equal(floatToHalfBits(2 ** -14 - 2 ** -25), 0x0400); // the largest subnormal rounds up to normal
});

test("bfloat16: the upper half of float32, rounded to nearest even", () => {
  assert.equal(floatToBfloat16Bits(1), 0x3f80);
  assert.equal(floatToBfloat16Bits(1 + 2 ** -8), 0x3f80); // halfway: to even
  assert.equal(floatToBfloat16Bits(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(floatToBfloat16Bits(-2.5), 0xc020);
  assert.equal(bfloat16ToFloat(0xc020), -2.5);
  assert.ok(Number.isNaN(bfloat16ToFloat(floatToBfloat16Bits(NaN))));
});

test("int8 rows: hand-computed scale, bias and codes (ties to even), and the dequantized values", () => {
  // min 0, max 255/128: scale is exactly 1/128, so x · 128 is the code before rounding.
  const row = Float32Array.from([0, 127.5 / 128, 126.5 / 128, 0.3, 255 / 128]);
  const out = new Uint8Array(rowBytes("int8", 5));
  quantizeTable("int8", row, 5, out, "t");
  const view = new DataView(out.buffer);
  assert.equal(view.getFloat32(0, true), 1 / 128);
  assert.equal(view.getFloat32(4, true), 0);
  // 0, 127.5 (a tie: to the even 128), 126.5 (a tie: to the even 126), 38.4, 255
  assert.deepEqual([...out.subarray(INT8_HEADER_BYTES, INT8_HEADER_BYTES + 5)], [0, 128, 126, 38, 255]);
  assert.deepEqual([...out.subarray(INT8_HEADER_BYTES + 5)], [0, 0, 0]); // padding to 4 bytes
  const values = new Float32Array(5);
  dequantizeRows("int8", out, 5, [0], values);
  assert.deepEqual([...values], [0, 1, 126 / 128, 38 / 128, 255 / 128]);
});

test("int8 rows: a constant row is exact (scale 0); every value within half a step (+ rounding) of its row", () => {
  const dim = 37;
  const rows = 200;
  const values = new Float32Array(rows * dim).map(() => Math.fround((rand() - 0.5) * 4));
  values.fill(0.3, 0, dim);
  const bytes = new Uint8Array(rows * rowBytes("int8", dim));
  quantizeTable("int8", values, dim, bytes, "t");
  const back = new Float32Array(rows * dim);
  dequantizeRows(
    "int8",
    bytes,
    dim,
    Int32Array.from({ length: rows }, (_, i) => i),
    back,
  );
  for (let d = 0; d < dim; d++) assert.equal(back[d], Math.fround(0.3));
  const view = new DataView(bytes.buffer);
  for (let r = 1; r < rows; r++) {
    const scale = view.getFloat32(r * rowBytes("int8", dim), true);
    for (let d = 0; d < dim; d++) {
      const i = r * dim + d;
      // half a step, plus the two float32 roundings of q·scale + bias (values are below 2 in magnitude)
      assert.ok(Math.abs(back[i] - values[i]) <= scale / 2 + 2 * 2 ** -23, `row ${r} value ${d}`);
    }
  }
});

test("values a kind cannot hold are refused with the table, the row and the value", () => {
  const out = new Uint8Array(64);
  assert.throws(
    () => quantizeTable("float16", Float32Array.from([1, 70000]), 2, out, "clicks"),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      /"clicks"/.test(e.message) &&
      /row 0/.test(e.message) &&
      /70000/.test(e.message),
  );
  assert.throws(
    () => quantizeTable("int8", Float32Array.from([1, 2, NaN, 4]), 2, out, "views"),
    (e: unknown) => e instanceof InvalidArgumentError && /"views"/.test(e.message) && /row 1/.test(e.message),
  );
  assert.throws(
    () => quantizeTable("bfloat16", Float32Array.from([3.4028234e38]), 1, out, "big"),
    (e: unknown) => e instanceof InvalidArgumentError && /bfloat16/.test(e.message),
  );
});
