/**
 * One model's versions over time: scans its repository, loads the versions the policy wants, makes a
 * version visible only once it is complete, and unloads a version only after its last lease is released.
 * Everything runs on the event loop, so making a version available (or not) is a single assignment:
 * a request's lease pins one complete version for its whole life.
 */
import type { Logger } from "../log.js";
import type { ModelEvent, ModelLease, VersionSelector, VersionStatus } from "../model-registry.js";
import { readFeatureConfig } from "./feature-config-json.js";
import {
  prepareVersion,
  restoreVersion,
  type EmbeddingOptions,
  type PreparedVersion,
} from "./model-loader.js";
import { fingerprintFiles, scanModelRepository, type VersionSource } from "./model-repository.js";
import { releaseMemory } from "./release-memory.js";
import type { ModelSourceOptions } from "./model-source.js";
export type { ModelSourceOptions } from "./model-source.js";
import { errorCodeOf, LoadedVersion, type VersionRecord } from "./version-record.js";
export { errorCodeOf } from "./version-record.js";
import {
  DEFAULT_VERSION_POLICY,
  formatVersionPolicy,
  selectVersions,
  type VersionPolicy,
} from "./version-policy.js";
import { leaseVersion, selectStatus, selectVersion } from "../version-lease.js";

/**
 * TF Serving's version transition policies: `availability-preserving` loads the new version before
 * unloading the old one (always serving; peak memory = old + new tables); `resource-preserving` unloads
 * first (peak = one version; requests fail with "no version available" while the new one loads).
 */
export type TransitionPolicy = "availability-preserving" | "resource-preserving";

/** How long a version's files must stay unchanged (size and mtime) before it is read. */
export const DEFAULT_SETTLE_MS = 500;

export interface ManagerContext {
  readonly transitionPolicy: TransitionPolicy;
  /**
   * A version is read only once its files (index, data shards, features.json, state file) have not
   * changed for this long (default DEFAULT_SETTLE_MS): a shard still being written is not read (and
   * failed with DATA_LOSS) again at every poll. 0: read as soon as every file exists.
   */
  readonly settleMs?: number;
  readonly embeddingOptions?: EmbeddingOptions;
  readonly logger: Logger;
  readonly emit: (event: ModelEvent) => void;
  readonly onProgress?: (model: string, version: number, bytesRead: number, totalBytes: number) => void;
}

export class ModelVersionManager {
  readonly name: string;
  private policy: VersionPolicy;
  private labelMap: ReadonlyMap<string, number>;
  private readonly records = new Map<number, VersionRecord>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private lastPending = "";

  constructor(
    private readonly source: ModelSourceOptions,
    private readonly context: ManagerContext,
  ) {
    this.name = source.name;
    this.policy = source.versionPolicy ?? DEFAULT_VERSION_POLICY;
    this.labelMap = source.versionLabels ?? new Map();
  }

  /** A reloaded model config with the same base path: new policy and labels apply from the next poll. */
  update(source: Pick<ModelSourceOptions, "versionPolicy" | "versionLabels">): Promise<void> {
    this.policy = source.versionPolicy ?? DEFAULT_VERSION_POLICY;
    this.labelMap = source.versionLabels ?? new Map();
    return this.poll();
  }

  // Requests ---------------------------------------------------------------------------------------------

  status(version?: number): VersionStatus[] {
    const all = [...this.records.values()].map((r) => ({
      version: r.version,
      state: r.state,
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
    }));
    return selectStatus(this.name, all, version);
  }

