import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { nativeIsa } from "../../src/kernels/native-addon.js";
import { decodeOutputs, encodeCases, kernelCases } from "./kernel-check-cases.js";

/**
 * Every ISA level's kernels against the JS reference, bit for bit, through the stand-alone driver
 * native/check/kernel_check.c: the x86-64 levels this CPU runs (and the generic build other architectures
 * get), and on x86-64 the aarch64 NEON build too, compiled with Debian's cross compiler and run under
 * qemu-user, so the kernels an ARM server (Graviton, Ampere) runs are checked on every CI run without one.
 * The cross tools are optional for a developer (the NEON test is skipped without them); `.ci/run` installs
 * them and sets TPU_EMBEDDING_CROSS_CHECK=required, which turns their absence into a failure.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const nativeDir = path.resolve(here, "../../../native");
/** The addon's kernel flags (binding.gyp), warnings as errors (-Wno-psabi: static helpers of vector type). */
const CFLAGS = [
  "-O3",
  "-ffp-contract=off",
  "-fno-fast-math",
  "-std=c11",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-Wno-psabi",
];

interface LevelBuild {
  readonly level: string;
  readonly cc: string;
  readonly march: readonly string[];
  /** Runs the driver (qemu for another architecture). */
  readonly run: readonly string[];
  readonly link: readonly string[];
}

const has = (command: string): boolean => spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
const qemu = ["qemu-aarch64", "qemu-aarch64-static"].find(has);
const crossCc = "aarch64-linux-gnu-gcc";
const crossRequired = process.env.TPU_EMBEDDING_CROSS_CHECK === "required";

function hostBuilds(): LevelBuild[] {
  const cc = process.env.CC ?? "cc";
  if (!has(cc)) return [];
  const supported = nativeIsa()?.supported ?? [];
  const builds: LevelBuild[] = [{ level: "generic", cc, march: [], run: [], link: [] }];
  if (process.arch === "x64")
    for (const level of ["v2", "v3", "v4"])
      if (supported.includes(level))
        builds.push({ level, cc, march: [`-march=x86-64-${level}`], run: [], link: [] });
  if (process.arch === "arm64")
    builds.push({ level: "neon", cc, march: ["-march=armv8-a"], run: [], link: [] });
  return builds;
}

/** Compiles the driver for `build` into `dir`; its path. */
function compile(build: LevelBuild, dir: string): string {
  const base = path.join(dir, `float-format-${build.level}.o`);
  const exe = path.join(dir, `kernel-check-${build.level}`);
  // float_format.c twice, as in the addon: its shared part alone, then its row writer for the level.
  const steps = [
    [...CFLAGS, ...build.march, "-c", path.join(nativeDir, "float_format.c"), "-o", base],
    [
      ...CFLAGS,
      ...build.march,
      `-DKERNEL_ISA=${build.level}`,
      ...["kernels.c", "kernels_quant.c", "float_format.c", "check/kernel_check.c"].map((f) =>
        path.join(nativeDir, f),
      ),
      base,
      ...build.link,
      "-lm",
      "-o",
      exe,
    ],
  ];
  for (const args of steps) {
    const made = spawnSync(build.cc, args, { encoding: "utf8" });
    assert.equal(made.status, 0, `${build.level}: ${build.cc} ${args.join(" ")}\n${made.stderr}`);
  }
  return exe;
}

const cases = kernelCases(2026);
const caseFile = encodeCases(cases);

