/**
 * Reads a TensorFlow V2 checkpoint (tensor bundle): the `.index` SSTable with its header and
 * `BundleEntryProto`s, and tensors from the data shards, reassembling partitioned tensors and
 * verifying every CRC-32C.
 */
import { readFile } from "node:fs/promises";
import { DataLossError, InvalidArgumentError, NotFoundError, UnimplementedError } from "../../errors.js";
import { bytesOf, unmaskCrc } from "../crc.js";
import { DecodeError } from "../sstable/coding.js";
import { readTable } from "../sstable/table-reader.js";
import { DataFiles, READ_CHUNK_BYTES } from "./data-files.js";
import {
  arrayElementsPerValue,
  dtypeFromEnum,
  dtypeNameOfEnum,
  type DTypeInfo,
  type NumericArray,
} from "./dtypes.js";
import { decodeEntry, decodeHeader, type BundleEntry, type BundleHeader } from "./entry.js";
import { indexFilename } from "./naming.js";
import {
  checkSlicesCoverTensor,
  copySliceBytes,
  decodeTensorNameSlice,
  encodeTensorNameSlice,
  formatSlice,
  isContiguous,
  sliceShape,
  sliceStarts,
  type TensorSlice,
} from "./slices.js";
import { decodeStringTensor } from "./strings.js";
import { numElements, type NumericTensor, type Tensor } from "./tensor.js";

const utf8Decoder = new TextDecoder("utf-8", { fatal: false });
const utf8Encoder = new TextEncoder();

/** Map key for raw key bytes (latin1 is a 1:1 byte ↔ char mapping). */
function rawKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

export interface VariableInfo {
  readonly key: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Stored pieces of a partitioned tensor; empty for an ordinary entry. */
  readonly slices: readonly TensorSlice[];
  readonly entry: BundleEntry;
}

export interface ReadOptions {
  /** Memory to read into (its length must match); for tables this is the variable's final memory. */
  into?: NumericArray;
  /** Called with the number of bytes after every read from disk. */
  onBytesRead?: (bytes: number) => void;
}

export interface VerifyProblem {
  /** The affected key (`""` for the header, `(index)` for the index file itself). */
  readonly key: string;
  readonly message: string;
}

export interface VerifyReport {
  readonly entriesChecked: number;
  readonly bytesChecked: number;
  readonly problems: readonly VerifyProblem[];
}

