import { test } from "node:test";
import assert from "node:assert/strict";
import { cacheRowsPerTable, TableRowCache, type CacheStats } from "../../src/redis/row-cache.js";

const fresh = (): CacheStats => ({ hits: 0, misses: 0, evictions: 0, bytes: 0 });
/** A stored row of two float32 values (8 bytes), as the cache holds rows: their bytes. */
const rowOf = (id: number) => new Uint8Array(Float32Array.from([id, -id]).buffer);

test("CLOCK (ceiling 1): a row used since the hand last passed survives, the unused one is evicted", () => {
  const stats = fresh();
  const cache = new TableRowCache(2, 8, 1, stats);
  const out = new Uint8Array(8);
  cache.put(1, rowOf(1), 0);
  cache.put(2, rowOf(2), 0);
  assert.equal(stats.bytes, 16);
  assert.equal(cache.get(1, out, 0), true); // slot 0 (id 1) count 1
  assert.deepEqual(out, rowOf(1));
  cache.put(3, rowOf(3), 0); // hand: slot 0 count 1 -> 0, slot 1 count 0 -> evict id 2
  assert.equal(stats.evictions, 1);
  assert.equal(cache.get(2, out, 0), false);
  assert.equal(cache.get(3, out, 0), true);
  assert.deepEqual(out, rowOf(3));
  assert.equal(cache.get(1, out, 0), true);
  assert.equal(stats.bytes, 16);
  cache.clear();
  assert.equal(stats.bytes, 0);
  assert.equal(cache.get(1, out, 0), false);
});

test("GCLOCK (ceiling 3): a row hit three times outlives rows hit once", () => {
  const cache = new TableRowCache(2, 8, 3, fresh());
  const out = new Uint8Array(16);
  cache.put(10, rowOf(10), 0);
  cache.put(20, rowOf(20), 0);
  for (let i = 0; i < 3; i++) cache.get(10, out, 1); // count 3
  cache.get(20, out, 0); // count 1
  // put 30: the hand lowers 10 (3->2), 20 (1->0), 10 (2->1), then evicts 20 (slot 1; the hand moves to slot 0).
  cache.put(30, rowOf(30), 0);
  assert.equal(cache.get(20, out, 0), false);
  // put 40: the hand lowers 10 (1->0), then finds 30 (slot 1, count 0) and evicts it: 10 stays.
  cache.put(40, rowOf(40), 0);
  assert.equal(cache.get(30, out, 0), false);
  assert.equal(cache.get(10, out, 1), true);
  assert.deepEqual(out.subarray(8), rowOf(10));
});

test("the cache budget is split over tables in proportion to their bytes, never more rows than a table has", () => {
  // 100 rows of 8 B = 800 B and 50 of 16 B = 800 B: 1000 B gives each 500 B, i.e. 62 and 31 rows.
  assert.deepEqual(
    cacheRowsPerTable(1000, [
      { vocabularySize: 100, rowBytes: 8 },
      { vocabularySize: 50, rowBytes: 16 },
    ]),
    [62, 31],
  );
  assert.deepEqual(cacheRowsPerTable(1 << 30, [{ vocabularySize: 7, rowBytes: 8 }]), [7]);
  assert.deepEqual(cacheRowsPerTable(0, [{ vocabularySize: 7, rowBytes: 8 }]), [0]);
});
