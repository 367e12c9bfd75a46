/**
 * A map of values made once per key, emptied when it reaches `max` keys, for values every request
 * repeats (output names as bytes, routes by path): a hit is one map lookup, and keys a client invents
 * cannot grow it without bound.
 */
export class BoundedCache<K, V> {
  private readonly values = new Map<K, V>();

  constructor(private readonly max: number) {}

  get(key: K, make: (key: K) => V): V {
    let value = this.values.get(key);
    if (value === undefined) {
      if (this.values.size >= this.max) this.values.clear();
      value = make(key);
      this.values.set(key, value);
    }
    return value;
  }
}

const utf8 = new TextEncoder();
const utf8Names = new BoundedCache<string, Uint8Array>(4096);

/** An output name as UTF-8 (shared by the binary and gRPC answers; never to be written to). */
export function utf8Name(name: string): Uint8Array {
  return utf8Names.get(name, (n) => utf8.encode(n));
}