  /** Labels whose version is AVAILABLE (TF Serving's default: labels point only at loaded versions). */
  labels(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [label, version] of this.labelMap) if (this.serving(version)) out.set(label, version);
    return out;
  }

  acquire(selector: VersionSelector = {}): ModelLease {
    const held = selectVersion(this.name, selector, {
      label: (label) => this.labelMap.get(label),
      serving: (version) => this.serving(version),
      latest: () => this.latest(),
    });
    return leaseVersion(held, (h) => {
      if (h.retired && h.leases === 0) this.finishUnload(h);
    });
  }

  private serving(version: number): LoadedVersion | undefined {
    const loaded = this.records.get(version)?.loaded;
    return loaded !== undefined && !loaded.retired ? loaded : undefined;
  }

  private latest(): LoadedVersion | undefined {
    let best: LoadedVersion | undefined;
    for (const r of this.records.values()) {
      const loaded = r.loaded;
      if (
        loaded !== undefined &&
        !loaded.retired &&
        (best === undefined || r.version > best.servable.version)
      )
        best = loaded;
    }
    return best;
  }

  // Lifecycle --------------------------------------------------------------------------------------------

  /** One poll: scan and converge on the policy's versions. Calls are queued, never overlap. */
  poll(): Promise<void> {
    const run = this.queue.then(() => (this.closed ? undefined : this.reconcile()));
    this.queue = run.catch((e: unknown) => {
      this.context.logger.log("error", "model-poll-error", { model: this.name, error: String(e) });
    });
    return this.queue;
  }

  /** Polls every `seconds` (after each poll finishes); 0 disables polling. */
  startPolling(seconds: number): void {
    if (seconds <= 0 || this.closed) return;
    const tick = () => {
      void this.poll().then(() => {
        if (this.closed) return;
        this.timer = setTimeout(tick, seconds * 1000);
        this.timer.unref();
      });
    };
    this.timer = setTimeout(tick, seconds * 1000);
    this.timer.unref();
  }

  /** Stops polling, waits for the running poll, then unloads every version once its leases are released. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.queue;
    const waits: Promise<void>[] = [];
    for (const r of this.records.values()) {
      if (r.loaded !== undefined) {
        waits.push(r.loaded.unloaded);
        this.retire(r.loaded);
      }
    }
    await Promise.all(waits);
  }

  private async reconcile(): Promise<void> {
    const log = this.context.logger;
    let scan;
    try {
      scan = await scanModelRepository(this.source);
    } catch (e) {
      // Like TF Serving: a vanished base path (e.g. an unmounted volume) changes nothing being served.
      log.log("warn", "model-scan-failed", {
        model: this.name,
        basePath: this.source.basePath,
        error: String(e),
      });
      return;
    }
    // Versions that would be read now but whose files are still changing wait for a later poll.
    const settling = await this.stillChanging(scan.versions);
    const pendingList = [
      ...scan.pending,
      ...settling.map((v) => ({
        version: v,
        reason: `its files are still changing (waiting until they are unchanged for ${this.settleMs} ms)`,
      })),
    ];
    const pending = JSON.stringify(pendingList);
    if (pending !== this.lastPending) {
      this.lastPending = pending;
      for (const p of pendingList) {
        log.log("info", "model-version-pending", { model: this.name, version: p.version, reason: p.reason });
      }
    }
    const sources = new Map(
      scan.versions.filter((v) => !settling.includes(v.version)).map((v) => [v.version, v]),
    );
    // Forget failures and unloads of versions that are gone from disk.
    const forgetRemoved = () => {
      for (const [v, r] of this.records) if (!sources.has(v) && r.state === "END") this.records.delete(v);
    };
    forgetRemoved();

    const candidates = (): number[] =>
      [...sources.values()]
        .filter((s) => this.records.get(s.version)?.failedFingerprint !== s.fingerprint)
        .map((s) => s.version);
    // Each round either loads a version or marks one failed (excluded next round), so this ends.
    for (;;) {
      if (this.closed) return;
      const desired = selectVersions(this.policy, candidates());
      const missing = desired.filter((v) => this.serving(v) === undefined);
      if (missing.length === 0) {
        this.retireAllExcept(desired);
        break;
      }
      if (this.context.transitionPolicy === "availability-preserving") {
        await this.load(sources.get(missing[0])!);
      } else {
        // Check the new versions (config, index, shapes) before giving up the old ones, then free first.
        const prepared: PreparedVersion[] = [];
        for (const v of missing) {
          const p = await this.prepare(sources.get(v)!);
          if (p === undefined) break;
          prepared.push(p);
        }
        if (prepared.length < missing.length) continue;
        const unloading = this.retiringBytes(desired);
        await Promise.all(this.retireAllExcept(desired));
        if (unloading > 0) await releaseMemory(unloading);
        for (const p of prepared) if (!(await this.restore(p, sources.get(p.version)!))) break;
      }
    }
    forgetRemoved();
    // Versions checked out in a round that then changed course (resource-preserving) were never read.
    for (const [v, r] of this.records)
      if (r.state === "LOADING" && r.loaded === undefined) this.records.delete(v);
    for (const [label, version] of this.labelMap) {
      if (this.serving(version) === undefined) {
        log.log("warn", "model-label-unavailable", { model: this.name, label, version });
      }
    }
  }

  private get settleMs(): number {
    return this.context.settleMs ?? DEFAULT_SETTLE_MS;
  }

  /**
   * The versions among `versions` that a poll would read (not served, not failed with these very files)
   * whose files changed within the last `settleMs`: their files are looked at again once `settleMs` has
   * passed since the newest change (all versions at once, so a poll waits at most `settleMs`), and those
   * whose size or mtime moved meanwhile are returned.
   */
  private async stillChanging(versions: readonly VersionSource[]): Promise<number[]> {
    const settle = this.settleMs;
    if (settle <= 0) return [];
    const now = Date.now();
    const fresh = versions.filter(
      (s) =>
        this.serving(s.version) === undefined &&
        this.records.get(s.version)?.failedFingerprint !== s.fingerprint &&
        // A modification time in the future (a skewed clock) counts as fresh: it is checked over time too.
        now - s.newestMtimeMs < settle,
    );
    if (fresh.length === 0) return [];
    const newest = Math.max(...fresh.map((s) => s.newestMtimeMs));
    await new Promise((resolve) => setTimeout(resolve, Math.min(settle, Math.max(1, newest + settle - now))));
    const changed: number[] = [];
    for (const s of fresh) {
      if ((await fingerprintFiles(s.files)).fingerprint !== s.fingerprint) changed.push(s.version);
    }
    return changed;
  }

  private async load(source: VersionSource): Promise<boolean> {
    const prepared = await this.prepare(source);
    return prepared !== undefined && this.restore(prepared, source);
  }

  private record(version: number): VersionRecord {
    let r = this.records.get(version);
    if (r === undefined) {
      r = { version, state: "START", errorCode: "OK", errorMessage: "" };
      this.records.set(version, r);
    }
    return r;
  }

  private async prepare(source: VersionSource): Promise<PreparedVersion | undefined> {
    const r = this.record(source.version);
    r.state = "LOADING";
    r.errorCode = "OK";
    r.errorMessage = "";
    r.failedFingerprint = undefined;
    this.context.emit({ type: "load-start", model: this.name, version: source.version });
    this.context.logger.log("info", "model-load-start", {
      model: this.name,
      version: source.version,
      checkpoint: source.prefix,
      featureConfig: source.featureConfigPath,
      policy: formatVersionPolicy(this.policy),
      transition: this.context.transitionPolicy,
    });
    try {
      const config = await readFeatureConfig(source.featureConfigPath);
      return await prepareVersion({
        model: this.name,
        version: source.version,
        prefix: source.prefix,
        config,
        embeddingOptions: this.context.embeddingOptions,
      });
    } catch (e) {
      this.fail(r, source, e);
      return undefined;
    }
  }

  private async restore(prepared: PreparedVersion, source: VersionSource): Promise<boolean> {
    const r = this.record(source.version);
    const started = performance.now();
    let nextQuarter = 1;
    const onProgress = (bytesRead: number, totalBytes: number) => {
      this.context.onProgress?.(this.name, source.version, bytesRead, totalBytes);
      if (totalBytes > 0 && bytesRead >= (nextQuarter * totalBytes) / 4) {
        nextQuarter = Math.floor((bytesRead * 4) / totalBytes) + 1;
        this.context.logger.log("info", "model-load-progress", {
          model: this.name,
          version: source.version,
          bytesRead,
          totalBytes,
          percent: Math.round((100 * bytesRead) / totalBytes),
        });
      }
    };
    try {
      const servable = await restoreVersion(prepared, onProgress);
      if (this.closed) {
        servable.embedding.dispose();
        r.state = "END";
        return false;
      }
      const seconds = (performance.now() - started) / 1000;
      r.loaded = new LoadedVersion(servable);
      r.state = "AVAILABLE";
      this.context.emit({
        type: "load-done",
        model: this.name,
        version: source.version,
        seconds,
        bytes: servable.tableBytes,
      });
      this.context.logger.log("info", "model-load-done", {
        model: this.name,
        version: source.version,
        seconds: Math.round(seconds * 1000) / 1000,
        tables: prepared.tableCount,
        tableBytes: servable.tableBytes,
        skippedKeys: servable.skippedKeys.length,
        rssBytes: process.memoryUsage.rss(),
      });
      return true;
    } catch (e) {
      this.fail(r, source, e);
      return false;
    }
  }

  private fail(r: VersionRecord, source: VersionSource, e: unknown): void {
    r.state = "END";
    r.errorCode = errorCodeOf(e);
    r.errorMessage = e instanceof Error ? e.message : String(e);
    r.failedFingerprint = source.fingerprint;
    this.context.emit({
      type: "load-failed",
      model: this.name,
      version: source.version,
      error: r.errorMessage,
    });
    this.context.logger.log("error", "model-load-failed", {
      model: this.name,
      version: source.version,
      errorCode: r.errorCode,
      error: r.errorMessage,
    });
  }

  private retiringBytes(keep: readonly number[]): number {
    let bytes = 0;
    for (const r of this.records.values()) {
      if (r.loaded !== undefined && !keep.includes(r.version)) bytes += r.loaded.servable.tableBytes;
    }
    return bytes;
  }

  /** Retires every loaded version not in `keep`; returns promises that settle when each is unloaded. */
  private retireAllExcept(keep: readonly number[]): Promise<void>[] {
    const waits: Promise<void>[] = [];
    for (const r of this.records.values()) {
      if (r.loaded !== undefined && !keep.includes(r.version)) {
        waits.push(r.loaded.unloaded);
        this.retire(r.loaded);
      }
    }
    return waits;
  }

  private retire(loaded: LoadedVersion): void {
    if (loaded.retired) return;
    loaded.retired = true;
    this.record(loaded.servable.version).state = "UNLOADING";
    this.context.emit({ type: "unload-start", model: this.name, version: loaded.servable.version });
    this.context.logger.log("info", "model-unload-start", {
      model: this.name,
      version: loaded.servable.version,
      leases: loaded.leases,
    });
    if (loaded.leases === 0) this.finishUnload(loaded);
  }

  private finishUnload(loaded: LoadedVersion): void {
    const version = loaded.servable.version;
    // Later lookups on it fail loudly; its memory goes once the last reference does.
    loaded.servable.embedding.dispose();
    const r = this.records.get(version);
    if (r !== undefined && r.loaded === loaded) {
      r.loaded = undefined;
      r.state = "END";
    }
    this.context.emit({ type: "unloaded", model: this.name, version });
    this.context.logger.log("info", "model-unloaded", {
      model: this.name,
      version,
      tableBytes: loaded.servable.tableBytes,
    });
    loaded.markUnloaded();
    // Resource-preserving reloads wait for this themselves before reading the next version.
    if (this.context.transitionPolicy === "availability-preserving")
      void releaseMemory(loaded.servable.tableBytes);
  }
}
