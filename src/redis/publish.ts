/**
 * Publishing a model version into a Redis Cluster (docs/scale.md#publishing): every table's rows are
 * streamed from the checkpoint in chunks, grouped by partition and written with pipelined `HSET`s (a
 * bounded number in flight); then each partition's sentinel; then the manifest; then the version is
 * added to the model's version set (which makes it visible) and announced on its channel. Re-publishing
 * a version rewrites the same bytes into the same keys (idempotent, and how rows lost by a node that
 * restarted empty come back); publishing different content under an existing version is refused.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { BundleReader } from "../checkpoint/bundle/bundle-reader.js";
import { crc32cExtend, unmaskCrc } from "../checkpoint/crc.js";
import { checkpointKey, readObjectGraph, variableKeyInGraph } from "../checkpoint/object-graph.js";
import { DataLossError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../errors.js";
import { parseFeatureConfig } from "../serving/model/feature-config-json.js";
import { tableShapesFromCheckpoint } from "../serving/model/model-loader.js";
import { masterMap, type BinaryCluster } from "./cluster-client.js";
import {
  checkModelName,
  fieldOf,
  LAYOUT_FORMAT,
  manifestKey,
  parseManifest,
  partitionOf,
  publishedChannel,
  SENTINEL_FIELD,
  spreadPartitionKey,
  versionsKey,
  type Manifest,
  type ManifestTable,
} from "./layout.js";
import { ENCODING_OF, encodeRows } from "./row-encoding.js";
import { rowBytes, type StorageKind } from "../kernels/quantized-rows.js";

export interface PublishOptions {
  readonly model: string;
  readonly version: number;
  /** Checkpoint prefix. */
  readonly prefix: string;
  /** Path of features.json. */
  readonly featureConfigPath: string;
  /** Partition hashes of the version (default: 4 per master, at least one per 2^22 rows). */
  readonly partitions?: number;
  /**
   * How every table's rows are stored (features.json's `tables[].storage` wins per table; default
   * float32): quantized kinds are quantized here, once, as a quantized table in memory would be.
   */
  readonly tableStorage?: StorageKind;
  /** Rows per HSET command (default 1024). */
  readonly batchRows?: number;
  /** HSET commands in flight at once (default 64). */
  readonly inFlight?: number;
  /** Called after each chunk with the rows and bytes written so far and the totals. */
  readonly onProgress?: (progress: PublishProgress) => void;
}

export interface PublishProgress {
  readonly table: string;
  readonly rows: number;
  readonly bytes: number;
  readonly totalRows: number;
  readonly totalBytes: number;
}

export interface PublishResult {
  readonly manifest: Manifest;
  readonly rows: number;
  readonly bytes: number;
  readonly seconds: number;
  /** True when the version already existed with the same content (rows rewritten, manifest kept). */
  readonly republished: boolean;
}

/** Rows read from the checkpoint at a time (about 8 MiB). */
const CHUNK_BYTES = 8 * 1024 * 1024;

