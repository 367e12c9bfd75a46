import { test } from "node:test";
import assert from "node:assert/strict";
import { LookupPool } from "../../src/kernels/lookup-pool.js";
import { runOnPool, runOnWorkers, type PoolJob } from "../support/pool-batches.js";

const DIM = 4;
const ROWS = 100;

/** A shared table whose row r holds seed·1000 + r·DIM + k, so every output value names its table and row. */
function sharedTable(seed: number): Float32Array {
  const table = new Float32Array(new SharedArrayBuffer(ROWS * DIM * 4));
  for (let i = 0; i < table.length; i++) table[i] = seed * 1000 + i;
  return table;
}

/** A dense gather of `count` ids: big enough to be split between the caller and a worker. */
function gather(count: number): { works: PoolJob[]; ids: Int32Array } {
  const ids = new Int32Array(count).map((_, i) => (i * 7) % ROWS);
  return { works: [{ job: { kind: "gather", ids }, table: 0, dim: DIM }], ids };
}

function assertGathered(out: Float32Array, ids: Int32Array, table: Float32Array, context: string): void {
  for (let i = 0; i < ids.length; i++) {
    for (let k = 0; k < DIM; k++) {
      if (out[i * DIM + k] !== table[ids[i] * DIM + k])
        assert.fail(
          `${context}: value ${i * DIM + k} is ${out[i * DIM + k]}, not ${table[ids[i] * DIM + k]}`,
        );
    }
  }
}

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

test("a worker is rung through its mailbox only once it has handled what was posted to it (a new table set)", async (t) => {
  // Workers spin long after a synchronous run, so the last lookup below finds this one spinning.
  const pool = new LookupPool({ workerSpinMs: 10_000 });
  try {
    // Work enough (256 Ki ids, about a millisecond) that a rung worker surely joins before this thread has
    // done it all alone, and little enough that the worker is still booting after the first two lookups.
    const { works, ids } = gather(1 << 18);
    const first = sharedTable(1);
    const second = sharedTable(2);
    const a = pool.register([first], [DIM]);
    assertGathered(
      runOnPool(pool, a, [first], works, 1)[0],
      ids,
      first,
      "set a, this thread (compiles the kernel)",
    );
    assert.equal(pool.size, 0);
    // The new worker boots for milliseconds: both lookups are done by this thread alone meanwhile, and
    // the worker finds their messages queued (attach a, slot, run, attach b, run). After the first run
    // message it spins with "attach b" still queued, and a ring for set b then failed ("table set 2 is not
    // attached"), and so did the lookup. Now it is rung only once it has handled "attach b": until then
    // lookups post it the run, which sends it back to its queue.
    assertGathered(runOnPool(pool, a, [first], works, 2)[0], ids, first, "set a");
    const b = pool.register([second], [DIM]);
    assertGathered(runOnPool(pool, b, [second], works, 2)[0], ids, second, "set b, worker booting");
    // (On a machine so loaded that the worker spins already, nothing was queued: then this test proves less.)
    if (pool.spinningWorkers !== 0) t.diagnostic("the worker booted before the second lookup");
    for (let waited = 0; pool.spinningWorkers === 0 && waited < 10_000; waited += 5) sleep(5);
    assert.equal(pool.spinningWorkers, 1);
    const rings = pool.mailboxRuns;
    for (let k = 0; k < 2000 && pool.mailboxRuns < rings + 5; k++) {
      assertGathered(runOnPool(pool, b, [second], works, 2)[0], ids, second, `set b, lookup ${k}`);
    }
    assert.ok(pool.mailboxRuns >= rings + 5, "the worker was rung through its mailbox");
  } finally {
    await pool.close();
  }
});

test("close stops the workers; a later run starts new ones", async () => {
  const pool = new LookupPool({ workerSpinMs: 0 });
  const { works, ids } = gather(8192);
  const table = sharedTable(3);
  const set = pool.register([table], [DIM]);
  assertGathered((await runOnWorkers(pool, set, works, 2))[0], ids, table, "before close");
  assert.equal(pool.size, 2);
  await pool.close();
  assert.equal(pool.size, 0);
  assertGathered((await runOnWorkers(pool, set, works, 2))[0], ids, table, "after close");
  assert.equal(pool.size, 2);
  await pool.close();
});
