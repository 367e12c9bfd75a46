/**
 * `tpu-embedding publish <version dir | checkpoint prefix> --redis <url> --model-name <name>` and
 * `tpu-embedding unpublish`: a model version's tables into (and out of) a Redis Cluster, for `serve
 * --redis` (docs/scale.md). Progress: a bar on a terminal, otherwise a JSON line about once a second.
 */
import { isStorageKind, STORAGE_KINDS } from "../../kernels/quantized-rows.js";
import type { Command } from "commander";
import { stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { resolveCheckpointPrefix } from "../../checkpoint/resolve.js";
import { InvalidArgumentError, NotFoundError } from "../../errors.js";
import { connectCluster, type BinaryCluster } from "../../redis/cluster-client.js";
import { checkModelName } from "../../redis/layout.js";
import { publishVersion, type PublishProgress } from "../../redis/publish.js";
import { keepNewest, sweepRetired, unpublishVersion, type SweepResult } from "../../redis/unpublish.js";
import { findPrefix, FEATURE_CONFIG_FILENAME } from "../../serving/model/model-repository.js";
import { byteProgress, type ByteProgress } from "../progress.js";

interface PublishCliOptions {
  redis: string;
  modelName: string;
  version?: string;
  featureConfig?: string;
  partitions?: string;
  batchRows?: string;
  keep?: string;
  tableStorage?: string;
}

function integerOption(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min)
    throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${value}".`);
  return n;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

/** The checkpoint prefix, features.json and version number a path and the flags name. */
export async function resolvePublishSource(
  path: string,
  options: { version?: number; featureConfig?: string },
): Promise<{ prefix: string; featureConfigPath: string; version: number }> {
  const isDir = (await stat(path).catch(() => undefined))?.isDirectory() === true;
  let prefix: string;
  let versionDir: string;
  if (isDir) {
    const found = await findPrefix(path);
    if (!("prefix" in found)) throw new NotFoundError(`No checkpoint in "${path}": ${found.reason}.`);
    prefix = found.prefix;
    versionDir = path;
  } else {
    prefix = await resolveCheckpointPrefix(path);
    versionDir = dirname(prefix);
  }
  const candidates = [
    options.featureConfig,
    join(versionDir, FEATURE_CONFIG_FILENAME),
    join(dirname(versionDir), FEATURE_CONFIG_FILENAME),
  ];
  let featureConfigPath: string | undefined;
  for (const c of candidates)
    if (c !== undefined && (await isFile(c))) {
      featureConfigPath = c;
      break;
    }
  if (featureConfigPath === undefined)
    throw new NotFoundError(
      `No feature config for "${path}": give --feature-config, or put ${FEATURE_CONFIG_FILENAME} beside the checkpoint.`,
    );
  const named = basename(versionDir);
  const version = options.version ?? (/^\d+$/.test(named) ? Number(named) : undefined);
  if (version === undefined)
    throw new InvalidArgumentError(`"${path}" is not in a numeric version folder: give --version N.`);
  return { prefix, featureConfigPath, version };
}

/** A bar on a terminal; otherwise a JSON progress line at most once a second. */
function progressReporter(write: (line: string) => void): {
  onProgress(p: PublishProgress): void;
  stop(): void;
} {
  let bar: ByteProgress | null = null;
  let seen = 0;
  let last = 0;
  const tty = process.stderr.isTTY === true;
  return {
    onProgress(p) {
      if (tty) {
        bar ??= byteProgress("publishing", p.totalBytes, true);
        bar.add(p.bytes - seen);
        seen = p.bytes;
        return;
      }
      const now = Date.now();
      if (now - last < 1000 && p.rows < p.totalRows) return;
      last = now;
      write(
        JSON.stringify({
          event: "publish-progress",
          table: p.table,
          rows: p.rows,
          totalRows: p.totalRows,
          bytes: p.bytes,
          totalBytes: p.totalBytes,
        }),
      );
    },
    stop() {
      bar?.stop();
    },
  };
}

function sweepLine(model: string, result: SweepResult): string {
  return JSON.stringify({
    event: "unpublish",
    model,
    deleted: result.deleted,
    keptLeased: Object.fromEntries(result.leased),
  });
}

async function withCluster<T>(url: string, run: (cluster: BinaryCluster) => Promise<T>): Promise<T> {
  const cluster = await connectCluster({ url });
  try {
    return await run(cluster);
  } finally {
    await cluster.close().catch(() => undefined);
  }
}

export const registerPublish = (program: Command): void => {
  program
    .command("publish")
    .description(
      "publish a model version's tables from a TensorFlow checkpoint into a Redis Cluster (for serve --redis)",
    )
    .argument("<path>", "a version folder (checkpoint + features.json), or a checkpoint prefix / .index file")
    .requiredOption("--redis <url>", "redis://host:port of any cluster node (several comma-separated)")
    .requiredOption("--model-name <name>", "the model's name (A-Z a-z 0-9 _ . -)")
    .option("--version <n>", "the version number (default: the version folder's name)")
    .option("--feature-config <file>", "features.json (default: beside the checkpoint, or in its parent)")
    .option("--partitions <n>", "hashes per table (default: 4 per master, at least one per 2^20 rows)")
    .option("--batch-rows <n>", "rows per HSET command (default 1024)")
    .option(
      "--table-storage <kind>",
      `store rows as ${STORAGE_KINDS.join(", ")} (quantized once here; features.json tables[].storage wins per table; default float32)`,
    )
    .option(
      "--keep <n>",
      "afterwards, unpublish all but the newest N versions (rows deleted once no server leases them)",
    )
    .action(async (path: string, options: PublishCliOptions) => {
      const out = (line: string) => process.stdout.write(line + "\n");
      const model = checkModelName(options.modelName);
      const source = await resolvePublishSource(path, {
        version: integerOption("--version", options.version, 0),
        featureConfig: options.featureConfig,
      });
      const keep = integerOption("--keep", options.keep, 1);
      const tableStorage = options.tableStorage;
      if (tableStorage !== undefined && !isStorageKind(tableStorage)) {
        throw new InvalidArgumentError(
          `--table-storage must be one of ${STORAGE_KINDS.join(", ")}, got "${tableStorage}".`,
        );
      }
      await withCluster(options.redis, async (cluster) => {
        const progress = progressReporter(out);
        let result;
        try {
          result = await publishVersion(cluster, {
            model,
            ...source,
            partitions: integerOption("--partitions", options.partitions, 1),
            batchRows: integerOption("--batch-rows", options.batchRows, 1),
            ...(tableStorage !== undefined ? { tableStorage } : {}),
            onProgress: (p) => progress.onProgress(p),
          });
        } finally {
          progress.stop();
        }
        out(
          JSON.stringify({
            event: "published",
            model,
            version: source.version,
            republished: result.republished,
            rows: result.rows,
            bytes: result.bytes,
            seconds: Number(result.seconds.toFixed(3)),
            rowsPerSecond: Math.round(result.rows / result.seconds),
            megabytesPerSecond: Number((result.bytes / 1e6 / result.seconds).toFixed(1)),
            contentId: result.manifest.contentId,
          }),
        );
        if (keep !== undefined) out(sweepLine(model, await keepNewest(cluster, model, keep)));
      });
    });

  program
    .command("unpublish")
    .description(
      "remove published versions of a model from a Redis Cluster (rows deleted once no server leases them)",
    )
    .requiredOption("--redis <url>", "redis://host:port of any cluster node")
    .requiredOption("--model-name <name>", "the model's name")
    .option("--version <n>", "the version to remove")
    .option("--keep <n>", "remove all but the newest N versions")
    .option("--sweep", "only delete the rows of removed versions no server leases any more")
    .option("--force", "delete rows even of versions a server still leases (its requests then fail with 503)")
    .action(
      async (options: {
        redis: string;
        modelName: string;
        version?: string;
        keep?: string;
        sweep?: boolean;
        force?: boolean;
      }) => {
        const model = checkModelName(options.modelName);
        const version = integerOption("--version", options.version, 0);
        const keep = integerOption("--keep", options.keep, 1);
        if ([version, keep, options.sweep].filter((x) => x !== undefined).length !== 1)
          throw new InvalidArgumentError("unpublish: give exactly one of --version N, --keep N or --sweep.");
        await withCluster(options.redis, async (cluster) => {
          const result =
            version !== undefined
              ? await unpublishVersion(cluster, model, version, { force: options.force })
              : keep !== undefined
                ? await keepNewest(cluster, model, keep)
                : await sweepRetired(cluster, model, { force: options.force });
          process.stdout.write(sweepLine(model, result) + "\n");
        });
      },
    );
};
