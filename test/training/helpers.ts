import assert from "node:assert/strict";
import {
  constant,
  DenseTensor,
  FeatureConfig,
  TableConfig,
  TPUEmbeddingForServing,
  type Optimizer,
} from "../../src/index.js";

/** Float32 rounding, as the TPU stores every value. */
export const f = Math.fround;

/**
 * Tolerance of these tests: expected values are computed by hand in float64 from the formulas, while the
 * library rounds each intermediate to float32 as the TPU does, so results agree to a relative 2e-6
 * (a few float32 ulps) after one step; multi-step tests allow 1e-5.
 */
export const ONE_STEP = 2e-6;
export const MULTI_STEP = 1e-5;

export function assertNear(
  actual: ArrayLike<number>,
  expected: readonly number[],
  rel = ONE_STEP,
  what = "",
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    assert.ok(
      Math.abs(a - e) <= rel * Math.max(Math.abs(e), 1e-3),
      `${what}[${i}]: got ${a}, expected ${e} (relative tolerance ${rel})`,
    );
  }
}

/** One table with a single dense feature "f": ids in, one gradient row per id. */
export function singleTable(
  optimizer: Optimizer | null,
  rows: number,
  dim: number,
  initial: readonly number[] | number = 0,
  tableOptimizer: Optimizer | null = null,
): { embedding: TPUEmbeddingForServing; table: TableConfig } {
  const table = new TableConfig({
    vocabularySize: rows,
    dim,
    initializer: constant(initial),
    optimizer: tableOptimizer,
    name: "t",
  });
  const embedding = new TPUEmbeddingForServing({
    featureConfig: { f: new FeatureConfig({ table }) },
    optimizer,
  });
  return { embedding, table };
}

/** Looks up dense ids on feature "f" and applies `gradient` (one row of `dim` values per id). */
export function step(embedding: TPUEmbeddingForServing, ids: number[], gradient: number[]): void {
  embedding.embeddingLookup({ f: DenseTensor.from(Int32Array.from(ids)) });
  const dim = gradient.length / ids.length;
  embedding.applyGradients({ f: new DenseTensor(Float32Array.from(gradient), [ids.length, dim]) });
}

export function variable(embedding: TPUEmbeddingForServing, name: string): Float32Array {
  return embedding.variable(name).value.data;
}

/** Row `r` of a `dim`-wide variable as plain numbers. */
export function row(embedding: TPUEmbeddingForServing, name: string, r: number, dim: number): number[] {
  return Array.from(variable(embedding, name).subarray(r * dim, (r + 1) * dim));
}

/** Copies of every variable, to compare bit patterns after a step. */
export function snapshot(embedding: TPUEmbeddingForServing): Map<string, Uint32Array> {
  const out = new Map<string, Uint32Array>();
  for (const [name, v] of embedding.variables) out.set(name, new Uint32Array(v.value.data.slice().buffer));
  return out;
}

/** Asserts bit-identical variables, or bit-identical rows except `changedRows` of `changedTable`. */
export function assertUnchanged(
  embedding: TPUEmbeddingForServing,
  before: Map<string, Uint32Array>,
  except: { table: string; rows: number[]; dim: number } | null = null,
): void {
  for (const [name, v] of embedding.variables) {
    const now = new Uint32Array(v.value.data.buffer, v.value.data.byteOffset, v.value.data.length);
    const then = before.get(name)!;
    for (let i = 0; i < now.length; i++) {
      if (
        except !== null &&
        v.table.name === except.table &&
        except.rows.includes(Math.floor(i / except.dim))
      )
        continue;
      assert.equal(now[i], then[i], `${name}[${i}] changed`);
    }
  }
}

export function grad(values: readonly number[], shape: readonly number[]): DenseTensor<Float32Array> {
  return new DenseTensor(Float32Array.from(values), shape);
}
