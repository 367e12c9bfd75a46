import type { ServableModel } from "../model-registry.js";
import { countIds, inputRows, type PredictInputs, type PredictOutputs } from "./feature-input.js";
import { batchKey, mergeInputs, splitOutputs } from "./merge-inputs.js";
import { modelFeatures } from "./model-features.js";
import { runLookup, runsInline } from "./run-lookup.js";

export interface BatchingOptions {
  /** Merge concurrent predict requests for the same model version into one lookup. */
  enabled: boolean;
  /** A batch is run as soon as it holds this many examples (rows); a bigger request runs alone. */
  maxBatchExamples: number;
  /**
   * How long the first request of a batch waits for others. 0 merges whatever arrived in the same turn
   * of the event loop (no added latency; under load, everything parsed while the last lookup ran).
   */
  batchTimeoutMicros: number;
  /**
   * With `batchTimeoutMicros` 0, a request small enough to be looked up on the event loop (fewer ids than
   * `TPU_EMBEDDING_INLINE_LOOKUP_IDS`, 16384) is looked up at once instead of merged: merging it (batch key,
   * concatenation, split) cost more than the kernel calls it saved (docs/serving.md, "Micro-batching").
   * Default true for servers; unset (false) merges every request.
   */
  smallRequestsAlone?: boolean;
}

export const DEFAULT_BATCHING: Readonly<BatchingOptions> = Object.freeze({
  enabled: true,
  maxBatchExamples: 512,
  batchTimeoutMicros: 0,
  smallRequestsAlone: true,
});

export interface BatchStats {
  readonly model: string;
  readonly requests: number;
  readonly examples: number;
}

interface Pending {
  readonly inputs: PredictInputs;
  readonly examples: number;
  resolve(outputs: PredictOutputs): void;
  reject(error: unknown): void;
}

interface Queue {
  items: Pending[];
  examples: number;
  timer: NodeJS.Timeout | NodeJS.Immediate | null;
}

/**
 * Server-side micro-batching (TF Serving's `--enable_batching`, but for ragged and sparse inputs too):
 * concurrent requests with the same model version and batch key are concatenated, looked up once and
 * split back. A failing batch is retried request by request, so one bad request never fails another.
 */
export class MicroBatcher {
  private readonly queues = new Map<ServableModel, Map<string, Queue>>();

  constructor(
    private readonly options: BatchingOptions,
    private readonly onBatch: (stats: BatchStats) => void = () => {},
  ) {}

  submit(model: ServableModel, inputs: PredictInputs): Promise<PredictOutputs> {
    const alone =
      !this.options.enabled ||
      (this.options.smallRequestsAlone === true &&
        this.options.batchTimeoutMicros <= 0 &&
        runsInline(countIds(inputs)));
    const key = alone ? null : batchKey(modelFeatures(model), inputs);
    let examples = 0;
    for (const input of inputs.values()) examples = Math.max(examples, inputRows(input));
    if (key === null || examples >= this.options.maxBatchExamples) {
      this.onBatch({ model: model.name, requests: 1, examples });
      return runLookup(model, inputs);
    }
    return new Promise((resolve, reject) => {
      let byKey = this.queues.get(model);
      if (byKey === undefined) this.queues.set(model, (byKey = new Map()));
      let queue = byKey.get(key);
      if (queue !== undefined && queue.examples + examples > this.options.maxBatchExamples) {
        this.flush(model, key);
        queue = undefined;
      }
      if (queue === undefined) {
        queue = { items: [], examples: 0, timer: null };
        byKey.set(key, queue);
        const micros = this.options.batchTimeoutMicros;
        const run = (): void => this.flush(model, key);
        queue.timer = micros <= 0 ? setImmediate(run) : setTimeout(run, micros / 1000);
      }
      queue.items.push({ inputs, examples, resolve, reject });
      queue.examples += examples;
      if (queue.examples >= this.options.maxBatchExamples) this.flush(model, key);
    });
  }

  /** Runs every waiting batch now (used when the server closes). */
  flushAll(): void {
    for (const [model, byKey] of this.queues) for (const key of [...byKey.keys()]) this.flush(model, key);
  }

  private flush(model: ServableModel, key: string): void {
    const byKey = this.queues.get(model);
    const queue = byKey?.get(key);
    if (byKey === undefined || queue === undefined) return;
    byKey.delete(key);
    if (byKey.size === 0) this.queues.delete(model);
    if (queue.timer !== null) {
      clearTimeout(queue.timer as NodeJS.Timeout);
      clearImmediate(queue.timer as NodeJS.Immediate);
    }
    void this.run(model, queue.items, queue.examples);
  }

  private async run(model: ServableModel, items: readonly Pending[], examples: number): Promise<void> {
    this.onBatch({ model: model.name, requests: items.length, examples });
    if (items.length === 1) {
      await settle(items[0], () => runLookup(model, items[0].inputs));
      return;
    }
    const requests = items.map((i) => i.inputs);
    let split: PredictOutputs[] | null = null;
    try {
      split = splitOutputs(requests, await runLookup(model, mergeInputs(requests)));
    } catch {
      split = null; // someone's input failed inside the kernel: find out whose, one by one
    }
    if (split !== null) {
      items.forEach((item, j) => item.resolve(split![j]));
      return;
    }
    for (const item of items) await settle(item, () => runLookup(model, item.inputs));
  }
}

async function settle(item: Pending, lookup: () => Promise<PredictOutputs>): Promise<void> {
  try {
    item.resolve(await lookup());
  } catch (error) {
    item.reject(error);
  }
}
