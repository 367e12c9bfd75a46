import type { FeatureOutput, PredictOutputs } from "../batching/feature-input.js";
import type { JsonFormat } from "./json-request.js";

/**
 * TF Serving's predict response: row requests get `{"predictions": [...]}` (one entry per example; an
 * object per example when the model has several outputs), columnar ones `{"outputs": ...}` (the bare
 * tensor for a one-output model, else an object by output name). Floats are printed with the fewest
 * digits that read back to the same float32 (TF Serving issue #1332: no 6-digit rounding).
 */
export function encodeJsonPredict(format: JsonFormat, outputs: PredictOutputs, bare: boolean): string {
  const parts: string[] = [];
  const entries = [...outputs];
  if (format === "columnar") {
    parts.push('{"outputs":');
    if (bare) writeTensor(parts, entries[0][1], 0, 0);
    else writeObject(parts, entries, (o) => writeTensor(parts, o, 0, 0));
    parts.push("}");
    return parts.join("");
  }
  parts.push('{"predictions":[');
  const rows = entries.length === 0 ? 0 : entries[0][1].shape[0];
  for (let r = 0; r < rows; r++) {
    if (r > 0) parts.push(",");
    if (bare) writeRow(parts, entries[0][1], r);
    else writeObject(parts, entries, (o) => writeRow(parts, o, r));
  }
  parts.push("]}");
  return parts.join("");
}

function writeObject(
  parts: string[],
  entries: [string, FeatureOutput][],
  write: (o: FeatureOutput) => void,
): void {
  parts.push("{");
  entries.forEach(([name, output], i) => {
    parts.push(i === 0 ? JSON.stringify(name) : "," + JSON.stringify(name), ":");
    write(output);
  });
  parts.push("}");
}

function writeRow(parts: string[], output: FeatureOutput, row: number): void {
  const stride = output.shape.slice(1).reduce((a, b) => a * b, 1);
  writeTensor(parts, output, 1, row * stride);
}

/** Writes dimensions `depth..` of `output` starting at flat `offset` as nested JSON lists. */
function writeTensor(parts: string[], output: FeatureOutput, depth: number, offset: number): void {
  const { shape, data } = output;
  if (depth === shape.length) {
    parts.push(formatFloat32(data[offset]));
    return;
  }
  const n = shape[depth];
  if (depth === shape.length - 1) {
    const values = new Array<string>(n);
    for (let i = 0; i < n; i++) values[i] = formatFloat32(data[offset + i]);
    parts.push("[", values.join(","), "]");
    return;
  }
  let stride = 1;
  for (let d = depth + 1; d < shape.length; d++) stride *= shape[d];
  parts.push("[");
  for (let i = 0; i < n; i++) {
    if (i > 0) parts.push(",");
    writeTensor(parts, output, depth + 1, offset + i * stride);
  }
  parts.push("]");
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
