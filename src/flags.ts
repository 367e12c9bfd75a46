import { InvalidArgumentError } from "./errors.js";

// Every switch of the library in one place: the environment variables it reads and the hooks tests and
// benchmarks use to override them. Nothing else in src/ reads `process.env`. Each value is read in the
// thread that uses it (worker threads inherit the environment). docs/performance.md says when to set
// which; scripts/build-native.mjs (plain JavaScript, run at install) reads TPU_EMBEDDING_SKIP_NATIVE=1.
// (Read-only counters that tests use to observe a path, e.g. `smallLookupRuns()`, stay with the code
// they count: they switch nothing.)

/** The environment variables the library reads. */
export const ENV = {
  /**
   * `auto` (default: native or wasm, whichever a short measurement finds faster here), `native` (the addon
   * when built, else wasm, else js), `wasm` or `js` (the reference kernels).
   */
  kernels: "TPU_EMBEDDING_KERNELS",
  /** Planned jobs of fewer ids run on the wasm kernels when they can (default 64; 0: never). */
  nativeMinIds: "TPU_EMBEDDING_NATIVE_MIN_IDS",
  /** How long a lookup worker spins for the next synchronous run, in µs (default 300; 0: sleep at once). */
  workerSpinUs: "TPU_EMBEDDING_WORKER_SPIN_US",
  /** `0` keeps tables on 4 KiB pages instead of transparent huge pages. */
  hugePages: "TPU_EMBEDDING_HUGE_PAGES",
  /**
   * The native kernels' ISA level: `native` (default: the best this CPU runs), or `v2`, `v3`, `v4` (x86-64
   * levels), `neon` (aarch64), `generic` (other architectures): one the CPU runs, else an error.
   */
  isa: "TPU_EMBEDDING_ISA",
  /** Ids ahead whose rows the native kernels prefetch: `auto` (default: calibrated once per process) or 0..256. */
  prefetch: "TPU_EMBEDDING_PREFETCH",
  /**
   * The server looks up requests (or merged batches) of fewer ids on its event loop instead of a worker
   * thread (default 16384; 0: always on a worker).
   */
  inlineLookupIds: "TPU_EMBEDDING_INLINE_LOOKUP_IDS",
  /** `1` skips building the native addon at `npm install` (read by scripts/build-native.mjs). */
  skipNative: "TPU_EMBEDDING_SKIP_NATIVE",
} as const;

/** The environment variable that forces a kernel family (read once per thread; workers inherit it). */
export const KERNELS_ENV = ENV.kernels;

/** Which kernels run: `native` (the addon), `wasm` or `js` (the reference). */
export type KernelChoice = "native" | "wasm" | "js";

let kernels: KernelChoice | "auto" | undefined;

/**
 * The kernel family forced by `setKernelChoice` or `TPU_EMBEDDING_KERNELS`; undefined when unset (or
 * `auto`): then src/kernels/kernel-choice.ts measures which is faster here.
 */
export function kernelOverride(): KernelChoice | undefined {
  if (kernels === undefined) {
    const value = process.env[ENV.kernels];
    if (value === undefined || value === "" || value === "auto") kernels = "auto";
    else if (value !== "native" && value !== "wasm" && value !== "js")
      throw new InvalidArgumentError(
        `${ENV.kernels} must be "native", "wasm", "js" or "auto", got "${value}".`,
      );
    else kernels = value;
  }
  return kernels === "auto" ? undefined : kernels;
}

/** For tests and benchmarks (this thread only): forces a kernel family; `undefined` re-reads the env. */
export function setKernelChoice(value: KernelChoice | undefined): void {
  kernels = value;
}

/** The integer >= 0 in environment variable `name`, or `fallback` when it is unset. */
function countEnv(name: string, fallback: number): number {
  const value = process.env[name] ?? String(fallback);
  const count = Number(value);
  if (value.trim() === "" || !Number.isInteger(count) || count < 0)
    throw new InvalidArgumentError(`${name} must be an integer >= 0, got "${value}".`);
  return count;
}

let minIds: number | undefined;

/** Planned jobs of fewer ids go to the wasm kernels: `setNativeMinIds`'s, else the env, else 64. */
export function nativeMinIds(): number {
  return (minIds ??= countEnv(ENV.nativeMinIds, 64));
}

