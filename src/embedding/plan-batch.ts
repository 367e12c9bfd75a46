import {
  D_IDS,
  D_IDS_AT,
  D_IDS_REF,
  D_KIND,
  D_OUT_AT,
  D_PARAM,
  D_POSITIONS_AT,
  D_POSITIONS_REF,
  D_ROWS,
  D_SPLITS_AT,
  D_SPLITS_REF,
  D_TABLE,
  D_WEIGHTS_AT,
  D_WEIGHTS_REF,
  DESCRIPTOR,
  KIND_BAGS,
  KIND_GATHER,
  KIND_SEGMENT,
  KIND_SEQUENCE,
  MODE,
  W_COUNT,
  W_HEADER,
} from "../kernels/batch-layout.js";
import { jobIds } from "../kernels/kernel-job.js";
import { PARALLEL_MIN_COST } from "../kernels/lookup-pool.js";
import { planOutputSize, type LookupPlan } from "./lookup-plan.js";
import { BatchWriter } from "./batch-writer.js";

/** One planned feature and the index of its table in the embedding's table set. */
export interface PlannedWork {
  readonly plan: LookupPlan;
  readonly table: number;
}

/** Where each planned feature's output lies in the batch's output (float32 offsets, in order). */
export interface PlanBatchLayout {
  /** Int32 words of the batch (`work.subarray(0, staged)`). */
  readonly staged: number;
  /** Float32 values the output needs. */
  readonly outSize: number;
  /** Ids the batch gathers (its cost). */
  readonly ids: number;
}

/**
 * Lays planned lookups (the planner's decisions: gathers, bags in TF's segment or weighted order,
 * sequences with positions) out as one lookup batch (src/kernels/batch-layout.ts), so the planned route
 * runs on the same executor and kernels as request-sized lookups. A feature of more than `pieceIds` ids is
 * cut by rows into several descriptors (rebased row splits; ids, weights and positions shared), so the
 * threads of a shared batch can split one large feature. Long arrays are refs when `readInPlace` allows.
 */
/** The smallest share of a large feature the threads claim at a time (ids). */
const MIN_PIECE_IDS = 2048;

export class PlanBatchWriter extends BatchWriter {
  /**
   * Writes `works` with their outputs at `outAt[i]` (or one after another from 0 when `outAt` is null),
   * cut into pieces for `threads` threads when the batch is large enough to share (1: every feature whole).
   */
  write(
    works: readonly PlannedWork[],
    readInPlace: boolean,
    threads: number,
    outAt: readonly number[] | null,
  ): PlanBatchLayout {
    this.refs.reset(readInPlace);
    let ids = 0;
    for (const { plan } of works) ids += jobIds(plan);
    // About four pieces per thread, so a thread that starts late or runs slow is balanced out.
    const pieceIds =
      threads > 1 && ids >= PARALLEL_MIN_COST ? Math.max(MIN_PIECE_IDS, Math.ceil(ids / (threads * 4))) : 0;
    let descriptors = 0;
    for (const { plan } of works) {
      const n = jobIds(plan);
      descriptors += pieceIds > 0 && n > pieceIds ? Math.ceil(n / pieceIds) + 1 : 1;
    }
    this.cursor = 0;
    this.reserve(W_HEADER + descriptors * DESCRIPTOR);
    this.cursor = W_HEADER + descriptors * DESCRIPTOR;
    let d = 0;
    let outSize = 0;
    works.forEach(({ plan, table }, i) => {
      const at = outAt === null ? outSize : outAt[i];
      d = this.writePlan(plan, table, at, d, pieceIds);
      outSize =
        outAt === null ? outSize + planOutputSize(plan) : Math.max(outSize, at + planOutputSize(plan));
    });
    this.work[W_COUNT] = d;
    this.closeRefs();
    return { staged: this.cursor, outSize, ids };
  }

