/**
 * Serves models published into a Redis Cluster (`tpu-embedding serve --redis`): no local model files.
 * Each model's version set is polled (and a pub/sub announcement triggers a poll at once); the newest
 * complete version (its manifest exists and it is in the set) is loaded — an embedding over the
 * cluster's rows with a hot-row cache of its own — leased in Redis (so `unpublish`/`--keep` leave it),
 * then made the one new requests get. The previous version stays until its last request is done, so an
 * answer never mixes versions (every row of a lookup is read under one version's keys). docs/scale.md.
 */
import { randomUUID } from "node:crypto";
import { InvalidArgumentError, NotFoundError } from "../../errors.js";
import { connectCluster, type BinaryCluster } from "../../redis/cluster-client.js";
import { checkModelName, leasesKey, publishedChannel } from "../../redis/layout.js";
import { publishedVersions, readManifest } from "../../redis/publish.js";
import { versionFromManifest } from "../../redis/redis-version.js";
import { StoreMetrics } from "../../redis/store-metrics.js";
import { excerpt } from "../excerpt.js";
import { silentLogger, type Logger } from "../log.js";
import type {
  ModelEvent,
  ModelLease,
  ModelRegistry,
  ServableModel,
  VersionSelector,
  VersionStatus,
} from "../model-registry.js";
import { leaseVersion, selectStatus, selectVersion } from "../version-lease.js";

export interface RedisModelRegistryOptions {
  readonly url: string;
  readonly models: readonly string[];
  /** How often to look for new versions (ms; default 1000). */
  readonly pollIntervalMs?: number;
  /** Hot-row cache bytes per loaded version (0 disables). */
  readonly cacheBytes: number;
  /** GCLOCK maximum use count (1 = CLOCK). */
  readonly cacheMaxCount?: number;
  /** A row fetch not answered within this is UNAVAILABLE (ms). */
  readonly timeoutMs: number;
  /** How long a lease lasts without renewal (ms; default 30000; renewed every third of it). */
  readonly leaseMs?: number;
  readonly logger?: Logger;
}

interface Loaded {
  readonly servable: ServableModel;
  leases: number;
  retiring: boolean;
}

interface ModelState {
  readonly name: string;
  readonly loaded: Map<number, Loaded>;
  latest: Loaded | null;
  /** Versions that failed to load (not retried until a newer one appears), with their status. */
  readonly failed: Map<number, VersionStatus>;
  loading: boolean;
}

const EVENT_HISTORY = 256;

