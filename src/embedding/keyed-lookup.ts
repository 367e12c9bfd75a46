import { FeatureConfig } from "../config/feature-config.js";
import type { TableConfig } from "../config/table-config.js";
import { DenseTensor, trustedFloat32Tensor } from "../tensor/dense-tensor.js";
import { int64Words } from "../tensor/dtype.js";
import type { KeyedJaggedTensor } from "../tensor/keyed-jagged-tensor.js";
import { isPlainObject } from "../tensor/structure.js";
import type { FeatureStructure } from "./feature-structure.js";
import { planLookups, type PlannerTables } from "./serving-embedding-lookup.js";
import { DeferredLastLookup } from "./deferred-last-lookup.js";
import { SMALL_LOOKUP_MAX_IDS } from "./small-lookup.js";
import { BatchWriter } from "./batch-writer.js";
import type { StagedExecutor, StagedKernels } from "./staged-executor.js";
import { sameShape, sameStrings } from "./staging-layout.js";
import {
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
  W_COUNT,
  W_HEADER,
} from "../kernels/batch-layout.js";

/**
 * The fast path for a KeyedJaggedTensor: its flat arrays go into the small-lookup staging layout (see
 * small-lookup.ts and `smallLookup` in native/batch.c) with one copy for all keys' ids and one
 * for their weights (none in synchronous lookups: both are read in place as refs, see staging-layout.ts),
 * a descriptor and rebased row splits per key, and one native call runs every key.
 * No tensor object per feature is read or made (with `into`, none at all): a 26-feature request is three
 * arrays. Anything it does not handle (a key that is not a top-level feature, `outputShape`, a sequence
 * row longer than `maxSequenceLength`, bad input of any kind) returns `undefined` with nothing written,
 * and the general path (the KJT's per-key RaggedTensors) runs and raises TF's errors.
 */

/** One configured top-level feature, as a key names it. */
interface KeyedFeature {
  readonly table: number;
  readonly dim: number;
  readonly mode: number;
  readonly sequenceLength: number;
  /** Output shapes by batch size (frozen, shared by the results). */
  readonly shapes: Map<number, readonly number[]>;
}

let runs = 0;

/** Test hook: how many KeyedJaggedTensor lookups the fast path has served in this thread. */
export function keyedLookupRuns(): number {
  return runs;
}

export class KeyedLookup extends BatchWriter {
  private readonly features = new Map<string, KeyedFeature>();
  /** Words of `work` the last `stage` wrote. */
  private staged = 0;
  /** The arrays the last staging reads in place. */
  /** The last key list seen, its features and a result object template with those keys in that order. */
  private keys: readonly string[] = [];
  private resolved: KeyedFeature[] = [];
  private template: Record<string, unknown> = {};
  /** The last `into` whose keys were checked against `keys`, and its buffer as one float32 view. */
  private checkedInto: unknown = null;
  private intoView: Float32Array | null = null;
  /** Per key: the `into` tensor last checked, its buffer and its float32 offset in it. */
  private intoTensors: unknown[] = [];
  private intoBuffers: ArrayBufferLike[] = [];
  private intoOffsets: number[] = [];

  constructor(
    featureConfig: FeatureStructure,
    tables: readonly TableConfig[],
    /** Runs the staging buffer (shared with the embedding's other staged path). */
    private readonly executor: StagedExecutor,
  ) {
    super();
    if (!isPlainObject(featureConfig)) return;
    const index = new Map(tables.map((t, i) => [t, i]));
    for (const [key, feature] of Object.entries(featureConfig as Record<string, FeatureStructure>)) {
      if (!(feature instanceof FeatureConfig) || feature.outputShape !== null) continue;
      this.features.set(key, {
        table: index.get(feature.table)!,
        dim: feature.table.dim,
        mode: MODE[feature.table.combiner],
        sequenceLength: feature.maxSequenceLength,
        shapes: new Map(),
      });
    }
  }

  /** The lookup's `{ key: DenseTensor }` (or `into`, filled), or `undefined` when the general path owns it. */
  lookup(kjt: KeyedJaggedTensor, into: unknown): Record<string, DenseTensor<Float32Array>> | undefined {
    return this.start(kjt, into, true, (native, out, localOnly) =>
      this.executor.run(native, this.work, this.staged, out, kjt.values.length, localOnly, this.refs.arrays),
    )?.result;
  }

  /**
   * `lookup` with the kernels on worker threads: staged and checked now, the result's tensors made now,
   * filled when the promise resolves; `undefined` (nothing started) when the general path owns it.
   */
  lookupAsync(
    kjt: KeyedJaggedTensor,
    into: unknown,
  ): Promise<Record<string, DenseTensor<Float32Array>>> | undefined {
    const started = this.start(kjt, into, false, (native, out, localOnly) =>
      this.executor.start(native, this.work, this.staged, out, kjt.values.length, localOnly),
    );
    return started === undefined ? undefined : started.pending!.then(() => started.result);
  }

