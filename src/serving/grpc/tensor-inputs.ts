/**
 * `PredictRequest.inputs` (TensorFlow `TensorProto`s) → the server's `PredictInputs`, straight into typed
 * arrays. Per feature `<f>`:
 *  - `<f>` alone: a dense id tensor of any rank (TF's plain gather: output `shape + [dim]`);
 *  - `<f>` (1-D values) + `<f>_row_splits`: a ragged batch (TF's RaggedTensor);
 *  - `<f>` (1-D values) + `<f>_indices` `[nnz, rank]` + `<f>_dense_shape` `[rank]`: a sparse batch;
 *  - `<f>_weights` (float32, the ids' structure) with the ragged or sparse forms.
 * Ids are DT_INT32 or DT_INT64, in `tensor_content` (little-endian, exactly `n * size` bytes) or the typed
 * repeated field (`int_val`, `int64_val`) with TF's version-0 rule: a single value fills the shape. Every
 * length is checked against the shape before anything is read or allocated.
 */
import { InvalidArgumentError } from "../../errors.js";
import type { FeatureInput, IdArray, PredictInputs } from "../batching/feature-input.js";
import type { ModelFeatures } from "../batching/model-features.js";
import type { TensorView as TensorProto } from "./tensor-wire.js";
import { DataType } from "./proto/gen/tensorflow/core/framework/types_pb.js";

export const ROW_SPLITS_SUFFIX = "_row_splits";
export const INDICES_SUFFIX = "_indices";
export const DENSE_SHAPE_SUFFIX = "_dense_shape";
export const WEIGHTS_SUFFIX = "_weights";
const COMPANIONS = [ROW_SPLITS_SUFFIX, INDICES_SUFFIX, DENSE_SHAPE_SUFFIX, WEIGHTS_SUFFIX] as const;
type Companion = (typeof COMPANIONS)[number];

const MAX_RANK = 8;
const MAX_DIM = 2 ** 31 - 1;
const MAX_DIM_BIG = BigInt(MAX_DIM);

interface FeatureTensors {
  values?: TensorProto;
  parts: Map<Companion, TensorProto>;
}

/** The names a feature may be sent under, in signature order: `<f>`, `<f>_row_splits`, ... */
export function inputNames(feature: string): string[] {
  return [feature, ...COMPANIONS.map((s) => feature + s)];
}

/**
 * Every input name a model takes: its feature and companion suffix (null for the ids), once per model
 * (a request's 52 names looked up in one map, not each tested against every suffix). A feature's own
 * name wins over a companion reading of it, as TF Serving's signature would list it.
 */
const aliasCache = new WeakMap<ModelFeatures, Map<string, readonly [string, Companion | null]>>();

function aliasesOf(features: ModelFeatures): Map<string, readonly [string, Companion | null]> {
  let aliases = aliasCache.get(features);
  if (aliases === undefined) {
    aliases = new Map();
    for (const feature of features.byName.keys())
      for (const suffix of COMPANIONS) aliases.set(feature + suffix, [feature, suffix]);
    for (const feature of features.byName.keys()) aliases.set(feature, [feature, null]);
    aliasCache.set(features, aliases);
  }
  return aliases;
}

/**
 * Decodes every input; `maxElements` bounds any one tensor's element count (checked before allocating,
 * so a one-value `int64_val` cannot be broadcast to a huge shape).
 */
export function decodeTensorInputs(
  inputs: Readonly<Record<string, TensorProto>>,
  features: ModelFeatures,
  maxElements: number,
): PredictInputs {
  const byFeature = new Map<string, FeatureTensors>();
  const aliases = aliasesOf(features);
  for (const [alias, tensor] of Object.entries(inputs)) {
    const known = aliases.get(alias);
    if (known === undefined) {
      const expected = [...features.byName.keys()].flatMap(inputNames).join(",");
      throw new InvalidArgumentError(
        `input tensor alias not found in signature: ${alias}. Inputs expected to be in the set {${expected}}.`,
      );
    }
    const [feature, suffix] = known;
    let e = byFeature.get(feature);
    if (e === undefined) byFeature.set(feature, (e = { parts: new Map() }));
    if (suffix === null) e.values = tensor;
    else e.parts.set(suffix, tensor);
  }
  if (byFeature.size === 0) throw new InvalidArgumentError("The request has no inputs.");
  const out = new Map<string, FeatureInput>();
  for (const [feature, tensors] of byFeature) out.set(feature, decodeFeature(feature, tensors, maxElements));
  return out;
}

