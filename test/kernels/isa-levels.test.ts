import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nativeIsa } from "../../src/kernels/native-addon.js";

/**
 * The native kernels are compiled once per ISA level (native/kernels.h) and one level runs per process
 * (TPU_EMBEDDING_ISA). Each level this CPU runs gets the kernel suites in a child process of its own:
 * bit-for-bit comparisons with the JS reference (native-kernels) and hand-computed values through the
 * batch interface (batch-kernels), plus a check that the child really ran that level.
 */
const isa = nativeIsa();
const skip = isa === null ? "native addon not built" : false;
const here = path.dirname(fileURLToPath(import.meta.url));
/** The suites every level runs (a new per-ISA kernel file adds its suite here). */
const SUITES = [
  "native-kernels.test.js",
  "batch-kernels.test.js",
  // quantized rows (native/kernels_quant.c, per level too)
  "../embedding/quantized-storage.test.js",
  // the JSON answers' float writer (native/float_format.c's row writer, per level too)
  "../serving/http/json-floats.test.js",
];

for (const level of isa?.supported ?? []) {
  test(`ISA level ${level}: the kernel suites pass and the level is the one running`, { skip }, () => {
    // NODE_TEST_CONTEXT dropped: with it the child's test runner reports to ours and exits 0 on failures.
    const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
    const env = { ...inherited, TPU_EMBEDDING_ISA: level, TPU_EMBEDDING_KERNELS: "" };
    const probe = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { nativeIsa } from ${JSON.stringify(path.join(here, "../../src/kernels/native-addon.js"))};` +
          "process.stdout.write(nativeIsa().active);",
      ],
      { env, encoding: "utf8" },
    );
    assert.equal(probe.stdout, level, probe.stderr);
    const run = spawnSync(
      process.execPath,
      ["--test", "--test-reporter=dot", ...SUITES.map((s) => path.join(here, s))],
      { env, encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(run.status, 0, `${level}:\n${run.stdout}\n${run.stderr}`);
  });
}

test("an ISA level this CPU does not run is refused by name", { skip }, () => {
  const env = { ...process.env, TPU_EMBEDDING_ISA: process.arch === "x64" ? "neon" : "v4" };
  const run = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { nativeAddon } from ${JSON.stringify(path.join(here, "../../src/kernels/native-addon.js"))};` +
        "nativeAddon();",
    ],
    { env, encoding: "utf8" },
  );
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /InvalidArgumentError: TPU_EMBEDDING_ISA=(neon|v4) cannot run on this CPU/);
});
