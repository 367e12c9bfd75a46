import type { TableConfig } from "../config/table-config.js";
import { StagedExecutor, type StagedKernels } from "./staged-executor.js";
import { DenseTensor, trustedFloat32Tensor } from "../tensor/dense-tensor.js";
import { RaggedTensor } from "../tensor/ragged-tensor.js";
import { isNone, isPlainObject } from "../tensor/structure.js";
import type { FeatureStructure } from "./feature-structure.js";
import { planLookups, type PlannerTables } from "./serving-embedding-lookup.js";
import { DeferredLastLookup } from "./deferred-last-lookup.js";
import type { LastLookup } from "./lookup-record.js";
import { smallLookupEnabled } from "../flags.js";
import { BatchStager, COPY_LOOP_MAX } from "./batch-stager.js";
import {
  type Container,
  DictNode,
  FeatureSlot,
  type Shadow,
  callerMemory,
  countSlots,
  shadowOf,
  slotsByPath,
  weightKeysFit,
} from "./feature-slots.js";
import { W_COUNT } from "../kernels/batch-layout.js";

/**
 * The fast path for small lookups (a request or a few): every feature in ONE native call instead of a
 * planner, a kernel call and an output tensor each. The inputs' structure is walked directly (no
 * closures); each feature gets a descriptor in one reusable staging Int32Array, and its ids, row splits
 * and weights are copied in behind it, or, in synchronous lookups, read in place when long (refs, see
 * staging-layout.ts); the native side (smallLookup in native/batch.c) validates all of them
 * before writing anything and runs the same C kernels as the general path, so results are bit-identical.
 *
 * Handled: RaggedTensor ids (int32/int64) with optional RaggedTensor weights (float32/float64, the same
 * row splits), every combiner, sequence features (truncation included), simple `outputShape`s, and
 * DenseTensor ids. Anything else (SparseTensor inputs, odd structures, bad input of any kind, the
 * native addon missing or other kernels chosen) returns `undefined` without side effects and the
 * general path runs, which raises TF's exact errors.
 */

/**
 * Lookups of more ids take the planned path: up to B=1024 of the standard workload the staged path is as
 * fast or faster (bench/results/2026-11-30-fast-kernels.md), and the cap bounds the staging buffer an
 * embedding keeps (two int32 words per id).
 */
export const SMALL_LOOKUP_MAX_IDS = 1 << 22;

let runs = 0;

// Test hook `setSmallLookupEnabled(false)` (src/flags.ts) sends every lookup to the general path.
export { setSmallLookupEnabled } from "../flags.js";

/** Test hook: how many lookups the fast path has served in this thread. */
export function smallLookupRuns(): number {
  return runs;
}

let flatRuns = 0;

/** Test hook: how many flat lookups (the server's route, no tensor objects) ran in this thread. */
export function flatLookupRuns(): number {
  return flatRuns;
}

/**
 * One embedding's small-lookup state: the native table set, the staging buffer (grown as needed) and the
 * per-feature slots; one per TPUEmbeddingForServing. Lookups are synchronous; one started while another
 * runs (from a Proxy input's trap, say) takes the general path. Between lookups the last request's
 * inputs stay referenced (as `lastLookupPlans` references them anyway) and the last `into` tensors (to
 * skip re-checking them), never fresh outputs.
 *
 * A lookup runs in passes over the leaves (collect, load the tensors' arrays, touch their data, stage)
 * rather than feature by feature: a request's input objects are usually cold, and short passes let the
 * CPU overlap those cache misses across features instead of waiting for each in turn.
 */
export class SmallLookup extends BatchStager {
  private readonly root: Shadow;
  private readonly capacity: number;
  private busy = false;
  /** Per leaf (collect order): its input and weight tensors, where its result goes. */
  private readonly inputs: unknown[];
  private readonly weightInputs: unknown[];
  private readonly parents: (Container | null)[];
  private readonly keys: (string | number)[];
  /** Every configured feature's slot by its path (`a/b/0`), for flat inputs. */
  private readonly byPath = new Map<string, FeatureSlot>();
  private readonly holder = [undefined] as unknown as Container;
  /** The last `into` buffer's whole-buffer view (reused while callers reuse their outputs). */
  private intoView: Float32Array | null = null;
  /** Where the data-touching pass leaves its reads, so they are not optimised away. */
  private touched = 0;

