import type { TableConfig } from "../config/table-config.js";
import type { DenseTensor } from "../tensor/dense-tensor.js";
import type { PlannedFeature } from "./serving-embedding-lookup.js";

// The records the embedding keeps for training: what its last lookup did and its variables. They live in
// this small module (not in tpu-embedding-for-serving.ts) so that src/training can read them without
// importing the facade, which itself calls into src/training (no import cycle).

/** What the last lookup computed: one plan per looked-up feature and how to pack per-feature values. */
export interface LastLookup {
  readonly features: readonly PlannedFeature[];
  readonly pack: <R>(values: readonly R[]) => unknown;
  readonly inputs: unknown;
}

/** One variable of the embedding: a table (`slot === null`) or one of its optimizer slots. */
export interface EmbeddingVariable {
  /** TF's local name: `<table>` or `<table>/<slot>`. */
  readonly name: string;
  readonly table: TableConfig;
  readonly slot: string | null;
  readonly value: DenseTensor<Float32Array>;
}
