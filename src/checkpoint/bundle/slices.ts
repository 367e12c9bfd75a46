/**
 * Tensor slices (`TensorSliceProto`): slice-key encoding (`EncodeTensorNameSlice`), shapes, coverage
 * and row-major copies between a slice and the full tensor.
 */
import { DataLossError, InvalidArgumentError } from "../../errors.js";
import { ByteSink, DecodeError } from "../sstable/coding.js";
import {
  readNumIncreasing,
  readSignedNumIncreasing,
  readString,
  writeNumIncreasing,
  writeSignedNumIncreasing,
  writeString,
} from "./ordered-code.js";

/** One dimension of a slice; `length === undefined` is TF's full extent (`-`). */
export interface Extent {
  readonly start: number;
  readonly length?: number;
}

export type TensorSlice = readonly Extent[];

const utf8 = new TextEncoder();

/** The index key of one stored piece of a partitioned tensor. */
export function encodeTensorNameSlice(name: string | Uint8Array, slice: TensorSlice): Uint8Array {
  const sink = new ByteSink(64);
  writeNumIncreasing(sink, 0);
  writeString(sink, typeof name === "string" ? utf8.encode(name) : name);
  writeNumIncreasing(sink, slice.length);
  for (const e of slice) {
    writeSignedNumIncreasing(sink, e.length === undefined ? 0 : e.start);
    writeSignedNumIncreasing(sink, e.length === undefined ? -1 : e.length);
  }
  return sink.toBytes();
}

export function decodeTensorNameSlice(key: Uint8Array): { name: Uint8Array; slice: Extent[] } {
  const first = readNumIncreasing(key, 0);
  if (first.value !== 0n) throw new DecodeError("slice key does not start with 0");
  const name = readString(key, first.next);
  const rank = readNumIncreasing(key, name.next);
  let pos = rank.next;
  const slice: Extent[] = [];
  for (let d = 0; d < Number(rank.value); d++) {
    const start = readSignedNumIncreasing(key, pos);
    const length = readSignedNumIncreasing(key, start.next);
    pos = length.next;
    slice.push(
      length.value === -1n ? { start: 0 } : { start: Number(start.value), length: Number(length.value) },
    );
  }
  if (pos !== key.length) throw new DecodeError("trailing bytes after slice key");
  return { name: name.value, slice };
}

/** TF's slice debug string: `0,5:0,4`, `-:3,3`. */
export function formatSlice(slice: TensorSlice): string {
  return slice.map((e) => (e.length === undefined ? "-" : `${e.start},${e.length}`)).join(":");
}

/** Parses TF's slice string (`0,5:-`) as used by `shape_and_slice`. */
export function parseSlice(spec: string): Extent[] {
  if (spec === "") return [];
  return spec.split(":").map((part) => {
    if (part === "-") return { start: 0 };
    const m = /^(\d+),(\d+)$/.exec(part);
    if (m === null) throw new InvalidArgumentError(`Bad slice extent "${part}" in "${spec}".`);
    return { start: Number(m[1]), length: Number(m[2]) };
  });
}

/** The dims of `slice` within a tensor of `fullShape`. */
export function sliceShape(fullShape: readonly number[], slice: TensorSlice): number[] {
  return fullShape.map((d, i) => slice[i].length ?? d);
}

export function sliceStarts(slice: TensorSlice): number[] {
  return slice.map((e) => (e.length === undefined ? 0 : e.start));
}

/** TF's `IsFullSlice` test as `BundleWriter::AddSlice` applies it: full, or the same shape as the tensor. */
export function coversWholeTensor(fullShape: readonly number[], slice: TensorSlice): boolean {
  return slice.every((e, i) => e.length === undefined || (e.start === 0 && e.length === fullShape[i]));
}