  constructor(
    private readonly featureConfig: FeatureStructure,
    tables: readonly TableConfig[],
    private readonly views: PlannerTables,
    /** Runs the staging buffer (shared with the embedding's other staged path); one thread by default. */
    private readonly executor = new StagedExecutor(tables, views),
  ) {
    const root = shadowOf(featureConfig, new Map(tables.map((t, i) => [t, i])));
    const n = countSlots(root);
    super(n);
    this.root = root;
    this.capacity = n;
    this.inputs = new Array<unknown>(n).fill(null);
    this.weightInputs = new Array<unknown>(n).fill(null);
    this.parents = new Array<Container | null>(n).fill(null);
    this.keys = new Array<string | number>(n).fill(0);
    slotsByPath(this.root, "", this.byPath);
  }

  /**
   * The lookup's result in the inputs' structure, or `undefined` when this path does not handle it (then
   * nothing was written, `into` included). With `into` (the result's structure of float32 DenseTensors,
   * all views of one buffer) the kernels write there and the result's leaves are `into`'s tensors.
   */
  lookup(features: unknown, weights: unknown, into: unknown = null): unknown {
    const run = this.enter((native) =>
      this.run(features, weights, into, true, (out) =>
        this.executor.run(
          native,
          this.work,
          this.cursor,
          out,
          this.ids,
          callerMemory(into, out),
          this.refs.arrays,
        ),
      ),
    );
    return run?.result;
  }

  /**
   * `lookup` with the kernels on worker threads (`embeddingLookupAsync`): the inputs are checked and
   * staged now, the result's tensors made now, and the promise resolves once the workers filled them;
   * `undefined` (nothing started) when this path does not handle the lookup.
   */
  lookupAsync(features: unknown, weights: unknown, into: unknown = null): Promise<unknown> | undefined {
    const run = this.enter((native) =>
      this.run(features, weights, into, false, (out) =>
        this.executor.start(native, this.work, this.cursor, out, this.ids, callerMemory(into, out)),
      ),
    );
    return run === undefined ? undefined : run.pending!.then(() => run.result);
  }

  /**
   * The server's route (`flat`: features by path, typed arrays only, no tensor objects): checked and
   * staged now, run on worker threads; each output a view of one fresh array, in `flat`'s order.
   * `undefined` (nothing started) when this path does not handle it: the caller then builds tensors for
   * the general path, which raises TF's exact errors.
   */
  lookupFlatAsync(flat: readonly FlatFeature[]): Promise<FlatOutput[]> | undefined {
    const run = this.enter((kernels) => {
      const out = this.stageFlat(flat);
      if (out === undefined) return undefined;
      const started = this.executor.start(kernels, this.work, this.cursor, out, this.ids, false);
      if (started === false) return undefined;
      runs++;
      flatRuns++;
      const outputs = this.flatOutputs(out);
      return started.then(() => outputs);
    });
    return run;
  }

  /**
   * `lookupFlatAsync` run on the calling thread (the server's small requests, where a worker round trip
   * costs more than the lookup): the outputs, or `undefined` (nothing written) when this path does not
   * handle it.
   */
  lookupFlat(flat: readonly FlatFeature[]): FlatOutput[] | undefined {
    return this.enter((kernels) => {
      const out = this.stageFlat(flat);
      if (out === undefined) return undefined;
      const refs = this.refs.arrays;
      if (!this.executor.run(kernels, this.work, this.cursor, out, this.ids, false, refs)) return undefined;
      runs++;
      flatRuns++;
      return this.flatOutputs(out);
    });
  }

