import { test } from "node:test";
import assert from "node:assert/strict";
import { formatFloat32 } from "../../../src/serving/http/float32-text.js";
import {
  jsFloats,
  jsonRowsCapacity,
  nativeJsonFloats,
  wasmJsonFloats,
  type JsonFloatWriter,
} from "../../../src/serving/http/json-floats.js";
import { nativeKernelsAvailable } from "../../../src/kernels/native-addon.js";
import { seededRandom } from "../../support/seeded-random.js";

const native = nativeJsonFloats();
const wasm = wasmJsonFloats();
const writers = [jsFloats, native, wasm].filter((w): w is JsonFloatWriter => w !== null);

test("the native and WebAssembly JSON float writers are present (built by npm ci / npm run build)", () => {
  assert.ok(wasm !== null, "dist/src/serving/http/float-format.wasm");
  if (nativeKernelsAvailable()) assert.ok(native !== null, "formatJsonRows in the addon");
});

/** One list of the float32 values with these bits, as each writer prints it. */
function printed(writer: JsonFloatWriter, bits: readonly number[], scribble = 0): string {
  const data = new Float32Array(Uint32Array.from(bits).buffer);
  const out = Buffer.alloc(3 + jsonRowsCapacity(1, bits.length), scribble);
  const end = writer.write(data, 0, 1, bits.length, out, 3);
  return out.subarray(3, end).toString("latin1");
}

test("every writer prints hand-picked float32s as TF Serving does (%.6g if it reads back, else %.9g, .0, NaN, Infinity)", () => {
  // Expected texts: glibc's snprintf("%.6g"), strtof read-back, else "%.9g", then ".0" (FloatToBuffer +
  // WriteDecimal), computed by a C program for these bit patterns.
  const cases: [number, string][] = [
    [0x00000001, "1.4013e-45"], // smallest subnormal
    [0x00000002, "2.8026e-45"],
    [0x007fffff, "1.17549421e-38"], // largest subnormal
    [0x00800000, "1.17549435e-38"], // smallest normal (a power of two: narrower interval below)
    [0x00800001, "1.17549449e-38"],
    [0x7f7fffff, "3.40282347e+38"], // largest
    [0xff7fffff, "-3.40282347e+38"],
    [0x3f800000, "1.0"],
    [0x3f800001, "1.00000012"],
    [0x3f7fffff, "0.99999994"],
    [0x80000000, "-0.0"],
    [0x00000000, "0.0"],
    [0x7f800000, "Infinity"],
    [0xff800000, "-Infinity"],
    [0x7fc00000, "NaN"],
    [0xffc00001, "NaN"],
    [0x3dcccccd, "0.1"],
    [0x3c23d70a, "0.01"],
    [0x38d1b717, "0.0001"],
    [0x38d1b718, "0.000100000005"],
    [0x4b189680, "1e+07"], // powers of ten: %g switches to an exponent at 10^6 (p = 6) or 10^9 (p = 9)
    [0x4e6e6b28, "1e+09"],
    [0x4e6e6b29, "1.00000006e+09"],
    [0x49742400, "1e+06"],
    [0x49742401, "1000000.06"],
    [0x4cbebc20, "1e+08"],
    [0x5368d4a5, "1e+12"],
    [0x2edbe6ff, "1e-10"],
    [0x3a83126f, "0.001"],
    [0x3e99999a, "0.3"],
    [0x40490fdb, "3.14159274"],
    [0xbf000000, "-0.5"],
    [0x3eaaaaab, "0.333333343"],
    [0x4b7fffff, "16777215.0"],
    [0x4c000000, "33554432.0"],
    [0x33800000, "5.96046448e-08"],
    [0x4479fff0, "999.999"],
    [0x497423f0, "999999.0"],
    // exact ties at the 10th digit, rounded half to even: 6.103515625e-05 down, 3.662109375e-04 up
    [0x38800000, "6.10351562e-05"],
    [0x39c00000, "0.000366210938"],
    [0x3b500000, "0.00317382812"],
  ];
  for (const writer of writers) {
    for (const [bits, text] of cases)
      assert.equal(printed(writer, [bits]), `[${text}]`, `${writer.kind} ${bits}`);
    const all = cases.map(([bits]) => bits);
    assert.equal(printed(writer, all, 0x7a), `[${cases.map(([, t]) => t).join(",")}]`, writer.kind);
  }
});

