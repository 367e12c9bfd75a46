/** What ModelVersionManager (model-version-manager.ts) keeps per version: its state, error and loaded servable. */
import { TpuEmbeddingError } from "../../errors.js";
import type { VersionStateName } from "../model-registry.js";
import type { ServableVersion } from "./model-loader.js";

/** A loaded version and the requests holding it. */
export class LoadedVersion {
  leases = 0;
  retired = false;
  readonly unloaded: Promise<void>;
  markUnloaded!: () => void;

  constructor(readonly servable: ServableVersion) {
    this.unloaded = new Promise((resolve) => (this.markUnloaded = resolve));
  }
}

export interface VersionRecord {
  readonly version: number;
  state: VersionStateName;
  errorCode: string;
  errorMessage: string;
  /** Set when loading failed: the files are retried only once this fingerprint changes. */
  failedFingerprint?: string;
  loaded?: LoadedVersion;
}

/** TF Serving's error code name for an error. */
export function errorCodeOf(e: unknown): string {
  if (e instanceof TpuEmbeddingError) return e.code;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === "ENOENT") return "NOT_FOUND";
  if (code === "EACCES" || code === "EPERM") return "PERMISSION_DENIED";
  if (code === "ENOMEM" || e instanceof RangeError) return "RESOURCE_EXHAUSTED";
  return "UNKNOWN";
}
