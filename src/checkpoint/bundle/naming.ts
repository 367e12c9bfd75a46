/** Checkpoint file names (`tensor_bundle/naming.cc`). */

export function indexFilename(prefix: string): string {
  return `${prefix}.index`;
}

/** `P.data-SSSSS-of-NNNNN`, both numbers zero padded to at least five digits. */
export function dataFilename(prefix: string, shardId: number, numShards: number): string {
  return `${prefix}.data-${String(shardId).padStart(5, "0")}-of-${String(numShards).padStart(5, "0")}`;
}
