import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Checkpoint,
  InvalidArgumentError,
  FeatureConfig,
  NotFoundError,
  UnavailableError,
  TableConfig,
  TPUEmbeddingForServing,
  startServer,
  type FeatureStructure,
  type RunningServer,
  type ServerOptions,
  type ModelEvent,
  type ModelLease,
  type ModelRegistry,
  type ServableFeature,
  type ServableModel,
  type VersionSelector,
  type VersionStatus,
} from "../../../src/index.js";
import { flattenFeatures } from "../../../src/embedding/feature-structure.js";

/** The test model's features: bags, a sequence feature, a nested path, two tables. */
export function testFeatures(): FeatureStructure {
  const video = new TableConfig({ vocabularySize: 1000, dim: 8, combiner: "mean", name: "video" });
  const user = new TableConfig({ vocabularySize: 100, dim: 4, combiner: "sum", name: "user" });
  const topic = new TableConfig({ vocabularySize: 50, dim: 2, combiner: "sqrtn", name: "topic" });
  return {
    watched: new FeatureConfig({ table: video }),
    favorited: new FeatureConfig({ table: video, maxSequenceLength: 3 }),
    friends: new FeatureConfig({ table: user }),
    user: { topics: new FeatureConfig({ table: topic }) },
  };
}

/** Trains nothing: writes seeded tables as a checkpoint and restores them into a serving embedding. */
export async function buildTestModel(
  version: number,
  seed: number,
  features: () => FeatureStructure = testFeatures,
  name = "emb",
  threads = 1,
): Promise<ServableModel> {
  const dir = mkdtempSync(join(tmpdir(), "tpu-embedding-http-"));
  const trainer = new TPUEmbeddingForServing({ featureConfig: features(), optimizer: null, seed });
  trainer.build();
  const prefix = await new Checkpoint({ embedding: trainer }).save(join(dir, "ckpt"));
  const embedding = new TPUEmbeddingForServing({ featureConfig: features(), optimizer: null, threads });
  try {
    await new Checkpoint({ embedding }).restore(prefix);
  } finally {
    rmSync(dir, { recursive: true, force: true }); // the tables are in memory now
  }
  return servable(name, version, embedding, prefix);
}

export function servable(
  name: string,
  version: number,
  embedding: TPUEmbeddingForServing,
  checkpoint: string,
): ServableModel {
  const servableFeatures: ServableFeature[] = flattenFeatures(embedding.featureConfig).map(
    ({ path, value }) => ({
      name: path,
      table: value.table.name!,
      vocabularySize: value.table.vocabularySize,
      dim: value.table.dim,
      combiner: value.table.combiner as "sum" | "mean" | "sqrtn",
      maxSequenceLength: value.maxSequenceLength,
      outputShape: value.outputShape,
    }),
  );
  let tableBytes = 0;
  for (const t of embedding.embeddingTables.values()) tableBytes += t.data.byteLength;
  return { name, version, embedding, features: servableFeatures, checkpoint, tableBytes };
}

/** A minimal in-memory ModelRegistry: versions added by hand, latest AVAILABLE served, leases counted. */
export class TestRegistry implements ModelRegistry {
  private readonly versions = new Map<number, { model: ServableModel; leases: number }>();
  private readonly failed = new Map<number, string>();
  private readonly labelMap = new Map<string, number>();
  private readonly listeners = new Set<(e: ModelEvent) => void>();
  released = 0;

  constructor(readonly name: string) {}

  add(model: ServableModel): void {
    this.versions.set(model.version, { model, leases: 0 });
    this.emit({
      type: "load-done",
      model: this.name,
      version: model.version,
      seconds: 0,
      bytes: model.tableBytes,
    });
  }
  remove(version: number): void {
    this.versions.delete(version);
    this.emit({ type: "unloaded", model: this.name, version });
  }
  fail(version: number, message: string): void {
    this.failed.set(version, message);
    this.emit({ type: "load-failed", model: this.name, version, error: message });
  }
  setLabel(label: string, version: number): void {
    this.labelMap.set(label, version);
  }
  leases(version: number): number {
    return this.versions.get(version)?.leases ?? 0;
  }

  modelNames(): readonly string[] {
    return [this.name];
  }
  status(model: string, version?: number): readonly VersionStatus[] {
    this.check(model);
    const all: VersionStatus[] = [
      ...[...this.versions.keys()].map((v) => ({
        version: v,
        state: "AVAILABLE" as const,
        errorCode: "OK",
        errorMessage: "",
      })),
      ...[...this.failed].map(([v, m]) => ({
        version: v,
        state: "END" as const,
        errorCode: "DATA_LOSS",
        errorMessage: m,
      })),
    ].sort((a, b) => b.version - a.version);
    return version === undefined ? all : all.filter((s) => s.version === version);
  }
  labels(model: string): ReadonlyMap<string, number> {
    this.check(model);
    return this.labelMap;
  }
  acquire(model: string, selector: VersionSelector = {}): ModelLease {
    this.check(model);
    let version = selector.version;
    if (selector.label !== undefined) {
      version = this.labelMap.get(selector.label);
      if (version === undefined)
        throw new InvalidArgumentError(`Unrecognized servable version label: ${selector.label}`);
    }
    if (version === undefined) {
      if (this.versions.size === 0) throw new UnavailableError(`Model ${model} has no available version.`);
      version = Math.max(...this.versions.keys());
    }
    const entry = this.versions.get(version);
    if (entry === undefined)
      throw new NotFoundError(`Servable not found for request: Specific(${model}, ${version})`);
    entry.leases++;
    let done = false;
    return {
      model: entry.model,
      release: () => {
        if (done) throw new Error("lease released twice");
        done = true;
        entry.leases--;
        this.released++;
      },
    };
  }
  onEvent(listener: (event: ModelEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async close(): Promise<void> {
    this.versions.clear();
  }

  private check(model: string): void {
    if (model !== this.name) throw new NotFoundError(`Servable not found for request: Latest(${model})`);
  }
  private emit(event: ModelEvent): void {
    for (const l of this.listeners) l(event);
  }
}

/** A server on a free port over a TestRegistry named "emb" holding `model`, and its predict URL. */
export async function serveTestModel(
  model: ServableModel,
  options: Omit<ServerOptions, "registry" | "port"> = {},
): Promise<{ registry: TestRegistry; server: RunningServer; url: string }> {
  const registry = new TestRegistry("emb");
  registry.add(model);
  const server = await startServer({ ...options, registry, port: 0 });
  return { registry, server, url: `${server.url}/v1/models/emb:predict` };
}
