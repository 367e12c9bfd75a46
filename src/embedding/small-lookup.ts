import { FeatureConfig } from "../config/feature-config.js";
import type { TableConfig } from "../config/table-config.js";
import { StagedExecutor, type StagedKernels } from "./staged-executor.js";
import { DenseTensor, trustedFloat32Tensor } from "../tensor/dense-tensor.js";
import { int64Words } from "../tensor/dtype.js";
import { RaggedTensor } from "../tensor/ragged-tensor.js";
import { isNone, isPlainObject, joinPath } from "../tensor/structure.js";
import type { FeatureStructure } from "./feature-structure.js";
import { planLookups } from "./serving-embedding-lookup.js";
import { DeferredLastLookup } from "./deferred-last-lookup.js";
import type { LastLookup } from "./lookup-record.js";
import { smallLookupEnabled } from "../flags.js";
import {
  KIND_GATHER,
  KIND_BAGS,
  KIND_SEQUENCE,
  D_KIND,
  D_TABLE,
  D_ROWS,
  D_IDS,
  D_IDS_AT,
  D_SPLITS_AT,
  D_WEIGHTS_AT,
  D_OUT_AT,
  D_PARAM,
  D_IDS_REF,
  D_SPLITS_REF,
  D_WEIGHTS_REF,
  D_POSITIONS_AT,
  DESCRIPTOR,
  MODE,
  REF_WORDS,
  StagingRefs,
  W_COUNT,
  W_HEADER,
  sameShape,
  sameStrings,
} from "./staging-layout.js";

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

/** One configured feature's constants, and its last output shapes (frozen, shared by the tensors). */
class FeatureSlot {
  readonly table: number;
  readonly dim: number;
  readonly mode: number;
  readonly sequenceLength: number;
  /** `[...outputShape, dim]` and its number of rows, when the config sets `outputShape`. */
  readonly fixedShape: readonly number[] | null;
  readonly fixedRows: number;
  private rows = -1;
  private shape: readonly number[] = [];
  /** null until the first dense input: a rank-0 input's shape `[]` must not match an unset cache. */
  private denseInput: readonly number[] | null = null;
  private denseShape: readonly number[] = [];

  constructor(feature: FeatureConfig, table: number) {
    this.table = table;
    this.dim = feature.table.dim;
    this.mode = MODE[feature.table.combiner];
    this.sequenceLength = feature.maxSequenceLength;
    const fixed = feature.outputShape;
    this.fixedShape = fixed === null ? null : Object.freeze([...fixed, this.dim]);
    this.fixedRows = fixed === null ? 0 : fixed.reduce((a, b) => a * b, 1);
  }

  /** `[rows, dim]` or `[rows, length, dim]` (length > 0: a sequence). */
  shapeOf(rows: number, length: number): readonly number[] {
    if (rows !== this.rows) {
      this.rows = rows;
      this.shape = Object.freeze(length > 0 ? [rows, length, this.dim] : [rows, this.dim]);
    }
    return this.shape;
  }

  /** `[...input, dim]` for dense ids. */
  denseShapeOf(input: readonly number[]): readonly number[] {
    const last = this.denseInput;
    let same = last !== null && last.length === input.length;
    for (let i = 0; same && i < input.length; i++) same = last![i] === input[i];
    if (!same) {
      this.denseInput = input;
      this.denseShape = Object.freeze([...input, this.dim]);
    }
    return this.denseShape;
  }
}

class ListNode {
  constructor(readonly items: readonly Shadow[]) {}
}

class DictNode {
  /** The key list of the last input seen here, its children (`undefined`: not configured) and a result template. */
  private keys: readonly string[] = [];
  private known: readonly (Shadow | undefined)[] = [];
  private template: Container = {};

  constructor(readonly children: ReadonlyMap<string, Shadow>) {}

  /** The children for `keys` (an input's own keys), resolved once per distinct key list. */
  childrenOf(keys: readonly string[]): readonly (Shadow | undefined)[] {
    if (!sameStrings(keys, this.keys)) {
      this.keys = keys;
      this.known = keys.map((k) => this.children.get(k));
      // A fast-properties object with exactly these keys in this order (objects built key by key with
      // more than a dozen keys end up as hash tables: slow to build, slow to read).
      this.template = JSON.parse(JSON.stringify(Object.fromEntries(keys.map((k) => [k, null])))) as Container;
    }
    return this.known;
  }

