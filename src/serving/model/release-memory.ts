/**
 * Returns an unloaded version's table memory to the OS before the next one is allocated. Tables live in
 * `SharedArrayBuffer`s that V8 frees only after a garbage collection notices them, and then on a background
 * task; left to itself V8 may keep a dropped multi-GB version around while the next one loads (measured:
 * peak 2 × table instead of 1 ×). So after an unload we ask for a full collection and wait until the
 * process's resident memory has dropped.
 */
import { setTimeout as sleep } from "node:timers/promises";
import v8 from "node:v8";
import vm from "node:vm";

/** Smaller versions are not worth a full collection. */
const MIN_BYTES = 16 * 1024 * 1024;

let gc: (() => void) | null | undefined;

/**
 * Makes `gc()` callable here and in worker threads started from now on (V8 flags are process-wide):
 * lookup workers also hold table memory and collect when a model's tables are detached.
 */
export function enableExplicitGc(): void {
  gcFunction();
}

function gcFunction(): (() => void) | null {
  if (gc === undefined) {
    try {
      // The documented way to reach `gc()` without starting node with --expose-gc.
      v8.setFlagsFromString("--expose-gc");
      gc = vm.runInNewContext("gc") as () => void;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** Collects garbage and waits (at most ~`maxWaitMs`) until RSS fell by `expectedBytes` (or stopped falling). */
export async function releaseMemory(expectedBytes: number, maxWaitMs = 200): Promise<void> {
  if (expectedBytes < MIN_BYTES) return;
  const collect = gcFunction();
  if (collect === null) return;
  const before = process.memoryUsage.rss();
  collect();
  for (let waited = 0; waited < maxWaitMs; waited += 5) {
    await sleep(5);
    if (before - process.memoryUsage.rss() >= expectedBytes * 0.9) return;
  }
}
