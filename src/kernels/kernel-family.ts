import { batchKernels, type KernelFamily } from "./batch-kernels.js";

/**
 * The kernel family lookups actually run on in this thread: the choice (`TPU_EMBEDDING_KERNELS`, default
 * `native`) narrowed by what loads here. `native` without a built addon falls back to `wasm`, and `wasm`
 * without WebAssembly support to `js` (the reference kernels). It is the family of the batch kernels
 * (batch-kernels.ts) every embedding lookup runs on.
 */
export function activeKernelFamily(): KernelFamily {
  return batchKernels().family;
}
