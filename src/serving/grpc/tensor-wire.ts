/**
 * `tensorflow.TensorProto` on the wire, read and written by hand for the Predict hot path: a request's
 * TensorProto bytes become typed arrays with no intermediate message objects, and a float32 output is
 * written as `dtype`, `tensor_shape` and `tensor_content` around one copy of the lookup's output memory.
 * Field numbers: dtype 1, tensor_shape 2 (dim 2 { size 1, name 2 }, unknown_rank 3), version_number 3,
 * tensor_content 4, float_val 5, int_val 7, int64_val 10; everything else is skipped as protobuf says.
 */
import { InvalidArgumentError } from "../../errors.js";
import { DataType } from "./proto/gen/tensorflow/core/framework/types_pb.js";

/** The parts of a TensorProto the decoder reads (the shape of protobuf-es's TensorProto, as typed arrays). */
export interface TensorView {
  readonly dtype: DataType;
  readonly tensorShape?: {
    readonly dim: readonly { readonly size: bigint }[];
    readonly unknownRank: boolean;
  };
  readonly tensorContent: Uint8Array;
  readonly intVal: ArrayLike<number>;
  readonly int64Val: ArrayLike<bigint>;
  readonly floatVal: ArrayLike<number>;
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
const EMPTY: Uint8Array = new Uint8Array(0);

class WireReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    readonly name: string,
  ) {
    this.pos = start;
  }

  fail(what: string): never {
    throw new InvalidArgumentError(`Input "${this.name}": not a valid TensorProto (${what}).`);
  }

  /** A varint as a number (exact below 2^53; callers that need 64 bits use varint64). */
  varint(): number {
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * shift;
      if (b < 0x80) return result;
      shift *= 128;
    }
    this.fail("varint longer than 10 bytes");
  }

  /** A varint as a two's-complement int64. */
  varint64(): bigint {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if (b < 0x80) {
        if (hi === 0 && lo >= 0) return BigInt(lo);
        return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
      }
      shift += 7;
    }
    this.fail("varint longer than 10 bytes");
  }

  /** A length-delimited field's bounds. */
  length(): number {
    const n = this.varint();
    if (n > this.end - this.pos) this.fail("length beyond the message");
    return n;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case I64:
        this.advance(8);
        return;
      case LEN: {
        const n = this.length(); // before reading pos: length() advances it
        this.pos += n;
        return;
      }
      case I32:
        this.advance(4);
        return;
      default:
        this.fail(`wire type ${wireType}`);
    }
  }

  advance(n: number): void {
    if (n > this.end - this.pos) this.fail("truncated field");
    this.pos += n;
  }
}

/**
 * Repeated scalars arrive packed (one LEN field) or one per field, possibly mixed: kept in order. Made
 * only when the field appears (a request's tensors usually carry `tensor_content` and none of them).
 */
class Repeated<A extends Int32Array | BigInt64Array | Float32Array> {
  private readonly parts: A[] = [];
  constructor(private readonly make: (n: number) => A) {}
  add(values: A): void {
    this.parts.push(values);
  }
  flat(): A {
    if (this.parts.length === 1) return this.parts[0];
    const out = this.make(this.parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of this.parts) {
      (out as Int32Array).set(p as Int32Array, offset);
      offset += p.length;
    }
    return out;
  }
}

const makeInt32 = (n: number): Int32Array => new Int32Array(n);
const makeInt64 = (n: number): BigInt64Array => new BigInt64Array(n);
const makeFloat32 = (n: number): Float32Array => new Float32Array(n);
/** What an absent repeated field reads as (never written to: shared by every tensor). */
const NO_INT32: ArrayLike<number> = Object.freeze([]);
const NO_INT64: ArrayLike<bigint> = Object.freeze([]);
const NO_FLOAT32: ArrayLike<number> = Object.freeze([]);

/** Packed varints (or one unpacked) as int64: counted first (bytes without the continuation bit). */
function readVarints(r: WireReader, wire: number): BigInt64Array<ArrayBuffer> {
  if (wire === VARINT) return BigInt64Array.of(r.varint64());
  const n = r.length();
  const end = r.pos + n;
  let count = 0;
  for (let i = r.pos; i < end; i++) if (r.buf[i] < 0x80) count++;
  const out = new BigInt64Array(count);
  const inner = new WireReader(r.buf, r.pos, end, r.name);
  for (let i = 0; i < count; i++) out[i] = inner.varint64();
  if (inner.pos !== end) r.fail("truncated packed varints");
  r.pos = end;
  return out;
}

