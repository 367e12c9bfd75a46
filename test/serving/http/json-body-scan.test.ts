import { test } from "node:test";
import assert from "node:assert/strict";
import { needsLosslessParse } from "../../../src/serving/http/json-body.js";
import { seededRandom } from "../../support/seeded-random.js";

/** The scans it replaced (a regex and indexOf loops), kept as the reference. */
function previousScan(text: string): boolean {
  const digit = (c: number) => c >= 48 && c <= 57;
  if (/\d{16}/.test(text)) return true;
  for (let i = text.indexOf(".0"); i >= 0; i = text.indexOf(".0", i + 2)) {
    if (i === 0 || !digit(text.charCodeAt(i - 1))) continue;
    let j = i + 1;
    while (text.charCodeAt(j) === 48) j++;
    if (!digit(text.charCodeAt(j))) return true;
  }
  for (const e of ["e", "E"])
    for (let i = text.indexOf(e, 1); i >= 0; i = text.indexOf(e, i + 1))
      if (digit(text.charCodeAt(i - 1))) return true;
  return false;
}

test("needsLosslessParse: 16+ digit runs and integers written as floats need lossless-json, other bodies JSON.parse", () => {
  const yes = [
    '{"a":[12345678901234567]}',
    "[1234567890123456]",
    "[1.0]",
    "[2.00]",
    "[1e0]",
    "[15E-1]",
    "[3.000,4]",
  ];
  const no = [
    "[123456789012345]",
    "[1.5]",
    "[1.05]",
    "[0.25,7]",
    '{"f01":[[1,2],[3]]}',
    '{"e":".0"}',
    "[-0.5]",
  ];
  for (const text of yes) assert.equal(needsLosslessParse(Buffer.from(text)), true, text);
  for (const text of no) assert.equal(needsLosslessParse(Buffer.from(text)), false, text);
});

test("needsLosslessParse decides as the regex and indexOf scans did, on random number-heavy texts", () => {
  const { int } = seededRandom(1916);
  const alphabet = '0123456789000.eE,[]-" f';
  for (let round = 0; round < 20_000; round++) {
    let text = "";
    const length = 1 + int(40);
    for (let i = 0; i < length; i++)
      text += int(3) === 0 ? "1234567890123456".slice(0, 1 + int(16)) : alphabet[int(alphabet.length)];
    assert.equal(needsLosslessParse(Buffer.from(text)), previousScan(text), text);
  }
});