  /**
   * Stages the lookup (`direct`: its arrays as refs, for synchronous lookups) and `execute`s it into its
   * output (true: done; a promise: running elsewhere; false: a feature does not fit, nothing written), then
   * makes the result.
   */
  private start(
    kjt: KeyedJaggedTensor,
    into: unknown,
    direct: boolean,
    execute: (
      native: StagedKernels,
      out: Float32Array,
      /** `into` outside shared memory: only this thread may write it (its buffer may hold other data). */
      localOnly: boolean,
    ) => boolean | Promise<void>,
  ): { result: Record<string, DenseTensor<Float32Array>>; pending: Promise<void> | null } | undefined {
    const native = this.executor.kernels();
    if (native === null || kjt.values.length > SMALL_LOOKUP_MAX_IDS || !this.resolve(kjt.keys))
      return undefined;
    const intoGiven = into !== null && into !== undefined;
    if (intoGiven && !this.intoFits(into)) return undefined;
    const outSize = this.stage(kjt, intoGiven ? (into as Record<string, unknown>) : null, direct);
    if (outSize < 0) return undefined;
    const out = intoGiven ? this.intoView! : new Float32Array(outSize);
    const done = execute(native, out, intoGiven && !(out.buffer instanceof SharedArrayBuffer));
    if (done === false) return undefined;
    runs++;
    const pending = done === true ? null : done;
    if (intoGiven) return { result: into as Record<string, DenseTensor<Float32Array>>, pending };
    const result = { ...this.template } as Record<string, DenseTensor<Float32Array>>;
    const keys = this.keys;
    const work = this.work;
    for (let k = 0; k < keys.length; k++) {
      const d = W_HEADER + k * DESCRIPTOR;
      const shape = this.resolved[k].shapes.get(kjt.stride)!;
      const from = work[d + D_OUT_AT];
      const size = outputSize(shape);
      result[keys[k]] = trustedFloat32Tensor(
        keys.length === 1 ? out : out.subarray(from, from + size),
        shape,
      );
    }
    return { result, pending };
  }

  /** The features of `keys` (cached while callers reuse the same key list); false if one is not handled. */
  private resolve(keys: readonly string[]): boolean {
    if (keys === this.keys) return true;
    if (sameStrings(keys, this.keys)) {
      this.keys = keys;
      return true;
    }
    const resolved: KeyedFeature[] = [];
    for (const key of keys) {
      const feature = this.features.get(key);
      if (feature === undefined) return false;
      resolved.push(feature);
    }
    this.keys = keys;
    this.resolved = resolved;
    this.checkedInto = null;
    this.intoTensors = new Array<unknown>(keys.length).fill(null);
    this.intoBuffers = new Array<ArrayBufferLike>(keys.length);
    this.intoOffsets = new Array<number>(keys.length).fill(0);
    // A fast-properties object with exactly these keys in this order (see small-lookup.ts DictNode).
    this.template = JSON.parse(JSON.stringify(Object.fromEntries(keys.map((k) => [k, null])))) as Record<
      string,
      unknown
    >;
    return true;
  }

  /** `into` holds exactly the keys (checked once per `into` object); its tensors are checked in `stage`. */
  private intoFits(into: unknown): boolean {
    if (into === this.checkedInto) return true;
    if (!isPlainObject(into)) return false;
    const keys = Object.keys(into);
    if (keys.length !== this.keys.length || !this.keys.every((k) => k in into)) return false;
    this.checkedInto = into;
    return true;
  }