  /** Collects and stages `flat` into the batch: the fresh output array to run it into, or `undefined`. */
  private stageFlat(flat: readonly FlatFeature[]): Float32Array | undefined {
    if (!this.collectFlat(flat) || !this.stage(false, false)) return undefined;
    this.work[W_COUNT] = this.count;
    return new Float32Array(this.outSize);
  }

  /** Each flat feature's output: a view of `out`, in the request's order. */
  private flatOutputs(out: Float32Array): FlatOutput[] {
    const outputs: FlatOutput[] = new Array<FlatOutput>(this.count);
    for (let i = 0; i < this.count; i++) {
      const from = this.outAt[i];
      outputs[i] = { shape: this.shapes[i], data: out.subarray(from, from + this.sizes[i]) };
    }
    return outputs;
  }

  /** Pass 1 and 2 for flat inputs: every feature's slot and arrays; false for what the general path owns. */
  private collectFlat(flat: readonly FlatFeature[]): boolean {
    if (flat.length > this.capacity) return false;
    let ids = 0;
    for (let i = 0; i < flat.length; i++) {
      const f = flat[i];
      const slot = this.byPath.get(f.path);
      if (slot === undefined) return false;
      this.slots[i] = slot;
      this.values[i] = f.ids;
      this.splits[i] = f.rowSplits;
      this.weightValues[i] = f.weights;
      this.weightSplits[i] = f.rowSplits;
      this.denseShapes[i] = f.denseShape;
      ids += f.ids.length;
    }
    this.count = flat.length;
    this.ids = ids;
    return ids <= SMALL_LOOKUP_MAX_IDS;
  }

