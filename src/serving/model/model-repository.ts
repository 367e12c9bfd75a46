/**
 * Finds a model's versions on disk. Two layouts:
 *  - TF Serving's: `BASE/<version>/` numeric folders, each with a checkpoint (a `checkpoint` state file,
 *    a single `*.index` prefix, or a SavedModel's `variables/variables`) and optionally `features.json`;
 *  - one checkpoint directory (or prefix): a single version numbered by the prefix's `-N` suffix
 *    (`ckpt-7` → 7, so a trainer saving into the directory publishes new versions), else 1.
 * A version is reported only when its index and every data shard exist (a half-copied folder is
 * "pending"), with a fingerprint of its files so a failed version is retried only when they change.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { dataFilename, indexFilename } from "../../checkpoint/bundle/naming.js";
import { CHECKPOINT_STATE_FILENAME, readCheckpointState } from "../../checkpoint/state-file.js";
import { NotFoundError } from "../../errors.js";

export const FEATURE_CONFIG_FILENAME = "features.json";

export interface VersionSource {
  readonly version: number;
  /** Checkpoint prefix (`dir/ckpt-3`). */
  readonly prefix: string;
  readonly featureConfigPath: string;
  /** Sizes and modification times of every file the version reads. */
  readonly fingerprint: string;
  /** Every file the version reads (what `fingerprint` describes). */
  readonly files: readonly string[];
  /** The latest modification time among `files` (ms since the epoch). */
  readonly newestMtimeMs: number;
}

export interface PendingVersion {
  readonly version: number;
  readonly reason: string;
}

export interface RepositoryScan {
  readonly layout: "versioned" | "single";
  readonly versions: readonly VersionSource[];
  /** Version folders that are not complete yet (being copied, or lacking a feature config). */
  readonly pending: readonly PendingVersion[];
}

export interface RepositoryOptions {
  readonly basePath: string;
  /** Used by versions without their own `features.json` (before `BASE/features.json`). */
  readonly featureConfig?: string;
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await statOrUndefined(path))?.isFile() === true;
}

/** The prefix a version folder holds, or a reason why there is none yet. */
export async function findPrefix(
  dir: string,
): Promise<{ prefix: string; stateFile?: string } | { reason: string }> {
  const stateFile = join(dir, CHECKPOINT_STATE_FILENAME);
  if (await isFile(stateFile)) {
    const state = await readCheckpointState(dir);
    const path = state?.modelCheckpointPath ?? "";
    if (path === "") return { reason: `"${stateFile}" names no checkpoint` };
    const prefix = path.startsWith("/") ? path : join(dir, path);
    if (await isFile(indexFilename(prefix))) return { prefix, stateFile };
    // TF's fallback for moved checkpoints: the name relative to the state file's directory.
    const moved = join(dir, basename(path));
    if (await isFile(indexFilename(moved))) return { prefix: moved, stateFile };
    return { reason: `"${stateFile}" names "${path}", whose index does not exist (yet)` };
  }
  const indexes = (await readdir(dir)).filter((f) => f.endsWith(".index"));
  if (indexes.length === 1) return { prefix: join(dir, indexes[0].slice(0, -".index".length)) };
  if (indexes.length > 1) {
    return {
      reason: `${indexes.length} checkpoints (${indexes.join(", ")}) and no "checkpoint" file naming one`,
    };
  }
  const savedModel = join(dir, "variables", "variables");
  if (await isFile(indexFilename(savedModel))) return { prefix: savedModel };
  return { reason: "no checkpoint yet" };
}

/** Every data shard of `prefix`, or undefined while any is missing. */
async function dataFiles(prefix: string): Promise<string[] | undefined> {
  const dir = dirname(prefix);
  const name = basename(prefix);
  const pattern = /^\.data-(\d{5,})-of-(\d{5,})$/;
  let numShards: number | undefined;
  for (const f of await readdir(dir)) {
    if (!f.startsWith(name)) continue;
    const m = pattern.exec(f.slice(name.length));
    if (m !== null) numShards = Number(m[2]);
  }
  if (numShards === undefined || numShards < 1) return undefined;
  const files = Array.from({ length: numShards }, (_, i) => dataFilename(prefix, i, numShards!));
  for (const f of files) if (!(await isFile(f))) return undefined;
  return files;
}

