/**
 * Which versions to serve (TF Serving's `model_version_policy`) and version labels, plus their
 * command-line spellings.
 */
import { InvalidArgumentError } from "../../errors.js";

export type VersionPolicy =
  | { readonly kind: "latest"; readonly count: number }
  | { readonly kind: "all" }
  | { readonly kind: "specific"; readonly versions: readonly number[] };

export const DEFAULT_VERSION_POLICY: VersionPolicy = { kind: "latest", count: 1 };

/** Picks the versions to serve among the loadable ones, newest first. */
export function selectVersions(policy: VersionPolicy, loadable: Iterable<number>): number[] {
  const sorted = [...new Set(loadable)].sort((a, b) => b - a);
  switch (policy.kind) {
    case "latest":
      return sorted.slice(0, policy.count);
    case "all":
      return sorted;
    case "specific":
      return sorted.filter((v) => policy.versions.includes(v));
  }
}

function parseVersion(text: string, what: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(`${what}: "${text}" is not a version number (a non-negative integer).`);
  }
  return Number(text);
}

/** `latest` | `latest:N` | `all` | `specific:3,4`. */
export function parseVersionPolicy(text: string): VersionPolicy {
  const what = "--version-policy";
  const [kind, arg] = text.split(":", 2) as [string, string | undefined];
  if (kind === "latest") {
    const count = arg === undefined ? 1 : parseVersion(arg, what);
    if (count < 1) throw new InvalidArgumentError(`${what}: latest:N needs N >= 1, got "${text}".`);
    return { kind, count };
  }
  if (kind === "all" && arg === undefined) return { kind };
  if (kind === "specific" && arg !== undefined && arg !== "") {
    return { kind, versions: arg.split(",").map((v) => parseVersion(v.trim(), what)) };
  }
  throw new InvalidArgumentError(
    `${what}: expected "latest", "latest:N", "all" or "specific:V1,V2,...", got "${text}".`,
  );
}

export function formatVersionPolicy(policy: VersionPolicy): string {
  if (policy.kind === "latest") return policy.count === 1 ? "latest" : `latest:${policy.count}`;
  if (policy.kind === "all") return "all";
  return `specific:${policy.versions.join(",")}`;
}

/** `stable=3,canary=4` → Map { stable → 3, canary → 4 }. */
export function parseVersionLabels(text: string): Map<string, number> {
  const labels = new Map<string, number>();
  if (text.trim() === "") return labels;
  for (const part of text.split(",")) {
    const m = /^\s*([^=\s/:]+)\s*=\s*(\S+)\s*$/.exec(part);
    if (m === null) {
      throw new InvalidArgumentError(
        `--version-labels: expected LABEL=VERSION pairs like "stable=3", got "${part}".`,
      );
    }
    if (labels.has(m[1])) throw new InvalidArgumentError(`--version-labels: label "${m[1]}" is given twice.`);
    labels.set(m[1], parseVersion(m[2], `--version-labels ${m[1]}`));
  }
  return labels;
}
