import assert from "node:assert/strict";
import { test } from "node:test";
import {
  readNumIncreasing,
  readSignedNumIncreasing,
  readString,
  writeNumIncreasing,
  writeSignedNumIncreasing,
  writeString,
} from "../../../src/checkpoint/bundle/ordered-code.js";
import { ByteSink } from "../../../src/checkpoint/sstable/coding.js";

const hex = (f: (s: ByteSink) => void): string => {
  const s = new ByteSink();
  f(s);
  return Buffer.from(s.toBytes()).toString("hex");
};

test("WriteNumIncreasing examples", () => {
  assert.equal(
    hex((s) => writeNumIncreasing(s, 0)),
    "00",
  );
  assert.equal(
    hex((s) => writeNumIncreasing(s, 1)),
    "0101",
  );
  assert.equal(
    hex((s) => writeNumIncreasing(s, 255)),
    "01ff",
  );
  assert.equal(
    hex((s) => writeNumIncreasing(s, 256)),
    "020100",
  );
  assert.deepEqual(readNumIncreasing(Buffer.from("020100", "hex"), 0), { value: 256n, next: 3 });
});

test("WriteString escapes 0x00 and 0xff and terminates with 00 01", () => {
  const enc = hex((s) => writeString(s, new Uint8Array([0x61, 0x00, 0xff, 0x62])));
  assert.equal(enc, "6100ffff00620001");
  assert.deepEqual([...readString(Buffer.from(enc, "hex"), 0).value], [0x61, 0x00, 0xff, 0x62]);
});

test("WriteSignedNumIncreasing matches every example of the spec", () => {
  const cases: [number | bigint, string][] = [
    [0, "80"],
    [5, "85"],
    [63, "bf"],
    [-1, "7f"],
    [-64, "40"],
    [64, "c040"],
    [1000, "c3e8"],
    [8191, "dfff"],
    [8192, "e02000"],
    [-65, "3fbf"],
    [-8192, "2000"],
    [-8193, "1fdfff"],
    [0x424242, "f0424242"],
    [-0x800, "3800"],
  ];
  for (const [v, h] of cases) {
    assert.equal(
      hex((s) => writeSignedNumIncreasing(s, v)),
      h,
      `encode ${v}`,
    );
    const d = readSignedNumIncreasing(Buffer.from(h, "hex"), 0);
    assert.equal(d.value, BigInt(v), `decode ${h}`);
    assert.equal(d.next, h.length / 2);
  }
});

test("WriteSignedNumIncreasing round trips across lengths and preserves order", () => {
  const values: bigint[] = [];
  for (let i = -70000; i < 70000; i += 997) values.push(BigInt(i));
  for (let b = 0; b < 63; b += 3) values.push(1n << BigInt(b), -(1n << BigInt(b)) - 1n);
  values.push((1n << 63n) - 1n, -(1n << 63n));
  const encoded = values.map((v) => {
    const s = new ByteSink();
    writeSignedNumIncreasing(s, v);
    const bytes = s.toBytes();
    const d = readSignedNumIncreasing(bytes, 0);
    assert.equal(d.value, v);
    assert.equal(d.next, bytes.length);
    return { v, h: Buffer.from(bytes).toString("latin1") };
  });
  encoded.sort((a, b) => (a.v < b.v ? -1 : a.v > b.v ? 1 : 0));
  for (let i = 1; i < encoded.length; i++)
    assert.ok(encoded[i - 1].h < encoded[i].h, "bytewise order = numeric order");
});