function checkLevel(build: LevelBuild): void {
  const dir = mkdtempSync(path.join(tmpdir(), `tpu-embedding-isa-${build.level}-`));
  try {
    const exe = compile(build, dir);
    const input = path.join(dir, "cases.bin");
    writeFileSync(input, caseFile);
    const [runner, ...runArgs] = [...build.run, exe, input];
    const ran = spawnSync(runner, runArgs, { maxBuffer: 1 << 28, timeout: 120_000 });
    assert.equal(ran.status, 0, `${build.level}: the driver failed: ${String(ran.stderr)}`);
    const outputs = decodeOutputs(new Uint8Array(ran.stdout), cases.length);
    let checked = 0;
    for (let c = 0; c < cases.length; c++) {
      const expected = cases[c].expected;
      const actual = outputs[c];
      if (Buffer.compare(actual, expected) !== 0) {
        assert.fail(`${build.level}, ${cases[c].name}: ${difference(actual, expected, cases[c].op === 6)}`);
      }
      checked++;
    }
    assert.equal(checked, cases.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Where two outputs first differ: a float index and both bit patterns, or the texts. */
function difference(actual: Uint8Array, expected: Uint8Array, text: boolean): string {
  if (text)
    return `wrote ${JSON.stringify(Buffer.from(actual).toString())}, expected ${JSON.stringify(Buffer.from(expected).toString())}`;
  if (actual.length !== expected.length) return `${actual.length} bytes, expected ${expected.length}`;
  const a = new Uint32Array(actual.slice().buffer);
  const e = new Uint32Array(expected.slice().buffer);
  const i = a.findIndex((v, k) => v !== e[k]);
  return `value ${i}: bits 0x${a[i].toString(16)}, expected 0x${e[i].toString(16)}`;
}

test("the cases cover every kernel entry point", () => {
  const ops = new Set(cases.map((c) => c.op));
  assert.deepEqual([...ops].sort(), [1, 2, 3, 4, 5, 6]);
  const storages = new Set(cases.filter((c) => c.op <= 4).map((c) => c.storage));
  assert.deepEqual([...storages].sort(), [0, 1, 2, 3]);
  assert.ok(cases.some((c) => c.shift !== 0) && cases.some((c) => c.r0 > 0));
});

for (const build of hostBuilds()) {
  test(`ISA level ${build.level} (this CPU): every kernel matches the JS reference bit for bit`, () =>
    checkLevel(build));
}

const ccMissing = has(crossCc) ? null : `${crossCc} not installed (Debian: gcc-aarch64-linux-gnu)`;
const crossMissing =
  ccMissing ?? (qemu === undefined ? "qemu-aarch64 not installed (Debian: qemu-user)" : null);
/** An aarch64 test's skip reason, or false: with the tools required, a missing one fails the test instead. */
const skipUnless = (missing: string | null): string | false =>
  process.arch !== "x64" ? "not an x86-64 host" : missing !== null && !crossRequired ? missing : false;

test(
  "ISA level neon (aarch64, under qemu-user): every kernel matches the JS reference bit for bit",
  { skip: skipUnless(crossMissing) },
  () => {
    assert.equal(crossMissing, null, `TPU_EMBEDDING_CROSS_CHECK=required, but ${crossMissing}`);
    checkLevel({ level: "neon", cc: crossCc, march: ["-march=armv8-a"], run: [qemu!], link: ["-static"] });
  },
);

/** Node's C headers (node_api.h), shipped with Node under <prefix>/include/node. */
const nodeHeaders = path.join(path.dirname(path.dirname(process.execPath)), "include", "node");

test(
  "the addon's own sources (N-API entry points, batch runner, dispatch, JSON scanner) compile for aarch64",
  {
    skip:
      skipUnless(ccMissing) ||
      (ccMissing === null && !existsSync(path.join(nodeHeaders, "node_api.h"))
        ? `Node's headers not found at ${nodeHeaders}`
        : false),
  },
  () => {
    assert.ok(has(crossCc), `TPU_EMBEDDING_CROSS_CHECK=required, but ${crossCc} is not installed`);
    const sources = readdirSync(nativeDir).filter((f) => f.endsWith(".c"));
    assert.ok(sources.includes("addon.c") && sources.includes("batch.c"), sources.join(", "));
    for (const source of sources) {
      const args = [
        ...CFLAGS,
        "-march=armv8-a",
        "-fsyntax-only",
        `-I${nodeHeaders}`,
        path.join(nativeDir, source),
      ];
      const made = spawnSync(crossCc, args, { encoding: "utf8" });
      assert.equal(made.status, 0, `${source}: ${made.stderr}`);
    }
  },
);