function decodeFeature(feature: string, tensors: FeatureTensors, maxElements: number): FeatureInput {
  const { values, parts } = tensors;
  if (values === undefined) {
    const given = [...parts.keys()].map((s) => feature + s).join(", ");
    throw new InvalidArgumentError(
      `Input "${given}" needs the ids input "${feature}" beside it (the feature's values).`,
    );
  }
  const splits = parts.get(ROW_SPLITS_SUFFIX);
  const indices = parts.get(INDICES_SUFFIX);
  const denseShape = parts.get(DENSE_SHAPE_SUFFIX);
  const weights = parts.get(WEIGHTS_SUFFIX);
  if (splits !== undefined && (indices !== undefined || denseShape !== undefined)) {
    throw new InvalidArgumentError(
      `Feature "${feature}": give "${feature}${ROW_SPLITS_SUFFIX}" (ragged) or "${feature}${INDICES_SUFFIX}" ` +
        `with "${feature}${DENSE_SHAPE_SUFFIX}" (sparse), not both.`,
    );
  }
  if ((indices === undefined) !== (denseShape === undefined)) {
    throw new InvalidArgumentError(
      `Feature "${feature}": a sparse input needs both "${feature}${INDICES_SUFFIX}" and ` +
        `"${feature}${DENSE_SHAPE_SUFFIX}".`,
    );
  }
  if (splits === undefined && indices === undefined) {
    if (weights !== undefined) {
      throw new InvalidArgumentError(
        `Input "${feature}${WEIGHTS_SUFFIX}": a dense input "${feature}" takes no weights (TF's plain gather); ` +
          `send "${feature}${ROW_SPLITS_SUFFIX}" or "${feature}${INDICES_SUFFIX}" for weighted bags.`,
      );
    }
    const shape = shapeOf(values, feature, maxElements);
    return { kind: "dense", ids: readIds(values, feature, shape), shape };
  }
  const n = vectorLength(values, feature, maxElements);
  const ids = readIds(values, feature, [n]);
  const w = weights === undefined ? null : readWeights(weights, feature + WEIGHTS_SUFFIX, n, maxElements);
  if (splits !== undefined) {
    const name = feature + ROW_SPLITS_SUFFIX;
    const count = vectorLength(splits, name, maxElements);
    if (count < 1) throw new InvalidArgumentError(`Input "${name}" is empty; row splits start with 0.`);
    const rowSplits = readRowSplits(splits, name, count, n);
    return { kind: "ragged", ids, rowSplits, weights: w };
  }
  const shapeName = feature + DENSE_SHAPE_SUFFIX;
  const rank = vectorLength(denseShape!, shapeName, MAX_RANK);
  if (rank < 1)
    throw new InvalidArgumentError(`Input "${shapeName}" is empty; a sparse tensor has rank >= 1.`);
  const dims = Array.from(readInt64Like(denseShape!, shapeName, rank), (d, i) => {
    if (d < 0n || d > BigInt(MAX_DIM)) {
      throw new InvalidArgumentError(
        `Input "${shapeName}": dimension ${i} is ${d}; expected 0 to ${MAX_DIM}.`,
      );
    }
    return Number(d);
  });
  const indicesName = feature + INDICES_SUFFIX;
  const indexShape = shapeOf(indices!, indicesName, maxElements * MAX_RANK);
  if (indexShape.length !== 2 || indexShape[0] !== n || indexShape[1] !== rank) {
    throw new InvalidArgumentError(
      `Input "${indicesName}" has shape [${indexShape.join(", ")}]; expected [${n}, ${rank}] ` +
        `(one coordinate per value of "${feature}", rank of "${shapeName}").`,
    );
  }
  const coordinates = readInt64Like(indices!, indicesName, n * rank);
  for (let i = 0; i < coordinates.length; i++) {
    const d = i % rank;
    if (coordinates[i] < 0n || coordinates[i] >= BigInt(dims[d])) {
      throw new InvalidArgumentError(
        `Input "${indicesName}": [${Math.floor(i / rank)}][${d}] is ${coordinates[i]}, outside ` +
          `dense_shape [${dims.join(", ")}].`,
      );
    }
  }
  return { kind: "sparse", ids, indices: coordinates, denseShape: dims, weights: w };
}

