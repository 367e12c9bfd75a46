import { Optimizer } from "../config/optimizers.js";
import type { StorageKind } from "../kernels/quantized-rows.js";
import type { FeatureStructure, LookupResult } from "./feature-structure.js";
import type { TableConfig } from "../config/table-config.js";
import { describeValue } from "../config/validate.js";
import { InvalidArgumentError } from "../errors.js";
import type { FeatureConfig } from "../config/feature-config.js";

/** TPUEmbeddingForServing's options, checked as TF checks them. */

export interface TPUEmbeddingForServingOptions {
  featureConfig: FeatureStructure;
  /** The optimizer of tables that have none; `null` for pure serving (no slot variables). */
  optimizer?: Optimizer | null;
  /** Seeds the default initializers (table `i` gets a seed derived from this), for reproducible tables. */
  seed?: number;
  /**
   * Lookup threads (integer >= 1, default 1). `embeddingLookup` splits large batches between the calling
   * thread and `threads - 1` workers; `embeddingLookupAsync` runs kernels on up to `threads` workers.
   */
  threads?: number;
  /**
   * How tables are stored for lookups: `"float32"` (the default: TF's numbers exactly), `"float16"`,
   * `"bfloat16"` or `"int8"` (row-wise scale and bias), for every table, or per table name (tables not
   * named stay float32). Quantized tables are quantized once at build or restore, from their float32
   * values, and then take 2-4× less memory; lookups dequantize in the kernels and accumulate in float32
   * (docs/quantization.md). Training needs float32 tables.
   */
  tableStorage?: StorageKind | Readonly<Record<string, StorageKind>>;
}

/** Options of one lookup. */
export interface LookupOptions<I> {
  /**
   * Caller-owned outputs to write into instead of fresh ones: the result of an earlier lookup of inputs
   * with the same structure and shapes, or `createOutputs(features)`. Checked before any kernel runs; the
   * result's leaves are these very tensors. Outputs in shared memory (`createOutputs`) are written in place
   * by every lookup thread, others are filled by the calling thread. If the lookup fails on an input error,
   * nothing has been written.
   */
  into?: LookupResult<I>;
}

/**
 * The distinct tables of the flattened (sorted-key) features in TF's order, first occurrence first, with
 * what TF writes into the TableConfigs themselves: the global optimizer where a table has none, and
 * `table_<i>` where it has no name. Names must be unique.
 */
export function distinctTables(
  features: readonly { readonly value: FeatureConfig }[],
  optimizer: Optimizer | null,
): TableConfig[] {
  const tables: TableConfig[] = [];
  for (const { value } of features) if (!tables.includes(value.table)) tables.push(value.table);
  const names = new Set<string>();
  tables.forEach((table, i) => {
    if (table.optimizer === null) table.optimizer = optimizer;
    if (table.optimizer !== null && !(table.optimizer instanceof Optimizer)) {
      throw new InvalidArgumentError(
        `${describeValue(table.optimizer)} is an unsupported optimizer class. Please pass an instance of ` +
          `SGD, Adagrad, AdagradMomentum, Adam or FTRL.`,
      );
    }
    if (table.name === null) table.name = `table_${i}`;
    if (names.has(table.name)) {
      throw new InvalidArgumentError(
        `Tables must have a unique name. Multiple tables with name ${table.name} found.`,
      );
    }
    names.add(table.name);
  });
  return tables;
}

/** The `seed` option: an integer, or undefined. */
export function checkedSeed(seed: unknown): number | undefined {
  if (seed !== undefined && !Number.isInteger(seed)) {
    throw new InvalidArgumentError(
      `TPUEmbeddingForServing: seed must be an integer, got ${describeValue(seed)}.`,
    );
  }
  return seed as number | undefined;
}

/** The `threads` option: an integer >= 1, default 1. */
export function checkedThreads(threads: unknown): number {
  const value = threads ?? 1;
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new InvalidArgumentError(
      `TPUEmbeddingForServing: threads must be an integer >= 1, got ${describeValue(threads)}.`,
    );
  }
  return value as number;
}
