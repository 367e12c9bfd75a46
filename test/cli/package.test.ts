import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, tempDir } from "../checkpoint/helpers.js";

test("require('tpu-embedding') works where Node supports require(esm) (the `default` export condition)", () => {
  const dir = tempDir();
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "tpu-embedding"), "dir");
  writeFileSync(
    join(dir, "use.cjs"),
    'const m = require("tpu-embedding"); console.log(typeof m.TPUEmbeddingForServing, typeof m.startServer, require("tpu-embedding/package.json").name);\n',
  );
  // Node 20.19+ and 22.12+ load ESM from require() by default; 20.17+ and 22.0+ with the flag.
  const run = spawnSync(process.execPath, ["--experimental-require-module", join(dir, "use.cjs")], {
    cwd: dir,
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), "function function tpu-embedding");
});

test("the package ships the Apache-2.0 LICENSE its package.json names", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { license: string };
  assert.equal(pkg.license, "Apache-2.0");
  const text = readFileSync(join(ROOT, "LICENSE"), "utf8");
  assert.match(text, /^\s*Apache License\s+Version 2\.0, January 2004/);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
});
