import { InvalidArgumentError } from "../errors.js";

/** Which kernels run: `native` (default: the addon when built, else wasm), `wasm` or `js` (reference). */
export type KernelChoice = "native" | "wasm" | "js";

/** The environment variable that forces a kernel family (read once per thread; workers inherit it). */
export const KERNELS_ENV = "TPU_EMBEDDING_KERNELS";

let choice: KernelChoice | undefined;

/** The kernel family `runJob` uses: `setKernelChoice`'s, else `TPU_EMBEDDING_KERNELS`, else `native`. */
export function kernelChoice(): KernelChoice {
  if (choice !== undefined) return choice;
  const value = process.env[KERNELS_ENV];
  if (value === undefined || value === "") return (choice = "native");
  if (value !== "native" && value !== "wasm" && value !== "js")
    throw new InvalidArgumentError(`${KERNELS_ENV} must be "native", "wasm" or "js", got "${value}".`);
  return (choice = value);
}

/** For tests and benchmarks (this thread only): forces a kernel family; `undefined` re-reads the env. */
export function setKernelChoice(value: KernelChoice | undefined): void {
  choice = value;
}
