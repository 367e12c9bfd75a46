/**
 * The `ModelRegistry` the server uses: models served from directories on disk, each with its own
 * versions, labels and policy, polled for new versions (TF Serving's file-system storage path source).
 */
import { InvalidArgumentError, NotFoundError } from "../../errors.js";
import { silentLogger, type Logger } from "../log.js";
import type {
  ModelEvent,
  ModelLease,
  ModelRegistry,
  VersionSelector,
  VersionStatus,
} from "../model-registry.js";
import type { EmbeddingOptions } from "./model-loader.js";
import { scanModelRepository } from "./model-repository.js";
import { sameSource } from "./model-server-config.js";
import { enableExplicitGc } from "./release-memory.js";
import {
  ModelVersionManager,
  type ModelSourceOptions,
  type TransitionPolicy,
} from "./model-version-manager.js";
import { excerpt } from "../excerpt.js";

export interface FileModelRegistryOptions {
  readonly models: readonly ModelSourceOptions[];
  /** Seconds between scans of every base path (TF Serving's `--file_system_poll_wait_seconds`); 0 = never. */
  readonly pollIntervalSeconds?: number;
  readonly transitionPolicy?: TransitionPolicy;
  /**
   * Milliseconds a version's files must stay unchanged (size and mtime) before it is read; default
   * DEFAULT_SETTLE_MS (500), 0 = read as soon as every file exists.
   */
  readonly settleMs?: number;
  /** Passed to every `TPUEmbeddingForServing` the registry creates (e.g. lookup threads). */
  readonly embeddingOptions?: EmbeddingOptions;
  readonly logger?: Logger;
  /** Bytes read so far while a version loads (for a progress bar). */
  readonly onProgress?: (model: string, version: number, bytesRead: number, totalBytes: number) => void;
  /** Subscribed before the first load, so it sees the initial versions' events too. */
  readonly onEvent?: (event: ModelEvent) => void;
}

export const DEFAULT_POLL_INTERVAL_SECONDS = 1;
const EVENT_HISTORY = 256;

export class FileModelRegistry implements ModelRegistry {
  private managers: ReadonlyMap<string, ModelVersionManager>;
  private sources: ReadonlyMap<string, ModelSourceOptions>;
  private readonly makeManager: (source: ModelSourceOptions) => ModelVersionManager;
  private readonly pollIntervalSeconds: number;
  private reconfiguring: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(event: ModelEvent) => void>();
  /** Recent events, replayed to late subscribers (the server's metrics attach after `open()` loaded). */
  private readonly history: ModelEvent[] = [];
  private closing: Promise<void> | undefined;

  private constructor(options: FileModelRegistryOptions) {
    const logger = options.logger ?? silentLogger;
    this.pollIntervalSeconds = options.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS;
    this.makeManager = (source) =>
      new ModelVersionManager(source, {
        transitionPolicy: options.transitionPolicy ?? "availability-preserving",
        settleMs: options.settleMs,
        embeddingOptions: options.embeddingOptions,
        logger,
        emit: (event) => this.emit(event, logger),
        onProgress: options.onProgress,
      });
    const managers = new Map<string, ModelVersionManager>();
    for (const source of options.models) {
      if (managers.has(source.name))
        throw new InvalidArgumentError(`Model "${source.name}" is configured twice.`);
      managers.set(source.name, this.makeManager(source));
    }
    this.managers = managers;
    this.sources = new Map(options.models.map((m) => [m.name, m]));
    if (options.onEvent !== undefined) this.listeners.add(options.onEvent);
  }

  /**
   * Checks every base path exists, loads what each model's policy asks for (failures are reported in
   * `status()`, not thrown), then polls in the background.
   */
  static async open(options: FileModelRegistryOptions): Promise<FileModelRegistry> {
    enableExplicitGc();
    for (const m of options.models) await scanModelRepository(m);
    const registry = new FileModelRegistry(options);
    await registry.poll();
    for (const m of registry.managers.values()) m.startPolling(registry.pollIntervalSeconds);
    return registry;
  }

  /**
   * Serves a new set of models (TF Serving's ReloadConfig, e.g. from a changed `--model_config_file`):
   * new models are loaded, removed ones unloaded once their requests are done, a changed base path gets
   * a fresh manager that takes over once it has loaded, and a changed policy or labels apply in place.
   * Every new base path is checked first: a config naming a missing one changes nothing and throws.
   */
  reconfigure(models: readonly ModelSourceOptions[]): Promise<void> {
    const run = this.reconfiguring.then(async () => {
      if (this.closing !== undefined) return;
      const names = new Set<string>();
      for (const m of models) {
        if (names.has(m.name)) throw new InvalidArgumentError(`Model "${m.name}" is configured twice.`);
        names.add(m.name);
      }
      for (const m of models) {
        const old = this.sources.get(m.name);
        if (old === undefined || !sameSource(old, m)) await scanModelRepository(m);
      }
      const next = new Map<string, ModelVersionManager>();
      const retired: ModelVersionManager[] = [];
      const loads: Promise<void>[] = [];
      for (const m of models) {
        const old = this.sources.get(m.name);
        const current = this.managers.get(m.name);
        if (old !== undefined && current !== undefined && sameSource(old, m)) {
          next.set(m.name, current);
          loads.push(current.update(m));
        } else {
          const fresh = this.makeManager(m);
          next.set(m.name, fresh);
          loads.push(fresh.poll().then(() => fresh.startPolling(this.pollIntervalSeconds)));
          if (current !== undefined) retired.push(current);
        }
      }
      for (const [name, manager] of this.managers) if (!names.has(name)) retired.push(manager);
      // A replaced model keeps answering from its old manager until the new one has loaded.
      await Promise.all(loads);
      this.managers = next;
      this.sources = new Map(models.map((m) => [m.name, m]));
      await Promise.all(retired.map((m) => m.close()));
    });
    this.reconfiguring = run.catch(() => {});
    return run;
  }

  /** Scans every model now (also done every poll interval); resolves when the versions have converged. */
  async poll(): Promise<void> {
    await Promise.all([...this.managers.values()].map((m) => m.poll()));
  }

  modelNames(): readonly string[] {
    return [...this.managers.keys()];
  }

  status(model: string, version?: number): readonly VersionStatus[] {
    return this.manager(model).status(version);
  }

  labels(model: string): ReadonlyMap<string, number> {
    return this.manager(model).labels();
  }

  acquire(model: string, selector?: VersionSelector): ModelLease {
    return this.manager(model).acquire(selector);
  }

  onEvent(listener: (event: ModelEvent) => void): () => void {
    for (const event of this.history) listener(event);
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): Promise<void> {
    this.closing ??= this.reconfiguring.then(() =>
      Promise.all([...this.managers.values()].map((m) => m.close())).then(() => undefined),
    );
    return this.closing;
  }

  private manager(model: string): ModelVersionManager {
    const m = this.managers.get(model);
    if (m === undefined)
      throw new NotFoundError(`Servable not found for request: model ${excerpt(model)} is not served here`);
    return m;
  }

  private emit(event: ModelEvent, logger: Logger): void {
    this.history.push(event);
    if (this.history.length > EVENT_HISTORY) this.history.shift();
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (e) {
        logger.log("error", "model-event-listener-failed", { event: event.type, error: String(e) });
      }
    }
  }
}
