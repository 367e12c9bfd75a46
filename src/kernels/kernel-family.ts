import { batchKernels, type KernelFamily } from "./batch-kernels.js";
import { nativeIsa } from "./native-addon.js";

/**
 * The kernel family lookups actually run on in this thread: the choice (`TPU_EMBEDDING_KERNELS`, default
 * `native`) narrowed by what loads here. `native` without a built addon falls back to `wasm`, and `wasm`
 * without WebAssembly support to `js` (the reference kernels). It is the family of the batch kernels
 * (batch-kernels.ts) every embedding lookup runs on.
 */
export function activeKernelFamily(): KernelFamily {
  return batchKernels().family;
}

/** The native kernels' ISA level (`v2`, `v3`, `v4`, `neon`, `generic`) when the active family is native, else null. */
export function activeKernelIsa(): string | null {
  return activeKernelFamily() === "native" ? (nativeIsa()?.active ?? null) : null;
}
