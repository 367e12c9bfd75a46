import { REF_WORDS } from "../kernels/batch-layout.js";
import { StagingRefs } from "./staging-layout.js";

/**
 * The one writer of lookup batches (src/kernels/batch-layout.ts) every encoder builds on: the reusable
 * buffer (grown keeping what is written), the write cursor, the arrays read in place (refs) and their
 * table. The encoders (batch-stager.ts for nested structures and flat requests, keyed-lookup.ts for
 * KeyedJaggedTensors, plan-batch.ts for the planner's plans) write their descriptors and data through it.
 * A steady stream of lookups allocates nothing here.
 */
export class BatchWriter {
  protected work: Int32Array;
  protected workFloats: Float32Array;
  protected cursor = 0;
  /** The arrays the last batch reads in place, in ref order. */
  protected readonly refs = new StagingRefs();

  constructor(words = 4096) {
    this.work = new Int32Array(words);
    this.workFloats = new Float32Array(this.work.buffer);
  }

  /** The batch buffer: the last batch in its first words. */
  get words(): Int32Array {
    return this.work;
  }

  /** The arrays the last batch reads in place (the arguments of the kernels' `resolveRefs`). */
  get refArrays(): readonly (Int32Array | Float32Array)[] {
    return this.refs.arrays;
  }

  /** Room for `words` more words after the cursor (the written part is kept). */
  protected reserve(words: number): void {
    const needed = this.cursor + words;
    if (needed <= this.work.length) return;
    const grown = new Int32Array(Math.max(needed, 2 * this.work.length));
    grown.set(this.work.subarray(0, this.cursor));
    this.work = grown;
    this.workFloats = new Float32Array(grown.buffer);
  }

  /** `array` as a ref (read in place) or copied at the cursor: where its element 0 is, and its ref (-1). */
  protected place(array: Int32Array | Float32Array): { at: number; ref: number } {
    const ref = this.refs.add(array);
    if (ref >= 0) return { at: 0, ref };
    this.reserve(array.length);
    const at = this.cursor;
    if (array instanceof Int32Array) this.work.set(array, at);
    else this.workFloats.set(array, at);
    this.cursor += array.length;
    return { at, ref: -1 };
  }

  /** Ends the batch's data: the header's ref words and the (zeroed) ref table at the cursor. */
  protected closeRefs(): void {
    this.reserve(this.refs.arrays.length * REF_WORDS);
    this.cursor = this.refs.table(this.work, this.cursor);
  }
}
