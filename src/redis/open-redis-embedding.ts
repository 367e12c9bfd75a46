/**
 * The library's entry to a model published in a Redis Cluster: `openRedisEmbedding({ url, model })`
 * gives an embedding (a `TPUEmbeddingForServing` whose `embeddingLookupAsync` fetches rows from the
 * cluster) of the newest published version, or of the one asked for. Close it to disconnect.
 */
import { NotFoundError } from "../errors.js";
import type { StoreBackedEmbedding } from "../embedding/index.js";
import { connectCluster } from "./cluster-client.js";
import { checkModelName } from "./layout.js";
import { publishedVersions, readManifest } from "./publish.js";
import { versionFromManifest } from "./redis-version.js";

export interface OpenRedisEmbeddingOptions {
  /** `redis://host:port` of any cluster node (several separated by commas). */
  readonly url: string;
  readonly model: string;
  /** Default: the newest published version. */
  readonly version?: number;
  /** Hot-row cache bytes (default 256 MiB; 0 disables). */
  readonly cacheBytes?: number;
  /** A row fetch not answered within this many ms fails with UNAVAILABLE (default 1000). */
  readonly timeoutMs?: number;
}

export interface RedisEmbedding {
  readonly model: string;
  readonly version: number;
  readonly embedding: StoreBackedEmbedding;
  /** Releases the cache and disconnects. */
  close(): Promise<void>;
}

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_REDIS_TIMEOUT_MS = 1000;

export async function openRedisEmbedding(options: OpenRedisEmbeddingOptions): Promise<RedisEmbedding> {
  const model = checkModelName(options.model);
  const cluster = await connectCluster({ url: options.url });
  try {
    const versions = await publishedVersions(cluster, model);
    const version = options.version ?? versions[versions.length - 1];
    const manifest = version === undefined ? null : await readManifest(cluster, model, version);
    if (manifest === null || !versions.includes(version!)) {
      throw new NotFoundError(
        `Model "${model}"${options.version === undefined ? " has no published version" : ` version ${options.version} is not published`} in the Redis Cluster at ${options.url}.`,
      );
    }
    const { embedding } = versionFromManifest(cluster, manifest, {
      cacheBytes: options.cacheBytes ?? DEFAULT_CACHE_BYTES,
      timeoutMs: options.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS,
    });
    return {
      model,
      version: manifest.version,
      embedding,
      async close() {
        embedding.dispose();
        await cluster.close();
      },
    };
  } catch (e) {
    await cluster.close().catch(() => undefined);
    throw e;
  }
}
