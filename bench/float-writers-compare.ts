/**
 * The WebAssembly and JS float writers against the native one over every `--stride`-th float32 bit
 * pattern (default 257: 16.7 M patterns, a few minutes; the WebAssembly writer hands magnitudes outside
 * 1e-9..1e9 to the JS reference, so those compare the reference too). One JSON line. The native writer
 * itself is checked over all 2^32 patterns by bench/float-format-exhaustive.c.
 */
import { jsonRowsCapacity, nativeJsonFloats, wasmJsonFloats } from "../src/serving/http/json-floats.js";
import { cpuName } from "./cpu-name.js";
import { arg } from "./workload.js";

const STRIDE = Number(arg("stride", "257"));
const N = 1 << 20;
const native = nativeJsonFloats();
const wasm = wasmJsonFloats();
if (native === null || wasm === null) throw new Error("needs the native addon and the WebAssembly writer");
const bits = new Uint32Array(N);
const data = new Float32Array(bits.buffer);
const a = Buffer.alloc(jsonRowsCapacity(1, N));
const b = Buffer.alloc(jsonRowsCapacity(1, N));
let checked = 0;
let mismatches = 0;
const t0 = Date.now();
for (let next = 0; next <= 0xffffffff;) {
  let n = 0;
  for (; n < N && next <= 0xffffffff; n++, next += STRIDE) bits[n] = next;
  const endA = native.write(data, 0, 1, n, a, 0);
  const endB = wasm.write(data, 0, 1, n, b, 0);
  if (endA !== endB || a.compare(b, 0, endB, 0, endA) !== 0) mismatches++;
  checked += n;
}
console.log(
  JSON.stringify({
    bench: "float-writers-compare",
    stride: STRIDE,
    checked,
    chunk_mismatches: mismatches,
    seconds: (Date.now() - t0) / 1000,
    cpu: cpuName(),
  }),
);
if (mismatches > 0) process.exitCode = 1;
