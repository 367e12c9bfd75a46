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
