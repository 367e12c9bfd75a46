/**
 * `tf.train.Checkpoint` for Trackables such as `TPUEmbeddingForServing`: object-based save (numbered
 * `ckpt-N`, `save_counter`, object graph, `checkpoint` state file) and all-or-nothing restore from
 * plain or partitioned (multi-host TPU) entries, before or after the variables exist.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "../errors.js";
import { BundleReader } from "./bundle/bundle-reader.js";
import { BundleWriter } from "./bundle/bundle-writer.js";
import { dtypeNameOfEnum } from "./bundle/dtypes.js";
import { formatSlice } from "./bundle/slices.js";
import {
  buildObjectGraph,
  checkpointKey,
  readObjectGraph,
  OBJECT_GRAPH_PROTO_KEY,
  variableKeyInGraph,
  type GraphNodeSpec,
} from "./object-graph.js";
import { resolveCheckpointPrefix } from "./resolve.js";
import { latestCheckpoint, writeCheckpointState } from "./state-file.js";
import type { Trackable } from "./trackable.js";

export const SAVE_COUNTER_NAME = "save_counter";
const SAVE_COUNTER_KEY = checkpointKey([SAVE_COUNTER_NAME]);

export interface RestoreOptions {
  /** Progress while reading tensor data: bytes read so far and the total to read. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

export interface RestoreResult {
  /** The checkpoint prefix that was restored. */
  readonly path: string;
  /** Keys that were restored, in order. */
  readonly restoredKeys: readonly string[];
  /** Keys in the checkpoint that nothing here asked for (e.g. slots when `optimizer: null`). */
  readonly unusedKeys: readonly string[];
  /**
   * Optimizer slots the checkpoint does not hold (e.g. trained with another optimizer, or saved for
   * serving without them), as `<object>/<localName>`: as in TF they keep their values (their initial
   * values when restoring before build) instead of failing the restore.
   */
  readonly missingSlots: readonly string[];
}

function isTrackable(value: unknown): value is Trackable {
  const t = value as Partial<Trackable> | null;
  return (
    typeof t === "object" &&
    t !== null &&
    typeof t.trackableVariables === "function" &&
    typeof t.readVariable === "function" &&
    typeof t.restoreVariables === "function"
  );
}

/** Float32 memory that worker threads can share, like the tables the embedding allocates itself. */
function allocateFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT));
}

export class Checkpoint {
  /** Trackables by local name, sorted by name (TF tracks keyword arguments in sorted order). */
  private readonly children: ReadonlyArray<readonly [string, Trackable]>;
  private counter = 0;

  constructor(trackables: Record<string, Trackable>) {
    if (typeof trackables !== "object" || trackables === null) {
      throw new InvalidArgumentError(
        "Checkpoint: expected an object of named trackables, e.g. { embedding }.",
      );
    }
    const names = Object.keys(trackables).sort();
    for (const name of names) {
      if (name === SAVE_COUNTER_NAME)
        throw new InvalidArgumentError(`Checkpoint: "${SAVE_COUNTER_NAME}" is reserved.`);
      if (!isTrackable(trackables[name])) {
        throw new InvalidArgumentError(
          `Checkpoint was expecting ${name} to be a trackable object (with trackableVariables, readVariable and ` +
            `restoreVariables), got ${String(trackables[name])}.`,
        );
      }
    }
    this.children = names.map((n) => [n, trackables[n]] as const);
  }

  /** Number of `save()` calls (restored from the checkpoint's `save_counter`). */
  get saveCounter(): number {
    return this.counter;
  }

  /**
   * Writes `<prefix>-<N>` with N = saveCounter + 1, updates the `checkpoint` state file in the prefix's
   * directory, and returns the new checkpoint's prefix.
   */
  async save(prefix: string): Promise<string> {
    const number = this.counter + 1;
    const path = await this.writeBundle(`${prefix}-${number}`, number);
    await writeCheckpointState(dirname(prefix), path);
    this.counter = number;
    return path;
  }

  /** Writes a checkpoint at exactly `prefix`, without touching `saveCounter` or the state file. */
  async write(prefix: string): Promise<string> {
    return this.writeBundle(prefix, this.counter);
  }

