// Float32 → JSON text as TF Serving prints it, in WebAssembly (the fallback when the native addon is absent
// or TPU_EMBEDDING_KERNELS=wasm): the same exact 64-bit integer arithmetic as native/float_format.c's
// common case (1e-9 <= |v| < 1e9); other magnitudes go to the imported `formatHard` (the JavaScript
// reference, src/serving/http/float32-text.ts), which writes the text into this memory.
// Pointers are byte offsets into this module's own memory; the caller places the floats and the output.

/** Writes the text of the float32 `bits` at `out`, returning its length (the JS reference; imported as
 * `float-format`.`formatHard`, AssemblyScript's default module name for this file). */
declare function formatHard(bits: u32, out: usize): i32;

// Smallest float32 (bits) >= 10^n for n = -45..39 (+inf for 10^39).
const POW10_F32: StaticArray<u32> = [
  0x00000001, 0x00000008, 0x00000048, 0x000002ca, 0x00001be1, 0x000116c3, 0x000ae398, 0x006ce3ef, 0x02081ceb,
  0x03aa2425, 0x0554ad2e, 0x0704ec3d, 0x08a6274c, 0x0a4fb11f, 0x0c01ceb4, 0x0da24260, 0x0f4ad2f8, 0x10fd87b6,
  0x129e74d2, 0x14461207, 0x15f79688, 0x179abe15, 0x19416d9b, 0x1af1c901, 0x1c971da1, 0x1e3ce509, 0x1fec1e4b,
  0x219392ef, 0x233877ab, 0x24e69595, 0x26901d7d, 0x283424dd, 0x29e12e14, 0x2b8cbccd, 0x2d2fec00, 0x2edbe6ff,
  0x30897060, 0x322bcc78, 0x33d6bf95, 0x358637be, 0x3727c5ad, 0x38d1b718, 0x3a83126f, 0x3c23d70b, 0x3dcccccd,
  0x3f800000, 0x41200000, 0x42c80000, 0x447a0000, 0x461c4000, 0x47c35000, 0x49742400, 0x4b189680, 0x4cbebc20,
  0x4e6e6b28, 0x501502f9, 0x51ba43b8, 0x5368d4a6, 0x551184e8, 0x56b5e621, 0x58635faa, 0x5a0e1bca, 0x5bb1a2bd,
  0x5d5e0b6c, 0x5f0ac724, 0x60ad78ec, 0x6258d727, 0x64078679, 0x65a96817, 0x6753c21c, 0x69045952, 0x6aa56fa6,
  0x6c4ecb90, 0x6e013f3a, 0x6fa18f08, 0x7149f2ca, 0x72fc6f7d, 0x749dc5ae, 0x7645371a, 0x77f684e0, 0x799a130c,
  0x7b4097cf, 0x7cf0bdc3, 0x7e96769a, 0x7f800000,
];

// 5^k for k = 0..17.
const POW5: StaticArray<u64> = [
  1, 5, 25, 125, 625, 3125, 15625, 78125, 390625, 1953125, 9765625, 48828125, 244140625, 1220703125,
  6103515625, 30517578125, 152587890625, 762939453125,
];

// Eight '0' bytes (built from halves: a 64-bit literal would not survive JavaScript tooling's numbers).
const ZEROS8: u64 = ((<u64>0x30303030) << 32) | 0x30303030;

// "00".."99" as little-endian byte pairs (static data: nothing is allocated past __heap_base).
const PAIRS: StaticArray<u16> = [
  0x3030, 0x3130, 0x3230, 0x3330, 0x3430, 0x3530, 0x3630, 0x3730, 0x3830, 0x3930, 0x3031, 0x3131, 0x3231,
  0x3331, 0x3431, 0x3531, 0x3631, 0x3731, 0x3831, 0x3931, 0x3032, 0x3132, 0x3232, 0x3332, 0x3432, 0x3532,
  0x3632, 0x3732, 0x3832, 0x3932, 0x3033, 0x3133, 0x3233, 0x3333, 0x3433, 0x3533, 0x3633, 0x3733, 0x3833,
  0x3933, 0x3034, 0x3134, 0x3234, 0x3334, 0x3434, 0x3534, 0x3634, 0x3734, 0x3834, 0x3934, 0x3035, 0x3135,
  0x3235, 0x3335, 0x3435, 0x3535, 0x3635, 0x3735, 0x3835, 0x3935, 0x3036, 0x3136, 0x3236, 0x3336, 0x3436,
  0x3536, 0x3636, 0x3736, 0x3836, 0x3936, 0x3037, 0x3137, 0x3237, 0x3337, 0x3437, 0x3537, 0x3637, 0x3737,
  0x3837, 0x3937, 0x3038, 0x3138, 0x3238, 0x3338, 0x3438, 0x3538, 0x3638, 0x3738, 0x3838, 0x3938, 0x3039,
  0x3139, 0x3239, 0x3339, 0x3439, 0x3539, 0x3639, 0x3739, 0x3839, 0x3939,
];

/** The start of the memory the caller may use (past this module's static data), 16-byte aligned. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

function pair(x: u32): u64 {
  return <u64>unchecked(PAIRS[x]);
}

/**
 * printf's `%g` layout (precision p, trailing zeros dropped) of the 9 digits q with decimal exponent e10,
 * plus TF Serving's `.0`; 8-byte stores reach up to 24 bytes past `out`. Returns the length.
 */
