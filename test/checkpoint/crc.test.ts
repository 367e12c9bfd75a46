import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32c, crc32cExtend, maskCrc, unmaskCrc } from "../../src/checkpoint/crc.js";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

test("crc32c check value and empty input", () => {
  assert.equal(crc32c(ascii("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test("crc32cExtend equals the CRC of the concatenation", () => {
  assert.equal(crc32cExtend(crc32c(ascii("1234")), ascii("56789")), 0xe3069283);
  assert.equal(crc32cExtend(0x12345678, new Uint8Array(0)), 0x12345678);
});

test("masking matches the spec's examples and round trips", () => {
  assert.equal(maskCrc(0), 0xa282ead8);
  // spec §6.3: int64 3 → crc 0x576c35e3, stored 0x0e4999b0
  const bytes = new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(crc32c(bytes), 0x576c35e3);
  assert.equal(maskCrc(0x576c35e3), 0x0e4999b0);
  for (const c of [0, 1, 0xffffffff, 0xe3069283, 0x80000000]) assert.equal(unmaskCrc(maskCrc(c)), c);
});
