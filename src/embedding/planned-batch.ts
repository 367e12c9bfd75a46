import type { TableConfig } from "../config/table-config.js";
import { planOutputSize } from "./lookup-plan.js";
import { PlanBatchWriter, type PlannedWork } from "./plan-batch.js";
import type { PlannedLookup } from "./serving-embedding-lookup.js";
import type { StagedExecutor } from "./staged-executor.js";

/**
 * Runs planned lookups (the planner's route: sparse inputs, `into` structures the staged walk declines,
 * lookups too large to stage) as one lookup batch on the embedding's executor: the same batch kernels
 * and the same worker loop as request-sized lookups. One per embedding; each call writes its batch
 * before it returns (async ones are copied into the pool's slot), so calls may overlap.
 */
export class PlannedBatches {
  private readonly writer = new PlanBatchWriter();
  private readonly tableIndex: ReadonlyMap<TableConfig, number>;

  constructor(
    private readonly executor: StagedExecutor,
    tables: readonly TableConfig[],
  ) {
    this.tableIndex = new Map(tables.map((t, i) => [t, i]));
  }

  /**
   * One output per planned feature (`into`'s arrays when given), or null when the batch kernels are not
   * available (the caller runs the plans one by one).
   */
  run(planned: PlannedLookup, into: readonly Float32Array[] | null): Float32Array[] | null {
    const prepared = this.prepare(planned, into, false);
    if (prepared === null) return null;
    const { kernels, out, layout, outputs } = prepared;
    const work = this.writer.words;
    if (!this.executor.run(kernels, work, layout.staged, out, layout.ids, false, this.writer.refArrays))
      return null;
    return outputs();
  }

  /** `run` with the kernels on worker threads only; null when they cannot take it (nothing started). */
  start(planned: PlannedLookup, into: readonly Float32Array[] | null): Promise<Float32Array[]> | null {
    const prepared = this.prepare(planned, into, true);
    if (prepared === null) return null;
    const { kernels, out, layout, outputs } = prepared;
    const started = this.executor.start(kernels, this.writer.words, layout.staged, out, layout.ids, false);
    return started === false ? null : started.then(outputs);
  }

  private prepare(planned: PlannedLookup, into: readonly Float32Array[] | null, async: boolean) {
    const kernels = this.executor.kernels();
    if (kernels === null) return null;
    const works: PlannedWork[] = planned.features.map(({ feature, plan }) => ({
      plan,
      table: this.tableIndex.get(feature.table)!,
    }));
    const sizes = works.map(({ plan }) => planOutputSize(plan));
    // Caller outputs all in one shared buffer (createOutputs) are written in place by every thread;
    // others are written to a fresh array first, so a failed batch leaves them untouched.
    const direct = into !== null && oneSharedBuffer(into);
    const outAt = direct ? into.map((a) => a.byteOffset >> 2) : null;
    const readInPlace = !async && kernels.kernels.readsInPlace;
    const layout = this.writer.write(works, readInPlace, this.executor.threads, outAt);
    const out = direct
      ? new Float32Array(into[0].buffer, 0, into[0].buffer.byteLength >> 2)
      : new Float32Array(layout.outSize);
    const outputs = (): Float32Array[] => {
      if (direct) return into as Float32Array[];
      let at = 0;
      return sizes.map((size, i) => {
        const view = out.subarray(at, (at += size));
        if (into === null) return view;
        into[i].set(view);
        return into[i];
      });
    };
    return { kernels, out, layout, outputs };
  }
}

function oneSharedBuffer(arrays: readonly Float32Array[]): boolean {
  if (arrays.length === 0) return false;
  const buffer = arrays[0].buffer;
  return buffer instanceof SharedArrayBuffer && arrays.every((a) => a.buffer === buffer);
}
