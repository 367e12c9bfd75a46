/** `tpu-embedding inspect <checkpoint>`: list variables like tf.train.list_variables, or print one tensor. */
import type { Command } from "commander";
import { BundleReader } from "../../checkpoint/bundle/bundle-reader.js";
import { formatSlice } from "../../checkpoint/bundle/slices.js";
import type { Tensor } from "../../checkpoint/bundle/tensor.js";
import { listCheckpointVariables } from "../../checkpoint/list-variables.js";
import { resolveCheckpointPrefix } from "../../checkpoint/resolve.js";
import { InvalidArgumentError } from "../../errors.js";
import { formatShape, jsonValues, textValues } from "../format.js";
import { byteProgress } from "../progress.js";
import {
  emptyQuantizationError,
  isStorageKind,
  measureQuantization,
  rowBytes,
  STORAGE_KINDS,
  type StorageKind,
} from "../../kernels/quantized-rows.js";

interface InspectOptions {
  tensor?: string;
  rows?: string;
  limit: string;
  json?: boolean;
  storage?: string;
}

/** Rows read at a time when measuring quantization (bounded memory for any table size). */
const STORAGE_BLOCK_VALUES = 1 << 22;

/**
 * `--storage <kind>`: for every 2-D float32 variable (the tables, and slots), the bytes it would take in
 * `kind` storage and how far its values would move (largest and mean absolute error), read block by block.
 */
async function reportStorage(
  reader: BundleReader,
  prefix: string,
  kind: StorageKind,
  json: boolean,
  out: (s: string) => void,
): Promise<void> {
  const vars = (await listCheckpointVariables(reader)).filter(
    (v) => v.dtype === "float32" && v.shape.length === 2 && v.shape[0] > 0 && v.shape[1] > 0,
  );
  const reports = [];
  for (const v of vars) {
    const [rows, dim] = v.shape;
    const error = emptyQuantizationError();
    const block = Math.max(1, Math.floor(STORAGE_BLOCK_VALUES / dim));
    for (let start = 0; start < rows && error.refused === null; start += block) {
      const count = Math.min(block, rows - start);
      const tensor = await reader.readRows(v.key, start, count);
      measureQuantization(kind, tensor.data as Float32Array, dim, error, v.key);
    }
    reports.push({
      key: v.key,
      objectPath: v.objectPath ?? null,
      shape: v.shape,
      float32Bytes: rows * dim * 4,
      bytes: rows * rowBytes(kind, dim),
      maxAbsError: error.maxAbs,
      meanAbsError: error.values === 0 ? 0 : error.sumAbs / error.values,
      maxMagnitude: error.maxMagnitude,
      refused: error.refused,
    });
  }
  if (json) {
    out(JSON.stringify({ prefix, storage: kind, tables: reports }));
    return;
  }
  out(`checkpoint ${prefix}: ${vars.length} float32 matrices stored as ${kind}`);
  const rows = [
    ["KEY", "SHAPE", "FLOAT32", kind.toUpperCase(), "RATIO", "MAX ABS ERR", "MEAN ABS ERR", "MAX |VALUE|"],
  ];
  for (const r of reports) {
    rows.push([
      r.key,
      formatShape(r.shape),
      formatBytes(r.float32Bytes),
      r.refused === null ? formatBytes(r.bytes) : "refused",
      (r.bytes / r.float32Bytes).toFixed(3),
      r.refused === null ? r.maxAbsError.toExponential(3) : "-",
      r.refused === null ? r.meanAbsError.toExponential(3) : "-",
      r.maxMagnitude.toExponential(3),
    ]);
  }
  out(table(rows));
  for (const r of reports) if (r.refused !== null) out(`${r.key}: ${r.refused}`);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1 << 30) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
}

function parseRows(spec: string): { start: number; count: number } {
  const m = /^(\d+):(\d+)$/.exec(spec);
  if (m === null) throw new InvalidArgumentError(`--rows must be START:COUNT, got "${spec}".`);
  return { start: Number(m[1]), count: Number(m[2]) };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export async function inspect(
  checkpoint: string,
  options: InspectOptions,
  out: (s: string) => void,
): Promise<void> {
  const prefix = await resolveCheckpointPrefix(checkpoint);
  const reader = await BundleReader.open(prefix);
  try {
    if (options.storage !== undefined) {
      const kind = options.storage;
      if (!isStorageKind(kind)) {
        throw new InvalidArgumentError(
          `--storage must be one of ${STORAGE_KINDS.join(", ")}, got "${kind}".`,
        );
      }
      await reportStorage(reader, prefix, kind, options.json === true, out);
      return;
    }
    if (options.tensor !== undefined) {
      const key = options.tensor;
      const entry = reader.entry(key);
      let tensor: Tensor;
      if (options.rows !== undefined) {
        const { start, count } = parseRows(options.rows);
        tensor = await reader.readRows(key, start, count);
      } else {
        const size = entry.slices.length > 0 ? 0 : entry.size;
        const bar = byteProgress(`reading ${key}`, size, !options.json && process.stdout.isTTY === true);
        try {
          tensor = await reader.readTensor(key, { onBytesRead: (n) => bar.add(n) });
        } finally {
          bar.stop();
        }
      }
      const limit = options.json ? Infinity : Number(options.limit);
      if (options.json) {
        out(
          JSON.stringify({
            key,
            dtype: tensor.dtype,
            shape: tensor.shape,
            rows: options.rows ?? null,
            values: jsonValues(tensor, limit),
          }),
        );
      } else {
        out(
          `${key}  ${tensor.dtype}  ${formatShape(tensor.shape)}${options.rows ? `  rows ${options.rows}` : ""}`,
        );
        out(textValues(tensor, limit));
      }
      return;
    }
    const vars = await listCheckpointVariables(reader);
    if (options.json) {
      out(
        JSON.stringify({
          prefix,
          numShards: reader.header.numShards,
          variables: vars.map((v) => ({
            key: v.key,
            objectPath: v.objectPath ?? null,
            dtype: v.dtype,
            shape: v.shape,
            slices: v.slices.map(formatSlice),
          })),
        }),
      );
      return;
    }
    out(
      `checkpoint ${prefix} (${reader.header.numShards} data shard${reader.header.numShards === 1 ? "" : "s"}, ${vars.length} variables)`,
    );
    const rows = [["KEY", "DTYPE", "SHAPE", "SLICES", "OBJECT PATH"]];
    for (const v of vars) {
      rows.push([
        v.key,
        v.dtype,
        formatShape(v.shape),
        v.slices.length === 0 ? "-" : v.slices.map(formatSlice).join(" "),
        v.objectPath ?? "-",
      ]);
    }
    out(table(rows));
  } finally {
    await reader.close();
  }
}

export const registerInspect = (program: Command): void => {
  program
    .command("inspect")
    .description(
      "list a checkpoint's variables (key, object path, dtype, shape, slices), or print one tensor",
    )
    .argument(
      "<checkpoint>",
      "checkpoint prefix (dir/ckpt-1), its .index file, or a directory with a 'checkpoint' file",
    )
    .option("--tensor <key>", "print the values of the tensor stored under this key")
    .option("--rows <start:count>", "with --tensor: read only these rows of the first dimension")
    .option("--limit <n>", "with --tensor: print at most this many values (text output)", "1000")
    .option(
      "--storage <kind>",
      `report each table's size and quantization error if stored as ${STORAGE_KINDS.join(", ")}`,
    )
    .option("--json", "machine-readable JSON output")
    .action(async (checkpoint: string, options: InspectOptions) => {
      await inspect(checkpoint, options, (s) => process.stdout.write(s + "\n"));
    });
};
