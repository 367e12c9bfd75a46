/**
 * An embedding whose tables live in a shared store (a Redis Cluster: src/redis), not in this process.
 * A lookup is planned exactly as `TPUEmbeddingForServing` plans it (TF's validation, pruning and errors,
 * against the real vocabulary sizes), then each table's distinct ids are fetched from the store into a
 * compact float32 table of just those rows, the plans' ids are remapped into it, and the same kernels run:
 * the numbers are TF's bit for bit, and the rows of one lookup all come from one store version.
 */
import { float32Table, quantizedTable } from "../kernels/table-storage.js";
import { rowBytes, type StorageKind } from "../kernels/quantized-rows.js";
import type { TableConfig } from "../config/table-config.js";
import { allocationError, FailedPreconditionError, InvalidArgumentError } from "../errors.js";
import { allocateOutputs } from "../kernels/outputs.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import { KeyedJaggedTensor } from "../tensor/keyed-jagged-tensor.js";
import { describeValue } from "../config/validate.js";
import { executePlan } from "./execute.js";
import {
  matchInputs,
  type FeatureStructure,
  type InputStructure,
  type LookupResult,
} from "./feature-structure.js";
import { keyedInputs, type KeyedInputs } from "./lookup-arguments.js";
import { planLookup, planOutputSize, type LookupPlan } from "./lookup-plan.js";
import { matchOutputs, type PlannedFeature } from "./serving-embedding-lookup.js";
import type { FlatFeature, FlatOutput } from "./small-lookup.js";
import { TPUEmbeddingForServing, type LookupOptions } from "./tpu-embedding-for-serving.js";

/** Rows of one table a lookup needs: `ids` distinct, ascending and within the table. */
export interface RowRequest {
  /** Index in the embedding's `tables`. */
  readonly table: number;
  readonly ids: Int32Array;
  /** Row `ids[k]`'s stored bytes go to `out[k × rowBytes …]` (float32 or quantized rows, `storage`). */
  readonly out: Uint8Array;
}

/** Where a store-backed embedding's rows come from. */
export interface RowSource {
  /**
   * Fills every request (all tables of one lookup at once, so the source can batch across tables).
   * Rejects with a `TpuEmbeddingError` (UNAVAILABLE when the store cannot answer, DATA_LOSS when a row
   * of a complete version is missing); never writes made-up rows.
   */
  fetchRows(requests: readonly RowRequest[]): Promise<void>;
  /** How each table's rows are stored (the embedding's table order; float32 when absent). */
  readonly storage?: readonly StorageKind[];
  /** Releases what the source holds (its cache); lookups afterwards are refused. */
  close?(): void;
}

/**
 * A `TPUEmbeddingForServing` whose tables are not in this process (so the server and the model registry
 * take it where they take any embedding): `embeddingLookupAsync` fetches rows from its `RowSource`;
 * what needs the tables in memory (`embeddingLookup`, `build`, `embeddingTables`, `variables`,
 * `createOutputs`, training) is refused with a FailedPreconditionError saying so.
 */
export class StoreBackedEmbedding extends TPUEmbeddingForServing {
  private readonly rowTableIndex: ReadonlyMap<TableConfig, number>;
  private readonly source: RowSource;
  private closed = false;

  /** `source(tables)`: the row source, given the tables in this embedding's order (TF's). */
  constructor(featureConfig: FeatureStructure, source: (tables: readonly TableConfig[]) => RowSource) {
    super({ featureConfig, optimizer: null });
    this.rowTableIndex = new Map(this.tables.map((t, i) => [t, i]));
    this.source = source(this.tables);
  }

  /** Refused: the tables are in the store (nothing to build in memory). */
  override build(): never {
    throw new FailedPreconditionError(
      "This embedding's tables live in a Redis Cluster: they cannot be built, read or trained in memory; " +
        "look rows up with embeddingLookupAsync.",
    );
  }

  override get built(): boolean {
    return false;
  }

  override createOutputs(): never {
    return this.build();
  }

  override applyGradients(): never {
    return this.build();
  }

  override allocateVariables(): never {
    return this.build();
  }

  override restoreVariables(): never {
    return this.build();
  }

  /**
   * Refused: a lookup needs rows from the network, which a synchronous call cannot wait for. Use
   * `embeddingLookupAsync` (same arguments, same results).
   */
  override embeddingLookup(): never {
    throw new FailedPreconditionError(
      "embeddingLookup: this embedding's tables live in a Redis Cluster and a synchronous lookup cannot wait " +
        "for the network; call embeddingLookupAsync (same arguments and results).",
    );
  }

