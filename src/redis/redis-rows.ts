/**
 * The rows of one published version, fetched from the Redis Cluster (a `RowSource` for
 * `StoreBackedEmbedding`): hot rows from the cache, the rest with one `HMGET <partition> _ id id …` per
 * partition, all issued at once (node-redis pipelines the commands of one tick per node, so a lookup
 * costs one round trip per master in parallel). Concurrent misses for the same row join the fetch
 * already in flight. Faults never produce rows: no answer within the timeout, a node down, or a
 * partition without its sentinel (a node that restarted empty) is UNAVAILABLE; a missing row in a
 * complete partition is DATA_LOSS naming the table and id.
 */
import calculateSlot from "cluster-key-slot";
import { DataLossError, TpuEmbeddingError, UnavailableError } from "../errors.js";
import type { RowSource } from "../embedding/index.js";
import { BINARY, refreshTopology, type BinaryCluster } from "./cluster-client.js";
import { fieldOf, partitionOf, SENTINEL_FIELD, type Manifest, type ManifestTable } from "./layout.js";
import { cacheRowsPerTable, DEFAULT_CACHE_MAX_COUNT, TableRowCache, type CacheStats } from "./row-cache.js";
import { decodeRowFloat32 } from "./row-encoding.js";
import type { StoreMetrics } from "./store-metrics.js";

export interface RedisRowsOptions {
  /** Hot-row cache budget for this version (bytes; 0 disables). */
  readonly cacheBytes: number;
  /** GCLOCK's maximum use count (1 = CLOCK; default DEFAULT_CACHE_MAX_COUNT). */
  readonly cacheMaxCount?: number;
  /** A fetch not answered within this is UNAVAILABLE (ms). */
  readonly timeoutMs: number;
  readonly metrics?: StoreMetrics;
}

/** One HMGET in flight: its ids (ascending) and, once answered, their rows. */
interface Inflight {
  readonly ids: Int32Array;
  readonly rows: Float32Array;
  readonly done: Promise<void>;
}

export class RedisRowSource implements RowSource {
  private readonly tables: readonly ManifestTable[];
  private readonly caches: (TableRowCache | null)[];
  private readonly inflight: Map<number, Inflight>[];
  readonly stats: CacheStats = { hits: 0, misses: 0, evictions: 0, bytes: 0 };
  private closed = false;

