import assert from "node:assert/strict";
import { DenseTensor } from "../../src/index.js";

/** Table i has rows t_r = [base^r... ] chosen so sums are exact and readable: row r = [r + 1, 10 * (r + 1)]. */
export function rowsTable(rows: number, dim = 2): Float32Array {
  const values = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) values[r * dim + d] = (r + 1) * 10 ** d;
  return values;
}

export function assertClose(
  actual: DenseTensor,
  expectedShape: number[],
  expected: number[],
  tolerance = 1e-6,
): void {
  assert.deepEqual([...actual.shape], expectedShape);
  assert.equal(actual.data.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual.data[i] as number;
    const e = expected[i];
    assert.ok(
      Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e)),
      `element ${i}: got ${a}, expected ${e}`,
    );
  }
}

export function values(t: DenseTensor): number[] {
  return Array.from(t.data as Float32Array);
}
