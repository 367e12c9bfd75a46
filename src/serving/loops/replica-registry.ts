import { embeddingReplica } from "../../embedding/index.js";
import { InvalidArgumentError, NotFoundError, UnavailableError } from "../../errors.js";
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

  constructor(private readonly onRetired: (model: string, version: number) => void) {}

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
    const status = this.model(model).status.filter((s) => version === undefined || s.version === version);
    if (version !== undefined && status.length === 0)
      throw new NotFoundError(`Could not find version ${version} of model ${model}`);
    return status;
  }

  labels(model: string): ReadonlyMap<string, number> {
    return this.model(model).labels;
  }

  /** The main loop's selection rules and errors (model-version-manager.ts), over this loop's versions. */
  acquire(model: string, selector: VersionSelector = {}): ModelLease {
    const state = this.model(model);
    let held: Held | undefined;
    if (selector.label !== undefined) {
      const version = state.labels.get(selector.label);
      if (version === undefined)
        throw new InvalidArgumentError(`Unrecognized servable version label: ${selector.label}`);
      held = this.serving(model, version);
      if (held === undefined) {
        throw new NotFoundError(
          `Servable not found for request: label ${selector.label} of ${model} (version ${version} is not available)`,
        );
      }
    } else if (selector.version !== undefined) {
      held = this.serving(model, selector.version);
      if (held === undefined)
        throw new NotFoundError(`Servable not found for request: Specific(${model}, ${selector.version})`);
    } else {
      for (const h of this.versions.get(model)?.values() ?? [])
        if (!h.retired && (held === undefined || h.servable.version > held.servable.version)) held = h;
      if (held === undefined) {
        throw new UnavailableError(
          `Servable not found for request: Latest(${model}): no version of model ${model} is available yet`,
        );
      }
    }
    const leased = held;
    leased.leases++;
    let released = false;
    return {
      model: leased.servable,
      release: () => {
        if (released) return;
        released = true;
        if (--leased.leases === 0 && leased.retired) this.finish(leased);
      },
    };
  }

  /** Lifecycle events are the main loop's (its metrics count them). */
  onEvent(_listener: (event: ModelEvent) => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    for (const versions of this.versions.values())
      for (const held of versions.values()) this.retireQuietly(held);
  }

  private retireQuietly(held: Held): void {
    held.retired = true;
    if (held.leases === 0) held.servable.embedding.dispose();
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
