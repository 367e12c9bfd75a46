/** LevelDB's BlockBuilder: prefix-compressed entries with a restart point every `restartInterval`. */
import { ByteSink } from "./coding.js";

export class BlockBuilder {
  private readonly sink = new ByteSink(4096);
  private restarts: number[] = [0];
  private counter = 0;
  private lastKey: Uint8Array = new Uint8Array(0);
  private entries = 0;

  constructor(private readonly restartInterval: number) {}

  get empty(): boolean {
    return this.entries === 0;
  }

  add(key: Uint8Array, value: Uint8Array): void {
    let shared = 0;
    if (this.counter < this.restartInterval) {
      const n = Math.min(this.lastKey.length, key.length);
      while (shared < n && this.lastKey[shared] === key[shared]) shared++;
    } else {
      this.restarts.push(this.sink.length);
      this.counter = 0;
    }
    this.sink.varint(shared);
    this.sink.varint(key.length - shared);
    this.sink.varint(value.length);
    this.sink.bytes(key.subarray(shared));
    this.sink.bytes(value);
    this.lastKey = key;
    this.counter++;
    this.entries++;
  }

  /** Bytes the finished block would take: entries + restart array + restart count. */
  currentSizeEstimate(): number {
    return this.sink.length + 4 * this.restarts.length + 4;
  }

  /** Appends the restart array and returns the block contents (a copy); then resets the builder. */
  finish(): Uint8Array {
    for (const r of this.restarts) this.sink.fixed32(r);
    this.sink.fixed32(this.restarts.length);
    const out = this.sink.toBytes();
    this.sink.clear();
    this.restarts = [0];
    this.counter = 0;
    this.lastKey = new Uint8Array(0);
    this.entries = 0;
    return out;
  }
}
