import type { PredictInputs, RaggedInput } from "../batching/feature-input.js";
import type { ModelFeatures } from "../batching/model-features.js";
import { kernelOverride } from "../../flags.js";
import { nativeAddon } from "../../kernels/native-addon.js";

/**
 * The most common REST body, decoded straight from its bytes: `{"inputs": {"<name>": [[id, ...], ...],
 * ...}}`, a list of ids per example for every feature, ids plain JSON integers of up to 9 digits (int32).
 * JSON.parse builds an array and a number per id, which the general decoder (json-request.ts) then walks:
 * on a batch-1 body of the standard workload that is ~25 µs, this ~3 µs. The bytes are scanned by the
 * native addon (native/json_columns.c) when it is loaded, else by the same scanner in JavaScript; the names
 * are checked against the model here.
 *
 * Anything else returns null and takes the general path, which gives the same inputs for everything this
 * accepts (test/serving/http/json-fast-columns.test.ts compares the two on random bodies) and raises TF
 * Serving's errors for the rest: other keys (`signature_name`, `instances`), escapes or non-ASCII in names,
 * names that are not ragged features of the model (unknown ones, `input: "dense"`, `_weights` siblings),
 * names starting with a digit (JavaScript orders array indices first), duplicate names, bare ids, empty
 * lists of examples, fractions, exponents, strings and ids of 10+ digits.
 */
export function decodeColumnarBags(
  body: Uint8Array,
  features: ModelFeatures,
  scanner: ColumnScanner = columnScanner(),
): PredictInputs | null {
  let count = scanner.scan(body, scratch);
  while (count === SCRATCH_FULL) {
    scratch.ids = new Int32Array(scratch.ids.length * 2);
    scratch.splits = new Int32Array(scratch.splits.length * 2);
    scratch.marks = new Int32Array(scratch.marks.length * 2);
    count = scanner.scan(body, scratch);
  }
  const inputs = count < 0 ? null : assemble(body, count, features);
  // A big body's scratch (the decode worker's) is not kept: bodies under 1 MiB stay below the bound.
  if (scratch.ids.length > SCRATCH_KEEP_IDS) Object.assign(scratch, freshScratch());
  return inputs;
}

/**
 * Reads the body's structure into `scratch`: every feature's ids into `ids`, its row splits into `splits`,
 * and four marks per feature (its name's start and end in the body, its ids' and its splits' end). The
 * number of features; NOT_COLUMNS when the body is not of this form; SCRATCH_FULL when an array of
 * `scratch` is too small (nothing else is to be read from it then).
 */
export interface ColumnScanner {
  readonly kind: "native" | "js";
  scan(body: Uint8Array, scratch: ColumnScratch): number;
}

export interface ColumnScratch {
  ids: Int32Array;
  splits: Int32Array;
  marks: Int32Array;
}

export const NOT_COLUMNS = -1;
export const SCRATCH_FULL = -2;

function freshScratch(): ColumnScratch {
  return { ids: new Int32Array(4096), splits: new Int32Array(1024), marks: new Int32Array(256) };
}

/** Reused between requests; doubled when a body needs more. */
const scratch: ColumnScratch = freshScratch();

/** Scratch grown past this many ids is dropped after its body (a body of 1 MiB holds at most 2^19 ids). */
const SCRATCH_KEEP_IDS = 1 << 20;

/** The model's inputs from a scanned body, or null for names this path leaves to the general decoder. */
function assemble(b: Uint8Array, count: number, features: ModelFeatures): PredictInputs | null {
  const { ids, splits, marks } = scratch;
  const names = new Array<string>(count);
  for (let f = 0; f < count; f++) {
    const from = marks[4 * f];
    const to = marks[4 * f + 1];
    let name = "";
    for (let k = from; k < to; k++) name += String.fromCharCode(b[k]);
    // Names starting with a digit may be array indices, which JavaScript orders first: the general path.
    if (name.endsWith("_weights") || (b[from] >= ZERO && b[from] <= ZERO + 9)) return null;
    const feature = features.byName.get(name);
    if (feature === undefined || feature.input === "dense") return null;
    names[f] = name;
  }
  // One array the features' ids and row splits are views of (one allocation per request, not two per feature).
  const n = marks[4 * count - 2];
  const s = marks[4 * count - 1];
  const all = new Int32Array(n + s);
  all.set(ids.subarray(0, n));
  all.set(splits.subarray(0, s), n);
  const out = new Map<string, RaggedInput>();
  for (let f = 0, idsFrom = 0, splitsFrom = n; f < count; f++) {
    const idsTo = marks[4 * f + 2];
    const splitsTo = n + marks[4 * f + 3];
    out.set(names[f], {
      kind: "ragged",
      ids: all.subarray(idsFrom, idsTo),
      rowSplits: all.subarray(splitsFrom, splitsTo),
      weights: null,
    });
    idsFrom = idsTo;
    splitsFrom = splitsTo;
  }
  return out.size === count ? out : null; // a name given twice: the general path
}

