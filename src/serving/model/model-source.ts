import type { VersionPolicy } from "./version-policy.js";

/** One served model: where its versions live, which to serve and the labels that name them. */
export interface ModelSourceOptions {
  readonly name: string;
  /** TF Serving layout (numeric version folders) or one checkpoint directory / prefix. */
  readonly basePath: string;
  /** Feature config for versions without their own `features.json`. */
  readonly featureConfig?: string;
  readonly versionPolicy?: VersionPolicy;
  /** Label → version; a label answers only while its version is AVAILABLE. */
  readonly versionLabels?: ReadonlyMap<string, number>;
}
