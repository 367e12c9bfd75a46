import type { TableConfig } from "../config/table-config.js";
import { allocateByteTables, allocateTables } from "../kernels/table-memory.js";
import { quantizeTable, rowBytes, type StorageKind } from "../kernels/quantized-rows.js";
import { float32Table, quantizedTable, type StoredTable } from "../kernels/table-storage.js";
import type { DenseTensor } from "../tensor/dense-tensor.js";
import { allocateTable, createVariables } from "./embedding-variables.js";
import type { EmbeddingVariable } from "./lookup-record.js";

/**
 * Every table's memory before build, in `tables` order: float32 tables get their place in the kernels'
 * arenas; a table to be quantized gets a plain shared buffer, freed once its quantized rows are made.
 */
export function allocateTableMemory(
  tables: readonly TableConfig[],
  storageKinds: readonly StorageKind[],
): Float32Array[] {
  const kept = tables.filter((_, i) => storageKinds[i] === "float32");
  const arenas = allocateTables(kept.map((t) => t.vocabularySize * t.dim));
  return tables.map((t, i) =>
    storageKinds[i] === "float32" ? arenas[kept.indexOf(t)] : allocateTable([t.vocabularySize, t.dim]),
  );
}

/** What a build makes: the variables by name, float32 tables' views, and every table as the kernels read it. */
export interface BuiltTables {
  readonly variables: Map<string, EmbeddingVariable>;
  readonly views: Map<TableConfig, DenseTensor<Float32Array>>;
  readonly stored: Map<TableConfig, StoredTable>;
}

/**
 * Creates every variable in `memory` (those present in `provided` adopt that memory instead of being
 * initialised), then quantizes the tables stored quantized: their float32 values are dropped, the
 * quantized rows are the table.
 */
export function buildTables(
  tables: readonly TableConfig[],
  storageKinds: readonly StorageKind[],
  memory: Float32Array[],
  provided: ReadonlyMap<string, Float32Array>,
  seed: number | undefined,
): BuiltTables {
  const { variables, views } = createVariables(tables, memory, provided, seed);
  const stored = new Map<TableConfig, StoredTable>();
  const quantized = tables.filter((_, i) => storageKinds[i] !== "float32");
  const bytes = allocateByteTables(
    quantized.map((t) => t.vocabularySize * rowBytes(storageKinds[tables.indexOf(t)], t.dim)),
  );
  tables.forEach((t, i) => {
    const kind = storageKinds[i];
    if (kind === "float32") {
      stored.set(t, float32Table(views.get(t)!.data, t.dim));
      return;
    }
    const rows = bytes[quantized.indexOf(t)];
    quantizeTable(kind, views.get(t)!.data, t.dim, rows, t.name!);
    stored.set(t, quantizedTable(kind, rows, t.dim));
    views.delete(t);
    variables.delete(t.name!);
  });
  return { variables, views, stored };
}

/**
 * A build over tables that already exist (another embedding's, in this or another thread): float32 tables'
 * variables and views over their memory, quantized rows as they are; no copy, no slot variables.
 */
export function adoptTables(
  tables: readonly TableConfig[],
  stored: ReadonlyMap<TableConfig, StoredTable>,
): BuiltTables {
  const float32 = tables.filter((t) => stored.get(t)!.kind === "float32");
  const memory = float32.map((t) => stored.get(t)!.data as Float32Array);
  const adopted = new Map(float32.map((t, i) => [t.name!, memory[i]]));
  const { variables, views } = createVariables(float32, memory, adopted, undefined);
  return { variables, views, stored: new Map(stored) };
}
