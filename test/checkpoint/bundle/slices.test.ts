import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkSlicesCoverTensor,
  copySliceBytes,
  coversWholeTensor,
  decodeTensorNameSlice,
  encodeTensorNameSlice,
  formatSlice,
  parseSlice,
} from "../../../src/checkpoint/bundle/slices.js";
import { DataLossError } from "../../../src/errors.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

test("slice keys match the spec's worked example (§7.4)", () => {
  assert.equal(hex(encodeTensorNameSlice("emb", parseSlice("0,5:0,4"))), "00656d62000101028085" + "8084");
  assert.equal(hex(encodeTensorNameSlice("emb", parseSlice("5,5:0,4"))), "00656d62000101028585" + "8084");
  assert.equal(hex(encodeTensorNameSlice("emb", parseSlice("0,5:-"))), "00656d6200010102" + "8085807f");
  const d = decodeTensorNameSlice(encodeTensorNameSlice("emb", parseSlice("0,5:-")));
  assert.equal(new TextDecoder().decode(d.name), "emb");
  assert.equal(formatSlice(d.slice), "0,5:-");
});

test("coversWholeTensor follows TF's IsFullSlice", () => {
  assert.equal(coversWholeTensor([10, 4], parseSlice("0,10:0,4")), true);
  assert.equal(coversWholeTensor([10, 4], parseSlice("-:-")), true);
  assert.equal(coversWholeTensor([10, 4], parseSlice("0,5:0,4")), false);
});

test("coverage check rejects gaps and overlaps", () => {
  checkSlicesCoverTensor([10, 4], [parseSlice("0,5:0,4"), parseSlice("5,5:-")], "t");
  assert.throws(() => checkSlicesCoverTensor([10, 4], [parseSlice("0,5:0,4")], "t"), DataLossError);
  assert.throws(
    () => checkSlicesCoverTensor([10, 4], [parseSlice("0,6:0,4"), parseSlice("4,6:0,4")], "t"),
    /overlap/,
  );
  assert.throws(() => checkSlicesCoverTensor([10, 4], [parseSlice("0,11:0,4")], "t"), /outside/);
});

test("copySliceBytes scatters a column slice into the full tensor and gathers it back", () => {
  const full = new Uint8Array(4 * 6);
  const part = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
  copySliceBytes(full, [4, 6], parseSlice("-:3,3"), part, 1, true);
  assert.deepEqual([...full], [0, 0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 0, 7, 8, 9, 0, 0, 0, 10, 11, 12]);
  const back = new Uint8Array(12);
  copySliceBytes(full, [4, 6], parseSlice("-:3,3"), back, 1, false);
  assert.deepEqual(back, part);
});