/** The scanner in JavaScript (the reference; used when the native addon is missing or not chosen). */
export const jsColumnScanner: ColumnScanner = {
  kind: "js",
  scan(b, { ids, splits, marks }) {
    // One loop over the bytes with local state (a scanner object's fields measured 2× slower in V8).
    const end = b.length;
    let i = after(b, 0, LBRACE);
    if (i < 0) return NOT_COLUMNS;
    i = skip(b, i);
    for (let k = 0; k < INPUTS_KEY.length; k++) if (b[i + k] !== INPUTS_KEY[k]) return NOT_COLUMNS;
    i += INPUTS_KEY.length;
    if ((i = after(b, i, COLON)) < 0) return NOT_COLUMNS;
    if ((i = after(b, i, LBRACE)) < 0) return NOT_COLUMNS;
    let n = 0;
    let s = 0;
    let count = 0;
    for (;;) {
      // A quoted name of printable ASCII without escapes.
      if ((i = after(b, i, QUOTE)) < 0) return NOT_COLUMNS;
      const nameStart = i;
      while (i < end && i - nameStart <= MAX_NAME_BYTES) {
        const c = b[i];
        if (c === QUOTE || c < 0x20 || c > 0x7e || c === 0x5c) break;
        i++;
      }
      if (b[i] !== QUOTE || i === nameStart) return NOT_COLUMNS;
      const nameEnd = i++;
      // `[[id, ...], ...]`, at least one example.
      if ((i = after(b, i, COLON)) < 0) return NOT_COLUMNS;
      if ((i = after(b, i, LBRACKET)) < 0) return NOT_COLUMNS;
      const first = n;
      if (s === splits.length) return SCRATCH_FULL;
      splits[s++] = 0;
      for (;;) {
        if ((i = after(b, i, LBRACKET)) < 0) return NOT_COLUMNS;
        if ((i = skip(b, i)) < end && b[i] === RBRACKET) i++;
        else {
          for (;;) {
            // `-?(0|[1-9][0-9]{0,8})`, then neither a digit, a point nor an exponent.
            const negative = b[i] === MINUS;
            if (negative) i++;
            const start = i;
            let value = 0;
            let d = b[i] - ZERO;
            while (d >= 0 && d <= 9) {
              value = value * 10 + d;
              d = b[++i] - ZERO;
            }
            const digits = i - start;
            if (digits === 0 || digits > MAX_ID_DIGITS || (digits > 1 && b[start] === ZERO))
              return NOT_COLUMNS;
            const next = b[i];
            if (next === 0x2e || next === 0x65 || next === 0x45) return NOT_COLUMNS; // . e E
            if (n === ids.length) return SCRATCH_FULL;
            ids[n++] = negative ? -value : value;
            i = skip(b, i);
            const c = b[i++];
            if (c === COMMA) {
              i = skip(b, i);
              continue;
            }
            if (c !== RBRACKET) return NOT_COLUMNS;
            break;
          }
        }
        if (s === splits.length) return SCRATCH_FULL;
        splits[s++] = n - first;
        i = skip(b, i);
        const c = b[i++];
        if (c === COMMA) continue;
        if (c !== RBRACKET) return NOT_COLUMNS;
        break;
      }
      if (4 * count + 4 > marks.length) return SCRATCH_FULL;
      marks[4 * count] = nameStart;
      marks[4 * count + 1] = nameEnd;
      marks[4 * count + 2] = n;
      marks[4 * count + 3] = s;
      count++;
      i = skip(b, i);
      const c = b[i++];
      if (c === COMMA) continue;
      if (c !== RBRACE) return NOT_COLUMNS;
      break;
    }
    if ((i = after(b, i, RBRACE)) < 0) return NOT_COLUMNS;
    return skip(b, i) === end ? count : NOT_COLUMNS;
  },
};

/** The addon's scanner (native/json_columns.c), absent in an addon built before it. */
interface JsonColumnsExports {
  scanColumnarBags?(body: Uint8Array, ids: Int32Array, splits: Int32Array, marks: Int32Array): number;
}

/** The native scanner, or null when the addon (or its scanColumnarBags) is missing. */
export function nativeColumnScanner(): ColumnScanner | null {
  const native = (nativeAddon() as JsonColumnsExports | null)?.scanColumnarBags;
  if (native === undefined) return null;
  return {
    kind: "native",
    scan(body, { ids, splits, marks }) {
      const found = native(body, ids, splits, marks);
      return found === ARGUMENTS_REFUSED ? jsColumnScanner.scan(body, { ids, splits, marks }) : found;
    },
  };
}

/** The native addon's -3: an argument not of its type (not expected; the JS scanner then reads the body). */
const ARGUMENTS_REFUSED = -3;

let chosen: ColumnScanner | undefined;

/** The native scanner unless TPU_EMBEDDING_KERNELS names wasm or js (or the addon is missing). */
export function columnScanner(): ColumnScanner {
  if (chosen === undefined) {
    const kind = kernelOverride() ?? "native";
    chosen = (kind === "native" ? nativeColumnScanner() : null) ?? jsColumnScanner;
  }
  return chosen;
}

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
const QUOTE = 0x22;
const MINUS = 0x2d;
const ZERO = 0x30;
const INPUTS_KEY = Buffer.from('"inputs"');
const MAX_NAME_BYTES = 256;
const MAX_ID_DIGITS = 9;

/** The index just past byte `c`, the first byte at or after `i` that is not whitespace; -1 when it is not `c`. */
function after(b: Uint8Array, i: number, c: number): number {
  i = skip(b, i);
  return b[i] === c ? i + 1 : -1;
}

/** The index of the first non-whitespace byte at or after `i` (b.length at the end). */
function skip(b: Uint8Array, i: number): number {
  let c = b[i];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++i];
  return i < b.length ? i : b.length;
}