  /** A fresh result object with the keys of the last `childrenOf` (values to be filled in). */
  result(): Container {
    return { ...this.template };
  }
}

/** The feature structure with every FeatureConfig replaced by its slot, walked beside the inputs. */
type Shadow = FeatureSlot | ListNode | DictNode;

type Container = Record<string | number, unknown>;

function shadowOf(node: FeatureStructure, tableIndex: ReadonlyMap<TableConfig, number>): Shadow {
  if (node instanceof FeatureConfig) return new FeatureSlot(node, tableIndex.get(node.table)!);
  if (Array.isArray(node)) return new ListNode(node.map((child) => shadowOf(child, tableIndex)));
  const children = new Map<string, Shadow>();
  for (const [key, child] of Object.entries(node as Record<string, FeatureStructure>))
    children.set(key, shadowOf(child, tableIndex));
  return new DictNode(children);
}

function countSlots(shadow: Shadow): number {
  if (shadow instanceof FeatureSlot) return 1;
  let n = 0;
  for (const child of shadow instanceof ListNode ? shadow.items : shadow.children.values())
    n += countSlots(child);
  return n;
}

function sameSplits(a: Int32Array, b: Int32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
export class SmallLookup {
  private readonly root: Shadow;
  private readonly capacity: number;
  private readonly header: number;
  private busy = false;
  private work: Int32Array;
  private workFloats: Float32Array;
  /** Per-call state. */
  private cursor = 0;
  private count = 0;
  /** Ids the last `stage` staged. */
  private ids = 0;
  private outSize = 0;
  private intoBuffer: ArrayBufferLike | null = null;
  /** Per leaf (collect order): its slot, input, weight and `into` tensors, where its result goes. */
  private readonly slots: FeatureSlot[];
  private readonly inputs: unknown[];
  private readonly weightInputs: unknown[];
  private readonly intoLeaves: unknown[];
  private readonly parents: (Container | null)[];
  private readonly keys: (string | number)[];
  /** Per leaf: the input's ids and row splits (null: dense), the weights' values and splits. */
  private readonly values: (Int32Array | BigInt64Array)[];
  private readonly splits: (Int32Array | null)[];
  /** Per leaf with dense ids: the input's shape. */
  private readonly denseShapes: (readonly number[])[];
  /** Every configured feature's slot by its path (`a/b/0`), for flat inputs. */
  private readonly byPath = new Map<string, FeatureSlot>();
  private readonly weightValues: (Float32Array | Float64Array | null)[];
  private readonly weightSplits: (Int32Array | null)[];
  /** Per leaf: its output shape and place in the output. */
  private readonly shapes: (readonly number[])[];
  private readonly outAt: Int32Array;
  private readonly sizes: Int32Array;
  private readonly holder = [undefined] as unknown as Container;
  /** Per leaf: the last `into` tensor checked there, for which shape, its buffer and offset. */
  private readonly checkedInto: unknown[];
  private readonly checkedShape: (readonly number[] | null)[];
  private readonly checkedBuffer: (ArrayBufferLike | null)[];
  private readonly checkedAt: Int32Array;
  /** The last `into` buffer's whole-buffer view (reused while callers reuse their outputs). */
  private intoView: Float32Array | null = null;
  /** Where the data-touching pass leaves its reads, so they are not optimised away. */
  private touched = 0;
  /** The arrays the last staging reads in place. */
  private readonly refs = new StagingRefs();

  constructor(
    private readonly featureConfig: FeatureStructure,
    tables: readonly TableConfig[],
    private readonly views: ReadonlyMap<TableConfig, DenseTensor<Float32Array>>,
    /** Runs the staging buffer (shared with the embedding's other staged path); one thread by default. */
    private readonly executor = new StagedExecutor(tables, views),
  ) {
    this.root = shadowOf(featureConfig, new Map(tables.map((t, i) => [t, i])));
    const n = (this.capacity = countSlots(this.root));
    this.header = W_HEADER + n * DESCRIPTOR;
    this.work = new Int32Array(this.header + 4096);
    this.workFloats = new Float32Array(this.work.buffer);
    const none = new Int32Array(0);
    this.slots = new Array<FeatureSlot>(n);
    this.inputs = new Array<unknown>(n).fill(null);
    this.weightInputs = new Array<unknown>(n).fill(null);
    this.intoLeaves = new Array<unknown>(n).fill(null);
    this.parents = new Array<Container | null>(n).fill(null);
    this.keys = new Array<string | number>(n).fill(0);
    this.values = new Array<Int32Array | BigInt64Array>(n).fill(none);
    this.splits = new Array<Int32Array | null>(n).fill(null);
    this.denseShapes = new Array<readonly number[]>(n).fill([]);
    slotsByPath(this.root, "", this.byPath);
    this.weightValues = new Array<Float32Array | Float64Array | null>(n).fill(null);
    this.weightSplits = new Array<Int32Array | null>(n).fill(null);
    this.shapes = new Array<readonly number[]>(n).fill([]);
    this.checkedInto = new Array<unknown>(n).fill(null);
    this.checkedShape = new Array<readonly number[] | null>(n).fill(null);
    this.checkedBuffer = new Array<ArrayBufferLike | null>(n).fill(null);
    this.checkedAt = new Int32Array(n);
    this.outAt = new Int32Array(n);
    this.sizes = new Int32Array(n);
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
      if (!this.collectFlat(flat)) return undefined;
      if (!this.stage(false, false)) return undefined;
      this.work[W_COUNT] = this.count;
      const out = new Float32Array(this.outSize);
      const started = this.executor.start(kernels, this.work, this.cursor, out, this.ids, false);
      if (started === false) return undefined;
      runs++;
      flatRuns++;
      const outputs: FlatOutput[] = new Array<FlatOutput>(this.count);
      for (let i = 0; i < this.count; i++) {
        const from = this.outAt[i];
        outputs[i] = { shape: this.shapes[i], data: out.subarray(from, from + this.sizes[i]) };
      }
      return started.then(() => outputs);
    });
    return run;
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
      const out = shadow.result();
      parent[key] = out;
      for (let c = 0; c < keys.length; c++) {
        const k = keys[c];
        const child = input[k];
        // An unknown key is an error even for a null input (the general path raises it).
        const slot = children[c];
        if (slot === undefined) return false;
        if (isNone(child)) {
          out[k] = child;
          continue;
        }
        const w = weight === null ? null : ((weight as Container)[k] ?? null);
        const i = intoGiven ? ((into as Container)[k] ?? null) : null;
        if (intoGiven && i === null) return false;
        // Leaves directly (the common flat request), containers by recursion.
        if (
          !(slot instanceof FeatureSlot
            ? this.record(slot, child, w, i, out, k)
            : this.collect(slot, child, w, i, out, k))
        )
          return false;
      }
      return true;
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
    // Their data.
    for (let i = 0; i < count; i++) {
      const v = values[i];
      if (v.length > 0 && v instanceof Int32Array) touched ^= v[0];
      const s = splits[i];
      if (s !== null) touched ^= s[0];
      const w = weightValues[i];
      if (w !== null && w.length > 0) touched ^= w[0];
    }
    this.touched = touched;
    this.ids = ids;
    return ids <= SMALL_LOOKUP_MAX_IDS;
  }

  /**
   * Pass 3: every leaf's descriptor, ids, splits and weights into the staging buffer, or, with `refs`,
   * long arrays as refs.
   */
  private stage(intoGiven: boolean, refs: boolean): boolean {
    this.cursor = this.header;
    this.outSize = 0;
    this.intoBuffer = null;
    this.refs.reset(refs);
    for (let i = 0; i < this.count; i++) if (!this.stageLeaf(i, intoGiven)) return false;
    this.reserve(this.refs.arrays.length * REF_WORDS);
    this.cursor = this.refs.table(this.work, this.cursor);
    return true;
  }

  /** Stages leaf `i`; false when this path does not handle it. */
  private stageLeaf(i: number, intoGiven: boolean): boolean {
    const slot = this.slots[i];
    const values = this.values[i];
    const splits = this.splits[i];
    const weightValues = this.weightValues[i];
    if (
      splits !== null &&
      values instanceof Int32Array &&
      slot.fixedShape === null &&
      slot.sequenceLength === 0 &&
      (weightValues === null ||
        (weightValues instanceof Float32Array && sameSplits(this.weightSplits[i]!, splits)))
    )
      return this.stageBag(i, slot, values, splits, weightValues, intoGiven);
    const n = values.length;
    const at = W_HEADER + i * DESCRIPTOR;
    let rows: number;
    let size: number;
    let shape: readonly number[];
    if (splits !== null) {
      rows = splits.length - 1;
      if (weightValues !== null) {
        if (slot.sequenceLength > 0 || !sameSplits(this.weightSplits[i]!, splits)) return false;
      }
      // TF's ragged decisions (lookup-plan.ts planRagged): outputShape first, then sequence, else combine.
      let length = 0;
      if (slot.fixedShape !== null) {
        shape = slot.fixedShape;
        if (slot.fixedRows !== rows) {
          if (!(rows > 0 && slot.fixedRows > rows && slot.fixedRows % rows === 0) || weightValues !== null)
            return false;
          length = slot.fixedRows / rows;
        }
      } else {
        length = slot.sequenceLength;
        shape = slot.shapeOf(rows, length);
      }
      this.reserve(2 * n + rows + 1);
      let kept = n;
      if (length === 0) {
        this.stageIds(values, at);
        this.stageSplits(splits, rows, at);
        const work = this.work;
        const weightsRef = weightValues instanceof Float32Array ? this.refs.add(weightValues) : -1;
        work[at + D_WEIGHTS_REF] = weightsRef;
        if (weightValues === null) {
          work[at + D_WEIGHTS_AT] = -1;
        } else if (weightsRef >= 0) {
          work[at + D_WEIGHTS_AT] = 0;
        } else {
          work[at + D_WEIGHTS_AT] = this.cursor;
          const floats = this.workFloats;
          const c = this.cursor;
          if (n > 32) floats.set(weightValues, c);
          else for (let j = 0; j < n; j++) floats[c + j] = weightValues[j];
          this.cursor += n;
        }
        work[at + D_KIND] = KIND_BAGS;
        work[at + D_PARAM] = slot.mode;
        size = rows * slot.dim;
      } else {
        kept = this.stageSequence(values, splits, rows, length, at);
        const work = this.work;
        work[at + D_KIND] = KIND_SEQUENCE;
        work[at + D_WEIGHTS_AT] = -1;
        work[at + D_WEIGHTS_REF] = -1;
        work[at + D_POSITIONS_AT] = -1;
        work[at + D_PARAM] = length;
        size = rows * length * slot.dim;
      }
      this.work[at + D_IDS] = kept;
    } else {
      if (weightValues !== null || slot.sequenceLength > 0) return false;
      rows = n;
      shape = slot.denseShapeOf(this.denseShapes[i]);
      this.reserve(n);
      this.stageIds(values, at);
      const work = this.work;
      work[at + D_KIND] = KIND_GATHER;
      work[at + D_IDS] = n;
      work[at + D_SPLITS_AT] = -1;
      work[at + D_SPLITS_REF] = -1;
      work[at + D_WEIGHTS_AT] = -1;
      work[at + D_WEIGHTS_REF] = -1;
      work[at + D_PARAM] = 0;
      size = n * slot.dim;
    }
    const work = this.work;
    work[at + D_TABLE] = slot.table;
    work[at + D_ROWS] = rows;

    return this.placeOutput(i, at, shape, size, intoGiven);
  }

  /** Leaf `i`'s place in the output (its `into` tensor checked, or room in a fresh output); false if none fits. */
  private placeOutput(
    i: number,
    at: number,
    shape: readonly number[],
    size: number,
    intoGiven: boolean,
  ): boolean {
    let outAt: number;
    if (intoGiven) {
      // Caller-owned outputs: exactly this feature's shape, all in one buffer.
      // Callers reuse their outputs: a tensor checked for this leaf and shape last time is not re-read
      // (the native side bounds every write by the buffer either way).
      const into = this.intoLeaves[i];
      let buffer: ArrayBufferLike;
      if (into === this.checkedInto[i] && shape === this.checkedShape[i]) {
        buffer = this.checkedBuffer[i]!;
        outAt = this.checkedAt[i];
      } else {
        if (!(into instanceof DenseTensor) || !(into.data instanceof Float32Array)) return false;
        const data = into.data;
        if (data.length !== size || !sameShape(into.shape, shape)) return false;
        buffer = data.buffer;
        outAt = data.byteOffset >> 2;
        this.checkedInto[i] = into;
        this.checkedShape[i] = shape;
        this.checkedBuffer[i] = buffer;
        this.checkedAt[i] = outAt;
      }
      if (this.intoBuffer === null) this.intoBuffer = buffer;
      else if (buffer !== this.intoBuffer) return false;
    } else {
      outAt = this.outSize;
      this.outSize += size;
    }
    if (outAt + size > 2 ** 31 - 1) return false;
    this.work[at + D_OUT_AT] = outAt;
    this.outAt[i] = outAt;
    this.sizes[i] = size;
    this.shapes[i] = shape;
    return true;
  }

  /**
   * `stageLeaf`'s branch for the common leaf, a bag of int32 ids with no `outputShape` (weights float32
   * with the same row splits, or none), in one place: ids, splits and weights as refs or copies exactly
   * as `stageIds`/`stageSplits` place them, without their calls and branches (a request's bags hold ~8
   * ids, so those cost about as much as the copies; a helper for the repeated ref-or-copy block measured
   * 0.2 µs slower per B=1 lookup).
   */
  private stageBag(
    i: number,
    slot: FeatureSlot,
    values: Int32Array,
    splits: Int32Array,
    weightValues: Float32Array | null,
    intoGiven: boolean,
  ): boolean {
    const n = values.length;
    const rows = splits.length - 1;
    this.reserve(2 * n + rows + 1);
    const work = this.work;
    const at = W_HEADER + i * DESCRIPTOR;
    let c = this.cursor;
    work[at + D_KIND] = KIND_BAGS;
    work[at + D_TABLE] = slot.table;
    work[at + D_ROWS] = rows;
    work[at + D_IDS] = n;
    work[at + D_PARAM] = slot.mode;
    const idsRef = this.refs.add(values);
    work[at + D_IDS_REF] = idsRef;
    if (idsRef >= 0) {
      work[at + D_IDS_AT] = 0;
    } else {
      work[at + D_IDS_AT] = c;
      if (n > 32) work.set(values, c);
      else for (let j = 0; j < n; j++) work[c + j] = values[j];
      c += n;
    }
    const splitsRef = this.refs.add(splits);
    work[at + D_SPLITS_REF] = splitsRef;
    if (splitsRef >= 0) {
      work[at + D_SPLITS_AT] = 0;
    } else {
      work[at + D_SPLITS_AT] = c;
      if (rows > 32) work.set(splits, c);
      else for (let r = 0; r <= rows; r++) work[c + r] = splits[r];
      c += rows + 1;
    }
    const weightsRef = weightValues === null ? -1 : this.refs.add(weightValues);
    work[at + D_WEIGHTS_REF] = weightsRef;
    if (weightValues === null) {
      work[at + D_WEIGHTS_AT] = -1;
    } else if (weightsRef >= 0) {
      work[at + D_WEIGHTS_AT] = 0;
    } else {
      work[at + D_WEIGHTS_AT] = c;
      const floats = this.workFloats;
      if (n > 32) floats.set(weightValues, c);
      else for (let j = 0; j < n; j++) floats[c + j] = weightValues[j];
      c += n;
    }
    this.cursor = c;
    return this.placeOutput(i, at, slot.shapeOf(rows, 0), rows * slot.dim, intoGiven);
  }

  /** Ids `[from, to)` at the cursor as int32; int64 ids outside int32 become -1 (the native check rejects them). */
  private copyIds(values: Int32Array | BigInt64Array, from: number, to: number): void {
    const work = this.work;
    let c = this.cursor;
    if (values instanceof Int32Array) {
      // TypedArray#set costs more than a loop below a few dozen values (B=1 bags hold ~8 ids).
      if (to - from > 32)
        work.set(from === 0 && to === values.length ? values : values.subarray(from, to), c);
      else for (let i = from; i < to; i++) work[c + i - from] = values[i];
    } else {
      const words = int64Words(values);
      for (let i = from; i < to; i++, c++) {
        const lo = words[2 * i];
        work[c] = words[2 * i + 1] !== 0 || lo < 0 ? -1 : lo;
      }
    }
    this.cursor += to - from;
  }

  /** The descriptor at `at` gets all of `values` as its ids: a ref when it may, else copied at the cursor. */
  private stageIds(values: Int32Array | BigInt64Array, at: number): void {
    const ref = values instanceof Int32Array ? this.refs.add(values) : -1;
    this.work[at + D_IDS_REF] = ref;
    this.work[at + D_IDS_AT] = ref >= 0 ? 0 : this.cursor;
    if (ref < 0) this.copyIds(values, 0, values.length);
  }

  /** The descriptor at `at` gets `splits` (rows + 1 values) as its row splits: a ref, or copied. */
  private stageSplits(splits: Int32Array, rows: number, at: number): void {
    const ref = splits.length === rows + 1 ? this.refs.add(splits) : -1;
    this.work[at + D_SPLITS_REF] = ref;
    this.work[at + D_SPLITS_AT] = ref >= 0 ? 0 : this.cursor;
    if (ref < 0) this.copySplits(splits, rows);
  }

  private copySplits(splits: Int32Array, rows: number): void {
    const work = this.work;
    const c = this.cursor;
    if (rows > 32) work.set(splits, c);
    else for (let r = 0; r <= rows; r++) work[c + r] = splits[r];
    this.cursor += rows + 1;
  }

  /** Ids and row splits of a sequence feature, each row cut to `length` ids; returns the ids kept. */
  private stageSequence(
    values: Int32Array | BigInt64Array,
    splits: Int32Array,
    rows: number,
    length: number,
    at: number,
  ): number {
    let long = false;
    for (let r = 0; r < rows && !long; r++) long = splits[r + 1] - splits[r] > length;
    if (!long) {
      this.stageIds(values, at);
      this.stageSplits(splits, rows, at);
      return values.length;
    }
    const start = this.cursor;
    this.work[at + D_IDS_AT] = start;
    this.work[at + D_IDS_REF] = -1;
    this.work[at + D_SPLITS_REF] = -1;
    for (let r = 0; r < rows; r++) {
      const s = splits[r];
      this.copyIds(values, s, Math.min(splits[r + 1], s + length));
    }
    const kept = this.cursor - start;
    const splitsAt = this.cursor;
    const work = this.work;
    work[at + D_SPLITS_AT] = splitsAt;
    work[splitsAt] = 0;
    for (let r = 0; r < rows; r++)
      work[splitsAt + r + 1] = work[splitsAt + r] + Math.min(length, splits[r + 1] - splits[r]);
    this.cursor += rows + 1;
    return kept;
  }

  /** Room for `words` more staging words (the staged part is kept). */
  private reserve(words: number): void {
    const needed = this.cursor + words;
    if (needed <= this.work.length) return;
    const grown = new Int32Array(Math.max(needed, 2 * this.work.length));
    grown.set(this.work.subarray(0, this.cursor));
    this.work = grown;
    this.workFloats = new Float32Array(grown.buffer);
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

/** Weights may hold only the inputs' keys (null entries aside), as the general path requires. */
function weightKeysFit(
  weight: Record<string, unknown>,
  input: Record<string, unknown>,
  inputKeys: readonly string[],
): boolean {
  const keys = Object.keys(weight);
  if (sameStrings(keys, inputKeys)) return true;
  for (const key of keys) if (!isNone(weight[key]) && !(key in input)) return false;
  return true;
}

/**
 * Whether `out` is caller memory that workers cannot write in place: an `into` outside shared memory.
 * Its buffer may hold more than this lookup's outputs, so it is never assembled elsewhere and copied
 * back whole: such lookups run on the calling thread (sync) or take the planned path (async).
 */
function callerMemory(into: unknown, out: Float32Array): boolean {
  return !isNone(into) && !(out.buffer instanceof SharedArrayBuffer);
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

function slotsByPath(shadow: Shadow, path: string, into: Map<string, FeatureSlot>): void {
  if (shadow instanceof FeatureSlot) into.set(path, shadow);
  else if (shadow instanceof ListNode)
    shadow.items.forEach((c, k) => slotsByPath(c, joinPath(path, k), into));
  else for (const [k, c] of shadow.children) slotsByPath(c, joinPath(path, k), into);
}
