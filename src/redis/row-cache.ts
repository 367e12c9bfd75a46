/**
 * The hot-row cache in front of Redis (docs/scale.md#the-hot-row-cache): per table a slab of
 * `capacity` stored rows (`stride` bytes each: float32 or quantized, as published), an id → slot map, and a GCLOCK sweep (each slot has a small use count,
 * raised on every hit up to `maxCount`, lowered by the sweeping hand; the first slot found at zero is
 * reused). `maxCount` 1 is plain CLOCK (an LRU approximation); higher keeps frequently used rows
 * longer, like LFU. The policy and its default were chosen by measurement (bench/redis-bench.ts).
 */

/**
 * GCLOCK's default use-count ceiling: on the standard workload's Zipf ids (B=64, tables / 10) a cache of
 * 5 % of the rows served 31.5 % of the row fetches with 3, 30.3 % with 1 (CLOCK), 29.0 % with an exact
 * LRU; on uniform ids all policies were equal (bench/results/2026-12-07-redis.md).
 */
export const DEFAULT_CACHE_MAX_COUNT = 3;

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Bytes of rows held now. */
  bytes: number;
}

export class TableRowCache {
  private readonly rows: Uint8Array;
  private readonly slotId: Int32Array;
  private readonly count: Uint8Array;
  private readonly index = new Map<number, number>();
  private hand = 0;
  private used = 0;

  constructor(
    readonly capacity: number,
    /** Bytes of one stored row. */
    readonly stride: number,
    private readonly maxCount: number,
    private readonly stats: CacheStats,
  ) {
    this.rows = new Uint8Array(capacity * stride);
    this.slotId = new Int32Array(capacity).fill(-1);
    this.count = new Uint8Array(capacity);
  }

  /** Copies row `id` into `out` at `outSlot × stride` and returns true, or returns false (a miss). */
  get(id: number, out: Uint8Array, outSlot: number): boolean {
    const slot = this.index.get(id);
    if (slot === undefined) return false;
    if (this.count[slot] < this.maxCount) this.count[slot]++;
    const stride = this.stride;
    out.set(this.rows.subarray(slot * stride, slot * stride + stride), outSlot * stride);
    return true;
  }

  /** Keeps row `id` (the `stride` bytes of `source` from `sourceSlot × stride`). */
  put(id: number, source: Uint8Array, sourceSlot: number): void {
    if (this.capacity === 0 || this.index.has(id)) return;
    let slot: number;
    if (this.used < this.capacity) {
      slot = this.used++;
      this.stats.bytes += this.stride;
    } else {
      for (;;) {
        const h = this.hand;
        this.hand = h + 1 === this.capacity ? 0 : h + 1;
        if (this.count[h] === 0) {
          slot = h;
          break;
        }
        this.count[h]--;
      }
      this.index.delete(this.slotId[slot]);
      this.stats.evictions++;
    }
    const stride = this.stride;
    this.rows.set(source.subarray(sourceSlot * stride, sourceSlot * stride + stride), slot * stride);
    this.slotId[slot] = id;
    this.count[slot] = 0;
    this.index.set(id, slot);
  }

  /** Frees the slab (the stats' byte count included). */
  clear(): void {
    this.stats.bytes -= this.used * this.stride;
    this.used = 0;
    this.index.clear();
  }
}

/**
 * Splits a byte budget over tables in proportion to their sizes (so each caches the same fraction of
 * its rows), never more rows than a table has.
 */
export function cacheRowsPerTable(
  budgetBytes: number,
  tables: readonly { vocabularySize: number; rowBytes: number }[],
): number[] {
  const total = tables.reduce((a, t) => a + t.vocabularySize * t.rowBytes, 0);
  return tables.map((t) => {
    if (budgetBytes <= 0 || total === 0) return 0;
    const share = (budgetBytes * (t.vocabularySize * t.rowBytes)) / total;
    return Math.min(t.vocabularySize, Math.floor(share / t.rowBytes));
  });
}