/** True when the slice occupies one contiguous run of the full tensor (every dim after the first whole). */
export function isContiguous(fullShape: readonly number[], slice: TensorSlice): boolean {
  for (let i = 1; i < fullShape.length; i++) {
    const e = slice[i];
    if (!(e.length === undefined || (e.start === 0 && e.length === fullShape[i]))) return false;
  }
  return true;
}

/** Checks the slice has the tensor's rank and lies inside it; `where` names the key for errors. */
export function validateSlice(fullShape: readonly number[], slice: TensorSlice, where: string): void {
  if (slice.length !== fullShape.length) {
    throw new DataLossError(
      `${where}: slice ${formatSlice(slice)} has rank ${slice.length}, tensor has ${fullShape.length}`,
    );
  }
  slice.forEach((e, i) => {
    if (e.length !== undefined && (e.start < 0 || e.length < 0 || e.start + e.length > fullShape[i])) {
      throw new DataLossError(
        `${where}: slice ${formatSlice(slice)} lies outside shape [${fullShape.join(", ")}]`,
      );
    }
  });
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function overlaps(fullShape: readonly number[], a: TensorSlice, b: TensorSlice): boolean {
  return fullShape.every((d, i) => {
    const as = a[i].length === undefined ? 0 : a[i].start;
    const ae = a[i].length === undefined ? d : as + (a[i].length as number);
    const bs = b[i].length === undefined ? 0 : b[i].start;
    const be = b[i].length === undefined ? d : bs + (b[i].length as number);
    return as < be && bs < ae;
  });
}

/** Throws unless the slices tile the tensor exactly (inside, pairwise disjoint, sizes add up). */
export function checkSlicesCoverTensor(
  fullShape: readonly number[],
  slices: readonly TensorSlice[],
  where: string,
): void {
  let total = 0;
  for (let i = 0; i < slices.length; i++) {
    validateSlice(fullShape, slices[i], where);
    total += elements(sliceShape(fullShape, slices[i]));
    for (let j = 0; j < i; j++) {
      if (overlaps(fullShape, slices[i], slices[j])) {
        throw new DataLossError(
          `${where}: slices ${formatSlice(slices[j])} and ${formatSlice(slices[i])} overlap`,
        );
      }
    }
  }
  if (total !== elements(fullShape)) {
    throw new DataLossError(
      `${where}: the ${slices.length} stored slices cover ${total} of ${elements(fullShape)} elements ` +
        `of shape [${fullShape.join(", ")}]`,
    );
  }
}

/**
 * Copies a slice's row-major bytes into the full tensor's row-major bytes (`toFull`), or the reverse.
 * `elementSize` is bytes per element.
 */
export function copySliceBytes(
  full: Uint8Array,
  fullShape: readonly number[],
  slice: TensorSlice,
  part: Uint8Array,
  elementSize: number,
  toFull: boolean,
): void {
  const rank = fullShape.length;
  const shape = sliceShape(fullShape, slice);
  const starts = sliceStarts(slice);
  if (rank === 0) {
    if (toFull) full.set(part.subarray(0, elementSize));
    else part.set(full.subarray(0, elementSize));
    return;
  }
  if (elements(shape) === 0) return;
  const fullStrides = new Array<number>(rank);
  fullStrides[rank - 1] = elementSize;
  for (let i = rank - 2; i >= 0; i--) fullStrides[i] = fullStrides[i + 1] * fullShape[i + 1];
  const runBytes = shape[rank - 1] * elementSize;
  const idx = new Array<number>(rank - 1).fill(0);
  let src = 0;
  while (true) {
    let dst = starts[rank - 1] * elementSize;
    for (let i = 0; i < rank - 1; i++) dst += (starts[i] + idx[i]) * fullStrides[i];
    if (toFull) full.set(part.subarray(src, src + runBytes), dst);
    else part.set(full.subarray(dst, dst + runBytes), src);
    src += runBytes;
    let d = rank - 2;
    while (d >= 0) {
      idx[d]++;
      if (idx[d] < shape[d]) break;
      idx[d] = 0;
      d--;
    }
    if (d < 0) break;
  }
}
