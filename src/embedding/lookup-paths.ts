import type { TableConfig } from "../config/table-config.js";
import { lookupPool } from "../kernels/lookup-pool.js";
import type { StoredTable } from "../kernels/table-storage.js";
import type { FeatureStructure } from "./feature-structure.js";
import { KeyedLookup } from "./keyed-lookup.js";
import { PlannedBatches } from "./planned-batch.js";
import { SmallLookup } from "./small-lookup.js";
import { StagedExecutor } from "./staged-executor.js";

/**
 * One built embedding's lookup machinery, each piece made on first use: the staged paths for RaggedTensor /
 * dense inputs (small-lookup.ts) and KeyedJaggedTensors (keyed-lookup.ts), planned lookups run as lookup
 * batches (planned-batch.ts), all on one executor (one native table set, and the pool's workers with this
 * embedding's table set registered on first pooled run).
 */
export class LookupPaths {
  private smallLookup: SmallLookup | null = null;
  private keyedLookup: KeyedLookup | null = null;
  private plannedBatches: PlannedBatches | null = null;
  private executor: StagedExecutor | null = null;
  /** This embedding's table set in the worker pool; `null` until the first pooled lookup. */
  private poolSet: number | null = null;

  constructor(
    private readonly featureConfig: FeatureStructure,
    private readonly tables: readonly TableConfig[],
    private readonly stored: ReadonlyMap<TableConfig, StoredTable>,
    private readonly threads: number,
  ) {}

  get small(): SmallLookup {
    return (this.smallLookup ??= new SmallLookup(
      this.featureConfig,
      this.tables,
      this.stored,
      this.staged(),
    ));
  }

  get keyed(): KeyedLookup {
    return (this.keyedLookup ??= new KeyedLookup(this.featureConfig, this.tables, this.staged()));
  }

  get planned(): PlannedBatches {
    return (this.plannedBatches ??= new PlannedBatches(this.staged(), this.tables));
  }

  /** Releases the native table set and the pool's (idempotent). */
  release(): void {
    this.executor?.release();
    if (this.poolSet !== null) lookupPool().release(this.poolSet);
    this.poolSet = null;
  }

  private staged(): StagedExecutor {
    return (this.executor ??= new StagedExecutor(this.tables, this.stored, this.threads, () =>
      this.pooledTables(),
    ));
  }

  private pooledTables(): number {
    this.poolSet ??= lookupPool().registerStorage({ tables: this.tables.map((t) => this.stored.get(t)!) });
    return this.poolSet;
  }
}
