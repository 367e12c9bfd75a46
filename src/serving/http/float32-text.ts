// The reference float32 → JSON text (TF Serving's rules), in JavaScript: used by the "js" kernels, by the
// WebAssembly writer for magnitudes outside its fast range, and by the tests as the oracle the native and
// WebAssembly writers (native/float_format.c, assembly/float-format.ts) must match byte for byte.

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

/** Writes formatFloat32(value) (ASCII) at out[at..]; returns the end. */
export function writeFloat32Text(value: number, out: Uint8Array, at: number): number {
  const text = formatFloat32(value);
  for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
  return at + text.length;
}
