/**
 * Removing published versions (docs/scale.md#removing-versions). Unpublishing a version first makes it
 * invisible in one MULTI on the model's metadata slot (its manifest moves into the `retired` hash, it
 * leaves the version set, the manifest key is deleted), so no server loads it any more; its rows are
 * deleted only once no server holds a live lease on it (servers lease every version they have loaded
 * and renew the lease while they serve it). A retired version still leased keeps its rows and is swept
 * by a later `unpublish`/`publish --keep` (or `unpublish --sweep`).
 */
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import type { BinaryCluster } from "./cluster-client.js";
import { leasesKey, manifestKey, parseManifest, retiredKey, versionsKey } from "./layout.js";
import { publishedVersions } from "./publish.js";

export interface SweepResult {
  /** Versions whose rows were deleted. */
  readonly deleted: number[];
  /** Versions kept because a server still leases them (version → server count). */
  readonly leased: Map<number, number>;
}

/** Makes `version` invisible, then deletes its rows unless a server leases it (`force`: regardless). */
export async function unpublishVersion(
  cluster: BinaryCluster,
  model: string,
  version: number,
  options: { force?: boolean } = {},
): Promise<SweepResult> {
  await retireVersion(cluster, model, version);
  return sweepRetired(cluster, model, options);
}

/** Makes `version` invisible (its manifest kept in the retired hash until its rows are deleted). */
async function retireVersion(cluster: BinaryCluster, model: string, version: number): Promise<void> {
  const key = manifestKey(model, version);
  const text = await cluster.get(key);
  if (text === null) {
    const retired = await cluster.hGet(retiredKey(model), String(version));
    if (retired === null) throw new NotFoundError(`Model "${model}" has no published version ${version}.`);
  } else {
    await cluster
      .multi()
      .hSet(retiredKey(model), String(version), text)
      .zRem(versionsKey(model), String(version))
      .del(key)
      .exec();
  }
}

/** Unpublishes every version but the newest `keep`. */
export async function keepNewest(cluster: BinaryCluster, model: string, keep: number): Promise<SweepResult> {
  if (!Number.isInteger(keep) || keep < 1)
    throw new InvalidArgumentError(`--keep must be an integer >= 1, got ${keep}.`);
  const versions = await publishedVersions(cluster, model);
  for (const v of versions.slice(0, Math.max(0, versions.length - keep))) {
    await retireVersion(cluster, model, v);
  }
  return sweepRetired(cluster, model);
}

/** The servers holding a live lease on each version (expired leases are removed). */
export async function liveLeases(cluster: BinaryCluster, model: string): Promise<Map<number, number>> {
  const leases = await cluster.hGetAll(leasesKey(model));
  const now = Date.now();
  const live = new Map<number, number>();
  const expired: string[] = [];
  for (const [field, value] of Object.entries(leases)) {
    const version = Number(field.slice(field.lastIndexOf("/") + 1));
    if (Number(value.toString()) > now) live.set(version, (live.get(version) ?? 0) + 1);
    else expired.push(field);
  }
  if (expired.length > 0) await cluster.hDel(leasesKey(model), expired);
  return live;
}

/** Deletes the rows of retired versions no server leases (all of them with `force`). */
export async function sweepRetired(
  cluster: BinaryCluster,
  model: string,
  options: { force?: boolean } = {},
): Promise<SweepResult> {
  const retired = await cluster.hGetAll(retiredKey(model));
  const live = await liveLeases(cluster, model);
  const deleted: number[] = [];
  const leased = new Map<number, number>();
  for (const [field, text] of Object.entries(retired)) {
    const version = Number(field);
    const servers = live.get(version) ?? 0;
    if (servers > 0 && options.force !== true) {
      leased.set(version, servers);
      continue;
    }
    const manifest = parseManifest(text.toString(), `${retiredKey(model)} ${field}`);
    await Promise.all(manifest.partitions.map((k) => cluster.unlink(k)));
    await cluster.hDel(retiredKey(model), field);
    deleted.push(version);
  }
  return { deleted: deleted.sort((a, b) => a - b), leased };
}
