/**
 * What `Checkpoint` needs from an object it saves or restores (TF's Trackable, reduced to variables).
 * `TPUEmbeddingForServing` implements it; the checkpoint layer never imports the embedding layer.
 */
export interface TrackableVariableSpec {
  /** Local name under the owning object, as TF tracks it: `"video"`, `"video/accumulators"`. */
  readonly localName: string;
  readonly dtype: "float32";
  readonly shape: readonly number[];
  /**
   * An optimizer slot (accumulators, momenta): a checkpoint without it still restores, as TF's does,
   * and the slot keeps its value (its initial value on a fresh object); the restore result lists it.
   */
  readonly slot?: boolean;
}

export interface Trackable {
  /** The variables this object owns, in TF's creation order; known before the variables exist. */
  trackableVariables(): readonly TrackableVariableSpec[];
  /** The variable's current memory (shared, not copied); `undefined` before it exists. */
  readVariable(localName: string): Float32Array | undefined;
  /**
   * Installs restored values for any subset of the variables, all or nothing: names and lengths are
   * checked before anything is written. Before the variables exist the values become their initial
   * contents (TF's restore-on-create, the initializer is not run for them; arrays from
   * `allocateVariables` are adopted without a copy); afterwards they are copied into the existing
   * memory so views such as `embeddingTables` stay valid.
   */
  restoreVariables(values: ReadonlyMap<string, Float32Array>): void;
  /**
   * Optional: the memory restore should read each named variable into (right length, float32). An
   * object whose variables live in special memory (the embedding's kernel arenas) returns that memory,
   * so a restore costs no second copy; without it the checkpoint allocates shared memory itself.
   */
  allocateVariables?(localNames: readonly string[]): Map<string, Float32Array>;
}
