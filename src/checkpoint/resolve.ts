/** Turns a user-given checkpoint path (prefix, `.index` file or directory) into a bundle prefix. */
import { stat } from "node:fs/promises";
import { NotFoundError } from "../errors.js";
import { indexFilename } from "./bundle/naming.js";
import { latestCheckpoint } from "./state-file.js";

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * `path` may be a prefix (`dir/ckpt-3`), its `.index` file, or a directory with a `checkpoint` state
 * file (the latest checkpoint is used). A SavedModel directory resolves to `variables/variables`.
 */
export async function resolveCheckpointPrefix(path: string): Promise<string> {
  if (path.endsWith(".index") && (await exists(path))) return path.slice(0, -".index".length);
  if (await exists(indexFilename(path))) return path;
  const s = await stat(path).catch(() => undefined);
  if (s?.isDirectory()) {
    const latest = await latestCheckpoint(path);
    if (latest !== undefined) return latest;
    const savedModel = `${path}/variables/variables`;
    if (await exists(indexFilename(savedModel))) return savedModel;
    throw new NotFoundError(
      `No checkpoint found in directory "${path}" (no "checkpoint" state file naming one).`,
    );
  }
  throw new NotFoundError(`No checkpoint at "${path}": "${indexFilename(path)}" does not exist.`);
}
