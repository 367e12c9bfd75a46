/** `tf.train.list_variables` plus object paths: what `tpu-embedding inspect` prints. */
import { BundleReader } from "./bundle/bundle-reader.js";
import type { TensorSlice } from "./bundle/slices.js";
import { listObjectAttributes, readObjectGraph } from "./object-graph.js";

export interface CheckpointVariable {
  readonly key: string;
  /** `(root).embedding.user` for object-based checkpoints; undefined for name-based keys. */
  readonly objectPath: string | undefined;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly slices: readonly TensorSlice[];
  /** Stored bytes (sum over slices for partitioned tensors). */
  readonly size: number;
}

/** Every variable of an open bundle, sorted by key; object paths come from the object graph. */
export async function listCheckpointVariables(reader: BundleReader): Promise<CheckpointVariable[]> {
  const graph = await readObjectGraph(reader);
  const paths = new Map<string, string>();
  if (graph !== undefined) {
    for (const a of listObjectAttributes(graph)) {
      if (!paths.has(a.checkpointKey)) paths.set(a.checkpointKey, a.objectPath);
    }
  }
  return reader.listVariables().map((v) => ({
    key: v.key,
    objectPath: paths.get(v.key),
    dtype: v.dtype,
    shape: v.shape,
    slices: v.slices,
    size: v.slices.length === 0 ? v.entry.size : 0,
  }));
}
