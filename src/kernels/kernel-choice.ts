// The kernel choice is one of the flags in src/flags.ts; re-exported here for the modules that import it.
export { kernelChoice, KERNELS_ENV, setKernelChoice, type KernelChoice } from "../flags.js";