/** The tensor's dims (each 0..2^31-1, at most MAX_RANK, at most `maxElements` elements). */
function shapeOf(t: TensorProto, name: string, maxElements: number): number[] {
  const shape = t.tensorShape;
  if (shape === undefined) return [];
  if (shape.unknownRank)
    throw new InvalidArgumentError(`Input "${name}" has an unknown rank; give its shape.`);
  if (shape.dim.length > MAX_RANK) {
    throw new InvalidArgumentError(`Input "${name}" has rank ${shape.dim.length}; at most ${MAX_RANK}.`);
  }
  let elements = 1;
  const dims = shape.dim.map((d, i) => {
    if (d.size < 0n || d.size > MAX_DIM_BIG) {
      throw new InvalidArgumentError(
        `Input "${name}": dimension ${i} has size ${d.size}; expected 0 to ${MAX_DIM}.`,
      );
    }
    const size = Number(d.size);
    elements *= size;
    return size;
  });
  if (elements > maxElements) {
    throw new InvalidArgumentError(
      `Input "${name}" has shape [${dims.join(", ")}] (${elements} values); this server accepts at most ` +
        `${maxElements} (--max-ids-per-request).`,
    );
  }
  return dims;
}

function vectorLength(t: TensorProto, name: string, maxElements: number): number {
  const dims = shapeOf(t, name, maxElements);
  if (dims.length !== 1) {
    throw new InvalidArgumentError(`Input "${name}" has shape [${dims.join(", ")}]; expected a 1-D tensor.`);
  }
  return dims[0];
}

function dtypeName(dtype: DataType): string {
  return DataType[dtype] ?? `DataType ${dtype}`;
}

/** Checks the count of a repeated field against the shape: exact, or one value repeated (TF's version 0). */
function repeatedCount(count: number, n: number, name: string, field: string): void {
  if (count === n || (count === 1 && n > 0)) return;
  throw new InvalidArgumentError(
    `Input "${name}": ${field} has ${count} values but its shape holds ${n} (give ${n} values, or 1 to fill it).`,
  );
}

