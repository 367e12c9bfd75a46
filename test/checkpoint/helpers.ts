/** Shared test helpers: fixture paths, temp dirs, the Python reference reader, manifest stats. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bfloat16ToNumber, halfToNumber } from "../../src/checkpoint/bundle/dtypes.js";
import type { Tensor } from "../../src/checkpoint/bundle/tensor.js";

/** Repository root (tests run from dist/test/...). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const FIXTURES = join(ROOT, "test", "fixtures", "checkpoints");
export const FIXTURE_NAMES = [
  "synthetic-sliced",
  "tf1-saver-regression",
  "tfjs-testobjects",
  "tfrust-regression",
  "tfserving-testdata",
];
export const REF_READER = join(ROOT, "..", "shared", "tools", "ref_ckpt_reader.py");

export function tempDir(name = "ckpt-test-"): string {
  return mkdtempSync(join(tmpdir(), name));
}

export function fixture(name: string, ...parts: string[]): string {
  return join(FIXTURES, name, ...parts);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export function manifest(name: string): Json {
  return JSON.parse(readFileSync(fixture(name, "MANIFEST.json"), "utf8"));
}

let pythonChecked: boolean | undefined;
/** Whether python3 and the shared reference reader are available. */
export function hasReferenceReader(): boolean {
  if (pythonChecked === undefined) {
    const r = spawnSync("python3", ["-c", "import sys; sys.exit(0)"]);
    let exists = false;
    try {
      readFileSync(REF_READER);
      exists = true;
    } catch {
      exists = false;
    }
    pythonChecked = r.status === 0 && exists;
  }
  return pythonChecked;
}

/** Runs the reference reader on `dir` (writes dir/MANIFEST.json) and returns the manifest. */
export function runReferenceReader(dir: string): Json {
  const r = spawnSync("python3", [REF_READER, dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ref_ckpt_reader failed: ${r.stdout}\n${r.stderr}`);
  return JSON.parse(readFileSync(join(dir, "MANIFEST.json"), "utf8"));
}

/** Elements as numbers (floats, incl. half/bfloat16 converted) or bigints (64-bit ints). */
export function elementValues(t: Tensor): (number | bigint)[] {
  if (t.dtype === "string") throw new Error("string tensor");
  const raw = Array.from(t.data as ArrayLike<number | bigint>);
  if (t.dtype === "float16") return raw.map((b) => halfToNumber(b as number));
  if (t.dtype === "bfloat16") return raw.map((b) => bfloat16ToNumber(b as number));
  return raw;
}

/** The manifest's representation of a value (non-finite floats as strings, 64-bit ints as decimal). */
export function manifestValue(v: number | bigint): number | string {
  if (typeof v === "bigint") return v.toString();
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  return v;
}
