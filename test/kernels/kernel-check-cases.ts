import { bytesOf } from "../../src/checkpoint/crc.js";
import { MODE } from "../../src/kernels/batch-layout.js";
import type { BagBatch } from "../../src/kernels/bag-batch.js";
import { type KernelJob, jobRows, rowValues } from "../../src/kernels/kernel-job.js";
import {
  STORAGE_CODE,
  type QuantizedKind,
  quantizeTable,
  rowBytes,
} from "../../src/kernels/quantized-rows.js";
import { runReference } from "../../src/kernels/run-job.js";
import { dequantizedTable, quantizedTable } from "../../src/kernels/table-storage.js";
import { formatFloat32 } from "../../src/serving/http/float32-text.js";
import { randomBatches } from "./random-batches.js";

/**
 * Cases for native/check/kernel_check.c (its header describes the file): every kernel entry point of one
 * ISA level, with the JS reference's expected bytes. Float32 and quantized tables, every combiner and
 * order, sequences in order and scattered, gathers, row ranges, tables off cache-line alignment, the ids
 * check and the JSON row writer.
 */

const OP = { bagsSegment: 1, bagsWeighted: 2, sequence: 3, gather: 4, idsInTable: 5, jsonRows: 6 } as const;

export interface KernelCase {
  /** Says what the case is, in failure messages. */
  readonly name: string;
  readonly op: number;
  readonly storage: number;
  readonly dim: number;
  readonly rows: number;
  readonly param: number;
  readonly r0: number;
  readonly r1: number;
  readonly outValues: number;
  /** Bytes the table starts past a 64-byte boundary. */
  readonly shift: number;
  readonly table: Uint8Array;
  readonly splits: Int32Array | null;
  readonly ids: Int32Array | null;
  readonly weights: Float32Array | null;
  readonly positions: Int32Array | null;
  /** What the driver must write for the case. */
  readonly expected: Uint8Array;
}

/** The reference's output rows [r0, r1) of `job` on a float32 table. */
function referenceRows(
  job: KernelJob,
  values: Float32Array,
  dim: number,
  r0: number,
  r1: number,
): Float32Array {
  const per = rowValues(job, dim);
  const whole = new Float32Array(jobRows(job) * per);
  runReference(job, values, dim, whole, 0);
  return whole.slice(r0 * per, r1 * per);
}

export function kernelCases(seed: number): KernelCase[] {
  const { rand, int, tableOf, bags } = randomBatches(seed);
  const cases: KernelCase[] = [];
  let shift = 0;

  /** The cases of one job: whole, and a range of rows inside it. */
  function jobCases(
    name: string,
    job: KernelJob,
    values: Float32Array,
    dim: number,
    stored: StoredForm,
  ): void {
    const rows = jobRows(job);
    const ranges: [number, number][] = [[0, rows]];
    if (rows > 4) ranges.push([1 + int(rows >> 1), rows - 1 - int(rows >> 2)]);
    for (const [r0, r1] of ranges) {
      shift = (shift + 4) % 12; // 0, 4, 8: rows off the cache lines' alignment too
      const batch: BagBatch | null = job.kind === "gather" ? null : job.batch;
      const expected = referenceRows(job, stored.reference, dim, r0, r1);
      cases.push({
        name: `${name} rows ${r0}..${r1}${shift > 0 ? ` table +${shift} B` : ""}`,
        op:
          job.kind === "gather"
            ? OP.gather
            : job.kind === "sequence"
              ? OP.sequence
              : job.order === "segment"
                ? OP.bagsSegment
                : OP.bagsWeighted,
        storage: stored.code,
        dim,
        rows: values.length / dim,
        param: job.kind === "bags" ? MODE[job.combiner] : job.kind === "sequence" ? job.sequenceLength : 0,
        r0,
        r1,
        outValues: expected.length,
        shift,
        table: stored.bytes,
        splits: batch?.rowSplits ?? null,
        ids: job.kind === "gather" ? job.ids : batch!.ids,
        weights: batch?.weights ?? null,
        positions: batch?.positions ?? null,
        expected: bytesOf(expected),
      });
    }
  }

  for (const storage of ["float32", "float16", "bfloat16", "int8"] as const) {
    const dims = storage === "float32" ? [4, 8, 12, 16, 20, 36, 48, 64, 68, 100, 128] : [4, 8, 20, 64, 68];
    for (const dim of dims) {
      const values = tableOf(120, dim, false);
      const stored = storedForm(storage, values, dim);
      const at = `${storage} dim ${dim}`;
      for (const combiner of ["sum", "mean", "sqrtn"] as const) {
        jobCases(
          `${at} segment ${combiner}`,
          { kind: "bags", order: "segment", combiner, batch: bags(24, 30, 120, false) },
          values,
          dim,
          stored,
        );
        for (const weighted of [false, true])
          jobCases(
            `${at} ${weighted ? "weighted" : "ragged"} ${combiner}`,
            { kind: "bags", order: "weighted", combiner, batch: bags(24, 30, 120, weighted) },
            values,
            dim,
            stored,
          );
      }
      jobCases(
        `${at} sequence in order`,
        { kind: "sequence", sequenceLength: 6, batch: bags(20, 6, 120, false) },
        values,
        dim,
        stored,
      );
      jobCases(
        `${at} sequence scattered`,
        { kind: "sequence", sequenceLength: 5, batch: bags(20, 9, 120, false, 5) },
        values,
        dim,
        stored,
      );
      const ids = new Int32Array(40).map(() => int(120));
      jobCases(`${at} gather`, { kind: "gather", ids }, values, dim, stored);
    }
  }

  // The ids check: every length through a vector and its tail, one id out of range at each place.
  for (let n = 0; n <= 40; n++) {
    const rows = 1000;
    const ids = new Int32Array(n + 2).map(() => int(rows));
    cases.push(idsCase(`ids in table, ${n} ids`, ids, rows, 1, n + 1, true));
    if (n === 0) continue;
    for (const bad of [-1, rows, 0x7fffffff, -0x80000000]) {
      const at = 1 + int(n);
      const wrong = ids.slice();
      wrong[at] = bad;
      cases.push(idsCase(`ids in table, ${n} ids, ${bad} at ${at - 1}`, wrong, rows, 1, n + 1, false));
    }
  }

  // The JSON row writer: random bit patterns (NaN, infinities, -0 and subnormals included), every width
  // through its 8-value lanes and tails.
  const specials = [
    0x7fc00000, 0xff800000, 0x7f800000, 0x80000000, 0x00000001, 0x807fffff, 0x3f800000, 0x4b7fffff,
  ];
  for (let width = 0; width <= 19; width++) {
    for (const rows of [1, 3]) {
      const bits = new Uint32Array(rows * width).map((_, i) =>
        i % 7 === 3 ? specials[int(specials.length)] : Math.floor(rand() * 2 ** 32),
      );
      const floats = new Float32Array(bits.buffer);
      const lists: string[] = [];
      for (let r = 0; r < rows; r++)
        lists.push(`[${Array.from(floats.subarray(r * width, (r + 1) * width), formatFloat32).join(",")}]`);
      cases.push({
        name: `json rows ${rows}×${width}`,
        op: OP.jsonRows,
        storage: 0,
        dim: 0,
        rows,
        param: width,
        r0: 0,
        r1: 0,
        outValues: 0,
        shift: 0,
        table: bytesOf(bits),
        splits: null,
        ids: null,
        weights: null,
        positions: null,
        expected: new TextEncoder().encode(lists.join(",")),
      });
    }
  }
  return cases;
}

