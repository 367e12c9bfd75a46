import type { FeatureOutput, PredictOutputs } from "../batching/feature-input.js";
import type { JsonFormat } from "./json-request.js";

/**
 * TF Serving's predict response: row requests get `{"predictions": [...]}` (one entry per example; an
 * object per example when the model has several outputs), columnar ones `{"outputs": ...}` (the bare
 * tensor for a one-output model, else an object by output name). Floats are printed with the fewest
 * digits that read back to the same float32 (TF Serving issue #1332: no 6-digit rounding).
 */
export function encodeJsonPredict(format: JsonFormat, outputs: PredictOutputs, bare: boolean): string {
  let text = "";
  for (const chunk of jsonPredictChunks(format, outputs, bare)) text += chunk;
  return text;
}

/** Characters per chunk of `jsonPredictChunks` (a few milliseconds of formatting each). */
export const JSON_CHUNK_CHARS = 1 << 15;

/**
 * `encodeJsonPredict` in pieces of about `chunkChars` characters, so a server can format a big answer in
 * bounded slices and let other requests run in between. Iterative (an odometer over the dimensions), so
 * neither deep nor wide shapes grow the stack, and shapes with a zero dimension cost one `[]` per list.
 */
export function* jsonPredictChunks(
  format: JsonFormat,
  outputs: PredictOutputs,
  bare: boolean,
  chunkChars = JSON_CHUNK_CHARS,
): Generator<string, void, undefined> {
  const out = new ChunkWriter(chunkChars);
  const entries = [...outputs];
  if (format === "columnar") {
    out.push('{"outputs":');
    if (bare) yield* writeTensor(out, entries[0][1], 0, 0);
    else yield* writeObject(out, entries, (o) => writeTensor(out, o, 0, 0));
    out.push("}");
  } else {
    out.push('{"predictions":[');
    const rows = entries.length === 0 ? 0 : entries[0][1].shape[0];
    for (let r = 0; r < rows; r++) {
      if (r > 0) out.push(",");
      if (bare) yield* writeRow(out, entries[0][1], r);
      else yield* writeObject(out, entries, (o) => writeRow(out, o, r));
      if (out.full) yield out.take();
    }
    out.push("]}");
  }
  yield out.take();
}

/** Collects pieces of text; `full` once a chunk's worth is waiting. */
class ChunkWriter {
  private parts: string[] = [];
  private size = 0;

  constructor(private readonly chunkChars: number) {}

  push(text: string): void {
    this.parts.push(text);
    this.size += text.length;
  }

  get full(): boolean {
    return this.size >= this.chunkChars;
  }

  take(): string {
    const text = this.parts.join("");
    this.parts = [];
    this.size = 0;
    return text;
  }
}

function* writeObject(
  out: ChunkWriter,
  entries: [string, FeatureOutput][],
  write: (o: FeatureOutput) => Generator<string, void, undefined>,
): Generator<string, void, undefined> {
  out.push("{");
  for (let i = 0; i < entries.length; i++) {
    const [name, output] = entries[i];
    out.push(i === 0 ? JSON.stringify(name) : "," + JSON.stringify(name));
    out.push(":");
    yield* write(output);
  }
  out.push("}");
}

function writeRow(out: ChunkWriter, output: FeatureOutput, row: number): Generator<string, void, undefined> {
  let stride = 1;
  for (let d = 1; d < output.shape.length; d++) stride *= output.shape[d];
  return writeTensor(out, output, 1, row * stride);
}

/**
 * Writes dimensions `depth..` of `output` starting at flat `offset` as nested JSON lists: an odometer
 * over the leading dimensions up to the first zero one (whose lists are all `[]`), each step closing and
 * reopening the lists that rolled over, then one innermost list of values (or `[]`).
 */
function* writeTensor(
  out: ChunkWriter,
  output: FeatureOutput,
  depth: number,
  offset: number,
): Generator<string, void, undefined> {
  const { shape, data } = output;
  if (depth === shape.length) {
    out.push(formatFloat32(data[offset]));
    return;
  }
  const inner = shape.length - 1; // the dimension printed as a list of values
  let stop = depth;
  while (stop < inner && shape[stop] > 0) stop++;
  // Lists of dimensions depth..stop-1 are walked; below them, a unit: values, or [] at a zero dimension.
  const empty = stop < inner || shape[inner] === 0;
  const width = shape[inner];
  const radix = shape.slice(depth, stop);
  const digits = new Array<number>(radix.length).fill(0);
  let units = 1;
  for (const d of radix) units *= d;
  out.push("[".repeat(radix.length));
  let at = offset;
  for (let u = 0; u < units; u++) {
    if (u > 0) {
      let rolled = 0;
      for (let p = radix.length - 1; p >= 0; p--) {
        if (++digits[p] < radix[p]) break;
        digits[p] = 0;
        rolled++;
      }
      out.push(rolled === 0 ? "," : "]".repeat(rolled) + "," + "[".repeat(rolled));
    }
    if (empty) {
      out.push("[]");
    } else {
      const values = new Array<string>(width);
      for (let i = 0; i < width; i++) values[i] = formatFloat32(data[at + i]);
      out.push("[" + values.join(",") + "]");
      at += width;
    }
    if (out.full) yield out.take();
  }
  out.push("]".repeat(radix.length));
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * The shortest decimal (at most 9 significant digits) that reads back as the same float32, three times
 * faster than looping over `toPrecision`; TF Serving's NaN/Infinity tokens for non-finite values. Divisions
 * of exact integers by exact powers of ten are correctly rounded, so each candidate is checked exactly;
 * magnitudes outside 1e±14 fall back to `String` (exact, longer).
 */
export function formatFloat32(value: number): string {
  if (value === 0) return "0";
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  const negative = value < 0;
  const v = negative ? -value : value;
  let k = 8 - Math.floor(Math.log10(v)); // v ≈ m / 10^k with m of 9 digits
  if (k > 22 || k < -22) return String(value);
  let m = Math.round(k >= 0 ? v * POW10[k] : v / POW10[-k]);
  if (m >= 1e9) {
    m = Math.round(m / 10);
    k--;
  }
  if (Math.fround(scaled(m, k)) !== v) return String(value);
  let q = m;
  let kq = k;
  for (let j = 1; j < 9; j++) {
    const kk = k - j;
    const c = Math.round(kk >= 0 ? v * POW10[kk] : v / POW10[-kk]);
    if (Math.fround(scaled(c, kk)) !== v) break;
    q = c;
    kq = kk;
  }
  return (negative ? "-" : "") + placePoint(String(q), kq);
}

/** q / 10^k, correctly rounded. */
function scaled(q: number, k: number): number {
  return k >= 0 ? q / POW10[k] : q * POW10[-k];
}

/** Writes digits `d` scaled by 10^-k as a JSON number. */
function placePoint(d: string, k: number): string {
  const exponent = d.length - 1 - k;
  const scientific = () => d[0] + (d.length > 1 ? "." + d.slice(1) : "") + "e" + exponent;
  if (k <= 0) return exponent < 21 ? d + "0".repeat(-k) : scientific();
  if (k < d.length) return d.slice(0, d.length - k) + "." + d.slice(d.length - k);
  return exponent >= -6 ? "0." + "0".repeat(k - d.length) + d : scientific();
}
