import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DenseTensor, RaggedTensor, type ModelEvent, type ModelLease } from "../../../src/index.js";
import {
  FileModelRegistry,
  type FileModelRegistryOptions,
} from "../../../src/serving/model/file-model-registry.js";
import { parseVersionPolicy } from "../../../src/serving/model/version-policy.js";
import { captureLogger, cellValue, describeEvent, USER_DIM, VIDEO_DIM } from "./helpers.js";

/** Shared by the file model registry's tests (file-model-registry*.test.ts). */
export async function openRegistry(
  base: string,
  options: Partial<FileModelRegistryOptions> & { policy?: string; labels?: Map<string, number> } = {},
) {
  const events: string[] = [];
  const { logger, lines } = captureLogger();
  const registry = await FileModelRegistry.open({
    models: [
      {
        name: "m",
        basePath: base,
        versionPolicy: options.policy === undefined ? undefined : parseVersionPolicy(options.policy),
        versionLabels: options.labels,
      },
    ],
    pollIntervalSeconds: 0,
    // These tests write versions and poll at once; waiting for files to settle is tested in settle.test.ts.
    settleMs: 0,
    logger,
    onEvent: (e: ModelEvent) => events.push(describeEvent(e)),
    ...options,
  });
  return { registry, events, lines };
}

/** Looks up both tables through a lease and checks every value comes from the leased version. */
export function assertWholeVersion(lease: ModelLease): void {
  const v = lease.model.version;
  const out = lease.model.embedding.embeddingLookup({
    watched: DenseTensor.from([2]),
    user: { friends: RaggedTensor.fromNested([[1, 3]]) },
  });
  assert.deepEqual(
    Array.from(out.watched.data),
    Array.from({ length: VIDEO_DIM }, (_, c) => cellValue(v, "video", 2 * VIDEO_DIM + c)),
  );
  const friends = out.user.friends.data;
  for (let c = 0; c < USER_DIM; c++) {
    assert.equal(
      friends[c],
      Math.fround(cellValue(v, "user", USER_DIM + c) + cellValue(v, "user", 3 * USER_DIM + c)),
    );
  }
}

/** The version a request gets now (lease released right away). */
export function servedVersion(
  registry: FileModelRegistry,
  selector?: { version?: number; label?: string },
): number {
  const lease = registry.acquire("m", selector);
  lease.release();
  return lease.model.version;
}

export function checkWhole(registry: FileModelRegistry): void {
  const lease = registry.acquire("m");
  try {
    assertWholeVersion(lease);
  } finally {
    lease.release();
  }
}

/** Waits (without a deadline in the assertion sense) until `condition` holds; gives up after ~5 s. */
export async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 2500 && !condition(); i++) await sleep(2);
  assert.ok(condition(), "condition never became true");
}

export function corruptDataFile(versionDir: string): void {
  const file = join(versionDir, "ckpt-1.data-00000-of-00001");
  const bytes = readFileSync(file);
  bytes[20] ^= 0xff; // inside the first table (after the 8-byte save counter), which is read
  writeFileSync(file, bytes);
}
