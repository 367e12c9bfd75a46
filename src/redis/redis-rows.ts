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
import type { RowRequest, RowSource } from "../embedding/index.js";
import { BINARY, refreshTopology, type BinaryCluster } from "./cluster-client.js";
import { fieldOf, partitionOf, SENTINEL_FIELD, type Manifest, type ManifestTable } from "./layout.js";
import { cacheRowsPerTable, DEFAULT_CACHE_MAX_COUNT, TableRowCache, type CacheStats } from "./row-cache.js";
import { decodeRow, storageOfEncoding } from "./row-encoding.js";
import type { StorageKind } from "../kernels/quantized-rows.js";
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

/**
 * Fields per HMGET at most: a partition's misses beyond it go in several commands, pipelined. Replies of
 * about 1,000 rows (256 KB at dim 64) kept node-redis fastest here; much larger ones (4,000+ rows, 1 MB)
 * were decoded slower (bench/results/2026-12-07-redis.md).
 */
export const MAX_FIELDS_PER_HMGET = 1024;

/**
 * One HMGET: which (table, id) each field after the sentinel asks for, and where each answer goes
 * (several lookups may wait for the same field: `field[j]` is delivered to `outs[j]` at slot `slots[j]`).
 */
interface Command {
  readonly key: string;
  readonly tables: number[];
  readonly ids: number[];
  readonly field: number[];
  readonly outs: Uint8Array[];
  readonly slots: number[];
  done?: Promise<void>;
}

/** A row being fetched: its command and its field's index there. */
interface Pending {
  readonly command: Command;
  readonly index: number;
}

export class RedisRowSource implements RowSource {
  private readonly tables: readonly ManifestTable[];
  /** The embedding's table index → the manifest's (the `<table>` of the rows' fields). */
  private readonly manifestIndex: readonly number[];
  private readonly caches: (TableRowCache | null)[];
  private readonly inflight: Map<number, Pending>[];
  readonly stats: CacheStats = { hits: 0, misses: 0, evictions: 0, bytes: 0 };
  private closed = false;
  /** How each table's rows are stored (the embedding's order), as the manifest says. */
  readonly storage: readonly StorageKind[];

