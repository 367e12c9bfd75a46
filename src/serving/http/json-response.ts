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

/** The shortest decimal that reads back as the same float32; TF Serving's NaN/Infinity tokens otherwise. */
export function formatFloat32(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return String(value);
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return String(candidate);
  }
  return String(Number(value.toPrecision(9)));
}