export async function publishVersion(
  cluster: BinaryCluster,
  options: PublishOptions,
): Promise<PublishResult> {
  const started = performance.now();
  const model = checkModelName(options.model);
  const version = options.version;
  if (!Number.isSafeInteger(version) || version < 0)
    throw new InvalidArgumentError(`--version must be an integer >= 0, got ${version}.`);
  const batchRows = options.batchRows ?? 1024;
  const inFlight = options.inFlight ?? 64;
  const featureJson = await readJson(options.featureConfigPath);
  const spec = parseFeatureConfig(featureJson, options.featureConfigPath);
  const shapes = await tableShapesFromCheckpoint(spec, options.prefix);

  const reader = await BundleReader.open(options.prefix);
  try {
    const graph = await readObjectGraph(reader);
    const sources = spec.tables.map((t) => {
      const path = [spec.checkpointObject, t.name];
      const key = (graph && variableKeyInGraph(graph, path)) ?? checkpointKey(path);
      const storage: StorageKind = t.storage ?? options.tableStorage ?? "float32";
      return { name: t.name, key, entry: reader.entry(key), shape: shapes.get(t.name)!, storage };
    });
    const contentId = createHash("sha256")
      .update(
        JSON.stringify({
          featureConfig: featureJson,
          tables: sources.map((s) => [
            s.name,
            s.shape.vocabularySize,
            s.shape.dim,
            s.entry.crc32c,
            s.entry.slices,
            // The encoding is part of the content (float32 keeps the old ids: nothing is added for it).
            ...(s.storage === "float32" ? [] : [ENCODING_OF[s.storage]]),
          ]),
        }),
      )
      .digest("hex")
      .slice(0, 32);

    const existing = await readManifest(cluster, model, version);
    if (existing !== null && existing.contentId !== contentId) {
      throw new FailedPreconditionError(
        `Model "${model}" version ${version} is already published with other content (content id ` +
          `${existing.contentId}, this checkpoint ${contentId}); publish it as a new version.`,
      );
    }
    const { masters, ownerOfSlot } = masterMap(cluster);
    if (masters.length === 0 || ownerOfSlot.includes(-1))
      throw new FailedPreconditionError(`The Redis Cluster does not serve all 16384 slots; publish refused.`);
    const window = new Window(inFlight);
    const totalRows = sources.reduce((a, s) => a + s.shape.vocabularySize, 0);
    const partitionCount =
      existing?.partitions.length ??
      options.partitions ??
      Math.max(4 * masters.length, Math.ceil(totalRows / 2 ** 22));
    if (!Number.isInteger(partitionCount) || partitionCount < 1)
      throw new InvalidArgumentError(`--partitions must be an integer >= 1, got ${partitionCount}.`);
    const keys =
      existing?.partitions ??
      Array.from({ length: partitionCount }, (_, p) =>
        spreadPartitionKey(model, version, p, (slot) => ownerOfSlot[slot], p % masters.length),
      );
    const tables: ManifestTable[] = sources.map((s) => ({
      name: s.name,
      vocabularySize: s.shape.vocabularySize,
      dim: s.shape.dim,
      dtype: "float32",
      encoding: ENCODING_OF[s.storage],
      rowBytes: rowBytes(s.storage, s.shape.dim),
      crc32c: 0,
    }));
    const P = keys.length;
    // Per partition: the fields and values of the next HSET.
    const pending: (string | Buffer)[][] = Array.from({ length: P }, () => []);
    const flush = async (p: number): Promise<void> => {
      const args = pending[p];
      if (args.length === 0) return;
      pending[p] = [];
      await window.run(() => cluster.sendCommand(keys[p], false, ["HSET", keys[p], ...args]));
    };
    const totalBytes = sources.reduce(
      (a, s) => a + s.shape.vocabularySize * rowBytes(s.storage, s.shape.dim),
      0,
    );
    let rowsDone = 0;
    let bytesDone = 0;

    for (let ti = 0; ti < sources.length; ti++) {
      const { name, key, entry, shape, storage } = sources[ti];
      const table = tables[ti];
      const { vocabularySize: rows, dim } = shape;
      const stride = table.rowBytes;
      const chunkRows = Math.max(1, Math.floor(CHUNK_BYTES / (dim * 4)));
      let crc = 0; // of the checkpoint's float32 bytes (checked against its own checksum)
      let storedCrc = 0; // of the stored rows (the manifest's)
      for (let start = 0; start < rows; start += chunkRows) {
        const count = Math.min(chunkRows, rows - start);
        const tensor = await reader.readRows(key, start, count);
        const values = tensor.data as Float32Array;
        crc = crc32cExtend(crc, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
        const bytes = encodeRows(storage, values, dim, name);
        storedCrc = storage === "float32" ? crc : crc32cExtend(storedCrc, bytes);
        // One Buffer per chunk; each row's value is a view of it (no copy until the socket write).
        const chunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let r = 0; r < count; r++) {
          const id = start + r;
          const p = partitionOf(ti, id, P);
          pending[p].push(fieldOf(ti, id), chunk.subarray(r * stride, (r + 1) * stride));
          if (pending[p].length >= 2 * batchRows) await flush(p);
        }
        for (let p = 0; p < P; p++) if (pending[p].length >= batchRows) await flush(p);
        rowsDone += count;
        bytesDone += count * stride;
        options.onProgress?.({ table: name, rows: rowsDone, bytes: bytesDone, totalRows, totalBytes });
      }
      if (entry.slices.length === 0 && unmaskCrc(entry.crc32c) !== crc) {
        throw new DataLossError(
          `Checkpoint "${options.prefix}", key "${key}": the rows read do not match the stored crc32c ` +
            `(0x${unmaskCrc(entry.crc32c).toString(16)}, read 0x${crc.toString(16)}); nothing was made visible.`,
        );
      }
      if (existing !== null && existing.tables[ti].crc32c !== storedCrc) {
        throw new DataLossError(`Table "${name}": the rows read differ from version ${version}'s manifest.`);
      }
      tables[ti] = { ...table, crc32c: storedCrc };
    }
    for (let p = 0; p < P; p++) await flush(p);
    await window.drain();
    // Sentinels last: a partition with its sentinel has all its rows (a node that restarted empty has none).
    for (const k of keys)
      await window.run(() => cluster.sendCommand(k, false, ["HSET", k, SENTINEL_FIELD, contentId]));
    await window.drain();

    const manifest: Manifest = existing ?? {
      format: LAYOUT_FORMAT,
      model,
      version,
      contentId,
      featureConfig: featureJson,
      tables,
      partitions: keys,
      checkpoint: options.prefix,
      publishedAt: new Date().toISOString(),
    };
    await cluster.set(manifestKey(model, version), JSON.stringify(manifest));
    await cluster.zAdd(versionsKey(model), { score: version, value: String(version) });
    await cluster.publish(publishedChannel(model), String(version));
    return {
      manifest,
      rows: rowsDone,
      bytes: bytesDone,
      seconds: (performance.now() - started) / 1000,
      republished: existing !== null,
    };
  } finally {
    await reader.close();
  }
}

/** A version's manifest, or null when it has none (never published, or unpublished). */
export async function readManifest(
  cluster: BinaryCluster,
  model: string,
  version: number,
): Promise<Manifest | null> {
  const key = manifestKey(model, version);
  const text = await cluster.get(key);
  return text === null ? null : parseManifest(text.toString("utf8"), key);
}

/** The visible versions of a model, oldest first. */
export async function publishedVersions(cluster: BinaryCluster, model: string): Promise<number[]> {
  const members = await cluster.zRange(versionsKey(model), 0, -1);
  return members.map((m) => Number(m.toString())).sort((a, b) => a - b);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new NotFoundError(`Feature config "${path}" cannot be read: ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`Feature config "${path}" is not valid JSON: ${(e as Error).message}`);
  }
}

/** At most `size` commands in flight; the first failure is thrown by the next `run` or `drain`. */
class Window {
  private readonly running = new Set<Promise<unknown>>();
  private failure: unknown = null;
  constructor(private readonly size: number) {}

  async run(start: () => Promise<unknown>): Promise<void> {
    if (this.failure !== null) throw this.failure;
    while (this.running.size >= this.size) await Promise.race(this.running);
    if (this.failure !== null) throw this.failure;
    const p: Promise<unknown> = start().then(
      () => this.running.delete(p),
      (e: unknown) => {
        this.running.delete(p);
        this.failure ??= e;
      },
    );
    this.running.add(p);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure !== null) throw this.failure;
  }
}
