import type { KernelJob } from "./kernel-job.js";
import { nativeAddon } from "./native-addon.js";
import { allocateTables } from "./table-memory.js";
import { runWasmJob, wasmKernelsAvailable } from "./wasm-kernels.js";

/** The two fast kernel families a measurement decides between. */
export type MeasuredFamily = "native" | "wasm";

/** One family's time per id (median over rounds), as the last measurement in this thread found. */
export interface FamilyMeasurement {
  choice: MeasuredFamily;
  nativeNsPerId: number;
  wasmNsPerId: number;
}

// A table of 4 MiB (16,384 rows of 64 floats: in the last-level cache of most servers, so the kernels'
// own speed decides, not the memory's), 2,048 random ids in bags of 8 summed in the ragged order (what
// most lookups run), ROUNDS rounds alternating the families; about 10 ms in all, most of it creating
// the arena and the WebAssembly instance the wasm kernels need anyway.
const ROWS = 16_384;
const DIM = 64;
const IDS = 2_048;
const BAG = 8;
const ROUNDS = 9;

/**
 * Times the native and WebAssembly kernels on the same bags and returns the faster (native on a tie or
 * when the WebAssembly kernels cannot run; wasm when the addon is missing).
 */
export function measureFamilies(): FamilyMeasurement {
  const addon = nativeAddon();
  if (addon === null || !wasmKernelsAvailable())
    return { choice: addon === null ? "wasm" : "native", nativeNsPerId: NaN, wasmNsPerId: NaN };
  const [table] = allocateTables([ROWS * DIM]);
  table.fill(0.25);
  let state = 0x2545f491;
  const ids = new Int32Array(IDS).map(() => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % ROWS;
  });
  const rowSplits = new Int32Array(IDS / BAG + 1).map((_, r) => r * BAG);
  const rows = IDS / BAG;
  const job: KernelJob = {
    kind: "bags",
    order: "weighted",
    combiner: "sum",
    batch: { rowSplits, ids, weights: null, positions: null },
  };
  const out = new Float32Array(rows * DIM);
  const native = (): boolean => addon.bagsWeighted(table, DIM, rowSplits, ids, null, 0, rows, 0, out, 0);
  const wasm = (): boolean => runWasmJob(job, table, DIM, out, 0, () => {});
  if (!native() || !wasm()) return { choice: "native", nativeNsPerId: NaN, wasmNsPerId: NaN };
  const times = { native: [] as number[], wasm: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const family of round % 2 === 0 ? (["native", "wasm"] as const) : (["wasm", "native"] as const)) {
      const t0 = performance.now();
      if (family === "native") native();
      else wasm();
      times[family].push(((performance.now() - t0) * 1e6) / IDS);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const nativeNsPerId = median(times.native);
  const wasmNsPerId = median(times.wasm);
  return { choice: wasmNsPerId < nativeNsPerId ? "wasm" : "native", nativeNsPerId, wasmNsPerId };
}