function swapBytes(bytes: Uint8Array, width: number): void {
  if (width <= 1) return;
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

export class BundleReader {
  private constructor(
    readonly prefix: string,
    readonly header: BundleHeader,
    private readonly entries: Map<string, { key: Uint8Array; value: Uint8Array }>,
    private readonly ordered: readonly Uint8Array[],
    private readonly data: DataFiles,
  ) {}

  /**
   * Opens `prefix` (`prefix.index` + data shards). The whole index is read and every block checksum
   * verified here; tensor data is read on demand.
   */
  static async open(prefix: string): Promise<BundleReader> {
    const indexPath = indexFilename(prefix);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(indexPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        throw new NotFoundError(
          `Checkpoint index "${indexPath}" not found (no V2 checkpoint at prefix "${prefix}").`,
          {
            cause: e,
          },
        );
      }
      throw e;
    }
    const table = readTable(bytes, indexPath);
    const entries = new Map<string, { key: Uint8Array; value: Uint8Array }>();
    for (const e of table.entries) entries.set(rawKey(e.key), e);
    const first = table.entries[0];
    if (first === undefined || first.key.length !== 0) {
      throw new DataLossError(
        `Corrupt checkpoint index "${indexPath}": the header entry (empty key) is missing.`,
      );
    }
    const header = decodeHeader(first.value, `Checkpoint index "${indexPath}", header entry`);
    return new BundleReader(
      prefix,
      header,
      entries,
      table.entries.map((e) => e.key),
      new DataFiles(prefix, header.numShards),
    );
  }

  async close(): Promise<void> {
    await this.data.close();
  }

  /** Paths of the data shard files. */
  dataFiles(): string[] {
    return Array.from({ length: this.header.numShards }, (_, i) => this.data.path(i));
  }

  private where(key: string): string {
    return `Checkpoint "${this.prefix}", key "${key}"`;
  }

  private entryByBytes(keyBytes: Uint8Array, keyName: string): BundleEntry | undefined {
    const e = this.entries.get(rawKey(keyBytes));
    return e === undefined ? undefined : decodeEntry(e.value, this.where(keyName));
  }

  has(key: string): boolean {
    return key !== "" && this.entries.has(rawKey(utf8Encoder.encode(key)));
  }

  /** The entry stored under `key`; NotFoundError if absent. */
  entry(key: string): BundleEntry {
    const e = key === "" ? undefined : this.entryByBytes(utf8Encoder.encode(key), key);
    if (e === undefined) throw new NotFoundError(`Key "${key}" not found in checkpoint "${this.prefix}".`);
    return e;
  }

  /** Every tensor key, like `tf.train.list_variables`: slice entries hidden, sorted bytewise. */
  listVariables(): VariableInfo[] {
    const out: VariableInfo[] = [];
    for (const keyBytes of this.ordered) {
      if (keyBytes.length === 0 || keyBytes[0] === 0) continue;
      const key = utf8Decoder.decode(keyBytes);
      const entry = this.entryByBytes(keyBytes, key) as BundleEntry;
      out.push({ key, dtype: dtypeNameOfEnum(entry.dtype), shape: entry.shape, slices: entry.slices, entry });
    }
    return out;
  }

  /** Reads a whole tensor, verifying its checksum(s); partitioned tensors are reassembled. */
  async readTensor(key: string, options: ReadOptions = {}): Promise<Tensor> {
    const entry = this.entry(key);
    const info = dtypeFromEnum(entry.dtype, key);
    if (info.dtype === "string") {
      if (entry.slices.length > 0)
        throw new UnimplementedError(`${this.where(key)}: partitioned string tensors are not supported.`);
      return { dtype: "string", shape: entry.shape, data: await this.readStrings(key, entry) };
    }
    const data = this.target(key, info, entry.shape, options.into);
    const bytes = bytesOf(data);
    if (entry.slices.length === 0) {
      await this.readPlainBytes(key, entry, info, bytes, options.onBytesRead);
    } else {
      await this.readSlicedBytes(key, entry, info, bytes, options.onBytesRead);
    }
    return { dtype: info.dtype, shape: entry.shape, data } as NumericTensor;
  }

  /**
   * Reads rows `[start, start + count)` (along the first dimension) without reading the rest of the
   * tensor. Only the bytes of those rows are read, so the entry checksum (which covers the whole
   * tensor) cannot be verified; use `readTensor` or `verify` for that.
   */
  async readRows(
    key: string,
    start: number,
    count: number,
    options: ReadOptions = {},
  ): Promise<NumericTensor> {
    const entry = this.entry(key);
    const info = dtypeFromEnum(entry.dtype, key);
    if (info.dtype === "string")
      throw new UnimplementedError(`${this.where(key)}: readRows does not support strings.`);
    if (entry.shape.length === 0) throw new InvalidArgumentError(`${this.where(key)}: a scalar has no rows.`);
    const rows = entry.shape[0];
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(count) ||
      start < 0 ||
      count < 0 ||
      start + count > rows
    ) {
      throw new InvalidArgumentError(
        `${this.where(key)}: rows [${start}, ${start + count}) are outside [0, ${rows}).`,
      );
    }
    const shape = [count, ...entry.shape.slice(1)];
    const data = this.target(key, info, shape, options.into);
    const out = bytesOf(data);
    const rowBytes = numElements(entry.shape.slice(1)) * info.elementSize;
    if (entry.slices.length === 0) {
      this.checkPlainSize(key, entry, info);
      await this.data.readInto(
        entry.shardId,
        entry.offset + start * rowBytes,
        out,
        key,
        0,
        options.onBytesRead,
      );
      if (this.header.endianness === "big") swapBytes(out, this.swapWidth(info));
      return { dtype: info.dtype, shape, data } as NumericTensor;
    }
    checkSlicesCoverTensor(entry.shape, entry.slices, this.where(key));
    for (const slice of entry.slices) {
      const s0 = sliceStarts(slice)[0];
      const sShape = sliceShape(entry.shape, slice);
      const lo = Math.max(start, s0);
      const hi = Math.min(start + count, s0 + sShape[0]);
      if (lo >= hi) continue;
      const part = this.sliceEntry(key, entry, info, slice);
      const sliceRowBytes = numElements(sShape.slice(1)) * info.elementSize;
      // A contiguous slice lands straight in `out`; any other goes through a buffer and is scattered.
      const contiguous = isContiguous(entry.shape, slice);
      const target = contiguous
        ? out.subarray((lo - start) * rowBytes, (hi - start) * rowBytes)
        : new Uint8Array((hi - lo) * sliceRowBytes);
      await this.data.readInto(
        part.shardId,
        part.offset + (lo - s0) * sliceRowBytes,
        target,
        key,
        0,
        options.onBytesRead,
      );
      if (this.header.endianness === "big") swapBytes(target, this.swapWidth(info));
      if (!contiguous) {
        const sub: TensorSlice = [{ start: lo - start, length: hi - lo }, ...slice.slice(1)];
        copySliceBytes(out, shape, sub, target, info.elementSize, true);
      }
    }
    return { dtype: info.dtype, shape, data } as NumericTensor;
  }

  /** The decoded `_CHECKPOINTABLE_OBJECT_GRAPH` bytes, or undefined for a name-based checkpoint. */
  async objectGraphBytes(): Promise<Uint8Array | undefined> {
    if (!this.has(OBJECT_GRAPH_KEY)) return undefined;
    const t = await this.readTensor(OBJECT_GRAPH_KEY);
    if (t.dtype !== "string" || t.data.length !== 1) {
      throw new DataLossError(`${this.where(OBJECT_GRAPH_KEY)}: expected a scalar string tensor.`);
    }
    return t.data[0];
  }

  /**
   * Re-reads every stored byte and checks every checksum (entries, string length checksums, slice
   * coverage). Problems are collected per key instead of thrown.
   */
  async verify(onBytesRead?: (bytes: number) => void): Promise<VerifyReport> {
    const problems: VerifyProblem[] = [];
    let entriesChecked = 0;
    let bytesChecked = 0;
    const scratch = new Uint8Array(READ_CHUNK_BYTES);
    for (const keyBytes of this.ordered) {
      if (keyBytes.length === 0) continue;
      const isSlice = keyBytes[0] === 0;
      let key = utf8Decoder.decode(keyBytes);
      try {
        if (isSlice) {
          const d = decodeTensorNameSlice(keyBytes);
          key = `${utf8Decoder.decode(d.name)} [slice ${formatSlice(d.slice)}]`;
        }
        const entry = this.entryByBytes(keyBytes, key) as BundleEntry;
        const info = dtypeFromEnum(entry.dtype, key);
        entriesChecked++;
        if (entry.slices.length > 0) {
          checkSlicesCoverTensor(entry.shape, entry.slices, this.where(key));
          for (const slice of entry.slices) this.sliceEntry(key, entry, info, slice);
          continue;
        }
        if (info.dtype === "string") {
          await this.readStrings(key, entry);
          bytesChecked += entry.size;
          onBytesRead?.(entry.size);
          continue;
        }
        this.checkPlainSize(key, entry, info);
        let crc = 0;
        for (let done = 0; done < entry.size; done += READ_CHUNK_BYTES) {
          const n = Math.min(READ_CHUNK_BYTES, entry.size - done);
          crc = await this.data.readInto(
            entry.shardId,
            entry.offset + done,
            scratch.subarray(0, n),
            key,
            crc,
            onBytesRead,
          );
        }
        bytesChecked += entry.size;
        this.checkCrc(key, entry, crc);
      } catch (e) {
        if (e instanceof DecodeError) problems.push({ key, message: `undecodable slice key: ${e.message}` });
        else problems.push({ key, message: (e as Error).message });
      }
    }
    return { entriesChecked, bytesChecked, problems };
  }

  // ---------------------------------------------------------------------------------------------

  private target(
    key: string,
    info: DTypeInfo,
    shape: readonly number[],
    into: NumericArray | undefined,
  ): NumericArray {
    const Ctor = info.arrayType;
    if (Ctor === undefined)
      throw new UnimplementedError(`${this.where(key)}: dtype ${info.dtype} has no typed array.`);
    const length = numElements(shape) * arrayElementsPerValue(info);
    if (into === undefined) return new Ctor(length);
    if (!(into instanceof Ctor) || into.length !== length) {
      throw new InvalidArgumentError(
        `${this.where(key)}: target memory must be a ${Ctor.name} of length ${length} ` +
          `(${info.dtype} [${shape.join(", ")}]), got a ${into.constructor.name} of length ${into.length}.`,
      );
    }
    return into;
  }

  private swapWidth(info: DTypeInfo): number {
    return info.elementSize / arrayElementsPerValue(info);
  }

  private checkPlainSize(key: string, entry: BundleEntry, info: DTypeInfo): void {
    const expected = numElements(entry.shape) * info.elementSize;
    if (entry.size !== expected) {
      throw new DataLossError(
        `${this.where(key)}: entry size ${entry.size} does not match ${info.dtype} [${entry.shape.join(", ")}] ` +
          `(${expected} bytes).`,
      );
    }
  }

  private checkCrc(key: string, entry: BundleEntry, crc: number): void {
    const expected = unmaskCrc(entry.crc32c);
    if (crc !== expected) {
      throw new DataLossError(
        `${this.where(key)}: checksum mismatch in "${this.data.path(entry.shardId)}" at offset ${entry.offset} ` +
          `(stored crc32c 0x${expected.toString(16)}, computed 0x${crc.toString(16)}).`,
      );
    }
  }

  private async readPlainBytes(
    key: string,
    entry: BundleEntry,
    info: DTypeInfo,
    out: Uint8Array,
    onBytesRead?: (bytes: number) => void,
  ): Promise<void> {
    this.checkPlainSize(key, entry, info);
    const crc = await this.data.readInto(entry.shardId, entry.offset, out, key, 0, onBytesRead);
    this.checkCrc(key, entry, crc);
    if (this.header.endianness === "big") swapBytes(out, this.swapWidth(info));
  }

  /** The plain entry holding one stored piece of a partitioned tensor, checked against the full entry. */
  private sliceEntry(key: string, full: BundleEntry, info: DTypeInfo, slice: TensorSlice): BundleEntry {
    const sliceKey = encodeTensorNameSlice(key, slice);
    const name = `${key} [slice ${formatSlice(slice)}]`;
    const part = this.entryByBytes(sliceKey, name);
    if (part === undefined) {
      throw new DataLossError(
        `${this.where(key)}: the entry of slice ${formatSlice(slice)} is missing from the index.`,
      );
    }
    const expectedShape = sliceShape(full.shape, slice);
    if (
      part.dtype !== full.dtype ||
      part.slices.length > 0 ||
      part.shape.join(",") !== expectedShape.join(",")
    ) {
      throw new DataLossError(
        `${this.where(name)}: slice entry is ${dtypeNameOfEnum(part.dtype)} [${part.shape.join(", ")}], ` +
          `expected ${info.dtype} [${expectedShape.join(", ")}].`,
      );
    }
    this.checkPlainSize(name, part, info);
    return part;
  }

  private async readSlicedBytes(
    key: string,
    entry: BundleEntry,
    info: DTypeInfo,
    out: Uint8Array,
    onBytesRead?: (bytes: number) => void,
  ): Promise<void> {
    checkSlicesCoverTensor(entry.shape, entry.slices, this.where(key));
    const rowBytes = numElements(entry.shape.slice(1)) * info.elementSize;
    for (const slice of entry.slices) {
      const part = this.sliceEntry(key, entry, info, slice);
      const name = `${key} [slice ${formatSlice(slice)}]`;
      if (isContiguous(entry.shape, slice)) {
        const begin = entry.shape.length === 0 ? 0 : sliceStarts(slice)[0] * rowBytes;
        await this.readPlainBytes(name, part, info, out.subarray(begin, begin + part.size), onBytesRead);
      } else {
        const tmp = new Uint8Array(part.size);
        await this.readPlainBytes(name, part, info, tmp, onBytesRead);
        copySliceBytes(out, entry.shape, slice, tmp, info.elementSize, true);
      }
    }
  }

  private async readStrings(key: string, entry: BundleEntry): Promise<Uint8Array[]> {
    const bytes = new Uint8Array(entry.size);
    await this.data.readInto(entry.shardId, entry.offset, bytes, key);
    let decoded;
    try {
      decoded = decodeStringTensor(bytes, numElements(entry.shape));
    } catch (e) {
      if (e instanceof DecodeError)
        throw new DataLossError(`${this.where(key)}: ${e.message}.`, { cause: e });
      throw e;
    }
    this.checkCrc(key, entry, decoded.crc);
    return decoded.values;
  }
}

export const OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH";
