import type { IdArray } from "./feature-input.js";

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Appends ids into an Int32Array, switching to a BigInt64Array at the first id beyond int32. */
export class IdBuilder {
  private narrow: Int32Array | null = new Int32Array(16);
  private wide: BigInt64Array | null = null;
  length = 0;

  push(id: number | bigint): void {
    if (this.narrow !== null) {
      if (typeof id === "number" && id >= INT32_MIN && id <= INT32_MAX) {
        if (this.length === this.narrow.length) this.narrow = grow(this.narrow, Int32Array);
        this.narrow[this.length++] = id;
        return;
      }
      this.wide = new BigInt64Array(Math.max(16, this.narrow.length));
      for (let i = 0; i < this.length; i++) this.wide[i] = BigInt(this.narrow[i]);
      this.narrow = null;
    }
    if (this.length === this.wide!.length) this.wide = grow(this.wide!, BigInt64Array);
    this.wide![this.length++] = typeof id === "bigint" ? id : BigInt(id);
  }

  finish(): IdArray {
    return this.narrow !== null ? this.narrow.slice(0, this.length) : this.wide!.slice(0, this.length);
  }
}

/** Appends numbers into a growing typed array (`finish` returns exactly what was pushed). */
class NumberBuilder<T extends Float32Array | Int32Array> {
  private data: T;
  length = 0;

  constructor(private readonly Type: { new (n: number): T }) {
    this.data = new Type(16);
  }

  push(value: number): void {
    if (this.length === this.data.length) this.data = grow(this.data, this.Type);
    this.data[this.length++] = value;
  }

  finish(): T {
    return this.data.slice(0, this.length) as T;
  }
}

export class FloatBuilder extends NumberBuilder<Float32Array> {
  constructor() {
    super(Float32Array);
  }
}

export class Int32Builder extends NumberBuilder<Int32Array> {
  constructor() {
    super(Int32Array);
  }
}

/** `data` copied into a typed array twice its length. */
export function grow<T extends Int32Array | Float32Array | BigInt64Array>(
  data: T,
  Type: { new (n: number): T },
): T {
  const next = new Type(data.length * 2);
  (next as unknown as { set(a: T): void }).set(data);
  return next;
}