/** Sizes and modification times of `files` as one string, and the newest of those times. */
export async function fingerprintFiles(
  files: readonly string[],
): Promise<{ fingerprint: string; newestMtimeMs: number }> {
  const parts: string[] = [];
  let newestMtimeMs = 0;
  for (const f of files) {
    const s = await statOrUndefined(f);
    parts.push(`${f}:${s?.size ?? -1}:${s?.mtimeMs ?? -1}`);
    if (s !== undefined) newestMtimeMs = Math.max(newestMtimeMs, s.mtimeMs);
  }
  return { fingerprint: parts.join("|"), newestMtimeMs };
}

async function firstExisting(paths: readonly (string | undefined)[]): Promise<string | undefined> {
  for (const p of paths) if (p !== undefined && (await isFile(p))) return p;
  return undefined;
}

async function describeVersion(
  version: number,
  found: { prefix: string; stateFile?: string },
  configCandidates: readonly (string | undefined)[],
): Promise<VersionSource | PendingVersion> {
  const data = await dataFiles(found.prefix);
  if (data === undefined)
    return { version, reason: `data files of "${found.prefix}" are not all there (yet)` };
  const featureConfigPath = await firstExisting(configCandidates);
  if (featureConfigPath === undefined) {
    return {
      version,
      reason: `no feature config (looked for ${configCandidates.filter((c) => c !== undefined).join(", ")})`,
    };
  }
  const files = [indexFilename(found.prefix), ...data, featureConfigPath];
  if (found.stateFile !== undefined) files.push(found.stateFile);
  return { version, prefix: found.prefix, featureConfigPath, files, ...(await fingerprintFiles(files)) };
}

function isSource(v: VersionSource | PendingVersion): v is VersionSource {
  return "prefix" in v;
}

/** Lists the versions under `basePath`; throws NotFoundError when the path does not exist. */
export async function scanModelRepository(options: RepositoryOptions): Promise<RepositoryScan> {
  const base = options.basePath;
  const baseStat = await statOrUndefined(base);
  if (baseStat === undefined) {
    // A checkpoint prefix given directly (`dir/ckpt-3`).
    if (await isFile(indexFilename(base))) return scanSingle(base, { prefix: base }, options);
    throw new NotFoundError(`Model base path "${base}" does not exist.`);
  }
  if (!baseStat.isDirectory()) throw new NotFoundError(`Model base path "${base}" is not a directory.`);
  const entries = await readdir(base, { withFileTypes: true });
  const versionDirs = entries
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name) && Number.isSafeInteger(Number(e.name)))
    .map((e) => ({ dir: join(base, e.name), version: Number(e.name) }));
  if (versionDirs.length === 0) {
    const found = await findPrefix(base);
    if ("prefix" in found) return scanSingle(base, found, options);
    return { layout: "versioned", versions: [], pending: [] };
  }
  const results = await Promise.all(
    versionDirs.map(async ({ dir, version }) => {
      const found = await findPrefix(dir);
      if (!("prefix" in found)) return { version, reason: found.reason };
      return describeVersion(version, found, [
        join(dir, FEATURE_CONFIG_FILENAME),
        options.featureConfig,
        join(base, FEATURE_CONFIG_FILENAME),
      ]);
    }),
  );
  results.sort((a, b) => b.version - a.version);
  return {
    layout: "versioned",
    versions: results.filter(isSource),
    pending: results.filter((r): r is PendingVersion => !isSource(r)),
  };
}

async function scanSingle(
  base: string,
  found: { prefix: string; stateFile?: string },
  options: RepositoryOptions,
): Promise<RepositoryScan> {
  const m = /-(\d+)$/.exec(basename(found.prefix));
  const version = m !== null && Number.isSafeInteger(Number(m[1])) ? Number(m[1]) : 1;
  const dir = dirname(found.prefix);
  const result = await describeVersion(version, found, [
    options.featureConfig,
    join(dir, FEATURE_CONFIG_FILENAME),
    join(base, FEATURE_CONFIG_FILENAME),
  ]);
  return isSource(result)
    ? { layout: "single", versions: [result], pending: [] }
    : { layout: "single", versions: [], pending: [result] };
}