  /** `tableNames`: the embedding's tables in its order (rows are asked for by that index). */
  constructor(
    private readonly cluster: BinaryCluster,
    private readonly manifest: Manifest,
    tableNames: readonly string[],
    private readonly options: RedisRowsOptions,
  ) {
    this.manifestIndex = tableNames.map((name) => {
      const i = manifest.tables.findIndex((x) => x.name === name);
      if (i < 0)
        throw new DataLossError(
          `Manifest of ${manifest.model} version ${manifest.version} has no table "${name}".`,
        );
      return i;
    });
    this.tables = this.manifestIndex.map((i) => manifest.tables[i]);
    this.storage = this.tables.map((t) => storageOfEncoding(t.encoding)!);
    const rows = cacheRowsPerTable(options.cacheBytes, this.tables);
    this.caches = this.tables.map((t, i) =>
      rows[i] > 0
        ? new TableRowCache(rows[i], t.rowBytes, options.cacheMaxCount ?? DEFAULT_CACHE_MAX_COUNT, this.stats)
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

  async fetchRows(requests: readonly RowRequest[]): Promise<void> {
    const partitions = this.manifest.partitions;
    const P = partitions.length;
    // Misses of every table grouped by partition (one HMGET each), or joined to a fetch in flight.
    const fresh = new Map<number, Command>();
    const started: Command[] = [];
    const waiting = new Set<Command>();
    let hits = 0;
    let lookups = 0;
    for (const { table: t, ids, out } of requests) {
      const cache = this.caches[t];
      const inflight = this.inflight[t];
      const mt = this.manifestIndex[t];
      lookups += ids.length;
      for (let k = 0; k < ids.length; k++) {
        const id = ids[k];
        if (cache !== null && cache.get(id, out, k)) {
          hits++;
          continue;
        }
        let pending = inflight.get(id);
        if (pending === undefined) {
          const p = partitionOf(mt, id, P);
          let command = fresh.get(p);
          if (command === undefined || command.ids.length === MAX_FIELDS_PER_HMGET) {
            command = { key: partitions[p], tables: [], ids: [], field: [], outs: [], slots: [] };
            fresh.set(p, command);
            started.push(command);
          }
          pending = { command, index: command.ids.length };
          command.tables.push(t);
          command.ids.push(id);
          inflight.set(id, pending);
        }
        const command = pending.command;
        command.field.push(pending.index);
        command.outs.push(out);
        command.slots.push(k);
        waiting.add(command);
      }
    }
    this.stats.hits += hits;
    this.stats.misses += lookups - hits;
    const m = this.options.metrics;
    if (m !== undefined) {
      if (hits > 0) m.hits.inc({ model: this.manifest.model }, hits);
      if (lookups > hits) m.misses.inc({ model: this.manifest.model }, lookups - hits);
    }
    for (const command of started) command.done = this.run(command);
    await Promise.all([...waiting].map((c) => c.done!));
  }

  /** Sends a command, then delivers its rows, keeps them in the cache, and clears the in-flight map. */
  private async run(command: Command): Promise<void> {
    try {
      const values = await this.hmget(command);
      const { tables, ids, field, outs, slots } = command;
      for (let j = 0; j < field.length; j++) {
        const i = field[j];
        const t = tables[i];
        const table = this.tables[t];
        decodeRow(values[i]!, outs[j], slots[j], table.rowBytes, table.name, ids[i]);
        if (!this.closed) this.caches[t]?.put(ids[i], outs[j], slots[j]);
      }
    } finally {
      for (let i = 0; i < command.ids.length; i++) {
        const inflight = this.inflight[command.tables[i]];
        if (inflight.get(command.ids[i])?.command === command) inflight.delete(command.ids[i]);
      }
    }
  }

  /** One HMGET of a command's fields (after the sentinel); rejects unless every row is there. */
  private async hmget(command: Command): Promise<(Buffer | null)[]> {
    const { key, tables, ids } = command;
    const args: string[] = new Array<string>(ids.length + 3);
    args[0] = "HMGET";
    args[1] = key;
    args[2] = SENTINEL_FIELD;
    for (let i = 0; i < ids.length; i++) args[i + 3] = fieldOf(this.manifestIndex[tables[i]], ids[i]);
    const node = this.nodeOf(key);
    const m = this.options.metrics;
    const what = `model ${this.manifest.model} version ${this.manifest.version}, key ${key}`;
    const started = performance.now();
    let reply: (Buffer | null)[];
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new UnavailableError(
                `Redis node ${node} did not answer within ${this.options.timeoutMs} ms (${what}).`,
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
          : new UnavailableError(`Redis node ${node} failed (${what}): ${(e as Error).message}`, {
              cause: e,
            });
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
        `Redis node ${node} does not hold partition ${key} of model ${this.manifest.model} version ` +
          `${this.manifest.version}${sentinel === null ? "" : " (other content)"}: the node lost its data ` +
          `(restarted empty?); re-publish the version to restore it.`,
      );
    }
    for (let i = 0; i < ids.length; i++) {
      if (reply[i + 1] === null) {
        m?.failures.inc({ node, code: "DATA_LOSS" });
        throw new DataLossError(
          `Table "${this.tables[tables[i]].name}", id ${ids[i]}: the row is missing from model ` +
            `${this.manifest.model} version ${this.manifest.version} in Redis (key ${key}, node ${node}).`,
        );
      }
    }
    return reply.slice(1);
  }

  private nodeOf(key: string): string {
    return this.cluster.slots[calculateSlot(key)]?.master?.address ?? "unknown";
  }
}
