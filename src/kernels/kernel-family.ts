import { kernelChoice, type KernelChoice } from "./kernel-choice.js";
import { nativeKernelsAvailable } from "./native-addon.js";
import { wasmKernelsAvailable } from "./wasm-kernels.js";

/**
 * The kernel family lookups actually run on in this process: the choice (`TPU_EMBEDDING_KERNELS`,
 * default `native`) narrowed by what loads here. `native` without a built addon falls back to `wasm`,
 * and `wasm` without WebAssembly support to `js` (the reference kernels). Planned lookups may still send
 * jobs of fewer than 64 ids to wasm under `native`: this names the family, not every job's kernel.
 */
export function activeKernelFamily(): KernelChoice {
  const choice = kernelChoice();
  if (choice === "native" && nativeKernelsAvailable()) return "native";
  if (choice !== "js" && wasmKernelsAvailable()) return "wasm";
  return "js";
}
