import { kernelOverride, type KernelChoice } from "../flags.js";
import { measureFamilies, type FamilyMeasurement } from "./family-measure.js";

// The kernel family lookups run on. TPU_EMBEDDING_KERNELS (src/flags.ts) forces one; unset, the native
// and WebAssembly kernels are timed once per process (family-measure.ts: a few ms, at the first lookup)
// and the faster runs. Worker threads adopt their parent's result (lookup-pool.ts), so every thread of
// a process runs the same family.
export { KERNELS_ENV, setKernelChoice, type KernelChoice } from "../flags.js";
/** A measurement as sent to a worker thread (undefined: none ran). */
export type FamilyMeasurementData = FamilyMeasurement | undefined;

let measured: FamilyMeasurement | undefined;

/** The kernel family chosen for this thread: the override, else the measured one. */
export function kernelChoice(): KernelChoice {
  const forced = kernelOverride();
  if (forced !== undefined) return forced;
  measured ??= measureFamilies();
  return measured.choice;
}

/** The measurement behind the choice (undefined while none ran or the family is forced). */
export function kernelMeasurement(): FamilyMeasurement | undefined {
  return kernelOverride() === undefined ? measured : undefined;
}

/** A worker thread takes its parent's measurement instead of timing again. */
export function adoptKernelMeasurement(parent: FamilyMeasurement | undefined): void {
  if (parent !== undefined) measured = parent;
}