type TypedArrayOf<T> = {
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * `tensor_content` of exactly `n` elements: a view of the request's bytes when they are aligned for the
 * element type, else an aligned copy.
 */
function content<T>(t: TensorProto, name: string, n: number, type: TypedArrayOf<T>): T {
  const bytes = type.BYTES_PER_ELEMENT;
  const raw = t.tensorContent;
  if (raw.byteLength !== n * bytes) {
    throw new InvalidArgumentError(
      `Input "${name}": tensor_content has ${raw.byteLength} bytes; ${dtypeName(t.dtype)} of shape ` +
        `[${(t.tensorShape?.dim ?? []).map((d) => d.size).join(", ")}] needs ${n * bytes}.`,
    );
  }
  // Short int32 contents are copied byte by byte into a typed array V8 keeps on its heap, without
  // touching `raw.buffer`: for a short message that is itself on V8's heap, `.buffer` copies it off the
  // heap, and a fresh ArrayBuffer per tensor cost ~1 µs (most of a batch-1 request's decoding).
  if (n <= SHORT_COPY && type === (Int32Array as unknown)) {
    const out = new Int32Array(n);
    for (let i = 0, b = 0; i < n; i++, b += 4)
      out[i] = raw[b] | (raw[b + 1] << 8) | (raw[b + 2] << 16) | (raw[b + 3] << 24);
    return out as T;
  }
  if (raw.byteOffset % bytes === 0 && raw.buffer instanceof ArrayBuffer) {
    return new type(raw.buffer, raw.byteOffset, n);
  }
  const out = new ArrayBuffer(raw.byteLength);
  new Uint8Array(out).set(raw);
  return new type(out, 0, n);
}

/** int32 contents up to this many values are copied element by element (see `content`). */
const SHORT_COPY = 64;

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function readIds(t: TensorProto, name: string, shape: readonly number[]): IdArray {
  const n = elementCount(shape);
  if (t.dtype === DataType.DT_INT64) {
    if (t.tensorContent.byteLength > 0 || n === 0) return content(t, name, n, BigInt64Array);
    repeatedCount(t.int64Val.length, n, name, "int64_val");
    if (t.int64Val.length < n) return new BigInt64Array(n).fill(t.int64Val[0]);
    return t.int64Val instanceof BigInt64Array ? t.int64Val : BigInt64Array.from(t.int64Val);
  }
  if (t.dtype === DataType.DT_INT32) {
    if (t.tensorContent.byteLength > 0 || n === 0) return content(t, name, n, Int32Array);
    repeatedCount(t.intVal.length, n, name, "int_val");
    if (t.intVal.length < n) return new Int32Array(n).fill(t.intVal[0]);
    return t.intVal instanceof Int32Array ? t.intVal : Int32Array.from(t.intVal);
  }
  throw new InvalidArgumentError(
    `Input "${name}" is ${dtypeName(t.dtype)}; ids must be DT_INT64 or DT_INT32.`,
  );
}

/** int64 (or int32) values as a BigInt64Array: row splits, sparse indices and shapes. */
function readInt64Like(t: TensorProto, name: string, n: number): BigInt64Array {
  const ids = readIds(t, name, [n]);
  return ids instanceof BigInt64Array ? ids : BigInt64Array.from(ids, (v) => BigInt(v));
}

function readRowSplits(t: TensorProto, name: string, count: number, n: number): Int32Array {
  const raw = readIds(t, name, [count]);
  const out = new Int32Array(count);
  let previous = 0;
  for (let i = 0; i < count; i++) {
    const s = Number(raw[i]);
    if ((i === 0 && s !== 0) || s < previous || s > n) {
      throw new InvalidArgumentError(
        `Input "${name}": row_splits[${i}] is ${raw[i]}; row splits start at 0, never decrease and end at ` +
          `the number of values (${n}).`,
      );
    }
    out[i] = previous = s;
  }
  if (out[count - 1] !== n) {
    throw new InvalidArgumentError(
      `Input "${name}": the last row split (${out[count - 1]}) must equal the number of values (${n}).`,
    );
  }
  return out;
}

function readWeights(t: TensorProto, name: string, n: number, maxElements: number): Float32Array {
  const dims = shapeOf(t, name, maxElements);
  if (dims.length !== 1 || dims[0] !== n) {
    throw new InvalidArgumentError(
      `Input "${name}" has shape [${dims.join(", ")}]; expected [${n}] (one weight per id).`,
    );
  }
  if (t.dtype !== DataType.DT_FLOAT) {
    throw new InvalidArgumentError(`Input "${name}" is ${dtypeName(t.dtype)}; weights must be DT_FLOAT.`);
  }
  if (t.tensorContent.byteLength > 0 || n === 0) return content(t, name, n, Float32Array);
  repeatedCount(t.floatVal.length, n, name, "float_val");
  if (t.floatVal.length < n) return new Float32Array(n).fill(t.floatVal[0]);
  return t.floatVal instanceof Float32Array ? t.floatVal : Float32Array.from(t.floatVal);
}

// Encoding (clients, benchmarks) -------------------------------------------------------------------------

/** A TensorProto as a plain init object (tensor_content, little-endian). */
export interface TensorInit {
  dtype: DataType;
  tensorShape: { dim: { size: bigint; name: string }[] };
  tensorContent: Uint8Array;
}

function tensor(dtype: DataType, data: ArrayBufferView, dims: readonly number[]): TensorInit {
  return {
    dtype,
    tensorShape: { dim: dims.map((d) => ({ size: BigInt(d), name: "" })) },
    tensorContent: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function idTensor(ids: IdArray, dims: readonly number[]): TensorInit {
  return tensor(ids instanceof BigInt64Array ? DataType.DT_INT64 : DataType.DT_INT32, ids, dims);
}

/** `PredictInputs` → `PredictRequest.inputs`, named as `decodeTensorInputs` reads them. */
export function encodeTensorInputs(inputs: PredictInputs): Record<string, TensorInit> {
  const out: Record<string, TensorInit> = {};
  for (const [name, input] of inputs) {
    if (input.kind === "dense") {
      out[name] = idTensor(input.ids, input.shape);
      continue;
    }
    out[name] = idTensor(input.ids, [input.ids.length]);
    if (input.kind === "ragged") {
      out[name + ROW_SPLITS_SUFFIX] = tensor(DataType.DT_INT32, input.rowSplits, [input.rowSplits.length]);
    } else {
      const rank = input.denseShape.length;
      out[name + INDICES_SUFFIX] = tensor(DataType.DT_INT64, input.indices, [input.ids.length, rank]);
      out[name + DENSE_SHAPE_SUFFIX] = tensor(
        DataType.DT_INT64,
        BigInt64Array.from(input.denseShape, BigInt),
        [rank],
      );
    }
    if (input.weights !== null)
      out[name + WEIGHTS_SUFFIX] = tensor(DataType.DT_FLOAT, input.weights, [input.weights.length]);
  }
  return out;
}

/** A float32 output TensorProto → its shape and values (copied out of the message's bytes). */
export function decodeFloatTensor(t: TensorProto, name: string): { shape: number[]; data: Float32Array } {
  if (t.dtype !== DataType.DT_FLOAT)
    throw new InvalidArgumentError(`Output "${name}" is ${dtypeName(t.dtype)}, expected DT_FLOAT.`);
  const shape = shapeOf(t, name, Number.MAX_SAFE_INTEGER);
  const n = elementCount(shape);
  if (t.tensorContent.byteLength === 0 && n > 0) {
    repeatedCount(t.floatVal.length, n, name, "float_val");
    return {
      shape,
      data: t.floatVal.length === n ? Float32Array.from(t.floatVal) : new Float32Array(n).fill(t.floatVal[0]),
    };
  }
  return { shape, data: content(t, name, n, Float32Array).slice() };
}
