import { InvalidArgumentError, NotFoundError, UnavailableError } from "../errors.js";
import type { ModelLease, ServableModel, VersionSelector, VersionStatus } from "./model-registry.js";

/**
 * How every registry picks and leases a version (the file registry's version manager, the Redis registry,
 * the server's other event loops), with TF Serving's errors for a selector that names nothing servable.
 */

/** `statuses` newest first, or only `version`'s: NOT_FOUND when there is none (TF Serving's GetModelStatus). */
export function selectStatus(
  model: string,
  statuses: readonly VersionStatus[],
  version: number | undefined,
): VersionStatus[] {
  const out = statuses.filter((s) => version === undefined || s.version === version);
  out.sort((a, b) => b.version - a.version);
  if (version !== undefined && out.length === 0)
    throw new NotFoundError(`Could not find version ${version} of model ${model}`);
  return out;
}

/** A loaded version as a registry holds it: its lease count. */
export interface Leasable {
  readonly servable: ServableModel;
  leases: number;
}

/** A registry's versions of one model, as `selectVersion` reads them. */
export interface ServableVersions<V> {
  /** Every label's version (AVAILABLE or not). */
  label(label: string): number | undefined;
  /** The version, if it takes new requests. */
  serving(version: number): V | undefined;
  /** The newest version that takes new requests. */
  latest(): V | undefined;
}

/** The version `selector` names (latest when it names none), or TF Serving's error. */
export function selectVersion<V>(model: string, selector: VersionSelector, versions: ServableVersions<V>): V {
  if (selector.label !== undefined) {
    const version = versions.label(selector.label);
    // TF Serving: an unknown label is INVALID_ARGUMENT; a known label whose version is gone, NOT_FOUND.
    if (version === undefined)
      throw new InvalidArgumentError(`Unrecognized servable version label: ${selector.label}`);
    const held = versions.serving(version);
    if (held === undefined) {
      throw new NotFoundError(
        `Servable not found for request: label ${selector.label} of ${model} (version ${version} is not available)`,
      );
    }
    return held;
  }
  if (selector.version !== undefined) {
    const held = versions.serving(selector.version);
    if (held === undefined)
      throw new NotFoundError(`Servable not found for request: Specific(${model}, ${selector.version})`);
    return held;
  }
  const held = versions.latest();
  if (held === undefined) {
    throw new UnavailableError(
      `Servable not found for request: Latest(${model}): no version of model ${model} is available yet`,
    );
  }
  return held;
}

/** Counts a lease on `held`; `released(held)` runs after each release (idempotent per lease). */
export function leaseVersion<V extends Leasable>(held: V, released: (held: V) => void): ModelLease {
  held.leases++;
  let done = false;
  return {
    model: held.servable,
    release: () => {
      if (done) return;
      done = true;
      held.leases--;
      released(held);
    },
  };
}