test("native, WebAssembly and JS writers agree byte for byte on random bit patterns of every magnitude", () => {
  const { rand } = seededRandom(19);
  const bits = Array.from({ length: 60_000 }, () => Math.floor(rand() * 2 ** 32));
  // and values where embeddings live: ±[1e-4, 10)
  for (let i = 0; i < 20_000; i++) bits.push(new Uint32Array(Float32Array.of((rand() - 0.5) * 20).buffer)[0]);
  const reference = printed(jsFloats, bits);
  for (const writer of writers) assert.equal(printed(writer, bits), reference, writer.kind);
  // and each value reads back as the same float32
  const texts = reference.slice(1, -1).split(",");
  texts.forEach((text, i) => {
    const value = new Float32Array(Uint32Array.of(bits[i]).buffer)[0];
    if (Number.isNaN(value)) assert.equal(text, "NaN");
    else assert.ok(Object.is(Math.fround(Number(text)), value), `${bits[i]} → ${text}`);
  });
  assert.equal(formatFloat32(Math.fround(0.1)), "0.1");
});

test("rows: comma-separated lists at an offset, empty lists for width 0, bytes before `at` untouched", () => {
  const data = Float32Array.of(9, 1, 2.5, -3, 0.25, 7);
  for (const writer of writers) {
    const out = Buffer.alloc(2 + jsonRowsCapacity(2, 2), 0x21);
    const end = writer.write(data, 1, 2, 2, out, 2);
    assert.equal(out.subarray(0, end).toString("latin1"), "!![1.0,2.5],[-3.0,0.25]", writer.kind);
    const none = Buffer.alloc(jsonRowsCapacity(3, 0));
    assert.equal(none.subarray(0, writer.write(data, 0, 3, 0, none, 0)).toString(), "[],[],[]", writer.kind);
  }
});

test("rows of every width 0..20 agree with the JS reference on edge values (AVX-512 lanes and the scalar tail)", () => {
  const f32 = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
  const edges: number[] = [];
  // Around every power of ten the lanes handle (1e-14..1e9) and past both ends: the exponent's fix-up.
  for (let n = -16; n <= 11; n++) {
    const b = f32(Number(`1e${n}`));
    for (let d = -2; d <= 2; d++) edges.push(b + d);
  }
  // Exact short decimals (fraction 0 in the lanes), powers of two (the narrower interval below), ties.
  for (const x of [0.5, 0.25, 0.125, 0.0625, 1, 2, 3, 1024, 1.5, 100, 123456, 999999.5, 1e8, 5e8, 0.375]) {
    edges.push(f32(x), f32(-x), f32(x) + 1, f32(x) - 1);
  }
  for (let e = -40; e <= 40; e++) edges.push(f32(2 ** e));
  // 6 vs 9 digits at the interval's end, and values rounding up to the next power of ten.
  for (const x of [9.9999995e-3, 0.099999994, 999999.94, 99999.99, 9.99999e8, 1.00000005e-3, 3.4028235e38]) {
    edges.push(f32(x), f32(x) + 1, f32(x) - 1);
  }
  edges.push(0, 0x80000000, 1, 0x7f800000, 0xff800000, 0x7fc00000, 0x007fffff, 0x00800000);
  const data = new Float32Array(Uint32Array.from(edges).buffer);
  for (const writer of writers) {
    for (let width = 0; width <= 20; width++) {
      const rows = Math.floor(data.length / Math.max(width, 1));
      const at = (width * 7) % data.length;
      const rowsHere = Math.min(rows, Math.floor((data.length - at) / Math.max(width, 1)));
      const out = Buffer.alloc(jsonRowsCapacity(rowsHere, width));
      const ref = Buffer.alloc(jsonRowsCapacity(rowsHere, width));
      const text = out.subarray(0, writer.write(data, at, rowsHere, width, out, 0)).toString("latin1");
      const want = ref.subarray(0, jsFloats.write(data, at, rowsHere, width, ref, 0)).toString("latin1");
      assert.equal(text, want, `${writer.kind}, width ${width}`);
    }
  }
});
