import { test } from "node:test";
import assert from "node:assert/strict";
import { kernelChoice, kernelMeasurement, setKernelChoice } from "../../src/kernels/kernel-choice.js";
import { measureFamilies } from "../../src/kernels/family-measure.js";
import { nativeKernelsAvailable } from "../../src/kernels/native-addon.js";
import { wasmKernelsAvailable } from "../../src/kernels/wasm-kernels.js";

/**
 * Unset (or `auto`), TPU_EMBEDDING_KERNELS leaves the family to a measurement: the native and WebAssembly
 * kernels timed on the same bags, the faster chosen, once per thread; an override skips it.
 */
test("without an override the kernel family is the measured faster one, measured once", () => {
  const saved = process.env.TPU_EMBEDDING_KERNELS;
  try {
    process.env.TPU_EMBEDDING_KERNELS = "auto";
    setKernelChoice(undefined);
    const choice = kernelChoice();
    const m = kernelMeasurement();
    assert.ok(m !== undefined);
    assert.equal(choice, m.choice);
    if (nativeKernelsAvailable() && wasmKernelsAvailable()) {
      assert.ok(m.nativeNsPerId > 0 && m.wasmNsPerId > 0, JSON.stringify(m));
      assert.equal(m.choice, m.wasmNsPerId < m.nativeNsPerId ? "wasm" : "native");
    } else {
      assert.equal(m.choice, nativeKernelsAvailable() ? "native" : "wasm");
    }
    assert.equal(kernelMeasurement(), m, "cached: the same measurement object");
    assert.equal(kernelChoice(), choice);
    process.env.TPU_EMBEDDING_KERNELS = "js";
    setKernelChoice(undefined);
    assert.equal(kernelChoice(), "js");
    assert.equal(kernelMeasurement(), undefined, "forced: no measurement reported");
  } finally {
    if (saved === undefined) delete process.env.TPU_EMBEDDING_KERNELS;
    else process.env.TPU_EMBEDDING_KERNELS = saved;
    setKernelChoice(undefined);
  }
});

test("a measurement runs both families on the same bags and names the faster", () => {
  const m = measureFamilies();
  assert.ok(m.choice === "native" || m.choice === "wasm");
  if (nativeKernelsAvailable() && wasmKernelsAvailable())
    assert.equal(m.choice, m.wasmNsPerId < m.nativeNsPerId ? "wasm" : "native");
});