export class RedisModelRegistry implements ModelRegistry {
  readonly serverId = randomUUID();
  readonly storeMetrics = new StoreMetrics();
  readonly extraMetrics = this.storeMetrics.registry;
  // Rows live in the Redis Cluster, fetched by this loop's client: other event loops cannot share them.
  readonly sharedMemoryTables = false;
  private readonly models = new Map<string, ModelState>();
  private readonly listeners = new Set<(event: ModelEvent) => void>();
  private readonly history: ModelEvent[] = [];
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private subscriber: BinaryCluster | undefined;
  private lastLeaseRenewal = 0;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly cluster: BinaryCluster,
    private readonly options: RedisModelRegistryOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    for (const name of options.models) {
      if (this.models.has(name)) throw new InvalidArgumentError(`Model "${name}" is configured twice.`);
      this.models.set(name, {
        name: checkModelName(name),
        loaded: new Map(),
        latest: null,
        failed: new Map(),
        loading: false,
      });
    }
  }

  /** Connects, loads each model's newest version (when one is published) and starts polling. */
  static async open(
    options: RedisModelRegistryOptions & { onEvent?: (event: ModelEvent) => void },
  ): Promise<RedisModelRegistry> {
    const logger = options.logger ?? silentLogger;
    const cluster = await connectCluster({
      url: options.url,
      onError: (e) => logger.log("warn", "redis-error", { error: e.message }),
    });
    const registry = new RedisModelRegistry(cluster, options);
    if (options.onEvent !== undefined) registry.listeners.add(options.onEvent);
    await registry.poll();
    registry.timer = setInterval(() => void registry.poll(), options.pollIntervalMs ?? 1000);
    registry.timer.unref();
    await registry.subscribe();
    return registry;
  }

  /** Looks for new versions of every model now; renews the leases when due. */
  async poll(): Promise<void> {
    if (this.closing !== undefined) return;
    await Promise.all([...this.models.values()].map((m) => this.pollModel(m)));
    const leaseMs = this.options.leaseMs ?? 30_000;
    if (Date.now() - this.lastLeaseRenewal > leaseMs / 3) await this.renewLeases().catch(() => undefined);
  }

  modelNames(): readonly string[] {
    return [...this.models.keys()];
  }

  status(model: string, version?: number): readonly VersionStatus[] {
    const state = this.state(model);
    const out: VersionStatus[] = [...state.failed.values()];
    for (const [v, loaded] of state.loaded) {
      out.push({
        version: v,
        state: loaded.retiring ? "UNLOADING" : "AVAILABLE",
        errorCode: "OK",
        errorMessage: "",
      });
    }
    return selectStatus(model, out, version);
  }

  labels(): ReadonlyMap<string, number> {
    return new Map();
  }

  acquire(model: string, selector: VersionSelector = {}): ModelLease {
    const state = this.state(model);
    const held = selectVersion(model, selector, {
      label: () => undefined, // no labels here
      serving: (version) => {
        const loaded = state.loaded.get(version);
        return loaded === undefined || loaded.retiring ? undefined : loaded;
      },
      latest: () => state.latest ?? undefined,
    });
    return leaseVersion(held, (h) => {
      if (h.retiring && h.leases === 0) void this.unload(state, h);
    });
  }

  onEvent(listener: (event: ModelEvent) => void): () => void {
    for (const event of this.history) listener(event);
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      await this.subscriber?.close().catch(() => undefined);
      // Wait for requests in flight (bounded), then unload everything and drop the leases.
      const end = Date.now() + 30_000;
      const busy = () =>
        [...this.models.values()].some((m) => [...m.loaded.values()].some((l) => l.leases > 0));
      while (busy() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      for (const state of this.models.values()) {
        for (const loaded of [...state.loaded.values()]) await this.unload(state, loaded);
        state.latest = null;
      }
      await this.cluster.close().catch(() => undefined);
    })();
    return this.closing;
  }

  private state(model: string): ModelState {
    const state = this.models.get(model);
    if (state === undefined)
      throw new NotFoundError(`Servable not found for request: model ${excerpt(model)} is not served here`);
    return state;
  }

  private async pollModel(state: ModelState): Promise<void> {
    if (state.loading) return;
    state.loading = true;
    try {
      const versions = await publishedVersions(this.cluster, state.name);
      const newest = versions[versions.length - 1];
      if (newest === undefined || state.failed.has(newest)) return;
      if (state.latest !== null && state.latest.servable.version >= newest) return;
      await this.load(state, newest);
    } catch (e) {
      this.logger.log("warn", "redis-poll-failed", { model: state.name, error: (e as Error).message });
    } finally {
      state.loading = false;
    }
  }

  private async load(state: ModelState, version: number): Promise<void> {
    const model = state.name;
    const started = performance.now();
    this.emit({ type: "load-start", model, version });
    try {
      const manifest = await readManifest(this.cluster, model, version);
      if (manifest === null)
        throw new NotFoundError(`Model ${model} version ${version} has no manifest (unpublished?).`);
      // Lease first, then check the manifest is still there: an unpublish that deleted it in between
      // sees the lease (or we see the manifest gone), never neither.
      await this.cluster.hSet(
        leasesKey(model),
        this.leaseField(version),
        String(Date.now() + (this.options.leaseMs ?? 30_000)),
      );
      if ((await readManifest(this.cluster, model, version)) === null)
        throw new NotFoundError(`Model ${model} version ${version} was unpublished while loading.`);
      const { embedding, features } = versionFromManifest(this.cluster, manifest, {
        cacheBytes: this.options.cacheBytes,
        cacheMaxCount: this.options.cacheMaxCount,
        timeoutMs: this.options.timeoutMs,
        metrics: this.storeMetrics,
      });
      const tableBytes = manifest.tables.reduce((a, t) => a + t.vocabularySize * t.rowBytes, 0);
      const loaded: Loaded = {
        servable: {
          name: model,
          version,
          embedding,
          features,
          checkpoint: `redis:${manifest.checkpoint}`,
          tableBytes,
        },
        leases: 0,
        retiring: false,
      };
      state.loaded.set(version, loaded);
      const previous = state.latest;
      state.latest = loaded;
      this.emit({
        type: "load-done",
        model,
        version,
        seconds: (performance.now() - started) / 1000,
        bytes: this.options.cacheBytes,
      });
      if (previous !== null) {
        previous.retiring = true;
        if (previous.leases === 0) await this.unload(state, previous);
      }
    } catch (e) {
      const message = (e as Error).message;
      // A cluster that cannot answer now is retried at the next poll; anything else is this version's fault.
      if ((e as { code?: string }).code !== "UNAVAILABLE")
        state.failed.set(version, {
          version,
          state: "END",
          errorCode: (e as { code?: string }).code ?? "UNKNOWN",
          errorMessage: message,
        });
      this.emit({ type: "load-failed", model, version, error: message });
      await this.cluster.hDel(leasesKey(model), this.leaseField(version)).catch(() => undefined);
    }
  }

  private async unload(state: ModelState, loaded: Loaded): Promise<void> {
    const version = loaded.servable.version;
    if (state.loaded.get(version) !== loaded) return;
    state.loaded.delete(version);
    if (state.latest === loaded) state.latest = null;
    loaded.servable.embedding.dispose();
    this.emit({ type: "unloaded", model: state.name, version });
    await this.cluster.hDel(leasesKey(state.name), this.leaseField(version)).catch(() => undefined);
  }

  private leaseField(version: number): string {
    return `${this.serverId}/${version}`;
  }

  private async renewLeases(): Promise<void> {
    this.lastLeaseRenewal = Date.now();
    const expiry = String(Date.now() + (this.options.leaseMs ?? 30_000));
    await Promise.all(
      [...this.models.values()].flatMap((state) =>
        [...state.loaded.keys()].map((v) =>
          this.cluster.hSet(leasesKey(state.name), this.leaseField(v), expiry),
        ),
      ),
    );
  }

  /** Announcements of new versions make the next poll happen now (polling alone would also find them). */
  private async subscribe(): Promise<void> {
    try {
      const subscriber = this.cluster.duplicate();
      subscriber.on("error", () => undefined);
      await subscriber.connect();
      for (const state of this.models.values()) {
        await subscriber.subscribe(publishedChannel(state.name), () => void this.pollModel(state));
      }
      this.subscriber = subscriber as BinaryCluster;
    } catch (e) {
      this.logger.log("warn", "redis-subscribe-failed", { error: (e as Error).message });
    }
  }

  private emit(event: ModelEvent): void {
    this.history.push(event);
    if (this.history.length > EVENT_HISTORY) this.history.shift();
    this.logger.log(event.type === "load-failed" ? "error" : "info", event.type, { ...event });
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (e) {
        this.logger.log("error", "model-event-listener-failed", { event: event.type, error: String(e) });
      }
    }
  }
}