  override embeddingLookupAsync(
    features: KeyedJaggedTensor,
    weights?: null,
    options?: LookupOptions<KeyedInputs>,
  ): Promise<Record<string, DenseTensor<Float32Array>>>;
  override embeddingLookupAsync<I extends InputStructure>(
    features: I,
    weights?: unknown,
    options?: LookupOptions<I>,
  ): Promise<LookupResult<I>>;
  override async embeddingLookupAsync(
    features: unknown,
    weights?: unknown,
    options?: LookupOptions<never>,
  ): Promise<unknown> {
    try {
      return await this.lookup(features, weights, options);
    } catch (e) {
      throw allocationError(e, "embeddingLookupAsync");
    }
  }

  /** The server's flat route is not taken: the server then builds tensors for `embeddingLookupAsync`. */
  override lookupFlatAsync(_features: readonly FlatFeature[]): Promise<FlatOutput[]> | undefined {
    return undefined;
  }

  /** Nor its synchronous form (rows come from the row source, asynchronously). */
  override lookupFlat(_features: readonly FlatFeature[]): FlatOutput[] | undefined {
    return undefined;
  }

  /** Releases the row source (its cache); lookups afterwards throw FailedPreconditionError. */
  override dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.source.close?.();
  }

  override get isDisposed(): boolean {
    return this.closed;
  }

  private async lookup(
    features: unknown,
    weights: unknown,
    options: LookupOptions<never> | undefined,
  ): Promise<unknown> {
    if (features instanceof KeyedJaggedTensor) {
      const keyed = keyedInputs(features, weights);
      return this.lookup(keyed.features, keyed.weights, options);
    }
    if (this.closed) throw new FailedPreconditionError("StoreBackedEmbedding: lookup after dispose().");
    if (options !== undefined && (options === null || typeof options !== "object"))
      throw new InvalidArgumentError(`Lookup options must be an object, got ${describeValue(options)}.`);
    // Plan with TF's semantics against the real tables (all input errors are thrown here).
    const { leaves, pack } = matchInputs(this.featureConfig, features, weights ?? null);
    const planned: PlannedFeature[] = leaves.map(({ path, feature, input, weight }) => ({
      path,
      feature,
      plan: planLookup(path, feature, input, weight),
    }));
    const into =
      options?.into === undefined
        ? null
        : matchOutputs({ features: planned, tables: [], pack }, this.featureConfig, options.into);

    // Each table's distinct ids, sorted; rows fetched into a compact table of just those.
    const perTable: Int32Array[][] = this.tables.map(() => []);
    const tableOf = planned.map(({ feature }) => this.rowTableIndex.get(feature.table)!);
    planned.forEach(({ plan }, i) => perTable[tableOf[i]].push(planIds(plan)));
    const unique = perTable.map(distinctSorted);
    const kinds = this.source.storage;
    const compact = unique.map(
      (ids, t) => new Uint8Array(ids.length * rowBytes(kinds?.[t] ?? "float32", this.tables[t].dim)),
    );
    await this.source.fetchRows(
      unique.flatMap((ids, t) => (ids.length === 0 ? [] : [{ table: t, ids, out: compact[t] }])),
    );
    // The fetched rows as a table of their own: float32, or quantized rows the kernels dequantize
    // exactly as a quantized table in memory (the same bits).
    const stored = compact.map((bytes, t) => {
      const kind = kinds?.[t] ?? "float32";
      const dim = this.tables[t].dim;
      return kind === "float32"
        ? float32Table(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4), dim)
        : quantizedTable(kind, bytes, dim);
    });

    const outputs =
      into?.map((t) => t.data) ?? allocateOutputs(planned.map(({ plan }) => planOutputSize(plan)));
    planned.forEach(({ plan }, i) => {
      const t = tableOf[i];
      executePlan(remap(plan, unique[t]), stored[t], outputs[i]);
    });
    return pack(into ?? planned.map((f, i) => new DenseTensor(outputs[i], f.plan.outputShape)));
  }
}

/** The table rows a plan reads. */
function planIds(plan: LookupPlan): Int32Array {
  return plan.kind === "gather" ? plan.ids : plan.batch.ids;
}

/** Distinct values of several arrays, ascending. */
function distinctSorted(arrays: readonly Int32Array[]): Int32Array {
  let total = 0;
  for (const a of arrays) total += a.length;
  const all = new Int32Array(total);
  let at = 0;
  for (const a of arrays) {
    all.set(a, at);
    at += a.length;
  }
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i];
  return all.subarray(0, n);
}

/** Index of `id` in the ascending `sorted` (present by construction). */
function indexOf(sorted: Int32Array, id: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The plan with its ids replaced by their rows in the compact table (a copy: plans may share inputs). */
function remap(plan: LookupPlan, sorted: Int32Array): LookupPlan {
  const ids = planIds(plan);
  const local = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) local[i] = indexOf(sorted, ids[i]);
  if (plan.kind === "gather") return { ...plan, ids: local };
  return { ...plan, batch: { ...plan.batch, ids: local } } as LookupPlan;
}
