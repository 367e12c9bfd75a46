import type { BagBatch } from "../../src/kernels/bag-batch.js";
import { allocateTables } from "../../src/kernels/table-memory.js";
import { seededRandom } from "../support/seeded-random.js";

/** Random tables and bag batches for the kernel tests, all drawn from one seeded generator. */
export function randomBatches(seed: number) {
  const { rand, int } = seededRandom(seed);

  /** A table in the kernel arenas (or a plain array), with values that make float32 order matter. */
  function tableOf(rows: number, dim: number, arena = true): Float32Array {
    const table = arena ? allocateTables([rows * dim])[0] : new Float32Array(rows * dim);
    for (let i = 0; i < table.length; i++) {
      const u = rand();
      // Mixed magnitudes make float32 rounding order-sensitive; some -0 and exact zeros too.
      table[i] = u < 0.02 ? -0 : u < 0.04 ? 0 : (rand() * 2 - 1) * 2 ** (int(24) - 12);
    }
    return table;
  }

  function bags(rows: number, maxLength: number, vocab: number, weighted: boolean, positions = 0): BagBatch {
    const rowSplits = new Int32Array(rows + 1);
    for (let r = 0; r < rows; r++) rowSplits[r + 1] = rowSplits[r] + int(maxLength + 1);
    const n = rowSplits[rows];
    const ids = new Int32Array(n).map(() => int(vocab));
    const weights = weighted
      ? new Float32Array(n).map(() => (rand() < 0.1 ? 0 : Math.fround(rand() * 3 - 1)))
      : null;
    const pos = positions > 0 ? new Int32Array(n).map(() => int(positions)) : null;
    return { rowSplits, ids, weights, positions: pos };
  }

  return { rand, int, tableOf, bags };
}

/** The bit patterns of float32 values (so -0 and 0 differ). */
export const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.slice().buffer);
