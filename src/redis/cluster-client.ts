/**
 * One node-redis cluster client (createCluster) with binary replies, the way every part of this folder
 * talks to Redis: commands are routed by their key's slot (MOVED/ASK followed by the client, up to 16
 * redirections), commands issued in one tick are pipelined per node, and a command for a node that is
 * down fails at once (no offline queue) instead of waiting for it to come back.
 */
import { createCluster, RESP_TYPES } from "redis";
import { InvalidArgumentError, UnavailableError } from "../errors.js";

export interface ClusterOptions {
  /** `redis://[user:password@]host:port` (or `rediss://` for TLS), several separated by commas. */
  readonly url: string;
  /** Connect timeout per node (ms). */
  readonly connectTimeoutMs?: number;
  /** Called with errors the client reports outside any command (a node going away, reconnects). */
  readonly onError?: (error: Error) => void;
}

function rootNodes(url: string): { url: string }[] {
  const urls = url
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  if (urls.length === 0) throw new InvalidArgumentError(`--redis: no URL given.`);
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new InvalidArgumentError(`--redis: "${u}" is not a URL (redis://host:port).`);
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:")
      throw new InvalidArgumentError(`--redis: "${u}" must start with redis:// or rediss://.`);
  }
  return urls.map((u) => ({ url: u }));
}

function createBinaryCluster(options: ClusterOptions) {
  const roots = rootNodes(options.url);
  const first = new URL(roots[0].url);
  return createCluster({
    rootNodes: roots,
    // Credentials and TLS must be in `defaults` too, or connections to discovered nodes go without them.
    defaults: {
      ...(first.username !== "" ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.password !== "" ? { password: decodeURIComponent(first.password) } : {}),
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.connectTimeoutMs ?? 2000,
        ...(first.protocol === "rediss:" ? { tls: true as const } : {}),
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
      },
    },
    maxCommandRedirections: 16,
  }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
}

export type BinaryCluster = ReturnType<typeof createBinaryCluster>;

/** Options for `sendCommand`: binary bulk replies (the cluster's type mapping does not reach it). */
export const BINARY = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

/** Connects to the cluster (discovering every node from the first that answers). */
export async function connectCluster(options: ClusterOptions): Promise<BinaryCluster> {
  const cluster = createBinaryCluster(options);
  cluster.on("error", (e: Error) => options.onError?.(e));
  try {
    await cluster.connect();
  } catch (e) {
    throw new UnavailableError(
      `Cannot connect to the Redis Cluster at ${options.url}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  return cluster;
}

/** The masters' addresses in a stable order, and which of them owns each of the 16384 slots. */
export function masterMap(cluster: BinaryCluster): { masters: string[]; ownerOfSlot: Int32Array } {
  const masters = cluster.masters.map((m) => m.address).sort();
  const index = new Map(masters.map((a, i) => [a, i]));
  const ownerOfSlot = new Int32Array(16384).fill(-1);
  cluster.slots.forEach((shard, slot) => {
    if (shard?.master !== undefined) ownerOfSlot[slot] = index.get(shard.master.address) ?? -1;
  });
  return { masters, ownerOfSlot };
}

const lastRefresh = new WeakMap<object, number>();

/**
 * Re-reads the cluster's topology from a master that is still connected (then the configured nodes),
 * at most every 250 ms. node-redis refreshes its slot map on MOVED/ASK by itself, but not when a node
 * stops answering: after a failover, commands would keep going to the dead master until this runs.
 */
export function refreshTopology(cluster: BinaryCluster): void {
  const now = Date.now();
  if (now - (lastRefresh.get(cluster) ?? 0) < 250) return;
  lastRefresh.set(cluster, now);
  const live = cluster.masters.find((m) => m.client?.isReady === true)?.client;
  const slots = (cluster as unknown as { _slots: { rediscover(client: unknown): Promise<void> } })._slots;
  if (live === undefined) return;
  slots.rediscover(live).catch(() => undefined);
}
