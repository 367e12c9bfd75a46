import type { FeatureOutput, PredictOutputs } from "../batching/feature-input.js";
import type { JsonFormat } from "./json-request.js";

/**
 * TF Serving's predict response: row requests get `{"predictions": [...]}` (one entry per example; an
 * object per example when the model has several outputs), columnar ones `{"outputs": ...}` (the bare
 * tensor for a one-output model, else an object by output name). Floats are printed
 * as TF Serving prints them (see formatFloat32).
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
 * A float32 exactly as TF Serving's JSON writer prints it (`WriteDecimal` in json_tensor.cc): printf
 * `%.6g` (absl::StrCat) when that reads back as the same float32, else `%.9g`; `.0` appended when the
 * text has neither a point nor an exponent (`1.0`, `-0.0`, but `9e+06`); `NaN`, `Infinity`, `-Infinity`.
 * printf rounds the exact binary value half-to-even; `toExponential` would round ties up, so the digits
 * are computed here: exactly by one multiplication where `v · 10^k` is exact (k in 0..12, the usual
 * magnitudes 1e-4 .. 1e9), otherwise with `toExponential` and an exact (BigInt) tie check.
 */
export function formatFloat32(value: number): string {
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  if (value !== value) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  const negative = value < 0;
  const v = negative ? -value : value;
  let p = 6;
  roundToDigits(v, 6);
  if (Math.fround(decimalValue(digitsM, digitsE, 6)) !== v) roundToDigits(v, (p = 9));
  const text = printG(digitsM, digitsE, p);
  return negative ? "-" + text : text;
}

// The result of roundToDigits: `digitsM` (exactly p digits) × 10^(digitsE - p + 1).
let digitsM = 0;
let digitsE = 0;

/** Rounds v > 0 (a float32) to p significant digits, half to even, as glibc's printf does. */
function roundToDigits(v: number, p: number): void {
  let e = Math.floor(Math.log10(v));
  for (let attempt = 0; attempt < 2; attempt++) {
    const k = p - 1 - e;
    if (k < 0 || k > 12) break;
    const x = v * POW10[k]; // exact: v has 24 significant bits and 5^12 < 2^28
    if (x >= POW10[p]) {
      e++;
      continue;
    }
    if (x < POW10[p - 1]) {
      e--;
      continue;
    }
    let m = Math.floor(x);
    const f = x - m;
    if (f > 0.5 || (f === 0.5 && m % 2 === 1)) m++;
    if (m === POW10[p]) {
      m = POW10[p - 1];
      e++;
    }
    digitsM = m;
    digitsE = e;
    return;
  }
  const text = v.toExponential(p - 1); // correctly rounded, ties away from zero
  const mark = text.indexOf("e");
  let m = Number(text.slice(0, mark).replace(".", ""));
  e = Number(text.slice(mark + 1));
  if (m % 2 === 1 && isTie(v, m, p - 1 - e)) m--; // the tie went up to an odd digit: half to even
  digitsM = m;
  digitsE = e;
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** True when v is exactly (m - 1/2) · 10^-k. */
function isTie(v: number, m: number, k: number): boolean {
  f64[0] = v;
  const bits = u64[0];
  const biased = Number((bits >> 52n) & 0x7ffn);
  const mantissa = (bits & 0xfffffffffffffn) | (biased === 0 ? 0n : 1n << 52n);
  const exponent = (biased === 0 ? 1 : biased) - 1075; // v = mantissa · 2^exponent
  // 2 · mantissa · 2^exponent · 10^k  ==  2m - 1
  let left = 2n * mantissa;
  let right = BigInt(2 * m - 1);
  if (k >= 0) left *= 10n ** BigInt(k);
  else right *= 10n ** BigInt(-k);
  if (exponent >= 0) left <<= BigInt(exponent);
  else right <<= BigInt(-exponent);
  return left === right;
}

/** m · 10^(e - p + 1) as the nearest double. */
function decimalValue(m: number, e: number, p: number): number {
  const k = p - 1 - e;
  if (k >= 0 && k <= 22) return m / POW10[k];
  if (k < 0 && k >= -22) return m * POW10[-k];
  return Number(`${m}e${-k}`);
}

/** printf's `%g` layout of the digits m (exponent e), trailing zeros dropped, plus TF Serving's `.0`. */
function printG(m: number, e: number, p: number): string {
  let digits = m;
  while (digits % 10 === 0) digits /= 10;
  const d = String(digits);
  if (e < -4 || e >= p) {
    const abs = e < 0 ? -e : e;
    return (
      d[0] + (d.length > 1 ? "." + d.slice(1) : "") + (e < 0 ? "e-" : "e+") + (abs < 10 ? "0" : "") + abs
    );
  }
  if (e < 0) return "0." + "0".repeat(-e - 1) + d;
  if (d.length <= e + 1) return d + "0".repeat(e + 1 - d.length) + ".0";
  return d.slice(0, e + 1) + "." + d.slice(e + 1);
}
