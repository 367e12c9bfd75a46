import { test } from "node:test";
import assert from "node:assert/strict";
import { OutOfRangeError, TableConfig } from "../../src/index.js";
import { tableRows } from "../../src/embedding/ids.js";

const table = new TableConfig({ vocabularySize: 10, dim: 4, name: "t" });

test("tableRows: in-range int32 ids are used as they are, without a copy", () => {
  const ids = Int32Array.of(0, 9, 3);
  assert.equal(tableRows(ids, table, '"f"'), ids);
});

test("tableRows: int64 ids are narrowed exactly; every id outside the table names itself", () => {
  assert.deepEqual(Array.from(tableRows(BigInt64Array.of(0n, 9n, 3n), table, '"f"')), [0, 9, 3]);
  // 2^32 + 3 has low word 3: it must not alias row 3.
  for (const bad of [10n, -1n, 2n ** 31n, 2n ** 32n + 3n, -(2n ** 63n), 2n ** 63n - 1n]) {
    assert.throws(
      () => tableRows(BigInt64Array.of(1n, bad), table, '"f"'),
      (e: unknown) => e instanceof OutOfRangeError && e.id === bad && e.table === "t",
      String(bad),
    );
  }
  for (const bad of [10, -1, 2 ** 31 - 1, -(2 ** 31)]) {
    assert.throws(
      () => tableRows(Int32Array.of(bad), table, '"f"'),
      (e: unknown) => e instanceof OutOfRangeError && e.id === bad,
      String(bad),
    );
  }
});

test("tableRows on long int32 arrays (the native range check): the first id outside the table, at every position", () => {
  for (const length of [511, 512, 513, 1000, 4096]) {
    const ids = new Int32Array(length).map((_, i) => i % 10);
    assert.equal(tableRows(ids, table, '"f"'), ids, `${length}: all in range`);
    for (const at of [0, 63, 64, 65, length - 2, length - 1]) {
      for (const bad of [10, -1, 2 ** 31 - 1, -(2 ** 31)]) {
        const copy = ids.slice();
        copy[at] = bad;
        if (at < length - 1) copy[length - 1] = 11; // a later bad id must not be the one reported
        assert.throws(
          () => tableRows(copy, table, '"f"'),
          (e: unknown) => e instanceof OutOfRangeError && e.id === bad,
          `${length} @${at}: ${bad}`,
        );
      }
    }
  }
});