  /** `tableNames`: the embedding's tables in its order (rows are asked for by that index). */
  constructor(
    private readonly cluster: BinaryCluster,
    private readonly manifest: Manifest,
    tableNames: readonly string[],
    private readonly options: RedisRowsOptions,
  ) {
    this.tables = tableNames.map((name) => {
      const t = manifest.tables.find((x) => x.name === name);
      if (t === undefined)
        throw new DataLossError(
          `Manifest of ${manifest.model} version ${manifest.version} has no table "${name}".`,
        );
      return t;
    });
    const rows = cacheRowsPerTable(options.cacheBytes, this.tables);
    this.caches = this.tables.map((t, i) =>
      rows[i] > 0
        ? new TableRowCache(rows[i], t.dim, options.cacheMaxCount ?? DEFAULT_CACHE_MAX_COUNT, this.stats)
        : null,
    );
    this.inflight = this.tables.map(() => new Map());
    options.metrics?.caches.set(this.stats, manifest.model);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.caches) c?.clear();
    this.options.metrics?.caches.delete(this.stats);
  }

  async fetchRows(t: number, ids: Int32Array, out: Float32Array): Promise<void> {
    const table = this.tables[t];
    const cache = this.caches[t];
    const inflight = this.inflight[t];
    const dim = table.dim;
    const P = table.keys.length;
    // Misses grouped by partition (slots k of `ids`), and fetches already in flight to join.
    const byPartition = new Map<number, number[]>();
    const joined = new Map<Inflight, number[]>();
    let hits = 0;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k];
      if (cache !== null && cache.get(id, out, k)) {
        hits++;
        continue;
      }
      const pending = inflight.get(id);
      if (pending !== undefined) {
        let ks = joined.get(pending);
        if (ks === undefined) joined.set(pending, (ks = []));
        ks.push(k);
        continue;
      }
      const p = partitionOf(id, P);
      let ks = byPartition.get(p);
      if (ks === undefined) byPartition.set(p, (ks = []));
      ks.push(k);
    }
    this.stats.hits += hits;
    this.stats.misses += ids.length - hits;
    const m = this.options.metrics;
    if (m !== undefined) {
      if (hits > 0) m.hits.inc({ model: this.manifest.model }, hits);
      if (ids.length > hits) m.misses.inc({ model: this.manifest.model }, ids.length - hits);
    }
    const waits: Promise<void>[] = [];
    for (const [p, ks] of byPartition) {
      const fetchIds = Int32Array.from(ks, (k) => ids[k]);
      const rows = new Float32Array(fetchIds.length * dim);
      const done = this.hmget(table, t, table.keys[p], fetchIds, rows);
      const entry: Inflight = { ids: fetchIds, rows, done };
      for (const id of fetchIds) inflight.set(id, entry);
      const settled = done.finally(() => {
        for (const id of fetchIds) if (inflight.get(id) === entry) inflight.delete(id);
      });
      waits.push(
        settled.then(() => {
          for (let i = 0; i < ks.length; i++) out.set(rows.subarray(i * dim, i * dim + dim), ks[i] * dim);
          if (cache !== null) for (let i = 0; i < fetchIds.length; i++) cache.put(fetchIds[i], rows, i);
        }),
      );
    }
    for (const [entry, ks] of joined) {
      waits.push(
        entry.done.then(() => {
          for (const k of ks) {
            const i = indexOf(entry.ids, ids[k]);
            out.set(entry.rows.subarray(i * dim, i * dim + dim), k * dim);
          }
        }),
      );
    }
    await Promise.all(waits);
  }

  /** One HMGET of `ids` (their fields, after the sentinel) into `rows`. */
  private async hmget(
    table: ManifestTable,
    t: number,
    key: string,
    ids: Int32Array,
    rows: Float32Array,
  ): Promise<void> {
    const args: string[] = new Array<string>(ids.length + 3);
    args[0] = "HMGET";
    args[1] = key;
    args[2] = SENTINEL_FIELD;
    for (let i = 0; i < ids.length; i++) args[i + 3] = fieldOf(ids[i]);
    const node = this.nodeOf(key);
    const m = this.options.metrics;
    const started = performance.now();
    let reply: (Buffer | null)[];
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new UnavailableError(
                `Redis node ${node} did not answer within ${this.options.timeoutMs} ms (table "${table.name}" of ` +
                  `model ${this.manifest.model} version ${this.manifest.version}, key ${key}).`,
              ),
            ),
          this.options.timeoutMs,
        );
      });
      reply = (await Promise.race([
        this.cluster.sendCommand(key, true, args, BINARY),
        timeout,
      ])) as unknown as (Buffer | null)[];
    } catch (e) {
      const error =
        e instanceof TpuEmbeddingError
          ? e
          : new UnavailableError(
              `Redis node ${node} failed for table "${table.name}" of model ${this.manifest.model} version ` +
                `${this.manifest.version} (key ${key}): ${(e as Error).message}`,
              { cause: e },
            );
      m?.failures.inc({ node, code: error.code });
      if (!(e instanceof TpuEmbeddingError)) refreshTopology(this.cluster);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (m !== undefined) {
      m.commands.inc({ node });
      m.rows.inc({ node }, ids.length);
      m.latency.observe({ node }, (performance.now() - started) / 1000);
    }
    const sentinel = reply[0];
    if (sentinel === null || sentinel.toString() !== this.manifest.contentId) {
      m?.failures.inc({ node, code: "UNAVAILABLE" });
      throw new UnavailableError(
        `Redis node ${node} does not hold partition ${key} of table "${table.name}" (model ` +
          `${this.manifest.model} version ${this.manifest.version}${sentinel === null ? "" : ", other content"}): ` +
          `the node lost its data (restarted empty?); re-publish the version to restore it.`,
      );
    }
    for (let i = 0; i < ids.length; i++) {
      const value = reply[i + 1];
      if (value === null) {
        m?.failures.inc({ node, code: "DATA_LOSS" });
        throw new DataLossError(
          `Table "${table.name}", id ${ids[i]}: the row is missing from model ${this.manifest.model} version ` +
            `${this.manifest.version} in Redis (key ${key}, node ${node}).`,
        );
      }
      decodeRowFloat32(value, rows, i, table.dim, table.name, ids[i]);
    }
    void t;
  }

  private nodeOf(key: string): string {
    return this.cluster.slots[calculateSlot(key)]?.master?.address ?? "unknown";
  }
}

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