  /** Writes one plan's descriptors from descriptor `d`; returns the next descriptor index. */
  private writePlan(plan: LookupPlan, table: number, outAt: number, d: number, pieceIds: number): number {
    if (plan.kind === "gather") {
      const n = plan.ids.length;
      const dim = plan.outputShape[plan.outputShape.length - 1];
      const ids = this.place(plan.ids);
      const step = pieceIds > 0 && n > pieceIds ? pieceIds : Math.max(n, 1);
      for (let r0 = 0; r0 < n || (n === 0 && r0 === 0); r0 += step) {
        const r1 = Math.min(n, r0 + step);
        const w = this.descriptor(d++, KIND_GATHER, table, r1 - r0, r1 - r0, 0);
        this.work[w + D_IDS_AT] = ids.at + r0;
        this.work[w + D_IDS_REF] = ids.ref;
        this.work[w + D_OUT_AT] = outAt + r0 * dim;
        if (n === 0) break;
      }
      return d;
    }
    const { rowSplits, ids, weights, positions } = plan.batch;
    const rows = rowSplits.length - 1;
    const sequence = plan.kind === "sequence";
    const kind = sequence ? KIND_SEQUENCE : plan.order === "segment" ? KIND_SEGMENT : KIND_BAGS;
    const param = sequence ? plan.sequenceLength : MODE[plan.combiner];
    const dim = plan.outputShape[plan.outputShape.length - 1];
    const perRow = sequence ? plan.sequenceLength * dim : dim;
    const placedIds = this.place(ids);
    const placedWeights = !sequence && kind === KIND_BAGS && weights !== null ? this.place(weights) : null;
    const placedPositions = sequence && positions !== null ? this.place(positions) : null;
    const whole = !(pieceIds > 0 && ids.length > pieceIds);
    const placedSplits = whole ? this.place(rowSplits) : null;
    let r0 = 0;
    do {
      // Rows [r0, r1): about pieceIds ids (at least one row).
      let r1 = rows;
      if (!whole) {
        r1 = r0 + 1;
        while (r1 < rows && rowSplits[r1] - rowSplits[r0] < pieceIds) r1++;
      }
      const s0 = rowSplits[r0];
      const n = rowSplits[r1] - s0;
      const w = this.descriptor(d++, kind, table, r1 - r0, n, param);
      const work = this.work;
      work[w + D_IDS_AT] = placedIds.at + s0;
      work[w + D_IDS_REF] = placedIds.ref;
      if (placedSplits !== null) {
        work[w + D_SPLITS_AT] = placedSplits.at;
        work[w + D_SPLITS_REF] = placedSplits.ref;
      } else {
        this.reserve(r1 - r0 + 1);
        const c = this.cursor;
        for (let r = r0; r <= r1; r++) this.work[c + r - r0] = rowSplits[r] - s0;
        this.work[w + D_SPLITS_AT] = c;
        this.work[w + D_SPLITS_REF] = -1;
        this.cursor += r1 - r0 + 1;
      }
      this.work[w + D_WEIGHTS_AT] = placedWeights === null ? -1 : placedWeights.at + s0;
      this.work[w + D_WEIGHTS_REF] = placedWeights === null ? -1 : placedWeights.ref;
      this.work[w + D_POSITIONS_AT] = placedPositions === null ? -1 : placedPositions.at + s0;
      this.work[w + D_POSITIONS_REF] = placedPositions === null ? -1 : placedPositions.ref;
      this.work[w + D_OUT_AT] = outAt + r0 * perRow;
      r0 = r1;
    } while (r0 < rows);
    return d;
  }

  /** Descriptor `d`'s word offset, its common fields written. */
  private descriptor(
    d: number,
    kind: number,
    table: number,
    rows: number,
    ids: number,
    param: number,
  ): number {
    const w = W_HEADER + d * DESCRIPTOR;
    const work = this.work;
    work[w + D_KIND] = kind;
    work[w + D_TABLE] = table;
    work[w + D_ROWS] = rows;
    work[w + D_IDS] = ids;
    work[w + D_PARAM] = param;
    work[w + D_SPLITS_AT] = -1;
    work[w + D_SPLITS_REF] = -1;
    work[w + D_WEIGHTS_AT] = -1;
    work[w + D_WEIGHTS_REF] = -1;
    work[w + D_POSITIONS_AT] = -1;
    work[w + D_POSITIONS_REF] = -1;
    return w;
  }
}
