import { test } from "node:test";
import assert from "node:assert/strict";
import { formatFloat32 } from "../../../src/serving/http/json-response.js";
import { parseJsonBody } from "../../../src/serving/http/json-body.js";

test("formatFloat32 prints floats as TF Serving's WriteDecimal: %.6g if it reads back, else %.9g, whole values with .0", () => {
  const cases: [number, string][] = [
    [0, "0.0"],
    [-0, "-0.0"],
    [1, "1.0"],
    [-2.5, "-2.5"],
    [Math.fround(0.1), "0.1"],
    [Math.fround(-0.3), "-0.3"],
    [Math.fround(1 / 3), "0.333333343"],
    [Math.fround(123456.789), "123456.789"],
    [Math.fround(1.5e-7), "1.5e-07"],
    [Math.fround(2.5e-6), "2.5e-06"],
    [16777216, "16777216.0"],
    [Math.fround(3e9), "3e+09"],
    [NaN, "NaN"],
    [Infinity, "Infinity"],
    [-Infinity, "-Infinity"],
    // json_tensor_test.cc FromJsonSingleFloatTensorSixDigitPrecision
    [9000000, "9e+06"],
    [999999, "999999.0"],
    [0.5, "0.5"],
    [Math.fround(0.0003), "0.0003"],
    [Math.fround(0.00003), "3e-05"],
    [555557.5, "555557.5"],
    // ties at the 10th digit: printf rounds half to even (1048576.125 → ...12, not ...13)
    [1048576.125, "1048576.12"],
    [2 ** -14, "6.10351562e-05"],
  ];
  for (const [value, text] of cases) assert.equal(formatFloat32(value), text, String(value));
  // float32 bit patterns → the text of a C program doing WriteDecimal's steps with glibc's printf/strtof
  // (400,014 such values were compared while writing this; these are a sample).
  const fromC: [number, string][] = [
    [4225635760, "-2.30625955e+36"],
    [105192632, "3.70726811e-35"],
    [2140066200, "NaN"],
    [1521747006, "2.53350801e+16"],
    [4039121947, "-4.75640795e+29"],
    [1908186820, "1.86800377e+30"],
    [3483537726, "-5.45485517e+09"],
    [2999904390, "-2.40872957e-08"],
    [1772970198, "2.62001827e+25"],
    [1167338456, "4741.48047"],
    [4278404693, "-1.74494052e+38"],
    [4199025664, "-2.5967569e+35"],
    [3440433033, "-151877776.0"],
    [1873642408, "1.07400139e+29"],
    [1567279285, "1.05737319e+18"],
    [2786767850, "-5.36733121e-16"],
    [4105892228, "-1.1848947e+32"],
    [3508577032, "-4.31206236e+10"],
    [3757365493, "-3.52862418e+19"],
    [574269592, "2.52969533e-18"],
    [1134169074, "308.093323"],
    [4047587163, "-9.57069926e+29"],
    [3137915043, "-0.00208715419"],
    [2383179206, "-1.73091863e-30"],
    [463114345, "2.55704857e-22"],
    [1035808350, "0.0923735946"],
    [750358359, "5.27393e-12"],
    [1537287294, "9.07151897e+16"],
    [1479499951, "7.71319151e+14"],
    [2639105794, "-2.72054574e-21"],
    [220333610, "4.99275239e-31"],
    [1938392400, "2.1791033e+31"],
    [1631125893, "2.13297322e+20"],
    [389264235, "5.80644767e-25"],
    [2296808178, "-1.38734066e-33"],
    [3587197482, "-2.86271189e+13"],
    [3462096439, "-920227264.0"],
    [319930034, "1.8395593e-27"],
    [142697335, "7.78728916e-34"],
    [2623618532, "-7.45262469e-22"],
    [1233125377, "1048576.12"],
    [947912704, "6.10351562e-05"],
    [1056964608, "0.5"],
    [1258902592, "9e+06"],
    [1232348144, "999999.0"],
    [966609234, "0.0003"],
    [939239554, "3e-05"],
    [1225237080, "555557.5"],
    [2147483648, "-0.0"],
    [1077936128, "3.0"],
    [1, "1.4013e-45"],
    [2139095039, "3.40282347e+38"],
    [1266679808, "16777216.0"],
    [8388608, "1.17549435e-38"],
  ];
  const bits = new Uint32Array(1);
  const float = new Float32Array(bits.buffer);
  for (const [pattern, text] of fromC) {
    bits[0] = pattern;
    assert.equal(formatFloat32(float[0]), text, `bits ${pattern}`);
  }
  // Every output reads back exactly, over many magnitudes.
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
  // rapidjson's words (TF Serving's "JSON Parse error: ..."), JSON.parse's or lossless-json's in parentheses
  for (const [body, message] of [
    ["instances = [1, 2]", /JSON Parse error: Invalid value\. \(Unexpected token/],
    ['{"a": [1 2]}', /JSON Parse error: Missing a comma or '\]' after an array element\. at offset: 9 \(/],
    ['{"a": 1 "b": 2}', /JSON Parse error: Missing a comma or '\}' after an object member\. at offset: 8/],
    ['{"a" 1}', /JSON Parse error: Missing a colon after a name of object member\. at offset: 5/],
    ["{a: 1}", /JSON Parse error: Missing a name for object member\. at offset: 1/],
    ['{"a": "x', /JSON Parse error: Missing a closing quotation mark in string\./],
    ['{"a": 1}}', /JSON Parse error: The document root must not be followed by other values\./],
    ['{"a": [12345678901234567,]}', /JSON Parse error: Invalid value\. at offset: 25 \(Array item expected/],
    ['{"a": 1e}', /JSON Parse error: Miss exponent in number\./],
    ['{"a": 1.}', /JSON Parse error: Miss fraction part in number\./],
  ] as const)
    assert.throws(() => parseJsonBody(body), message, body);
});