  private enter<R>(body: (native: StagedKernels) => R | undefined): R | undefined {
    // `busy`: a lookup started from inside this one (a Proxy input's trap, say) takes the general path.
    if (!smallLookupEnabled || this.busy) return undefined;
    const native = this.executor.kernels();
    if (native === null) return undefined;

    this.busy = true;
    try {
      return body(native);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Collects, loads and stages the lookup (`direct`: a synchronous lookup, whose long arrays are refs when
   * it is shared with worker threads), then `execute`s it into its output: true when done, a promise when
   * running elsewhere, false when a feature does not fit (nothing written, `undefined` returned).
   */
  private run(
    features: unknown,
    weights: unknown,
    into: unknown,
    direct: boolean,
    execute: (out: Float32Array) => boolean | Promise<void>,
  ): { result: unknown; pending: Promise<void> | null } | undefined {
    this.count = 0;
    const intoGiven = !isNone(into);
    let run: { result: unknown; pending: Promise<void> | null } | undefined = undefined;
    try {
      if (
        this.collect(this.root, features, isNone(weights) ? null : weights, into ?? null, this.holder, 0) &&
        this.load() &&
        this.stage(intoGiven, direct && this.executor.readsInPlace(this.ids))
      ) {
        this.work[W_COUNT] = this.count;
        const out = intoGiven ? this.intoOutput() : new Float32Array(this.outSize);
        const done = out === null ? false : execute(out);
        if (done !== false) {
          run = { result: this.holder[0], pending: done === true ? null : done };
          // `into`'s tensors are the result's leaves, placed there by `collect`.
          if (!intoGiven) this.placeLeaves(out!);
          runs++;
        }
      }
    } finally {
      // Results are the caller's: keep no reference to them (inputs stay referenced, as lastLookupPlans
      // does), also when the lookup failed (an output too large to allocate, say).
      this.holder[0] = undefined;
      this.parents.fill(null, 0, this.count);
      if (intoGiven) this.intoLeaves.fill(null, 0, this.count);
    }
    return run;
  }

  /** What `lastLookupPlans` reports after a fast lookup: planned by the general planner on first use. */
  lastLookup(features: unknown, weights: unknown): LastLookup {
    return new DeferredLastLookup(features, () =>
      planLookups(features, weights ?? null, this.views, this.featureConfig, true),
    );
  }

  /** Drops the native table set (idempotent); later lookups take the general path. */
  release(): void {
    this.executor.release();
  }

  /**
   * Pass 1: walks the structure beside the feature structure, builds the result's containers (keys in the
   * inputs' order, null entries kept) and records every leaf; false for anything the general path owns.
   */
  private collect(
    shadow: Shadow,
    input: unknown,
    weight: unknown,
    into: unknown,
    parent: Container,
    key: string | number,
  ): boolean {
    if (shadow instanceof FeatureSlot) return this.record(shadow, input, weight, into, parent, key);
    const intoGiven = into !== null;
    if (shadow instanceof DictNode) {
      if (!isPlainObject(input)) return false;
      const keys = Object.keys(input);
      if (weight !== null && !(isPlainObject(weight) && weightKeysFit(weight, input, keys))) return false;
      if (intoGiven && !isPlainObject(into)) return false;
      const children = shadow.childrenOf(keys);
      // With `into` the result is complete once walked: its values are gathered by key number and the
      // object made by one literal (DictNode.make). Fresh outputs, placed after the run, fill a template copy.
      const make = intoGiven ? shadow.make : null;
      const out = make === null ? shadow.result() : (shadow.values as unknown as Container);
      if (make === null) parent[key] = out;
      let ok = true;
      // Every key's values read first, by constant names where the reader could be generated (DictNode.read).
      const inputs = shadow.inputValues;
      const weights = shadow.weightValues;
      const intos = shadow.intoValues;
      shadow.read(input, weight, into, inputs, weights, intos);
      for (let c = 0; c < keys.length && ok; c++) {
        const k = keys[c];
        const child = inputs[c];
        const at = make === null ? k : c;
        // An unknown key is an error even for a null input (the general path raises it).
        const slot = children[c];
        if (slot === undefined) {
          ok = false;
        } else if (isNone(child)) {
          out[at] = child;
        } else {
          const w = weight === null ? null : (weights[c] ?? null);
          const i = intoGiven ? (intos[c] ?? null) : null;
          // Leaves directly (the common flat request), containers by recursion.
          ok =
            (!intoGiven || i !== null) &&
            (slot instanceof FeatureSlot
              ? this.record(slot, child, w, i, out, at)
              : this.collect(slot, child, w, i, out, at));
        }
      }
      if (make !== null) {
        if (ok) parent[key] = make(shadow.values);
        shadow.values.fill(null, 0, keys.length);
      }
      // The caller's objects are not kept past the walk.
      inputs.fill(null, 0, keys.length);
      if (weight !== null) weights.fill(null, 0, keys.length);
      if (intoGiven) intos.fill(null, 0, keys.length);
      return ok;
    }
    const items = shadow.items;
    if (!Array.isArray(input) || input.length > items.length) return false;
    if (weight !== null && !(Array.isArray(weight) && weight.length === input.length)) return false;
    if (intoGiven && !(Array.isArray(into) && into.length === input.length)) return false;
    const out: unknown[] = new Array(input.length);
    parent[key] = out;
    for (let k = 0; k < input.length; k++) {
      const child: unknown = input[k];
      if (isNone(child)) {
        out[k] = child;
        continue;
      }
      const w = weight === null ? null : ((weight as unknown[])[k] ?? null);
      const i = intoGiven ? ((into as unknown[])[k] ?? null) : null;
      if (intoGiven && i === null) return false;
      if (!this.collect(items[k], child, w, i, out as unknown as Container, k)) return false;
    }
    return true;
  }

  private record(
    slot: FeatureSlot,
    input: unknown,
    weight: unknown,
    into: unknown,
    parent: Container,
    key: string | number,
  ): boolean {
    const i = this.count;
    if (i === this.capacity) return false;
    this.slots[i] = slot;
    this.inputs[i] = input;
    this.weightInputs[i] = weight;
    this.intoLeaves[i] = into;
    this.parents[i] = parent;
    this.keys[i] = key;
    // With `into`, its tensors are the result's leaves (the result is dropped unless the lookup runs).
    if (into !== null) parent[key] = into;
    this.count = i + 1;
    return true;
  }

  /**
   * Pass 2: every leaf's arrays (kinds checked), then one read of each array's length and first value,
   * each pass short enough for the CPU to overlap the leaves' cache misses.
   */
  private load(): boolean {
    const count = this.count;
    const inputs = this.inputs;
    const weights = this.weightInputs;
    const values = this.values;
    const splits = this.splits;
    const weightValues = this.weightValues;
    // The tensors (one cold object each): their arrays, kinds checked in the next pass.
    for (let i = 0; i < count; i++) {
      const input = inputs[i];
      if (input instanceof RaggedTensor) {
        values[i] = input.values as Int32Array;
        splits[i] = input.rowSplits;
      } else if (input instanceof DenseTensor) {
        values[i] = input.data as Int32Array;
        splits[i] = null;
        this.denseShapes[i] = input.shape;
      } else {
        return false;
      }
      const weight = weights[i];
      if (weight === null) {
        weightValues[i] = null;
      } else if (weight instanceof RaggedTensor) {
        weightValues[i] = weight.values as Float32Array;
        this.weightSplits[i] = weight.rowSplits;
      } else {
        return false;
      }
    }
    // The typed arrays (cold objects again).
    let touched = 0;
    let ids = 0;
    for (let i = 0; i < count; i++) {
      const v = values[i];
      if (!(v instanceof Int32Array || v instanceof BigInt64Array)) return false;
      ids += v.length;
      const w = weightValues[i];
      if (w !== null && !(w instanceof Float32Array || w instanceof Float64Array)) return false;
      const s = splits[i];
      if (s !== null) touched ^= s.length;
    }
    // Their data. Arrays short enough to be copied value by value in pass 3 (a request's ~8 ids, which
    // often straddle two cache lines) get their last value touched too, so that second miss overlaps
    // the others instead of waiting for the copy (bench/results/2026-12-07-call-overheads.md).
    for (let i = 0; i < count; i++) {
      const v = values[i];
      const n = v.length;
      if (n > 0 && v instanceof Int32Array) touched ^= v[0] ^ v[n > COPY_LOOP_MAX ? 0 : n - 1];
      const s = splits[i];
      if (s !== null) touched ^= s[0];
      const w = weightValues[i];
      if (w !== null && w.length > 0) touched ^= w[0] ^ w[w.length > COPY_LOOP_MAX ? 0 : w.length - 1];
    }
    this.touched = touched;
    this.ids = ids;
    return ids <= SMALL_LOOKUP_MAX_IDS;
  }

  /** The whole `into` buffer as float32 (offsets are the leaves' own). */
  private intoOutput(): Float32Array | null {
    const buffer = this.intoBuffer;
    if (buffer === null) return null;
    if (
      this.intoView === null ||
      this.intoView.buffer !== buffer ||
      this.intoView.length !== buffer.byteLength >> 2
    )
      this.intoView = new Float32Array(buffer, 0, buffer.byteLength >> 2);
    return this.intoView;
  }

  /** Fresh outputs: each leaf's tensor, a view of `out`, into its place in the result. */
  private placeLeaves(out: Float32Array): void {
    const count = this.count;
    for (let i = 0; i < count; i++) {
      const from = this.outAt[i];
      const data = count === 1 ? out : out.subarray(from, from + this.sizes[i]);
      this.parents[i]![this.keys[i]] = trustedFloat32Tensor(data, this.shapes[i]);
    }
  }
}

/** One feature of a flat request: ragged (`rowSplits`, optional weights) or dense (`rowSplits` null). */
export interface FlatFeature {
  /** The feature's path in the feature structure (`joinPath` form: `a/b/0`). */
  readonly path: string;
  readonly ids: Int32Array | BigInt64Array;
  readonly rowSplits: Int32Array | null;
  /** Dense ids only: their shape. */
  readonly denseShape: readonly number[];
  /** Ragged only: one weight per id (the same row splits), or null. */
  readonly weights: Float32Array | null;
}

/** One feature's output of a flat lookup: row-major float32 of `shape`. */
export interface FlatOutput {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}