/** For tests and benchmarks (this thread only): jobs of fewer ids go to the wasm kernels (0: never; undefined re-reads the env). */
export function setNativeMinIds(ids: number | undefined): void {
  minIds = ids;
}

/** How long a lookup worker spins for the next synchronous run, in ms (`TPU_EMBEDDING_WORKER_SPIN_US`, default 300 µs). */
export function workerSpinMs(): number {
  const value = process.env[ENV.workerSpinUs] ?? "300";
  const us = Number(value);
  if (value.trim() === "" || !Number.isFinite(us) || us < 0)
    throw new InvalidArgumentError(
      `${ENV.workerSpinUs} must be a number of microseconds >= 0, got "${value}".`,
    );
  return us / 1000;
}

let inlineIds: number | undefined;

/**
 * The server's lookups of fewer ids run on its event loop: `setInlineLookupIds`'s, else the env, else
 * 16384 (a batch-64 request of the standard workload, ~13,000 ids, looks up in about 0.2 ms: less than a
 * worker round trip on a 2-vCPU VM, bench/results/2026-12-07-json-encode-worker.md).
 */
export function inlineLookupIds(): number {
  return (inlineIds ??= countEnv(ENV.inlineLookupIds, 16384));
}

/** For tests and benchmarks (this thread only): the inline lookup bound (0: never; undefined re-reads the env). */
export function setInlineLookupIds(ids: number | undefined): void {
  inlineIds = ids;
}

/** Whether fresh table arenas are backed by transparent huge pages (`TPU_EMBEDDING_HUGE_PAGES=0`: no). */
export function hugePagesEnabled(): boolean {
  return process.env[ENV.hugePages] !== "0";
}

/**
 * Test and benchmark hook: ids ahead of the current bag whose rows the wasm kernels touch (0, the
 * default, disables touching; it measured slower, see bench/results/2026-11-30-fast-kernels.md).
 * Read by src/kernels/wasm-kernels.ts as a live binding.
 */
export let touchAhead = 0;

/** For benchmarks: sets how far ahead rows are touched (0 disables touching). */
export function setTouchAhead(ids: number): void {
  touchAhead = ids;
}

/**
 * Output rows per task when threads share a lookup (64, as the C reference's tasks of 64 bags; 0: whole
 * features), written into each shared request by the calling thread (src/kernels/packed-request.ts), so
 * every thread splits it alike whatever its kernels. Read as a live binding.
 */
export let shareTaskRows = 64;

/** Test and benchmark hook: the output rows per task of shared lookups (0: whole features). */
export function setShareTaskRows(rows: number): void {
  if (!Number.isInteger(rows) || rows < 0 || rows > 2 ** 30)
    throw new InvalidArgumentError(`shareTaskRows must be an integer 0..2^30, got ${rows}.`);
  shareTaskRows = rows;
}

/** Test hook, read by src/embedding/small-lookup.ts: `false` sends every lookup to the general path. */
export let smallLookupEnabled = true;

/** Test hook: `false` sends every lookup to the general path (to compare the two). */
export function setSmallLookupEnabled(value: boolean): void {
  smallLookupEnabled = value;
}

/** The native kernels' ISA level asked for (`TPU_EMBEDDING_ISA`): `native` (the best this CPU runs) or a level. */
export type IsaChoice = "native" | "v2" | "v3" | "v4" | "neon" | "generic";

const ISA_CHOICES: readonly string[] = ["native", "v2", "v3", "v4", "neon", "generic"];

/** `TPU_EMBEDDING_ISA`, default `native`. */
export function isaChoice(): IsaChoice {
  const value = process.env[ENV.isa];
  if (value === undefined || value === "") return "native";
  if (!ISA_CHOICES.includes(value))
    throw new InvalidArgumentError(`${ENV.isa} must be one of ${ISA_CHOICES.join(", ")}, got "${value}".`);
  return value as IsaChoice;
}

/** `TPU_EMBEDDING_PREFETCH`: `auto` (default: calibrated on the tables) or a distance in ids (0..256). */
export function prefetchChoice(): "auto" | number {
  const value = process.env[ENV.prefetch];
  if (value === undefined || value === "" || value === "auto") return "auto";
  const ids = Number(value);
  if (value.trim() === "" || !Number.isInteger(ids) || ids < 0 || ids > 256)
    throw new InvalidArgumentError(`${ENV.prefetch} must be "auto" or an integer 0..256, got "${value}".`);
  return ids;
}
