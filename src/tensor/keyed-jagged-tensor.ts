import { InvalidArgumentError } from "../errors.js";
import { inferDType, isTensorData, toTypedArray, type TensorData } from "./dtype.js";
import { RaggedTensor } from "./ragged-tensor.js";

type Ids = Int32Array | BigInt64Array;

export interface KeyedJaggedTensorOptions {
  /** Feature names, in the order their values are laid out. */
  readonly keys: readonly string[];
  /** Every key's ids, key after key (int32 or int64; plain numbers become int32, or int64 when large). */
  readonly values: Ids | readonly (number | bigint)[];
  /** Ids per example per key (`keys.length × stride`, key-major). Give this or `offsets`. */
  readonly lengths?: Int32Array | readonly number[];
  /** `keys.length × stride + 1` offsets into `values`, from 0 (the running sum of `lengths`). */
  readonly offsets?: Int32Array | readonly number[];
  /** One float32 weight per id (float64 is converted), or none. */
  readonly weights?: Float32Array | Float64Array | readonly number[] | null;
}

/**
 * Many ragged features of one batch in three flat arrays, TorchRec's `KeyedJaggedTensor`: `values` holds
 * key 0's ids for examples 0..stride-1, then key 1's, and so on; `offsets[k × stride + b]` is where key
 * k's example b starts. `embeddingLookup(kjt)` looks every key up as the RaggedTensor of that key (the
 * same results and errors as `{ [key]: RaggedTensor }` with the weights as ragged weights), without a
 * tensor object per feature: a request of 26 features is three arrays instead of 78 objects.
 */
export class KeyedJaggedTensor {
  readonly keys: readonly string[];
  readonly values: Ids;
  readonly weights: Float32Array | null;
  /** `keys.length × stride + 1` offsets into `values`. */
  readonly offsets: Int32Array;
  /** Examples per key (the batch size). */
  readonly stride: number;

  constructor(options: KeyedJaggedTensorOptions) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError(
        "KeyedJaggedTensor: expected { keys, values, lengths | offsets, weights? }.",
      );
    }
    const keys = options.keys;
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== "string")) {
      throw new InvalidArgumentError("KeyedJaggedTensor: keys must be an array of strings.");
    }
    if (new Set(keys).size !== keys.length) {
      const repeated = keys.find((k, i) => keys.indexOf(k) !== i);
      throw new InvalidArgumentError(`KeyedJaggedTensor: key "${repeated}" appears twice.`);
    }
    // A frozen key list is kept as is: batches that share one also share its lookup's cached layout.
    this.keys = Object.isFrozen(keys) ? keys : Object.freeze([...keys]);
    this.values = idsOf(options.values);
    if ((options.lengths === undefined) === (options.offsets === undefined)) {
      throw new InvalidArgumentError("KeyedJaggedTensor: give exactly one of lengths and offsets.");
    }
    this.offsets =
      options.offsets !== undefined
        ? checkedOffsets(options.offsets, this.values.length)
        : offsetsOf(options.lengths!, this.values.length);
    const slots = this.offsets.length - 1;
    if (keys.length === 0 ? slots !== 0 : slots % keys.length !== 0) {
      throw new InvalidArgumentError(
        `KeyedJaggedTensor: ${slots} lengths do not split evenly over ${keys.length} keys (expected keys × batch size).`,
      );
    }
    this.stride = keys.length === 0 ? 0 : slots / keys.length;
    this.weights = weightsOf(options.weights ?? null, this.values.length);
  }

  /** Ids per example per key (key-major), from the offsets. */
  lengths(): Int32Array {
    const out = new Int32Array(this.offsets.length - 1);
    for (let i = 0; i < out.length; i++) out[i] = this.offsets[i + 1] - this.offsets[i];
    return out;
  }

  /** Key `k`'s ids as a RaggedTensor over the same memory (the row splits are rebased to 0). */
  ragged(k: number): RaggedTensor {
    return RaggedTensor.fromRowSplits(this.values.subarray(...this.span(k)) as TensorData, this.splits(k));
  }

  /** Key `k`'s weights as a RaggedTensor beside `ragged(k)`, or null without weights. */
  raggedWeights(k: number): RaggedTensor<Float32Array> | null {
    if (this.weights === null) return null;
    return RaggedTensor.fromRowSplits(this.weights.subarray(...this.span(k)), this.splits(k));
  }

  /** `{ key: RaggedTensor }` (TorchRec's `to_dict`), and the weights alike (null without weights). */
  toDict(): { features: Record<string, RaggedTensor>; weights: Record<string, RaggedTensor> | null } {
    const features: Record<string, RaggedTensor> = {};
    const weights: Record<string, RaggedTensor> | null = this.weights === null ? null : {};
    this.keys.forEach((key, k) => {
      features[key] = this.ragged(k);
      if (weights !== null) weights[key] = this.raggedWeights(k)!;
    });
    return { features, weights };
  }

  toString(): string {
    return `KeyedJaggedTensor(keys=[${this.keys.join(", ")}], stride=${this.stride}, nvals=${this.values.length})`;
  }

  private span(k: number): [number, number] {
    return [this.offsets[k * this.stride], this.offsets[(k + 1) * this.stride]];
  }

  private splits(k: number): Int32Array {
    const base = k * this.stride;
    const splits = new Int32Array(this.stride + 1);
    for (let b = 0; b <= this.stride; b++) splits[b] = this.offsets[base + b] - this.offsets[base];
    return splits;
  }
}

