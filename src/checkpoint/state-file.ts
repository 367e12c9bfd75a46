/**
 * The `checkpoint` state file: a text-format `CheckpointState` proto naming the latest checkpoint
 * (`checkpoint_management.py`).
 */
import { access, readFile, rename, writeFile } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import { DataLossError } from "../errors.js";
import { indexFilename } from "./bundle/naming.js";

export const CHECKPOINT_STATE_FILENAME = "checkpoint";

export interface CheckpointState {
  modelCheckpointPath: string;
  allModelCheckpointPaths: string[];
  allModelCheckpointTimestamps: number[];
  lastPreservedTimestamp?: number;
}

function unescapeC(s: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s, "utf8");
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== 0x5c) {
      bytes.push(c);
      continue;
    }
    const n = String.fromCharCode(raw[++i]);
    const simple: Record<string, number> = {
      n: 10,
      r: 13,
      t: 9,
      '"': 34,
      "'": 39,
      "\\": 92,
      a: 7,
      b: 8,
      f: 12,
      v: 11,
      "?": 63,
    };
    if (n in simple) bytes.push(simple[n]);
    else if (n >= "0" && n <= "7") {
      let oct = n;
      while (oct.length < 3 && raw[i + 1] >= 0x30 && raw[i + 1] <= 0x37) oct += String.fromCharCode(raw[++i]);
      bytes.push(parseInt(oct, 8) & 0xff);
    } else if (n === "x" || n === "X") {
      let hex = "";
      while (hex.length < 2 && /[0-9a-fA-F]/.test(String.fromCharCode(raw[i + 1] ?? 0)))
        hex += String.fromCharCode(raw[++i]);
      bytes.push(parseInt(hex, 16));
    } else throw new DataLossError(`bad escape \\${n}`);
  }
  return Buffer.from(bytes).toString("utf8");
}

/** protobuf's CEscape, as Python's text_format writes string fields. */
function escapeC(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x09) out += "\\t";
    else if (b === 0x22) out += '\\"';
    else if (b === 0x27) out += "\\'";
    else if (b === 0x5c) out += "\\\\";
    else if (b < 0x20 || b >= 0x7f) out += "\\" + b.toString(8).padStart(3, "0");
    else out += String.fromCharCode(b);
  }
  return out;
}

export function parseCheckpointState(text: string, file = CHECKPOINT_STATE_FILENAME): CheckpointState {
  const state: CheckpointState = {
    modelCheckpointPath: "",
    allModelCheckpointPaths: [],
    allModelCheckpointTimestamps: [],
  };
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s"']+)\s*/y;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    if (/^\s*#/.test(text.slice(pos))) {
      const nl = text.indexOf("\n", pos);
      pos = nl < 0 ? text.length : nl + 1;
      continue;
    }
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m === null)
      throw new DataLossError(
        `Checkpoint state file "${file}" is not a text CheckpointState near offset ${pos}.`,
      );
    pos = re.lastIndex;
    const [, field, value] = m;
    const str = (): string => {
      if (!/^["']/.test(value))
        throw new DataLossError(`Checkpoint state file "${file}": ${field} must be a string.`);
      try {
        return unescapeC(value.slice(1, -1));
      } catch (e) {
        throw new DataLossError(`Checkpoint state file "${file}": ${(e as Error).message}.`, { cause: e });
      }
    };
    const num = (): number => {
      const v = Number(value);
      if (Number.isNaN(v) && value !== "nan")
        throw new DataLossError(`Checkpoint state file "${file}": bad number ${value}.`);
      return v;
    };
    if (field === "model_checkpoint_path") state.modelCheckpointPath = str();
    else if (field === "all_model_checkpoint_paths") state.allModelCheckpointPaths.push(str());
    else if (field === "all_model_checkpoint_timestamps") state.allModelCheckpointTimestamps.push(num());
    else if (field === "last_preserved_timestamp") state.lastPreservedTimestamp = num();
    else throw new DataLossError(`Checkpoint state file "${file}": unknown field "${field}".`);
  }
  return state;
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

export function formatCheckpointState(state: CheckpointState): string {
  let out = `model_checkpoint_path: "${escapeC(state.modelCheckpointPath)}"\n`;
  for (const p of state.allModelCheckpointPaths) out += `all_model_checkpoint_paths: "${escapeC(p)}"\n`;
  for (const t of state.allModelCheckpointTimestamps)
    out += `all_model_checkpoint_timestamps: ${formatNumber(t)}\n`;
  if (state.lastPreservedTimestamp !== undefined) {
    out += `last_preserved_timestamp: ${formatNumber(state.lastPreservedTimestamp)}\n`;
  }
  return out;
}

/** Reads `dir/checkpoint`; undefined when there is none. */
export async function readCheckpointState(dir: string): Promise<CheckpointState | undefined> {
  const file = join(dir, CHECKPOINT_STATE_FILENAME);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return parseCheckpointState(text, file);
}

/**
 * Writes `dir/checkpoint` atomically as `tf.train.Checkpoint.save` does
 * (`update_checkpoint_state_internal(..., all_model_checkpoint_paths=[path], save_relative_paths=True)`).
 */
export async function writeCheckpointState(dir: string, prefix: string): Promise<void> {
  const rel = relative(resolve(dir), resolve(prefix));
  const path = rel.startsWith("..") || isAbsolute(rel) || rel.includes(`..${sep}`) ? prefix : rel;
  const text = formatCheckpointState({
    modelCheckpointPath: path,
    allModelCheckpointPaths: [path],
    allModelCheckpointTimestamps: [],
  });
  const file = join(dir, CHECKPOINT_STATE_FILENAME);
  const temp = `${file}.tmp${process.pid}`;
  await writeFile(temp, text);
  await rename(temp, file);
}

/**
 * `tf.train.latest_checkpoint`: the prefix named by `dir/checkpoint` (relative paths resolved against
 * `dir`), or undefined when there is no state file or its checkpoint's index is missing.
 */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const state = await readCheckpointState(dir);
  if (state === undefined || state.modelCheckpointPath === "") return undefined;
  const p = state.modelCheckpointPath;
  const prefix = isAbsolute(p) ? p : join(dir, p);
  try {
    await access(indexFilename(prefix));
  } catch {
    // TF falls back to the path relative to the state file's directory for moved checkpoints.
    const moved = join(dir, basename(p));
    try {
      await access(indexFilename(moved));
      return moved;
    } catch {
      return undefined;
    }
  }
  return prefix;
}
