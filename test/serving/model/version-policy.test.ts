import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../../src/index.js";
import {
  formatVersionPolicy,
  parseVersionLabels,
  parseVersionPolicy,
  selectVersions,
} from "../../../src/serving/model/version-policy.js";

test("version policies pick like TF Serving's model_version_policy", () => {
  const versions = [3, 10, 7, 1];
  assert.deepEqual(selectVersions({ kind: "latest", count: 1 }, versions), [10]);
  assert.deepEqual(selectVersions({ kind: "latest", count: 2 }, versions), [10, 7]);
  assert.deepEqual(selectVersions({ kind: "latest", count: 9 }, versions), [10, 7, 3, 1]);
  assert.deepEqual(selectVersions({ kind: "all" }, versions), [10, 7, 3, 1]);
  assert.deepEqual(selectVersions({ kind: "specific", versions: [3, 4, 1] }, versions), [3, 1]);
  assert.deepEqual(selectVersions({ kind: "latest", count: 1 }, []), []);
});

test("version policy spellings parse, print back, and reject nonsense", () => {
  for (const text of ["latest", "latest:3", "all", "specific:4,2"]) {
    assert.equal(formatVersionPolicy(parseVersionPolicy(text)), text);
  }
  assert.deepEqual(parseVersionPolicy("latest:1"), { kind: "latest", count: 1 });
  assert.deepEqual(parseVersionPolicy("specific: 5 , 6"), { kind: "specific", versions: [5, 6] });
  for (const bad of ["newest", "latest:0", "latest:x", "specific:", "specific:1,b", "all:2", ""]) {
    assert.throws(() => parseVersionPolicy(bad), InvalidArgumentError, bad);
  }
});

test("version labels parse LABEL=VERSION pairs", () => {
  assert.deepEqual(
    [...parseVersionLabels("stable=3,canary=4")],
    [
      ["stable", 3],
      ["canary", 4],
    ],
  );
  assert.equal(parseVersionLabels("").size, 0);
  assert.throws(() => parseVersionLabels("stable"), /LABEL=VERSION/);
  assert.throws(() => parseVersionLabels("stable=x"), /not a version number/);
  assert.throws(() => parseVersionLabels("a=1,a=2"), /given twice/);
});