function layout(q: u64, e10: i32, p: i32, out: usize): i32 {
  const r = <u32>(q % 100000000);
  const a = r / 10000;
  const b = r % 10000;
  const tail: u64 = pair(a / 100) | (pair(a % 100) << 16) | (pair(b / 100) << 32) | (pair(b % 100) << 48);
  const w0: u64 = (<u64>(48 + q / 100000000)) | (tail << 8);
  const w1: u64 = (tail >> 56) | (ZEROS8 << 8);
  const zeros = tail ^ ZEROS8;
  const nd: i32 = zeros == 0 ? 1 : 9 - <i32>(clz<u64>(zeros) >> 3);
  if (e10 < -4 || e10 >= p) {
    let n = 1;
    store<u8>(out, <u8>w0);
    if (nd > 1) {
      store<u8>(out, 46, 1); // '.'
      store<u64>(out + 2, tail);
      n = nd + 1;
    }
    const x = e10 < 0 ? -e10 : e10;
    store<u8>(out + n, 101); // 'e'
    store<u8>(out + n + 1, e10 < 0 ? 45 : 43);
    store<u16>(out + n + 2, unchecked(PAIRS[x]));
    return n + 4;
  }
  if (e10 < 0) {
    store<u64>(out, (ZEROS8 & ~(<u64>0xff00)) | 0x2e00); // "0.000000"
    store<u64>(out + 1 - e10, w0);
    store<u64>(out + 9 - e10, w1);
    return 1 - e10 + nd;
  }
  store<u64>(out, w0);
  store<u64>(out + 8, w1);
  store<u8>(out + e10 + 1, 46);
  if (nd <= e10 + 1) {
    store<u8>(out + e10 + 2, 48);
    return e10 + 3;
  }
  const s = <u64>(8 * (e10 + 1)); // 8..72
  const rest = s < 64 ? (w0 >> s) | (w1 << (64 - s)) : w1 >> (s - 64);
  store<u64>(out + e10 + 2, rest);
  return nd + 1;
}

/** The text of the float32 `bits` at `out`; returns its length. */
function format(bits: u32, out: usize): i32 {
  const be = (bits >> 23) & 0xff;
  const frac = bits & 0x7fffff;
  if (be == 0xff || be == 0) {
    // NaN, infinities, zeros and subnormals (all below 1e-9)
    if (be == 0 && frac == 0) {
      store<u32>(out, bits >> 31 ? 0x302e302d : 0x00302e30); // "-0.0" / "0.0"
      return 3 + <i32>(bits >> 31);
    }
    return formatHard(bits, out);
  }
  const neg = <i32>(bits >> 31);
  store<u8>(out, 45); // '-', overwritten when positive
  const o = out + neg;
  const m: u64 = <u64>(frac | 0x800000);
  const e2 = <i32>be - 150;
  const lb = <i32>be - 127;
  let e10 = (lb * 78913) >> 18;
  if ((bits & 0x7fffffff) >= unchecked(POW10_F32[e10 + 1 + 45])) e10++;
  const k = 8 - e10;
  const t = e2 + k;
  if (k < 0 || k > 17 || t >= 0) return formatHard(bits, out);
  const p5 = unchecked(POW5[k]);
  const big = m * p5; // < 2^64
  const s = <u64>-t;
  const den: u64 = (<u64>1) << s;
  const x0 = big >> s;
  const rem = big & (den - 1);
  const q6 = x0 / 1000;
  const r3 = x0 - q6 * 1000;
  const up6 = (<u64>(r3 > 500)) | ((<u64>(r3 == 500)) & ((<u64>(rem != 0)) | (q6 & 1)));
  const below = r3 * den + rem;
  const a = up6 ? 1000 * den - below : below;
  const pow2 = <u64>(m == 0x800000 && be > 1);
  const dist = a << (1 + ((up6 ^ 1) & pow2));
  if (dist < p5 || (dist == p5 && (m & 1) == 0)) {
    const q = q6 + up6;
    if (q == 1000000) return neg + layout(100000000, e10 + 1, 6, o);
    return neg + layout(q * 1000, e10, 6, o);
  }
  const q = x0 + ((<u64>(rem * 2 > den)) | ((<u64>(rem * 2 == den)) & x0));
  if (q == 1000000000) return neg + layout(100000000, e10 + 1, 9, o);
  return neg + layout(q, e10, 9, o);
}

/** Writes `rows` JSON lists of `width` float32 values from `data` at `out`: `[a,b],[c,d]`; returns the bytes. */
export function formatJsonRows(data: usize, rows: i32, width: i32, out: usize): i32 {
  let o = out;
  let at = data;
  for (let r = 0; r < rows; r++) {
    if (r > 0) store<u8>(o++, 44);
    store<u8>(o++, 91);
    for (let i = 0; i < width; i++) {
      if (i > 0) store<u8>(o++, 44);
      o += format(load<u32>(at), o);
      at += 4;
    }
    store<u8>(o++, 93);
  }
  return <i32>(o - out);
}