  /**
   * Lays the lookup out in the staging buffer; returns the output size in float32 values (with `into`:
   * its buffer's, as one view in `intoView`), or -1 when the general path must run.
   */
  private stage(kjt: KeyedJaggedTensor, into: Record<string, unknown> | null, direct: boolean): number {
    const keys = this.keys;
    const count = keys.length;
    const batch = kjt.stride;
    const n = kjt.values.length;
    const weights = kjt.weights;
    const offsets = kjt.offsets;
    const header = W_HEADER + count * DESCRIPTOR;
    const refs = this.refs;
    refs.reset(direct && this.executor.readsInPlace(n));
    this.cursor = 0; // the whole batch is written below from word 0
    this.reserve(header + n * (weights === null ? 1 : 2) + count * (batch + 1) + 2 * REF_WORDS);
    const work = this.work;
    work[W_COUNT] = count;
    // The keys' ids (and weights): one ref each, or one copy each after the descriptors.
    const values = kjt.values;
    const idsRef = values instanceof Int32Array ? refs.add(values) : -1;
    const idsAt = idsRef >= 0 ? 0 : header;
    if (idsRef < 0) this.copyIds(values, idsAt);
    let cursor = idsRef >= 0 ? header : header + n;
    const weightsRef = weights === null ? -1 : refs.add(weights);
    const weightsAt = weightsRef >= 0 ? 0 : cursor;
    if (weights !== null && weightsRef < 0) {
      if (n > 32) this.workFloats.set(weights, weightsAt);
      else for (let j = 0; j < n; j++) this.workFloats[weightsAt + j] = weights[j];
      cursor += n;
    }
    let outSize = 0;
    let buffer: ArrayBufferLike | null = null;
    for (let k = 0; k < count; k++) {
      const feature = this.resolved[k];
      const base = k * batch;
      const o0 = offsets[base];
      const d = W_HEADER + k * DESCRIPTOR;
      const length = feature.sequenceLength;
      if (length > 0) {
        // TF refuses weights on sequence features; rows longer than the sequence are cut by the planner.
        if (weights !== null) return -1;
        for (let b = 0; b < batch; b++) if (offsets[base + b + 1] - offsets[base + b] > length) return -1;
        work[d + D_KIND] = KIND_SEQUENCE;
        work[d + D_PARAM] = length;
        work[d + D_WEIGHTS_AT] = -1;
        work[d + D_WEIGHTS_REF] = -1;
        work[d + D_POSITIONS_AT] = -1;
      } else {
        work[d + D_KIND] = KIND_BAGS;
        work[d + D_PARAM] = feature.mode;
        work[d + D_WEIGHTS_AT] = weights === null ? -1 : weightsAt + o0;
        work[d + D_WEIGHTS_REF] = weightsRef;
      }
      work[d + D_TABLE] = feature.table;
      work[d + D_ROWS] = batch;
      work[d + D_IDS] = offsets[base + batch] - o0;
      work[d + D_IDS_AT] = idsAt + o0;
      work[d + D_IDS_REF] = idsRef;
      work[d + D_SPLITS_AT] = cursor;
      work[d + D_SPLITS_REF] = -1;
      for (let b = 0; b <= batch; b++) work[cursor + b] = offsets[base + b] - o0;
      cursor += batch + 1;

      let shape = feature.shapes.get(batch);
      if (shape === undefined) {
        shape = Object.freeze(length > 0 ? [batch, length, feature.dim] : [batch, feature.dim]);
        feature.shapes.set(batch, shape);
      }
      const size = batch * (length > 0 ? length : 1) * feature.dim;
      if (into === null) {
        work[d + D_OUT_AT] = outSize;
        outSize += size;
        continue;
      }
      // Caller-owned outputs: exactly this key's shape, all views of one buffer (checked once per tensor
      // while the caller keeps passing the same ones; a tensor's data and shape are fixed).
      const target = into[keys[k]];
      if (target !== this.intoTensors[k]) {
        if (!(target instanceof DenseTensor) || !(target.data instanceof Float32Array)) return -1;
        const data = target.data;
        if (data.length !== size || !sameShape(target.shape, shape)) return -1;
        this.intoTensors[k] = target;
        this.intoBuffers[k] = data.buffer;
        this.intoOffsets[k] = data.byteOffset >> 2;
      }
      if (buffer === null) buffer = this.intoBuffers[k];
      else if (this.intoBuffers[k] !== buffer) return -1;
      work[d + D_OUT_AT] = this.intoOffsets[k];
    }
    this.staged = refs.table(work, cursor);
    if (into === null) return outSize;
    if (buffer === null) return -1;
    if (
      this.intoView === null ||
      this.intoView.buffer !== buffer ||
      this.intoView.length !== buffer.byteLength >> 2
    )
      this.intoView = new Float32Array(buffer, 0, buffer.byteLength >> 2);
    return this.intoView.length;
  }

  /** The ids at `at` as int32; int64 ids outside int32 become -1 (the native check rejects them). */
  private copyIds(values: Int32Array | BigInt64Array, at: number): void {
    const work = this.work;
    const n = values.length;
    if (values instanceof Int32Array) {
      if (n > 32) work.set(values, at);
      else for (let i = 0; i < n; i++) work[at + i] = values[i];
      return;
    }
    const words = int64Words(values);
    for (let i = 0; i < n; i++) {
      const lo = words[2 * i];
      work[at + i] = words[2 * i + 1] !== 0 || lo < 0 ? -1 : lo;
    }
  }
}

function outputSize(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/**
 * `lastLookupPlans` after a fast KeyedJaggedTensor lookup: planned on first access, over the KJT's
 * per-key RaggedTensors (views of the same arrays).
 */
export function keyedLastLookup(
  kjt: KeyedJaggedTensor,
  views: PlannerTables,
  featureConfig: FeatureStructure,
): DeferredLastLookup {
  return new DeferredLastLookup(kjt, () => {
    const { features, weights } = kjt.toDict();
    return planLookups(features, weights, views, featureConfig, true);
  });
}
