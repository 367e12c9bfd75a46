import { embeddingReplica } from "../../embedding/index.js";
import { NotFoundError } from "../../errors.js";
import { excerpt } from "../excerpt.js";
import type {
  ModelEvent,
  ModelLease,
  ModelRegistry,
  ServableModel,
  VersionSelector,
  VersionStatus,
} from "../model-registry.js";
import type { ModelState, VersionReplica } from "./loop-messages.js";
import type { ModelSourceOptions } from "../model/model-source.js";
import { leaseVersion, selectStatus, selectVersion } from "../version-lease.js";

interface Held {
  readonly servable: ServableModel;
  leases: number;
  retired: boolean;
}

/**
 * The registry of a loop other than the main one: the main loop's model states as last posted, and its
 * loaded versions rebuilt over the same table memory. A version retired by the main loop takes no new
 * lease; once its last is released, `onRetired` tells the main loop, which may then free its memory.
 */
export class ReplicaRegistry implements ModelRegistry {
  private models = new Map<string, { status: readonly VersionStatus[]; labels: Map<string, number> }>();
  private readonly versions = new Map<string, Map<number, Held>>();

  /** The main loop's `reconfigure` (gRPC's HandleReloadConfigRequest), when its registry has one. */
  readonly reconfigure?: (models: readonly ModelSourceOptions[]) => Promise<void>;

  constructor(
    private readonly onRetired: (model: string, version: number) => void,
    reconfigure: ((models: readonly ModelSourceOptions[]) => Promise<void>) | null,
  ) {
    if (reconfigure !== null) this.reconfigure = reconfigure;
  }

  setState(models: readonly ModelState[]): void {
    this.models = new Map(models.map((m) => [m.name, { status: m.status, labels: new Map(m.labels) }]));
  }

  addVersion(replica: VersionReplica): void {
    const servable: ServableModel = {
      name: replica.model,
      version: replica.version,
      embedding: embeddingReplica(replica.embedding),
      features: replica.features,
      checkpoint: replica.checkpoint,
      tableBytes: replica.tableBytes,
    };
    let versions = this.versions.get(replica.model);
    if (versions === undefined) this.versions.set(replica.model, (versions = new Map()));
    versions.set(replica.version, { servable, leases: 0, retired: false });
  }

  retire(model: string, version: number): void {
    const held = this.versions.get(model)?.get(version);
    if (held === undefined) {
      this.onRetired(model, version);
      return;
    }
    held.retired = true;
    if (held.leases === 0) this.finish(held);
  }

  modelNames(): readonly string[] {
    return [...this.models.keys()];
  }

  status(model: string, version?: number): readonly VersionStatus[] {
    return selectStatus(model, this.model(model).status, version);
  }

  labels(model: string): ReadonlyMap<string, number> {
    return this.model(model).labels;
  }

  /**
   * The main loop's selection rules and errors, over this loop's versions. Labels are those the main loop
   * reports (of AVAILABLE versions), so a label whose version is not available is an unknown one here.
   */
  acquire(model: string, selector: VersionSelector = {}): ModelLease {
    const state = this.model(model);
    const held = selectVersion(model, selector, {
      label: (label) => state.labels.get(label),
      serving: (version) => this.serving(model, version),
      latest: () => {
        let newest: Held | undefined;
        for (const h of this.versions.get(model)?.values() ?? [])
          if (!h.retired && (newest === undefined || h.servable.version > newest.servable.version))
            newest = h;
        return newest;
      },
    });
    return leaseVersion(held, (h) => {
      if (h.leases === 0 && h.retired) this.finish(h);
    });
  }

  /** Lifecycle events are the main loop's (its metrics count them). */
  onEvent(_listener: (event: ModelEvent) => void): () => void {
    return () => {};
  }

  /** Retires every version (each disposed once its last request is done). */
  async close(): Promise<void> {
    for (const [model, versions] of this.versions)
      for (const version of [...versions.keys()]) this.retire(model, version);
  }

  private finish(held: Held): void {
    const { name, version, embedding } = held.servable;
    embedding.dispose();
    this.versions.get(name)?.delete(version);
    this.onRetired(name, version);
  }

  private serving(model: string, version: number): Held | undefined {
    const held = this.versions.get(model)?.get(version);
    return held !== undefined && !held.retired ? held : undefined;
  }

  private model(model: string) {
    const state = this.models.get(model);
    if (state === undefined)
      throw new NotFoundError(`Servable not found for request: model ${excerpt(model)} is not served here`);
    return state;
  }
}