/** Parses one serialized TensorProto (bytes of `PredictRequest.inputs[name]`). */
export function readTensorProto(bytes: Uint8Array, name: string): TensorView {
  // No DataView up front: `.buffer` of a short message V8 keeps on its heap copies it off the heap, which
  // cost more than the rest of reading it (row splits and batch-1 ids are such messages).
  const r = new WireReader(bytes, 0, bytes.byteLength, name);
  let dtype = DataType.DT_INVALID;
  let tensorShape: TensorView["tensorShape"];
  let tensorContent = EMPTY;
  let intVal: Repeated<Int32Array> | null = null;
  let int64Val: Repeated<BigInt64Array> | null = null;
  let floatVal: Repeated<Float32Array> | null = null;
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === VARINT) dtype = r.varint() | 0;
    else if (field === 2 && wire === LEN) {
      const n = r.length();
      tensorShape = readShape(new WireReader(bytes, r.pos, r.pos + n, name), tensorShape);
      r.pos += n;
    } else if (field === 4 && wire === LEN) {
      const n = r.length();
      tensorContent = bytes.subarray(r.pos, r.pos + n);
      r.pos += n;
    } else if (field === 7 && (wire === LEN || wire === VARINT)) {
      (intVal ??= new Repeated(makeInt32)).add(
        Int32Array.from(readVarints(r, wire), (v) => Number(BigInt.asIntN(32, v))),
      );
    } else if (field === 10 && (wire === LEN || wire === VARINT)) {
      (int64Val ??= new Repeated(makeInt64)).add(readVarints(r, wire));
    } else if (field === 5 && (wire === LEN || wire === I32)) {
      const n = wire === LEN ? r.length() : 4;
      if (n % 4 !== 0) r.fail("float_val length not a multiple of 4");
      if (n > r.end - r.pos) r.fail("truncated float_val");
      const values = new Float32Array(n / 4);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(r.pos + 4 * i, true);
      r.pos += n;
      (floatVal ??= new Repeated(makeFloat32)).add(values);
    } else r.skip(wire);
  }
  return {
    dtype,
    tensorShape,
    tensorContent,
    intVal: intVal?.flat() ?? NO_INT32,
    int64Val: int64Val?.flat() ?? NO_INT64,
    floatVal: floatVal?.flat() ?? NO_FLOAT32,
  };
}

function readShape(
  r: WireReader,
  previous: TensorView["tensorShape"],
): NonNullable<TensorView["tensorShape"]> {
  // A repeated message field merges: dims append, unknown_rank last wins.
  const dim = previous === undefined ? [] : [...previous.dim];
  let unknownRank = previous?.unknownRank ?? false;
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 2 && wire === LEN) {
      const n = r.length();
      const d = new WireReader(r.buf, r.pos, r.pos + n, r.name);
      let size = 0n;
      while (d.pos < d.end) {
        const t = d.varint();
        if (t === 8) size = d.varint64();
        else d.skip(t & 7);
      }
      dim.push({ size });
      r.pos += n;
    } else if (field === 3 && wire === VARINT) unknownRank = r.varint() !== 0;
    else r.skip(wire);
  }
  return { dim, unknownRank };
}

// Writing ------------------------------------------------------------------------------------------------

export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

export function writeVarint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 128) {
    out[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

/** The bytes of a serialized float32 TensorProto (see `writeFloatTensorProtoAt`). */
export function floatTensorProtoBytes(data: Float32Array, dims: readonly number[]): number {
  let shapeBytes = 0;
  for (const d of dims) {
    const dimBytes = 1 + varintSize(d);
    shapeBytes += 1 + varintSize(dimBytes) + dimBytes;
  }
  const contentBytes = data.byteLength;
  return 2 + (1 + varintSize(shapeBytes) + shapeBytes) + (1 + varintSize(contentBytes) + contentBytes);
}

/**
 * Writes a serialized float32 TensorProto at `out[pos..]`: `dtype: DT_FLOAT`, `tensor_shape`,
 * `tensor_content` (little-endian). Returns the end.
 */
export function writeFloatTensorProtoAt(
  out: Uint8Array,
  pos: number,
  data: Float32Array,
  dims: readonly number[],
): number {
  let shapeBytes = 0;
  for (const d of dims) {
    const dimBytes = 1 + varintSize(d);
    shapeBytes += 1 + varintSize(dimBytes) + dimBytes;
  }
  const contentBytes = data.byteLength;
  out[pos++] = 0x08; // dtype
  out[pos++] = DataType.DT_FLOAT;
  out[pos++] = 0x12; // tensor_shape
  pos = writeVarint(out, pos, shapeBytes);
  for (const d of dims) {
    out[pos++] = 0x12; // dim
    pos = writeVarint(out, pos, 1 + varintSize(d));
    out[pos++] = 0x08; // size
    pos = writeVarint(out, pos, d);
  }
  out[pos++] = 0x22; // tensor_content
  pos = writeVarint(out, pos, contentBytes);
  out.set(new Uint8Array(data.buffer, data.byteOffset, contentBytes), pos);
  return pos + contentBytes;
}

/** A serialized float32 TensorProto in a buffer of its own. */
export function writeFloatTensorProto(data: Float32Array, dims: readonly number[]): Uint8Array {
  const out = new Uint8Array(floatTensorProtoBytes(data, dims));
  writeFloatTensorProtoAt(out, 0, data, dims);
  return out;
}
