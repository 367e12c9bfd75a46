/**
 * Writes a TensorFlow V2 checkpoint the way `BundleWriter` (+ `MergeBundles` for several shards) does:
 * data appended in add order, index entries sorted bytewise, TF's SSTable options, masked CRCs,
 * temp files renamed into place on `finish()`.
 */
import { randomBytes } from "node:crypto";
import { open, rename, rm, writeFile, type FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import { InvalidArgumentError, UnimplementedError } from "../../errors.js";
import { bytesOf, crc32cExtend, maskCrc } from "../crc.js";
import { compareBytes } from "../sstable/coding.js";
import { TableBuilder } from "../sstable/table-builder.js";
import { dtypeInfo } from "./dtypes.js";
import { encodeEntry, encodeHeader, type BundleEntry } from "./entry.js";
import { dataFilename, indexFilename } from "./naming.js";
import {
  coversWholeTensor,
  encodeTensorNameSlice,
  formatSlice,
  sliceShape,
  validateSlice,
  type TensorSlice,
} from "./slices.js";
import { encodeStringTensor } from "./strings.js";
import { checkTensor, type Tensor } from "./tensor.js";

const WRITE_CHUNK_BYTES = 32 * 1024 * 1024;
const utf8 = new TextEncoder();

function rawKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

export interface BundleWriterOptions {
  /** Number of data files (`P.data-0000i-of-0000N`); entries choose theirs with `shard`. Default 1. */
  numShards?: number;
}

interface Shard {
  readonly tempPath: string;
  readonly finalPath: string;
  readonly handle: FileHandle;
  size: number;
}

export class BundleWriter {
  private readonly entries = new Map<string, { key: Uint8Array; entry: BundleEntry }>();
  private finished = false;

  private constructor(
    readonly prefix: string,
    private readonly shards: Shard[],
    private readonly suffix: string,
  ) {}

  static async create(prefix: string, options: BundleWriterOptions = {}): Promise<BundleWriter> {
    if (endianness() !== "LE")
      throw new UnimplementedError("Writing checkpoints needs a little-endian host.");
    const numShards = options.numShards ?? 1;
    if (!Number.isInteger(numShards) || numShards < 1) {
      throw new InvalidArgumentError(`numShards must be a positive integer, got ${numShards}.`);
    }
    const suffix = `.tempstate${randomBytes(8).toString("hex")}`;
    const shards: Shard[] = [];
    try {
      for (let i = 0; i < numShards; i++) {
        const finalPath = dataFilename(prefix, i, numShards);
        const tempPath = finalPath + suffix;
        shards.push({ tempPath, finalPath, handle: await open(tempPath, "w"), size: 0 });
      }
    } catch (e) {
      await Promise.allSettled(
        shards.map(async (s) => (await s.handle.close(), await rm(s.tempPath, { force: true }))),
      );
      throw e;
    }
    return new BundleWriter(prefix, shards, suffix);
  }

  /** Adds an ordinary (unpartitioned) tensor under `key`, writing its bytes to data file `shard`. */
  async add(key: string, tensor: Tensor, shard = 0): Promise<void> {
    if (key === "") throw new InvalidArgumentError("The empty key is reserved for the bundle header.");
    await this.addRaw(utf8.encode(key), key, tensor, shard);
  }

  /**
   * Adds one piece of a partitioned tensor, as `BundleWriter::AddSlice` does: `tensor` holds the
   * slice's values; the full entry under `key` accumulates the slices and a slice entry holds the data.
   * A slice covering the whole tensor is stored as an ordinary entry.
   */
  async addSlice(
    key: string,
    fullShape: readonly number[],
    slice: TensorSlice,
    tensor: Tensor,
    shard = 0,
  ): Promise<void> {
    const what = `Tensor "${key}" slice ${formatSlice(slice)}`;
    if (slice.length !== fullShape.length) {
      throw new InvalidArgumentError(
        `${what}: slice rank ${slice.length} differs from shape rank ${fullShape.length}.`,
      );
    }
    try {
      validateSlice(fullShape, slice, what);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
    const expected = sliceShape(fullShape, slice);
    if (tensor.shape.join(",") !== expected.join(",")) {
      throw new InvalidArgumentError(
        `${what}: values have shape [${tensor.shape.join(", ")}], expected [${expected.join(", ")}].`,
      );
    }
    if (coversWholeTensor(fullShape, slice)) {
      await this.add(key, { ...tensor, shape: [...fullShape] } as Tensor, shard);
      return;
    }
    if (tensor.dtype === "string")
      throw new UnimplementedError(`${what}: partitioned string tensors are not supported.`);
    const keyBytes = utf8.encode(key);
    const dtype = dtypeInfo(tensor.dtype).enumValue;
    const existing = this.entries.get(rawKey(keyBytes));
    if (existing === undefined) {
      this.entries.set(rawKey(keyBytes), {
        key: keyBytes,
        entry: { dtype, shape: [...fullShape], shardId: 0, offset: 0, size: 0, crc32c: 0, slices: [slice] },
      });
    } else {
      const e = existing.entry;
      if (e.slices.length === 0 || e.dtype !== dtype || e.shape.join(",") !== fullShape.join(",")) {
        throw new InvalidArgumentError(`${what}: conflicts with the existing entry for "${key}".`);
      }
      existing.entry = { ...e, slices: [...e.slices, slice] };
    }
    await this.addRaw(encodeTensorNameSlice(keyBytes, slice), what, tensor, shard);
  }

  /** Writes the index and renames every file into place. */
  async finish(): Promise<void> {
    this.checkOpen();
    this.finished = true;
    try {
      await Promise.all(this.shards.map((s) => s.handle.close()));
      for (const s of this.shards) await rename(s.tempPath, s.finalPath);
      const sorted = [...this.entries.values()].sort((a, b) => compareBytes(a.key, b.key));
      const table = new TableBuilder();
      table.add(new Uint8Array(0), encodeHeader(this.shards.length));
      for (const { key, entry } of sorted) table.add(key, encodeEntry(entry));
      const indexPath = indexFilename(this.prefix);
      const tempIndex = indexPath + this.suffix;
      await writeFile(tempIndex, table.finish());
      await rename(tempIndex, indexPath);
    } catch (e) {
      await this.cleanup();
      throw e;
    }
  }

  /** Abandons the checkpoint, deleting the temporary files. */
  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await Promise.allSettled(this.shards.map((s) => s.handle.close()));
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    await Promise.allSettled(this.shards.map((s) => rm(s.tempPath, { force: true })));
  }

  private checkOpen(): void {
    if (this.finished)
      throw new InvalidArgumentError(`BundleWriter for "${this.prefix}" is already finished.`);
  }

  private async addRaw(keyBytes: Uint8Array, what: string, tensor: Tensor, shard: number): Promise<void> {
    this.checkOpen();
    checkTensor(tensor, `Tensor "${what}"`);
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.shards.length) {
      throw new InvalidArgumentError(
        `Tensor "${what}": shard ${shard} is not in [0, ${this.shards.length}).`,
      );
    }
    const raw = rawKey(keyBytes);
    if (this.entries.has(raw)) throw new InvalidArgumentError(`Duplicate checkpoint key "${what}".`);
    const s = this.shards[shard];
    const offset = s.size;
    let bytes: Uint8Array;
    let crc: number | undefined;
    if (tensor.dtype === "string") {
      const enc = encodeStringTensor(tensor.data);
      bytes = enc.bytes;
      crc = enc.crc;
    } else {
      bytes = bytesOf(tensor.data);
    }
    let running = 0;
    for (let done = 0; done < bytes.length;) {
      const n = Math.min(WRITE_CHUNK_BYTES, bytes.length - done);
      const chunk = bytes.subarray(done, done + n);
      const { bytesWritten } = await s.handle.write(chunk, 0, n, offset + done);
      if (tensor.dtype !== "string") running = crc32cExtend(running, chunk.subarray(0, bytesWritten));
      done += bytesWritten;
    }
    s.size += bytes.length;
    const entry: BundleEntry = {
      dtype: dtypeInfo(tensor.dtype).enumValue,
      shape: [...tensor.shape],
      shardId: shard,
      offset,
      size: bytes.length,
      crc32c: maskCrc(crc ?? running),
      slices: [],
    };
    this.entries.set(raw, { key: keyBytes, entry });
  }
}
