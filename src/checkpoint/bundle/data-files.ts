/** Opens a bundle's data shards lazily and reads byte ranges from them straight into caller memory. */
import { open, type FileHandle } from "node:fs/promises";
import { DataLossError, NotFoundError } from "../../errors.js";
import { crc32cExtend } from "../crc.js";
import { dataFilename } from "./naming.js";

/** Largest single read; also the granularity of progress reports. */
export const READ_CHUNK_BYTES = 32 * 1024 * 1024;

export class DataFiles {
  private readonly handles = new Map<number, Promise<FileHandle>>();

  constructor(
    readonly prefix: string,
    readonly numShards: number,
  ) {}

  path(shardId: number): string {
    return dataFilename(this.prefix, shardId, this.numShards);
  }

  private handle(shardId: number, key: string): Promise<FileHandle> {
    if (!Number.isInteger(shardId) || shardId < 0 || shardId >= this.numShards) {
      return Promise.reject(
        new DataLossError(
          `Checkpoint "${this.prefix}", key "${key}": shard_id ${shardId} is not in [0, ${this.numShards})`,
        ),
      );
    }
    let h = this.handles.get(shardId);
    if (h === undefined) {
      const path = this.path(shardId);
      h = open(path, "r").catch((e: NodeJS.ErrnoException) => {
        this.handles.delete(shardId);
        if (e.code === "ENOENT") {
          throw new NotFoundError(
            `Checkpoint data file "${path}" (shard ${shardId} of ${this.numShards}) needed by key "${key}" is missing.`,
            { cause: e },
          );
        }
        throw e;
      });
      this.handles.set(shardId, h);
    }
    return h;
  }

  /**
   * Reads `target.length` bytes at `position` of shard `shardId` into `target` (no intermediate copy) and
   * returns `crc` extended over them. Short files are a DataLossError naming the file and key.
   */
  async readInto(
    shardId: number,
    position: number,
    target: Uint8Array,
    key: string,
    crc = 0,
    onBytesRead?: (bytes: number) => void,
  ): Promise<number> {
    const fh = await this.handle(shardId, key);
    let done = 0;
    while (done < target.length) {
      const n = Math.min(READ_CHUNK_BYTES, target.length - done);
      const { bytesRead } = await fh.read(target, done, n, position + done);
      if (bytesRead === 0) {
        // The file's real size (a read at `position` past the end reads nothing, whatever the size).
        const size = (await fh.stat()).size;
        throw new DataLossError(
          `Checkpoint data file "${this.path(shardId)}" is truncated: key "${key}" needs bytes ` +
            `[${position}, ${position + target.length}) but the file is ${size} bytes long.`,
        );
      }
      crc = crc32cExtend(crc, target.subarray(done, done + bytesRead));
      done += bytesRead;
      onBytesRead?.(bytesRead);
    }
    return crc;
  }

  async close(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(all.map(async (h) => (await h).close()));
  }
}
