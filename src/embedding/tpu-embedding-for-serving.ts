import type { Trackable, TrackableVariableSpec } from "../checkpoint/trackable.js";
import type { TableConfig } from "../config/table-config.js";
import { allocationError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../errors.js";
import { DenseTensor } from "../tensor/dense-tensor.js";
import { KeyedJaggedTensor } from "../tensor/keyed-jagged-tensor.js";
import {
  allocateTable,
  checkRestoredValues,
  trackableSpecs,
  variableSpecLookup,
  variableSpecs,
} from "./embedding-variables.js";
import { isObject, keyedInputs, type KeyedInputs } from "./lookup-arguments.js";
import { isNone } from "../tensor/structure.js";
import {
  flattenFeatures,
  type FeatureStructure,
  type InputStructure,
  type LookupResult,
} from "./feature-structure.js";
import {
  outputsOf,
  packOutputs,
  planLookups,
  runPlanned,
  sharedOutputs,
  type PlannedLookup,
} from "./serving-embedding-lookup.js";
import { quantizeTable, type StorageKind } from "../kernels/quantized-rows.js";
import { storageKindsOf } from "./table-storage-option.js";
import { dequantizedTable, type StoredTable } from "../kernels/table-storage.js";
import { adoptTables, allocateTableMemory, buildTables, type BuiltTables } from "./stored-tables.js";
import {
  checkedSeed,
  checkedThreads,
  distinctTables,
  type LookupOptions,
  type TPUEmbeddingForServingOptions,
} from "./embedding-options.js";
import { LookupPaths } from "./lookup-paths.js";
import type { FlatFeature, FlatOutput } from "./small-lookup.js";
import { keyedLastLookup } from "./keyed-lookup.js";
import { applyGradients, type ApplyGradientsResult } from "../training/apply-gradients.js";
import type { EmbeddingVariable, LastLookup } from "./lookup-record.js";

export type { EmbeddingVariable, LastLookup } from "./lookup-record.js";
export type { LookupOptions, TPUEmbeddingForServingOptions } from "./embedding-options.js";

/**
 * What replicas (embedding-replica.ts) need of an embedding's private state: its built tables, and
 * building one over existing tables. Set by the class below; internal, not exported by the package.
 */
export let replicaAccess: {
  stored(embedding: TPUEmbeddingForServing): ReadonlyMap<TableConfig, StoredTable>;
  adopt(embedding: TPUEmbeddingForServing, stored: ReadonlyMap<TableConfig, StoredTable>): void;
};

/**
 * TF's `tf.tpu.experimental.embedding.TPUEmbeddingForServing`: owns one float32 variable per table (and
 * the optimizer's slots), looks up nested structures of dense, sparse and ragged inputs with TensorFlow's
 * CPU semantics, and exposes its variables under TF's checkpoint names.
 */
export class TPUEmbeddingForServing implements Trackable {
  readonly featureConfig: FeatureStructure;
  /** Distinct tables in TF's order: first occurrence in the flattened (sorted-key) feature structure. */
  readonly tables: readonly TableConfig[];
  /** Position of each table in `tables` (the pool addresses tables by index). */
  private readonly tableIndex: ReadonlyMap<TableConfig, number>;
  private readonly seed: number | undefined;
  private variablesByName: Map<string, EmbeddingVariable> | null = null;
  /** Float32 tables' variables (quantized tables have none once quantized). */
  private tableViews: Map<TableConfig, DenseTensor<Float32Array>> | null = null;
  /** Every table as the kernels read it (float32 views or quantized rows), once built. */
  private storedTables: Map<TableConfig, StoredTable> | null = null;
  /** Each table's storage kind, in `tables` order. */
  private readonly storageKinds: readonly StorageKind[];
  private lastLookup: LastLookup | null = null;
  /** Lookup threads (the `threads` option). */
  readonly threads: number;
  private lookupPaths: LookupPaths | null = null;
  private disposed = false;
  /** Table memory handed to a restore before build, adopted by the build. */
  private pendingTableMemory: Float32Array[] | null = null;

  constructor(options: TPUEmbeddingForServingOptions) {
    if (options === null || typeof options !== "object" || !("featureConfig" in options)) {
      throw new InvalidArgumentError("TPUEmbeddingForServing: expected { featureConfig, optimizer }.");
    }
    const features = flattenFeatures(options.featureConfig);
    if (features.length === 0)
      throw new InvalidArgumentError("TPUEmbeddingForServing: featureConfig has no features.");
    const tables = distinctTables(features, options.optimizer ?? null);
    const seed = checkedSeed(options.seed);
    const threads = checkedThreads(options.threads);
    this.storageKinds = storageKindsOf(options.tableStorage, tables);
    this.featureConfig = options.featureConfig;
    this.tables = Object.freeze(tables);
    this.tableIndex = new Map(tables.map((t, i) => [t, i]));
    this.seed = seed;
    this.threads = threads;
  }

  get built(): boolean {
    return this.variablesByName !== null;
  }

  /** Creates the tables and slot variables (idempotent). */
  build(): void {
    this.buildWith(new Map());
  }

  /**
   * `{TableConfig → table}` in table order. Float32 tables share the tables' memory (writes go through);
   * a quantized table is given as a fresh float32 copy of its dequantized rows.
   */
  get embeddingTables(): Map<TableConfig, DenseTensor<Float32Array>> {
    this.build();
    return new Map(this.tables.map((t) => [t, this.tableView(t)]));
  }

  /** Each table's storage kind (the `tableStorage` option). */
  get tableStorage(): Map<TableConfig, StorageKind> {
    return new Map(this.tables.map((t, i) => [t, this.storageKinds[i]]));
  }

  /** Bytes the tables take as the kernels read them (quantized tables: their quantized rows). */
  get tableBytes(): number {
    this.build();
    let bytes = 0;
    for (const t of this.storedTables!.values()) bytes += t.data.byteLength;
    return bytes;
  }

  /**
   * Every variable by TF's checkpoint local name (`<table>`, `<table>/<slot>`), building if needed.
   * A quantized table's variable holds a fresh float32 copy of its dequantized rows.
   */
  get variables(): Map<string, EmbeddingVariable> {
    this.build();
    const out = new Map<string, EmbeddingVariable>();
    for (const { name, table } of variableSpecs(this.tables)) {
      const variable = this.variablesByName!.get(name);
      out.set(name, variable ?? { name, table, slot: null, value: this.tableView(table) });
    }
    return out;
  }

  /** A table as float32 values: its variable, or a quantized table's dequantized rows. */
  private tableView(table: TableConfig): DenseTensor<Float32Array> {
    const view = this.tableViews!.get(table);
    if (view !== undefined) return view;
    return new DenseTensor(dequantizedTable(this.storedTables!.get(table)!), [
      table.vocabularySize,
      table.dim,
    ]);
  }

  variable(name: string): EmbeddingVariable {
    const found = this.variables.get(name);
    if (found === undefined) {
      throw new NotFoundError(
        `No variable named "${name}". Variables: ${[...this.variables.keys()].join(", ")}.`,
      );
    }
    return found;
  }

  /**
   * Looks up `features` (any subset of the configured structure) with optional `weights` of the same
   * structure. With `threads > 1`, large batches are split between this thread and worker threads (this
   * thread blocks until they finish); small ones (a single request) stay on this thread. `options.into`
   * writes into caller-owned outputs (no allocation per lookup; see `createOutputs`).
   */
  embeddingLookup(
    features: KeyedJaggedTensor,
    weights?: null,
    options?: LookupOptions<KeyedInputs>,
  ): Record<string, DenseTensor<Float32Array>>;
  embeddingLookup<I extends InputStructure>(
    features: I,
    weights?: unknown,
    options?: LookupOptions<I>,
  ): LookupResult<I>;
  embeddingLookup(features: unknown, weights?: unknown, options?: LookupOptions<never>): unknown {
    try {
      return this.lookupSync(features, weights, options);
    } catch (e) {
      throw allocationError(e, "embeddingLookup");
    }
  }

  private lookupSync(
    features: unknown,
    weights: unknown,
    options: LookupOptions<never> | undefined,
  ): unknown {
    // One native call for the whole lookup when the input form allows (small-lookup.ts, keyed-lookup.ts).
    const staged = this.staged(features, weights, options, false);
    if (staged !== undefined) return staged;
    if (features instanceof KeyedJaggedTensor) {
      const keyed = keyedInputs(features, weights);
      return this.lookupSync(keyed.features, keyed.weights, options as LookupOptions<never>);
    }
    const planned = this.plan(features, weights);
    const into = outputsOf(planned, this.featureConfig, options);
    const arrays = into === null ? null : into.map((t) => t.data);
    const outputs = this.paths().planned.run(planned, arrays) ?? runPlanned(planned, arrays);
    return packOutputs(planned, outputs, into);
  }

  /**
   * `embeddingLookup` with the kernels on worker threads (up to `threads` of them), so the event loop
   * stays free. Inputs are validated and planned on the calling thread: bad input rejects with the same
   * errors. Like the synchronous call it sets `lastLookupPlans` when it starts (so the latest *started*
   * lookup is the one `applyGradients` back-propagates through). Safe to call concurrently (with distinct
   * `into` outputs).
   */
  embeddingLookupAsync(
    features: KeyedJaggedTensor,
    weights?: null,
    options?: LookupOptions<KeyedInputs>,
  ): Promise<Record<string, DenseTensor<Float32Array>>>;
  embeddingLookupAsync<I extends InputStructure>(
    features: I,
    weights?: unknown,
    options?: LookupOptions<I>,
  ): Promise<LookupResult<I>>;
  async embeddingLookupAsync(
    features: unknown,
    weights?: unknown,
    options?: LookupOptions<never>,
  ): Promise<unknown> {
    try {
      return await this.lookupAsync(features, weights, options);
    } catch (e) {
      throw allocationError(e, "embeddingLookupAsync");
    }
  }

  private async lookupAsync(
    features: unknown,
    weights: unknown,
    options: LookupOptions<never> | undefined,
  ): Promise<unknown> {
    // Staged on the workers when the input form allows (checked and staged on this thread, now).
    const staged = this.staged(features, weights, options, true) as Promise<unknown> | undefined;
    if (staged !== undefined) return staged;
    if (features instanceof KeyedJaggedTensor) {
      const keyed = keyedInputs(features, weights);
      return this.lookupAsync(keyed.features, keyed.weights, options as LookupOptions<never>);
    }
    const planned = this.plan(features, weights);
    const into = outputsOf(planned, this.featureConfig, options);
    const arrays = into === null ? null : into.map((t) => t.data);
    const started = this.paths().planned.start(planned, arrays);
    const outputs = started !== null ? await started : runPlanned(planned, arrays);
    return packOutputs(planned, outputs, into);
  }

  /**
   * @internal The server's route: features by path as typed arrays (no tensor objects), run on worker
   * threads; `undefined` when the batched route does not take them (the server then calls
   * `embeddingLookupAsync` with tensors). Does not record the lookup for `applyGradients`.
   */
  lookupFlatAsync(features: readonly FlatFeature[]): Promise<FlatOutput[]> | undefined {
    if (!this.stagedPathOpen(undefined)) return undefined;
    const result = this.paths().small.lookupFlatAsync(features);
    if (result !== undefined) this.lastLookup = null;
    return result;
  }

  /**
   * @internal `lookupFlatAsync` on the calling thread (the server's small requests): the outputs, or
   * `undefined` when the batched route does not take them. Does not record the lookup.
   */
  lookupFlat(features: readonly FlatFeature[]): FlatOutput[] | undefined {
    if (!this.stagedPathOpen(undefined)) return undefined;
    const result = this.paths().small.lookupFlat(features);
    if (result !== undefined) this.lastLookup = null;
    return result;
  }

  /**
   * Output tensors for lookups of inputs shaped like `features` (same structure, batch sizes and shapes),
   * to pass as `embeddingLookup(…, { into })` again and again: all views of one SharedArrayBuffer, so
   * every lookup thread writes its share in place and nothing is allocated or copied per lookup. Validates
   * `features` like a lookup (without running one).
   */
  createOutputs(features: KeyedJaggedTensor): Record<string, DenseTensor<Float32Array>>;
  createOutputs<I extends InputStructure>(features: I, weights?: unknown): LookupResult<I>;
  createOutputs(features: unknown, weights?: unknown): unknown {
    if (features instanceof KeyedJaggedTensor) {
      const keyed = keyedInputs(features, weights);
      return this.createOutputs(keyed.features, keyed.weights);
    }
    return sharedOutputs(this.planOnly(features, weights));
  }

  /**
   * Releases this embedding's table memory from the worker threads (idempotent), so it can be garbage
   * collected once the embedding itself is unreachable. Lookups afterwards throw FailedPreconditionError.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.lookupPaths?.release();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * The plans of the most recent `embeddingLookup`, for training (`applyGradients` back-propagates
   * through them); `null` before the first lookup.
   */
  get lastLookupPlans(): LastLookup | null {
    return this.lastLookup;
  }

  /**
   * TF's `apply_gradients`: back-propagates `gradients` (the last lookup's output structure, null to send
   * none) to the tables and applies each table's optimizer with the TPU's math (src/training).
   */
  applyGradients(gradients: unknown): ApplyGradientsResult {
    const quantized = this.tables.findIndex((_, i) => this.storageKinds[i] !== "float32");
    if (quantized !== -1) {
      throw new FailedPreconditionError(
        `applyGradients: table "${this.tables[quantized].name}" is stored as ` +
          `${this.storageKinds[quantized]}; training updates float32 tables only. Train an embedding ` +
          `without tableStorage, save a checkpoint, and serve it quantized.`,
      );
    }
    return applyGradients(this, gradients);
  }

  /** TF's `__call__`: build if needed, then look up. */
  call<I extends InputStructure>(features: I, weights?: unknown): LookupResult<I> {
    return this.embeddingLookup(features, weights);
  }

  // Trackable -----------------------------------------------------------------------------------------

  trackableVariables(): readonly TrackableVariableSpec[] {
    return trackableSpecs(this.tables);
  }

  readVariable(localName: string): Float32Array | undefined {
    if (this.variablesByName === null) return undefined;
    const variable = this.variablesByName.get(localName);
    if (variable !== undefined) return variable.value.data;
    const table = this.tables.find((t) => t.name === localName);
    return table === undefined ? undefined : dequantizedTable(this.storedTables!.get(table)!);
  }

  /**
   * Where restore should read each variable: before build, tables get their final place in the kernels'
   * table memory (so the checkpoint reader writes straight into the memory lookups read, no second copy);
   * slots, and everything once built (restore must stay all-or-nothing), get fresh shared memory.
   */
  allocateVariables(localNames: readonly string[]): Map<string, Float32Array> {
    const specOf = variableSpecLookup(this.tables);
    const memory = this.built ? null : this.tableMemory();
    const out = new Map<string, Float32Array>();
    for (const name of localNames) {
      const spec = specOf(name);
      out.set(
        name,
        memory !== null && spec.slot === null
          ? memory[this.tableIndex.get(spec.table)!]
          : allocateTable([spec.table.vocabularySize, spec.table.dim]),
      );
    }
    return out;
  }

  restoreVariables(values: ReadonlyMap<string, Float32Array>): void {
    const specOf = variableSpecLookup(this.tables);
    checkRestoredValues(values, specOf);
    if (!this.built) {
      this.buildWith(values);
      return;
    }
    for (const [name, array] of values) {
      const variable = this.variablesByName!.get(name);
      if (variable !== undefined) {
        variable.value.data.set(array);
        continue;
      }
      // A quantized table: quantized again from the restored values, into its rows.
      const table = specOf(name).table;
      const stored = this.storedTables!.get(table)!;
      if (stored.kind !== "float32") quantizeTable(stored.kind, array, table.dim, stored.data, table.name!);
    }
  }

  // ----------------------------------------------------------------------------------------------------

  /** The lookup machinery (lookup-paths.ts), once built. */
  private paths(): LookupPaths {
    return (this.lookupPaths ??= new LookupPaths(
      this.featureConfig,
      this.tables,
      this.storedTables!,
      this.threads,
    ));
  }

  /**
   * The lookup through a staged path (`async`: the kernels on the workers, a promise), or `undefined`
   * (nothing done) when the input form or the kernels do not allow it. Sets `lastLookup` when it runs.
   */
  private staged(features: unknown, weights: unknown, options: unknown, async: boolean): unknown {
    if (!this.stagedPathOpen(options)) return undefined;
    const into = (options as { into?: unknown } | undefined)?.into;
    if (features instanceof KeyedJaggedTensor) {
      if (!isNone(weights)) return undefined;
      const keyed = this.paths().keyed;
      const result = async ? keyed.lookupAsync(features, into) : keyed.lookup(features, into);
      if (result !== undefined)
        this.lastLookup = keyedLastLookup(features, this.storedTables!, this.featureConfig);
      return result;
    }
    const small = this.paths().small;
    const result = async ? small.lookupAsync(features, weights, into) : small.lookup(features, weights, into);
    if (result !== undefined) this.lastLookup = small.lastLookup(features, weights);
    return result;
  }

  /** Whether a staged lookup may be tried (built, not disposed, options absent or an object). */
  private stagedPathOpen(options: unknown): boolean {
    if (this.disposed || !(options === undefined || isObject(options))) return false;
    if (!this.built) this.build();
    return true;
  }

  private plan(features: unknown, weights: unknown): PlannedLookup {
    const planned = this.planOnly(features, weights);
    this.lastLookup = { features: planned.features, pack: planned.pack, inputs: features };
    return planned;
  }

  private planOnly(features: unknown, weights: unknown): PlannedLookup {
    if (this.disposed) {
      throw new FailedPreconditionError("TPUEmbeddingForServing: lookup after dispose().");
    }
    this.build();
    // The internal map, not the `embeddingTables` copy: no per-lookup allocation.
    return planLookups(features, weights ?? null, this.storedTables!, this.featureConfig, true);
  }

  /** Every table's memory before build (stored-tables.ts): allocated once, by restore (allocateVariables) or build. */
  private tableMemory(): Float32Array[] {
    return (this.pendingTableMemory ??= allocateTableMemory(this.tables, this.storageKinds));
  }

  /** Built over tables another embedding already holds (embedding-replica.ts): the same memory, no copy. */
  private adoptStored(stored: ReadonlyMap<TableConfig, StoredTable>): void {
    if (this.built) throw new FailedPreconditionError("TPUEmbeddingForServing: already built.");
    this.pendingTableMemory = null;
    this.setBuilt(adoptTables(this.tables, stored));
  }

  static {
    replicaAccess = {
      stored: (embedding) => embedding.storedTables!,
      adopt: (embedding, stored) => embedding.adoptStored(stored),
    };
  }

  /** Creates every variable; those present in `provided` adopt that memory instead of being initialised. */
  private buildWith(provided: ReadonlyMap<string, Float32Array>): void {
    if (this.built) return;
    const memory = this.tableMemory();
    this.pendingTableMemory = null;
    this.setBuilt(buildTables(this.tables, this.storageKinds, memory, provided, this.seed));
  }

  private setBuilt({ variables, views, stored }: BuiltTables): void {
    this.variablesByName = variables;
    this.tableViews = views;
    this.storedTables = stored;
  }
}
