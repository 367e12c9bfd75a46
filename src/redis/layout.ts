/**
 * The Redis key layout of published models (documented byte by byte in docs/scale.md#key-layout). All
 * keys of one model's metadata share the hash tag `{tpue:<model>}` (one slot: the manifest list and the
 * leases can be changed in one MULTI); each table is cut into partitions, one Redis hash per partition
 * with a hash tag of its own, chosen at publish time so the partitions of every table are dealt round
 * the masters in turn.
 */
import { rowBytes } from "../kernels/quantized-rows.js";
import { storageOfEncoding, type RowEncoding } from "./row-encoding.js";
import calculateSlot from "cluster-key-slot";
import { InvalidArgumentError } from "../errors.js";

/** The manifest's `format`: bump when the layout changes. */
export const LAYOUT_FORMAT = "tpu-embedding/redis-v1";

/** Hash field that marks a complete partition (its value is the version's content id). */
export const SENTINEL_FIELD = "_";

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export function checkModelName(model: string): string {
  if (!NAME.test(model)) {
    throw new InvalidArgumentError(
      `Model name "${model}" cannot be published: use 1-128 characters of A-Z a-z 0-9 _ . - only.`,
    );
  }
  return model;
}

const meta = (model: string) => `tpue:{tpue:${model}}`;

/** Sorted set of the complete versions (member = score = version); written after the manifest. */
export const versionsKey = (model: string): string => `${meta(model)}:versions`;
/** One version's manifest (a JSON string, Manifest). */
export const manifestKey = (model: string, version: number): string => `${meta(model)}:manifest:${version}`;
/** Hash of the servers' leases: field `<server id>/<version>`, value the lease's expiry (ms since epoch). */
export const leasesKey = (model: string): string => `${meta(model)}:leases`;
/** Set of unpublished versions whose rows may still exist (a live lease kept them). */
export const retiredKey = (model: string): string => `${meta(model)}:retired`;
/** Pub/sub channel: the version number, published after the version became visible. */
export const publishedChannel = (model: string): string => `${meta(model)}:published`;

/** The key of one partition with a given salt: `tpue:{<model>:<version>:<partition>:<salt>}`. */
export function partitionKey(model: string, version: number, partition: number, salt: number): string {
  return `tpue:{${model}:${version}:${partition}:${salt}}`;
}

/**
 * A partition key whose slot belongs to `owner(slot)` = `want`: the smallest salt that lands there (an
 * owner map covers all 16384 slots; a few salts are tried, about as many as there are masters).
 */
export function spreadPartitionKey(
  model: string,
  version: number,
  partition: number,
  owner: (slot: number) => number,
  want: number,
): string {
  for (let salt = 0; salt < 1_000_000; salt++) {
    const key = partitionKey(model, version, partition, salt);
    if (owner(calculateSlot(key)) === want) return key;
  }
  throw new InvalidArgumentError(`No hash slot of the cluster belongs to master ${want}.`);
}

/**
 * The partition of row `id` of table `table` (its index in the manifest): murmur3's 32-bit finalizer of
 * `id + (table + 1) × 0x9e3779b9` (mod 2^32), modulo the partitions. It mixes neighbouring ids
 * (vocabularies are often sorted by frequency) and the tables over every partition, so one lookup's
 * rows of all tables go out in at most one HMGET per partition.
 */
export function partitionOf(table: number, id: number, partitions: number): number {
  let h = (id + Math.imul(table + 1, 0x9e3779b9)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % partitions;
}

/** A row's hash field: `<table index>:<row id>` in decimal ASCII (readable: `HGET <key> 3:42`). */
export const fieldOf = (table: number, id: number): string => `${table}:${id}`;

/** One table as published. */
export interface ManifestTable {
  readonly name: string;
  readonly vocabularySize: number;
  readonly dim: number;
  /** The variable's dtype in the checkpoint. */
  readonly dtype: "float32";
  /** How a row is stored in a hash value (row-encoding.ts): float32, or a quantized layout. */
  readonly encoding: RowEncoding;
  /** Bytes of one stored row. */
  readonly rowBytes: number;
  /** CRC-32C of every row's stored bytes in id order (the checkpoint's table, as published). */
  readonly crc32c: number;
}

/** What makes a version visible: written after every row and every partition's sentinel. */
export interface Manifest {
  readonly format: typeof LAYOUT_FORMAT;
  readonly model: string;
  readonly version: number;
  /** Hex digest of the tables' shapes, CRCs and the feature config: equal ids, equal content. */
  readonly contentId: string;
  /** The features.json document the version was published with. */
  readonly featureConfig: unknown;
  /** Tables in publishing order: a table's index here is the `<table>` of its rows' fields. */
  readonly tables: readonly ManifestTable[];
  /** The version's partition hashes (all tables share them): row (t, id) is in `partitionOf(t, id, n)`. */
  readonly partitions: readonly string[];
  /** Checkpoint prefix published from, and when (informational). */
  readonly checkpoint: string;
  readonly publishedAt: string;
}

export function parseManifest(text: string, key: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`Manifest "${key}" is not JSON: ${(e as Error).message}`);
  }
  const m = value as Manifest;
  if (
    m === null ||
    typeof m !== "object" ||
    m.format !== LAYOUT_FORMAT ||
    !Array.isArray(m.tables) ||
    !Array.isArray(m.partitions) ||
    m.partitions.length < 1
  ) {
    throw new InvalidArgumentError(
      `Manifest "${key}" is not a ${LAYOUT_FORMAT} manifest (format ${JSON.stringify((m as { format?: unknown })?.format)}).`,
    );
  }
  for (const t of m.tables) {
    if (
      typeof t.name !== "string" ||
      !Number.isInteger(t.vocabularySize) ||
      !Number.isInteger(t.dim) ||
      storageOfEncoding(t.encoding) === undefined ||
      t.rowBytes !== rowBytes(storageOfEncoding(t.encoding)!, t.dim)
    ) {
      throw new InvalidArgumentError(`Manifest "${key}": table ${JSON.stringify(t.name)} is malformed.`);
    }
  }
  return m;
}