function idsOf(values: KeyedJaggedTensorOptions["values"]): Ids {
  if (values instanceof Int32Array || values instanceof BigInt64Array) return values;
  if (isTensorData(values) || !Array.isArray(values)) {
    throw new InvalidArgumentError("KeyedJaggedTensor: values must be int32 or int64 ids.");
  }
  const dtype = values.length === 0 ? "int32" : inferDType(values, "KeyedJaggedTensor values");
  if (dtype !== "int32" && dtype !== "int64") {
    throw new InvalidArgumentError("KeyedJaggedTensor: values must be integer ids.");
  }
  return toTypedArray(values, dtype, "KeyedJaggedTensor values") as Ids;
}

function offsetsOf(lengths: Int32Array | readonly number[], total: number): Int32Array {
  const offsets = new Int32Array(lengths.length + 1);
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i];
    if (!Number.isInteger(n) || n < 0) {
      throw new InvalidArgumentError(`KeyedJaggedTensor: lengths[${i}] is ${n}, expected an integer >= 0.`);
    }
    offsets[i + 1] = offsets[i] + n;
  }
  if (offsets[lengths.length] !== total) {
    throw new InvalidArgumentError(
      `KeyedJaggedTensor: the lengths add up to ${offsets[lengths.length]} but there are ${total} values.`,
    );
  }
  return offsets;
}

function checkedOffsets(offsets: Int32Array | readonly number[], total: number): Int32Array {
  const out = offsets instanceof Int32Array ? offsets : Int32Array.from(offsets);
  if (out.length < 1 || out[0] !== 0)
    throw new InvalidArgumentError("KeyedJaggedTensor: offsets must start with 0.");
  for (let i = 1; i < out.length; i++) {
    if (out[i] < out[i - 1] || (!(offsets instanceof Int32Array) && out[i] !== offsets[i])) {
      throw new InvalidArgumentError(
        `KeyedJaggedTensor: offsets must be non-decreasing integers, got ${String(offsets[i])} at ${i}.`,
      );
    }
  }
  if (out[out.length - 1] !== total) {
    throw new InvalidArgumentError(
      `KeyedJaggedTensor: the last offset (${out[out.length - 1]}) must equal the number of values (${total}).`,
    );
  }
  return out;
}

function weightsOf(weights: KeyedJaggedTensorOptions["weights"], total: number): Float32Array | null {
  if (weights === null || weights === undefined) return null;
  const out =
    weights instanceof Float32Array
      ? weights
      : weights instanceof Float64Array || Array.isArray(weights)
        ? Float32Array.from(weights)
        : null;
  if (out === null) throw new InvalidArgumentError("KeyedJaggedTensor: weights must be float32 values.");
  if (out.length !== total) {
    throw new InvalidArgumentError(`KeyedJaggedTensor: ${out.length} weights for ${total} values.`);
  }
  return out;
}
