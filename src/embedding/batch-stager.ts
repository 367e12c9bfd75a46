import { DenseTensor } from "../tensor/dense-tensor.js";
import { int64Words } from "../tensor/dtype.js";
import { BatchWriter } from "./batch-writer.js";
import { type FeatureSlot, sameSplits } from "./feature-slots.js";
import { sameShape } from "./staging-layout.js";
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
  W_HEADER,
} from "../kernels/batch-layout.js";

/** Arrays up to this long are copied into the batch value by value: `set` costs more below a few dozen. */
export const COPY_LOOP_MAX = 32;

/**
 * The small-lookup path's staging (see small-lookup.ts): the per-leaf arrays a lookup's walk fills in,
 * and pass 3, which writes every leaf's descriptor, ids, splits and weights into one reusable staging
 * Int32Array (long arrays as refs when allowed; the buffer, refs and growth are BatchWriter's) and places
 * each leaf's output. SmallLookup extends it.
 */
export abstract class BatchStager extends BatchWriter {
  protected readonly header: number;
  /** Per-call state. */
  protected count = 0;
  /** Ids the last `stage` staged. */
  protected ids = 0;
  protected outSize = 0;
  protected intoBuffer: ArrayBufferLike | null = null;
  /** Per leaf (collect order): its slot and `into` tensor. */
  protected readonly slots: FeatureSlot[];
  protected readonly intoLeaves: unknown[];
  /** Per leaf: the input's ids and row splits (null: dense), the weights' values and splits. */
  protected readonly values: (Int32Array | BigInt64Array)[];
  protected readonly splits: (Int32Array | null)[];
  /** Per leaf with dense ids: the input's shape. */
  protected readonly denseShapes: (readonly number[])[];
  protected readonly weightValues: (Float32Array | Float64Array | null)[];
  protected readonly weightSplits: (Int32Array | null)[];
  /** Per leaf: its output shape and place in the output. */
  protected readonly shapes: (readonly number[])[];
  protected readonly outAt: Int32Array;
  protected readonly sizes: Int32Array;
  /** Per leaf: the last `into` tensor checked there, for which shape, its buffer and offset. */
  private readonly checkedInto: unknown[];
  private readonly checkedShape: (readonly number[] | null)[];
  private readonly checkedBuffer: (ArrayBufferLike | null)[];
  private readonly checkedAt: Int32Array;
  /** The arrays the last staging reads in place. */
  /** `n`: the most leaves a lookup has (the configured features). */
  constructor(n: number) {
    super(W_HEADER + n * DESCRIPTOR + 4096);
    this.header = W_HEADER + n * DESCRIPTOR;
    const none = new Int32Array(0);
    this.slots = new Array<FeatureSlot>(n);
    this.intoLeaves = new Array<unknown>(n).fill(null);
    this.values = new Array<Int32Array | BigInt64Array>(n).fill(none);
    this.splits = new Array<Int32Array | null>(n).fill(null);
    this.denseShapes = new Array<readonly number[]>(n).fill([]);
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
   * Pass 3: every leaf's descriptor, ids, splits and weights into the staging buffer, or, with `refs`,
   * long arrays as refs.
   */
  protected stage(intoGiven: boolean, refs: boolean): boolean {
    this.cursor = this.header;
    this.outSize = 0;
    this.intoBuffer = null;
    this.refs.reset(refs);
    for (let i = 0; i < this.count; i++) if (!this.stageLeaf(i, intoGiven)) return false;
    this.closeRefs();
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
          if (n > COPY_LOOP_MAX) floats.set(weightValues, c);
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
      if (n > COPY_LOOP_MAX) work.set(values, c);
      else for (let j = 0; j < n; j++) work[c + j] = values[j];
      c += n;
    }
    const splitsRef = this.refs.add(splits);
    work[at + D_SPLITS_REF] = splitsRef;
    if (splitsRef >= 0) {
      work[at + D_SPLITS_AT] = 0;
    } else {
      work[at + D_SPLITS_AT] = c;
      if (rows > COPY_LOOP_MAX) work.set(splits, c);
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
      if (n > COPY_LOOP_MAX) floats.set(weightValues, c);
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
      if (to - from > COPY_LOOP_MAX)
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
    if (rows > COPY_LOOP_MAX) work.set(splits, c);
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
}
