/** Printing tensor values and shapes for the CLI (text and JSON). */
import { bfloat16ToNumber, halfToNumber } from "../checkpoint/bundle/dtypes.js";
import type { Tensor } from "../checkpoint/bundle/tensor.js";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** JSON-safe element values: 64-bit integers as decimal strings, non-finite floats as strings,
 * complex as [re, im], strings as UTF-8 text or `{ hex }` for binary bytes. */
export function jsonValues(t: Tensor, limit = Infinity): unknown[] {
  const out: unknown[] = [];
  if (t.dtype === "string") {
    for (const s of t.data.slice(0, Math.min(t.data.length, limit))) {
      try {
        out.push(strictUtf8.decode(s));
      } catch {
        out.push({ hex: Buffer.from(s).toString("hex") });
      }
    }
    return out;
  }
  const num = (v: number | bigint): unknown =>
    typeof v === "bigint" ? v.toString() : Number.isFinite(v) ? v : String(v);
  const data = t.data as ArrayLike<number | bigint>;
  const complex = t.dtype === "complex64" || t.dtype === "complex128";
  const n = complex ? data.length / 2 : data.length;
  for (let i = 0; i < Math.min(n, limit); i++) {
    if (complex) out.push([num(data[2 * i]), num(data[2 * i + 1])]);
    else if (t.dtype === "float16") out.push(num(halfToNumber(data[i] as number)));
    else if (t.dtype === "bfloat16") out.push(num(bfloat16ToNumber(data[i] as number)));
    else if (t.dtype === "bool") out.push(data[i] !== 0);
    else out.push(num(data[i]));
  }
  return out;
}

/** Row-per-line text (last dimension per line), like numpy without the brackets. */
export function textValues(t: Tensor, limit: number): string {
  const values = jsonValues(t, limit).map((v) =>
    typeof v === "string" && t.dtype === "string" ? JSON.stringify(v) : JSON.stringify(v),
  );
  const total = t.shape.reduce((a, b) => a * b, 1);
  const width = t.shape.length === 0 ? 1 : Math.max(1, t.shape[t.shape.length - 1]);
  const lines: string[] = [];
  for (let i = 0; i < values.length; i += width) lines.push(values.slice(i, i + width).join(" "));
  if (total > values.length) lines.push(`... (${total - values.length} more values; use --limit)`);
  return lines.join("\n");
}