  /**
   * Restores every variable of every trackable from `pathOrDirectory` (a prefix, or a directory whose
   * `checkpoint` file names the latest). Everything is read and checked before anything is installed:
   * on any error (missing key, dtype or shape mismatch, corrupt or missing file) no variable changes.
   * Optimizer slots the checkpoint lacks are not an error (TF's behaviour): see `missingSlots`.
   */
  async restore(pathOrDirectory: string, options: RestoreOptions = {}): Promise<RestoreResult> {
    const prefix = await resolveCheckpointPrefix(pathOrDirectory);
    const reader = await BundleReader.open(prefix);
    try {
      const graph = await readObjectGraph(reader);
      const plan: { trackable: Trackable; localName: string; key: string; length: number; bytes: number }[] =
        [];
      const missingSlots: string[] = [];
      for (const [name, trackable] of this.children) {
        for (const spec of trackable.trackableVariables()) {
          const path = [name, spec.localName];
          const key = (graph && variableKeyInGraph(graph, path)) ?? checkpointKey(path);
          if (!reader.has(key) && spec.slot === true) {
            missingSlots.push(`${name}/${spec.localName}`);
            continue;
          }
          if (!reader.has(key)) {
            throw new NotFoundError(
              `Checkpoint "${prefix}" has no value for variable "${name}/${spec.localName}" (key "${key}").`,
            );
          }
          const entry = reader.entry(key);
          const dtype = dtypeNameOfEnum(entry.dtype);
          if (dtype !== spec.dtype || entry.shape.join(",") !== spec.shape.join(",")) {
            throw new InvalidArgumentError(
              `Checkpoint "${prefix}", key "${key}": the checkpoint holds ${dtype} [${entry.shape.join(", ")}]` +
                `${entry.slices.length > 0 ? ` (slices ${entry.slices.map(formatSlice).join(" ")})` : ""}, ` +
                `but "${name}/${spec.localName}" is ${spec.dtype} [${spec.shape.join(", ")}].`,
            );
          }
          const length = spec.shape.reduce((a, b) => a * b, 1);
          plan.push({ trackable, localName: spec.localName, key, length, bytes: length * 4 });
        }
      }
      let counter: number | undefined;
      if (reader.has(SAVE_COUNTER_KEY)) {
        const t = await reader.readTensor(SAVE_COUNTER_KEY);
        if (t.dtype === "int64" && t.data.length === 1) counter = Number(t.data[0]);
      }
      const total = plan.reduce((a, p) => a + p.bytes, 0);
      let done = 0;
      const onBytesRead = options.onProgress && ((n: number) => options.onProgress?.((done += n), total));
      const values = new Map<Trackable, Map<string, Float32Array>>();
      // Trackables that own special memory (the embedding's kernel arenas) say where to read into.
      const destinations = new Map<Trackable, Map<string, Float32Array>>();
      for (const [, trackable] of this.children) {
        if (typeof trackable.allocateVariables !== "function") continue;
        const names = plan.filter((p) => p.trackable === trackable).map((p) => p.localName);
        destinations.set(trackable, trackable.allocateVariables(names));
      }
      for (const p of plan) {
        const given = destinations.get(p.trackable)?.get(p.localName);
        const into = given !== undefined && given.length === p.length ? given : allocateFloat32(p.length);
        await reader.readTensor(p.key, { into, onBytesRead });
        let m = values.get(p.trackable);
        if (m === undefined) values.set(p.trackable, (m = new Map()));
        m.set(p.localName, into);
      }
      for (const [trackable, m] of values) trackable.restoreVariables(m);
      if (counter !== undefined) this.counter = counter;
      const used = new Set([...plan.map((p) => p.key), SAVE_COUNTER_KEY, OBJECT_GRAPH_PROTO_KEY]);
      return {
        path: prefix,
        restoredKeys: plan.map((p) => p.key),
        unusedKeys: reader
          .listVariables()
          .map((v) => v.key)
          .filter((k) => !used.has(k)),
        missingSlots,
      };
    } finally {
      await reader.close();
    }
  }

  private async writeBundle(path: string, counter: number): Promise<string> {
    const nodes: GraphNodeSpec[] = [{ children: [] }];
    const tensors: { key: string; data: Float32Array; shape: readonly number[] }[] = [];
    const childIds: number[] = [];
    for (const [name] of this.children) {
      childIds.push(nodes.length);
      nodes[0].children.push({ name, nodeId: nodes.length });
      nodes.push({ children: [] });
    }
    nodes[0].children.push({ name: SAVE_COUNTER_NAME, nodeId: nodes.length });
    nodes.push({ children: [], variable: { checkpointKey: SAVE_COUNTER_KEY, fullName: SAVE_COUNTER_NAME } });
    this.children.forEach(([name, trackable], i) => {
      for (const spec of trackable.trackableVariables()) {
        const data = trackable.readVariable(spec.localName);
        if (data === undefined) {
          throw new FailedPreconditionError(
            `Cannot save "${name}/${spec.localName}": the variable does not exist yet (build the object first).`,
          );
        }
        const key = checkpointKey([name, spec.localName]);
        nodes[childIds[i]].children.push({ name: spec.localName, nodeId: nodes.length });
        nodes.push({ children: [], variable: { checkpointKey: key, fullName: spec.localName } });
        tensors.push({ key, data, shape: spec.shape });
      }
    });
    await mkdir(dirname(path), { recursive: true });
    const writer = await BundleWriter.create(path);
    try {
      await writer.add(SAVE_COUNTER_KEY, {
        dtype: "int64",
        shape: [],
        data: BigInt64Array.of(BigInt(counter)),
      });
      for (const t of tensors) await writer.add(t.key, { dtype: "float32", shape: t.shape, data: t.data });
      await writer.add(OBJECT_GRAPH_PROTO_KEY, {
        dtype: "string",
        shape: [],
        data: [buildObjectGraph(nodes)],
      });
      await writer.finish();
    } catch (e) {
      await writer.abort();
      throw e;
    }
    return path;
  }
}

export { latestCheckpoint };