interface StoredForm {
  readonly code: number;
  /** The rows as the driver gets them. */
  readonly bytes: Uint8Array;
  /** What the kernels read in their place (the reference dequantization). */
  readonly reference: Float32Array;
}

function storedForm(storage: "float32" | QuantizedKind, values: Float32Array, dim: number): StoredForm {
  if (storage === "float32") return { code: STORAGE_CODE.float32, bytes: bytesOf(values), reference: values };
  const bytes = new Uint8Array((values.length / dim) * rowBytes(storage, dim));
  quantizeTable(storage, values, dim, bytes, "check");
  return {
    code: STORAGE_CODE[storage],
    bytes,
    reference: dequantizedTable(quantizedTable(storage, bytes, dim)),
  };
}

function idsCase(
  name: string,
  ids: Int32Array,
  rows: number,
  r0: number,
  r1: number,
  inside: boolean,
): KernelCase {
  return {
    name,
    op: OP.idsInTable,
    storage: 0,
    dim: 0,
    rows,
    param: 0,
    r0,
    r1,
    outValues: 0,
    shift: 0,
    table: new Uint8Array(0),
    splits: null,
    ids,
    weights: null,
    positions: null,
    expected: bytesOf(new Int32Array([inside ? 1 : 0])),
  };
}

/** The case file kernel_check reads. */
export function encodeCases(cases: readonly KernelCase[]): Uint8Array {
  const parts: Uint8Array[] = [Buffer.from("TPUKCHK1"), bytesOf(new Int32Array([cases.length]))];
  const array = (a: Int32Array | Float32Array | null): void => {
    parts.push(bytesOf(new Int32Array([a === null ? -1 : a.length])));
    if (a !== null) parts.push(bytesOf(a));
  };
  for (const c of cases) {
    const header = [
      c.op,
      c.storage,
      c.dim,
      c.rows,
      c.param,
      c.r0,
      c.r1,
      c.outValues,
      c.shift,
      c.table.length,
    ];
    // The table's bytes padded to 4.
    parts.push(bytesOf(new Int32Array(header)), c.table, new Uint8Array(-c.table.length & 3));
    array(c.splits);
    array(c.ids);
    array(c.weights);
    array(c.positions);
  }
  return Buffer.concat(parts);
}

/** kernel_check's output, one byte array per case; throws when it is cut short. */
export function decodeOutputs(output: Uint8Array, count: number): Uint8Array[] {
  const view = new DataView(output.buffer, output.byteOffset, output.byteLength);
  const outs: Uint8Array[] = [];
  let at = 0;
  for (let c = 0; c < count; c++) {
    if (at + 4 > output.length) throw new Error(`output ends before case ${c}`);
    const n = view.getInt32(at, true);
    if (n < 0 || at + 4 + n > output.length) throw new Error(`case ${c}: bad output length ${n}`);
    outs.push(output.subarray(at + 4, at + 4 + n));
    at += 4 + ((n + 3) & ~3);
  }
  if (at !== output.length) throw new Error(`${output.length - at} bytes after the last case`);
  return outs;
}
