// Float32 → JSON text exactly as TF Serving's JSON writer prints it (WriteDecimal in json_tensor.cc,
// FloatToBuffer): printf `%.6g` when that text reads back (strtof) as the same float32, else `%.9g`;
// `.0` appended when the text has neither a point nor an exponent; `NaN`, `Infinity`, `-Infinity`.
// The reference is formatFloat32 in src/serving/http/float32-text.ts; test/native/float-format-exhaustive.c
// checks every one of the 2^32 bit patterns against glibc's printf and strtof
// (bench/results/2026-12-07-float-format.md).
//
// Digits are exact integer arithmetic, no floating point: v = m·2^e2 scaled by 10^k to an integer ratio
// N / Den (Den a power of two when k >= 0, else 10^-k times one), rounded half to even like printf.
// Whether the 6-digit text reads back is decided exactly from the same remainder: the decimal reads back
// iff it lies inside v's rounding interval (ties to the even mantissa), which is what strtof does.
#include "float_format.h"
#include <string.h>
#ifdef KERNEL_ISA
// Built once per ISA level (binding.gyp's per_isa_sources): only the row writer, as json_rows_<level>.
#include "kernels.h"
#define ROWS_FN KFN(json_rows)
#else
#define ROWS_FN f32_rows
#endif
// The eight-lane writer needs AVX-512 F and CD (x86-64-v4 has both).
#if defined(__AVX512F__) && defined(__AVX512CD__)
#define F32_LANES 1
#include <immintrin.h>
#endif

typedef unsigned __int128 u128;

// Smallest float32 (bits) >= 10^n for n = -45..39 (+inf for 10^39).
static const uint32_t POW10_F32[85] = {0x00000001u, 0x00000008u, 0x00000048u, 0x000002cau, 0x00001be1u, 0x000116c3u, 0x000ae398u, 0x006ce3efu, 0x02081cebu, 0x03aa2425u, 0x0554ad2eu, 0x0704ec3du, 0x08a6274cu, 0x0a4fb11fu, 0x0c01ceb4u, 0x0da24260u, 0x0f4ad2f8u, 0x10fd87b6u, 0x129e74d2u, 0x14461207u, 0x15f79688u, 0x179abe15u, 0x19416d9bu, 0x1af1c901u, 0x1c971da1u, 0x1e3ce509u, 0x1fec1e4bu, 0x219392efu, 0x233877abu, 0x24e69595u, 0x26901d7du, 0x283424ddu, 0x29e12e14u, 0x2b8cbccdu, 0x2d2fec00u, 0x2edbe6ffu, 0x30897060u, 0x322bcc78u, 0x33d6bf95u, 0x358637beu, 0x3727c5adu, 0x38d1b718u, 0x3a83126fu, 0x3c23d70bu, 0x3dcccccdu, 0x3f800000u, 0x41200000u, 0x42c80000u, 0x447a0000u, 0x461c4000u, 0x47c35000u, 0x49742400u, 0x4b189680u, 0x4cbebc20u, 0x4e6e6b28u, 0x501502f9u, 0x51ba43b8u, 0x5368d4a6u, 0x551184e8u, 0x56b5e621u, 0x58635faau, 0x5a0e1bcau, 0x5bb1a2bdu, 0x5d5e0b6cu, 0x5f0ac724u, 0x60ad78ecu, 0x6258d727u, 0x64078679u, 0x65a96817u, 0x6753c21cu, 0x69045952u, 0x6aa56fa6u, 0x6c4ecb90u, 0x6e013f3au, 0x6fa18f08u, 0x7149f2cau, 0x72fc6f7du, 0x749dc5aeu, 0x7645371au, 0x77f684e0u, 0x799a130cu, 0x7b4097cfu, 0x7cf0bdc3u, 0x7e96769au, 0x7f800000u};

// 5^k for k = 0..55 as {high, low} 64-bit halves.
static const uint64_t POW5[56][2] = {
{0x0u, 0x1u},
{0x0u, 0x5u},
{0x0u, 0x19u},
{0x0u, 0x7du},
{0x0u, 0x271u},
{0x0u, 0xc35u},
{0x0u, 0x3d09u},
{0x0u, 0x1312du},
{0x0u, 0x5f5e1u},
{0x0u, 0x1dcd65u},
{0x0u, 0x9502f9u},
{0x0u, 0x2e90eddu},
{0x0u, 0xe8d4a51u},
{0x0u, 0x48c27395u},
{0x0u, 0x16bcc41e9u},
{0x0u, 0x71afd498du},
{0x0u, 0x2386f26fc1u},
{0x0u, 0xb1a2bc2ec5u},
{0x0u, 0x3782dace9d9u},
{0x0u, 0x1158e460913du},
{0x0u, 0x56bc75e2d631u},
{0x0u, 0x1b1ae4d6e2ef5u},
{0x0u, 0x878678326eac9u},
{0x0u, 0x2a5a058fc295edu},
{0x0u, 0xd3c21bcecceda1u},
{0x0u, 0x422ca8b0a00a425u},
{0x0u, 0x14adf4b7320334b9u},
{0x0u, 0x6765c793fa10079du},
{0x2u, 0x4fce5e3e2502611u},
{0xau, 0x18f07d736b90be55u},
{0x32u, 0x7cb2734119d3b7a9u},
{0xfcu, 0x6f7c40458122964du},
{0x4eeu, 0x2d6d415b85acef81u},
{0x18a6u, 0xe32246c99c60ad85u},
{0x7b42u, 0x6fab61f00de36399u},
{0x2684cu, 0x2e58e9b04570f1fdu},
{0xc097cu, 0xe7bc90715b34b9f1u},
{0x3c2f70u, 0x86aed236c807a1b5u},
{0x12ced32u, 0xa16a1b11e8262889u},
{0x5e0a1fdu, 0x2712875988becaadu},
{0x1d6329f1u, 0xc35ca4bfabb9f561u},
{0x92efd1b8u, 0xd0cf37be5aa1cae5u},
{0x2deaf189cu, 0x140c16b7c528f679u},
{0xe596b7b0cu, 0x643c7196d9ccd05du},
{0x47bf19673du, 0xf52e37f2410011d1u},
{0x166bb7f0435u, 0xc9e717bb45005915u},
{0x701a97b150cu, 0xf18376a85901bd69u},
{0x23084f676940u, 0xb7915149bd08b30du},
{0xaf298d050e43u, 0x95d69670b12b7f41u},
{0x36bcfc1194751u, 0xed30f03375d97c45u},
{0x111b0ec57e6499u, 0xa1f4b1014d3f6d59u},
{0x558749db77f700u, 0x29c77506823d22bdu},
{0x1aba4714957d300u, 0xd0e549208b31adb1u},
{0x85a36366eb71f04u, 0x147a6da2b7f86475u},
{0x29c30f1029939b14u, 0x6664242d97d9f649u},
{0xd0cf4b50cfe20765u, 0xfff4b4e3f741cf6du}};

static const char DIGIT_PAIRS[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

static inline u128 pow5(int k) { return ((u128)POW5[k][0] << 64) | POW5[k][1]; }

/**
 * v = m·2^e2 (10^e10 <= v < 10^(e10+1)) scaled by 10^(8 - e10): x0 + rem/den with x0 its 9 leading digits.
 * h2 is the width of v's rounding interval at the same scale (times den).
 */
typedef struct {
  uint64_t x0;
  u128 rem, den, h2;
} scaled_t;

static inline void scale9(uint32_t m, int e2, int e10, scaled_t *v) {
  const int k = 8 - e10;
  if (k >= 0) {
    const int t = e2 + k; // v·10^k = m·5^k·2^t
    if (t >= 0) {         // an integer (small k: m·5^k·2^t < 10^9)
      v->x0 = (uint64_t)(((u128)m * POW5[k][1]) << t);
      v->rem = 0;
      v->den = 1;
      v->h2 = (u128)POW5[k][1] << t;
      return;
    }
    const int s = -t; // 1..103
    u128 lo;
    uint64_t hi = 0;
    if (k <= 27) { // 5^k < 2^63: m·5^k < 2^87
      lo = (u128)m * POW5[k][1];
      v->h2 = POW5[k][1];
    } else {
      const u128 a = (u128)m * POW5[k][1], b = (u128)m * POW5[k][0];
      lo = a + (b << 64); // m·5^k mod 2^128
      hi = (uint64_t)(b >> 64) + (lo < a);
      v->h2 = pow5(k);
    }
    v->x0 = (uint64_t)(lo >> s) | (uint64_t)((u128)hi << (128 - s));
    v->den = (u128)1 << s;
    v->rem = lo & (v->den - 1);
  } else {
    const int j = -k; // v·10^k = m·2^e2 / 10^j
    const u128 n = (u128)m << (e2 > 0 ? e2 : 0);
    v->den = (pow5(j) << j) << (e2 < 0 ? -e2 : 0);
    v->x0 = (uint64_t)(n / v->den);
    v->rem = n - (u128)v->x0 * v->den;
    v->h2 = (u128)1 << (e2 > 0 ? e2 : 0);
  }
}

static inline uint64_t pair(uint32_t x) { // the two digits of x < 100 as two little-endian bytes
  uint16_t p;
  memcpy(&p, DIGIT_PAIRS + 2 * x, 2);
  return p;
}

static inline void store64(char *out, uint64_t bytes) { memcpy(out, &bytes, 8); }

/**
 * printf's `%g` layout (precision p, trailing zeros dropped) of 9 digits (the 6-digit text's digits times
 * 1000): `lead` the first, `tail` the other eight as ASCII bytes (the first lowest), `nd` how many of all
 * nine are left without trailing zeros, decimal exponent e10; plus TF Serving's `.0`. The digits stay in
 * registers and go out in 8-byte stores, up to 24 bytes past `out`; returns the text's length.
 */
static inline size_t layout_digits(uint64_t lead, uint64_t tail, int nd, int e10, int p, char *out) {
  // All 9 digits with '0' padding in w0, w1.
  const uint64_t w0 = ('0' + lead) | tail << 8;
  const uint64_t w1 = tail >> 56 | 0x3030303030303000u;
  if (e10 < -4 || e10 >= p) {
    size_t n = 1;
    out[0] = (char)w0;
    if (nd > 1) {
      out[1] = '.';
      store64(out + 2, tail);
      n = (size_t)nd + 1;
    }
    const int x = e10 < 0 ? -e10 : e10; // at most 45
    out[n] = 'e';
    out[n + 1] = e10 < 0 ? '-' : '+';
    memcpy(out + n + 2, DIGIT_PAIRS + 2 * x, 2);
    return n + 4;
  }
  if (e10 < 0) { // 0.000ddd
    memcpy(out, "0.000000", 8);
    store64(out + 1 - e10, w0);
    store64(out + 9 - e10, w1);
    return (size_t)(1 - e10 + nd);
  }
  store64(out, w0);
  store64(out + 8, w1);
  out[e10 + 1] = '.';
  if (nd <= e10 + 1) { // a whole number: its zeros are among the 9 digits (e10 < p <= 9)
    out[e10 + 2] = '0';
    return (size_t)e10 + 3;
  }
  const u128 all = (u128)w1 << 64 | w0;
  store64(out + e10 + 2, (uint64_t)(all >> (8 * (e10 + 1))));
  return (size_t)nd + 1;
}

/** `layout_digits` of the 9 digits q. */
static inline size_t layout(uint64_t q, int e10, int p, char *out) {
  const uint32_t r = (uint32_t)(q % 100000000), a = r / 10000, b = r % 10000;
  // Digits 2..9 (one byte each, the first lowest).
  const uint64_t tail = pair(a / 100) | pair(a % 100) << 16 | pair(b / 100) << 32 | pair(b % 100) << 48;
  const uint64_t zeros = tail ^ 0x3030303030303030u; // trailing '0' digits are its high zero bytes
  const int nd = zeros == 0 ? 1 : 9 - __builtin_clzll(zeros) / 8; // digits without trailing zeros
  return layout_digits(q / 100000000, tail, nd, e10, p, out);
}

/** The text of v = m·2^e2 > 0 (10^e10 <= v < 10^(e10+1)); `pow2`: m = 2^23 above the smallest exponent. */
static inline size_t positive(uint32_t m, int e2, int e10, int pow2, char *out) {
  const int k = 8 - e10, t = e2 + k;
  if (k >= 0 && k <= 17 && t < 0) {
    // The common case (1e-9 <= v < 1e9): v·10^k = P / 2^s with P = m·5^k < 2^64, all in 64 bits.
    const uint64_t p5 = POW5[k][1], big = (uint64_t)m * p5;
    const int s = -t;
    const uint64_t den = (uint64_t)1 << s, x0 = big >> s, rem = big & (den - 1);
    const uint64_t q6 = x0 / 1000, r3 = x0 - q6 * 1000;
    // Bitwise, not ||: these digits are random, so branches on them would mispredict half the time.
    const uint64_t up6 = (r3 > 500) | ((r3 == 500) & ((rem != 0) | (q6 & 1)));
    const uint64_t below = r3 * den + rem, a = up6 ? (1000 * den) - below : below;
    const uint64_t dist = a << (1 + ((up6 ^ 1) & (uint64_t)pow2));
    if (dist < p5 || (dist == p5 && (m & 1) == 0)) {
      const uint64_t q = q6 + (uint64_t)up6;
      if (q == 1000000) return layout(100000000, e10 + 1, 6, out);
      return layout(q * 1000, e10, 6, out);
    }
    const uint64_t q = x0 + ((rem * 2 > den) | ((rem * 2 == den) & x0));
    if (q == 1000000000) return layout(100000000, e10 + 1, 9, out);
    return layout(q, e10, 9, out);
  }
  scaled_t s;
  scale9(m, e2, e10, &s);
  // The 6-digit rounding (half to even) from the same exact value: x0 = q·1000 + r3, plus rem/den.
  const uint64_t q6 = s.x0 / 1000, r3 = s.x0 - q6 * 1000;
  const int up6 = r3 > 500 || (r3 == 500 && (s.rem != 0 || (q6 & 1)));
  // Its distance from v (scaled by den), against the half-interval on its side (a quarter below 2^n).
  const u128 a = up6 ? (u128)(1000 - r3) * s.den - s.rem : (u128)r3 * s.den + s.rem;
  const u128 dist = !up6 && a != 0 && pow2 ? a * 4 : a * 2;
  if (dist < s.h2 || (dist == s.h2 && (m & 1) == 0)) {
    const uint64_t q = q6 + (uint64_t)up6;
    if (q == 1000000) return layout(100000000, e10 + 1, 6, out);
    return layout(q * 1000, e10, 6, out);
  }
  const uint64_t q = s.x0 + (uint64_t)(s.rem * 2 > s.den || (s.rem * 2 == s.den && (s.x0 & 1)));
  if (q == 1000000000) return layout(100000000, e10 + 1, 9, out);
  return layout(q, e10, 9, out);
}

/** Sign, special values and zero of `bits`; else the magnitude's m, e2, e10 (and -1 returned). */
static inline int decode(uint32_t bits, char *out, uint32_t *m_out, int *e2_out, int *e10_out) {
  const uint32_t be = (bits >> 23) & 0xff, frac = bits & 0x7fffff;
  if (be == 0xff) {
    if (frac != 0) {
      memcpy(out, "NaN", 3);
      return 3;
    }
    if (bits >> 31) {
      memcpy(out, "-Infinity", 9);
      return 9;
    }
    memcpy(out, "Infinity", 8);
    return 8;
  }
  const int n = (int)(bits >> 31);
  out[0] = '-';
  if ((bits & 0x7fffffff) == 0) {
    memcpy(out + n, "0.0", 3);
    return n + 3;
  }
  int lb; // v = m·2^e2, 2^lb <= v < 2^(lb+1)
  if (be == 0) {
    *m_out = frac;
    *e2_out = -149;
    lb = 31 - __builtin_clz(frac) - 149;
  } else {
    *m_out = frac | 0x800000;
    *e2_out = (int)be - 150;
    lb = (int)be - 127;
  }
  int e10 = (lb * 78913) >> 18; // floor(lb·log10 2), exact for |lb| < 1650
  if ((bits & 0x7fffffff) >= POW10_F32[e10 + 1 + 45]) e10++;
  *e10_out = e10;
  return -1;
}

#ifndef KERNEL_ISA
size_t f32_format_precision(uint32_t bits, int p, char *out) {
  uint32_t m;
  int e2, e10;
  const int special = decode(bits, out, &m, &e2, &e10);
  if (special >= 0) return (size_t)special;
  const size_t n = bits >> 31;
  scaled_t s;
  scale9(m, e2, e10, &s);
  if (p == 6) {
    const uint64_t q6 = s.x0 / 1000, r3 = s.x0 - q6 * 1000;
    const uint64_t q = q6 + (uint64_t)(r3 > 500 || (r3 == 500 && (s.rem != 0 || (q6 & 1))));
    if (q == 1000000) return n + layout(100000000, e10 + 1, 6, out + n);
    return n + layout(q * 1000, e10, 6, out + n);
  }
  const uint64_t q = s.x0 + (uint64_t)(s.rem * 2 > s.den || (s.rem * 2 == s.den && (s.x0 & 1)));
  if (q == 1000000000) return n + layout(100000000, e10 + 1, 9, out + n);
  return n + layout(q, e10, 9, out + n);
}

#endif

static inline size_t format_one(uint32_t bits, char *out) {
  const uint32_t be = (bits >> 23) & 0xff, frac = bits & 0x7fffff;
  if (be == 0xff) {
    if (frac != 0) {
      memcpy(out, "NaN", 3);
      return 3;
    }
    if (bits >> 31) {
      memcpy(out, "-Infinity", 9);
      return 9;
    }
    memcpy(out, "Infinity", 8);
    return 8;
  }
  const size_t n = bits >> 31;
  out[0] = '-';
  if ((bits & 0x7fffffff) == 0) {
    memcpy(out + n, "0.0", 3);
    return n + 3;
  }
  uint32_t m;
  int e2, lb; // v = m·2^e2, 2^lb <= v < 2^(lb+1)
  if (be == 0) {
    m = frac;
    e2 = -149;
    lb = 31 - __builtin_clz(m) - 149;
  } else {
    m = frac | 0x800000;
    e2 = (int)be - 150;
    lb = (int)be - 127;
  }
  int e10 = (lb * 78913) >> 18; // floor(lb·log10 2), exact for |lb| < 1650
  if ((bits & 0x7fffffff) >= POW10_F32[e10 + 1 + 45]) e10++;
  return n + positive(m, e2, e10, m == 0x800000 && be > 1, out + n);
}

#ifdef F32_LANES
// AVX-512 builds (the addon's x86-64-v4 variant): eight values at a time, in vector lanes (GCC/Clang
// vector extensions, gathers by intrinsics). AVX2, SSE and NEON builds keep the scalar path: the same lanes
// measured slower there (bench/results/2026-12-07-float-writer-avx512.md).
// For 1e-14 <= |v| < 1e9 the scaled value v·10^k (k = 8 - e10 in 0..22) is computed exactly as the
// unevaluated sum of two doubles, x·H + x·L, where 10^k = H + L and H, L have at most 26 significant bits
// (x has 24, so both products are exact). Its integer part and fraction then decide both roundings and the
// read-back test with no branches. A lane whose fraction or distance lies within 2^-30 of a decision's
// threshold (ties, exact decimals, interval ends), or whose value is outside that range (zero, subnormal,
// huge, NaN, infinity), is written by the exact integer path above instead.
// bench/float-format-exhaustive.c checks that both paths give the same bytes for all 2^32 bit patterns.
typedef double vd __attribute__((vector_size(64)));
typedef int64_t vl __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(32)));
typedef uint32_t vu __attribute__((vector_size(32)));
typedef float vf __attribute__((vector_size(32)));

// 10^k = H + L (k = 0..22), H and L of at most 26 significant bits, and 10^k itself (exact in a double).
static const double POW10_HI[23] = {0x1.0000000000000p+0, 0x1.4000000000000p+3, 0x1.9000000000000p+6, 0x1.f400000000000p+9, 0x1.3880000000000p+13, 0x1.86a0000000000p+16, 0x1.e848000000000p+19, 0x1.312d000000000p+23, 0x1.7d78400000000p+26, 0x1.dcd6500000000p+29, 0x1.2a05f20000000p+33, 0x1.74876e8000000p+36, 0x1.d1a94a0000000p+39, 0x1.2309ce0000000p+43, 0x1.6bcc418000000p+46, 0x1.c6bf520000000p+49, 0x1.1c37930000000p+53, 0x1.6345780000000p+56, 0x1.bc16d60000000p+59, 0x1.158e460000000p+63, 0x1.5af1d78000000p+66, 0x1.b1ae4d0000000p+69, 0x1.0f0cf00000000p+73};
static const double POW10_LO[23] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0x1.0000000000000p+12, 0x1.5000000000000p+17, 0x1.a400000000000p+20, 0x1.8d00000000000p+23, 0x1.f820000000000p+27, 0x1.7628000000000p+30, 0x1.d3b2000000000p+33, 0x1.227a000000000p+34, 0x1.6b18800000000p+37, 0x1.b8bbd40000000p+43, 0x1.9375648000000p+47};
static const double POW10_D[23] = {0x1.0000000000000p+0, 0x1.4000000000000p+3, 0x1.9000000000000p+6, 0x1.f400000000000p+9, 0x1.3880000000000p+13, 0x1.86a0000000000p+16, 0x1.e848000000000p+19, 0x1.312d000000000p+23, 0x1.7d78400000000p+26, 0x1.dcd6500000000p+29, 0x1.2a05f20000000p+33, 0x1.74876e8000000p+36, 0x1.d1a94a2000000p+39, 0x1.2309ce5400000p+43, 0x1.6bcc41e900000p+46, 0x1.c6bf526340000p+49, 0x1.1c37937e08000p+53, 0x1.6345785d8a000p+56, 0x1.bc16d674ec800p+59, 0x1.158e460913d00p+63, 0x1.5af1d78b58c40p+66, 0x1.b1ae4d6e2ef50p+69, 0x1.0f0cf064dd592p+73};

static inline vd select_d(vl mask, vd yes, vd no) { return (vd)(((vl)yes & mask) | ((vl)no & ~mask)); }
static inline vl select_l(vl mask, vl yes, vl no) { return (yes & mask) | (no & ~mask); }

// floor(v), exact (vrndscalepd, one instruction; adding and subtracting 2^52 then correcting took four and
// made the writer 20 % slower: bench/results/2026-12-07-late-outputs-and-tasks.md). Every use below has
// 0 <= v < 2^51.
static inline vd floor_small(vd v) {
  __m512d x;
  memcpy(&x, &v, sizeof x);
  x = _mm512_roundscale_pd(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  memcpy(&v, &x, sizeof v);
  return v;
}

/** Writes the texts of src[0..7], each followed by a comma; returns the end. */
static inline char *format8(const float *src, char *o) {
  vu bits;
  memcpy(&bits, src, sizeof bits);
  const vu mag = bits & 0x7fffffffu;
  const vi be = (vi)(bits >> 23) & 0xff;
  vi e10 = ((be - 127) * 78913) >> 18; // floor(lb·log10 2)
  vu next; // the smallest float32 >= 10^(e10+1)
  {
    const __m256i t = _mm256_i32gather_epi32((const int *)POW10_F32, (__m256i)(e10 + 46), 4);
    memcpy(&next, &t, sizeof next);
  }
  e10 -= (vi)(mag >= next);            // -1 where v >= 10^(e10+1)
  const vi k = 8 - e10;
  const vi fast = (be != 0) & (be != 255) & (k >= 0) & (k <= 22);
  const vi kk = k & fast;
  vd hi, lo, p10;
  {
    const __m256i ix = (__m256i)kk;
    __m512d t = _mm512_i32gather_pd(ix, POW10_HI, 8);
    memcpy(&hi, &t, sizeof hi);
    t = _mm512_i32gather_pd(ix, POW10_LO, 8);
    memcpy(&lo, &t, sizeof lo);
    t = _mm512_i32gather_pd(ix, POW10_D, 8);
    memcpy(&p10, &t, sizeof p10);
  }
  const vl fastl = __builtin_convertvector(fast, vl);
  const vd x = select_d(fastl, __builtin_convertvector((vf)mag, vd), (vd){1, 1, 1, 1, 1, 1, 1, 1});
  const vd a = x * hi, c = x * lo; // v·10^k = a + c exactly
  const vd x0 = floor_small(a + c);
  const vd fr = (a - x0) + c;      // the fraction, off by at most an ulp of 1
  const double eps = 0x1p-30;
  vl unsafe = (fr < eps) | (fr > 1 - eps) | ((fr - 0.5 < eps) & (fr - 0.5 > -eps));
  // Six digits: q6 = x0 / 1000 rounded half up (no ties: the fraction is not 0), and its distance from v.
  const vd q6 = floor_small(x0 * 0.001 + 0x1p-20);
  const vd r3 = x0 - q6 * 1000;
  const vl up6 = r3 >= 500;
  const vd dist = select_d(up6, (1000 - r3) - fr, r3 + fr);
  // Half of v's rounding interval at the same scale: ulp·10^k / 2, a quarter below a power of two.
  const vl bel = __builtin_convertvector(be, vl);
  const vd half = (vd)((bel + 872) << 52) * p10; // 2^(be - 151)·10^k
  const vl pow2 = __builtin_convertvector(((vi)bits & 0x7fffff) == 0, vl) & (bel > 1) & ~up6;
  const vd lim = select_d(pow2, half * 0.5, half);
  const vd gap = dist - lim;
  unsafe |= (gap < lim * eps) & (gap > -lim * eps);
  const vl six = dist < lim;
  vd q = select_d(six, (q6 + select_d(up6, (vd){1, 1, 1, 1, 1, 1, 1, 1}, (vd){0})) * 1000,
                  x0 + select_d(fr > 0.5, (vd){1, 1, 1, 1, 1, 1, 1, 1}, (vd){0}));
  const vl roll = q == 1e9;
  q = select_d(roll, (vd){1e8, 1e8, 1e8, 1e8, 1e8, 1e8, 1e8, 1e8}, q);
  e10 -= __builtin_convertvector(roll, vi);
  // The digits: q = d0·10^8 + (a1·100 + a2)·10^4 + b1·100 + b2 (each floor exact: the epsilon added is
  // smaller than the quotient's smallest nonzero fraction, and larger than its rounding error).
  const vd d0 = floor_small(q * 1e-8 + 0x1p-30);
  const vd r8 = q - d0 * 1e8;
  const vd a4 = floor_small(r8 * 1e-4 + 0x1p-20), b4 = r8 - a4 * 1e4;
  const vd a1 = floor_small(a4 * 0.01 + 0x1p-10), a2 = a4 - a1 * 100;
  const vd b1 = floor_small(b4 * 0.01 + 0x1p-10), b2 = b4 - b1 * 100;
  // Digits 2..9 as bytes (the first lowest), each pair split by tens, and how many are significant.
  const vd a1t = floor_small(a1 * 0.1 + 0x1p-6), a2t = floor_small(a2 * 0.1 + 0x1p-6);
  const vd b1t = floor_small(b1 * 0.1 + 0x1p-6), b2t = floor_small(b2 * 0.1 + 0x1p-6);
  const vl digits = __builtin_convertvector(a1t, vl) | __builtin_convertvector(a1 - a1t * 10, vl) << 8 |
                    __builtin_convertvector(a2t, vl) << 16 | __builtin_convertvector(a2 - a2t * 10, vl) << 24 |
                    __builtin_convertvector(b1t, vl) << 32 | __builtin_convertvector(b1 - b1t * 10, vl) << 40 |
                    __builtin_convertvector(b2t, vl) << 48 | __builtin_convertvector(b2 - b2t * 10, vl) << 56;
  const vl tails = digits + 0x3030303030303030;
  vl zeros_lead;
  {
    __m512i d;
    memcpy(&d, &digits, sizeof d);
    const __m512i z = _mm512_lzcnt_epi64(d);
    memcpy(&zeros_lead, &z, sizeof z);
  }
  const vl nds = select_l(digits == 0, (vl){0} + 1, 9 - (zeros_lead >> 3));
  const vi lead = __builtin_convertvector(d0, vi);
  const vi slow = ~fast | __builtin_convertvector(unsafe, vi);
  for (int l = 0; l < 8; l++) {
    if (slow[l]) {
      o += format_one(bits[l], o);
    } else {
      const size_t n = bits[l] >> 31;
      o[0] = '-';
      o += n + layout_digits((uint64_t)lead[l], (uint64_t)tails[l], (int)nds[l], e10[l], six[l] ? 6 : 9, o + n);
    }
    *o++ = ',';
  }
  return o;
}

#endif

#ifndef KERNEL_ISA
size_t f32_format(uint32_t bits, char *out) { return format_one(bits, out); }

size_t f32_rows_capacity(size_t rows, size_t width) {
  // A list of values: '[', each value and its comma (the last one's becomes ']'), the ',' between lists.
  // A list of none: "[],".
  return rows * (width * (F32_TEXT_MAX + 1) + (width == 0 ? 3 : 2)) + F32_SLACK;
}
#endif

size_t ROWS_FN(const float *data, size_t rows, size_t width, char *out) {
  char *o = out;
  for (size_t r = 0; r < rows; r++) {
    if (r > 0) *o++ = ',';
    *o++ = '[';
    const float *row = data + r * width;
    size_t i = 0;
#ifdef F32_LANES
    for (; i + 8 <= width; i += 8) o = format8(row + i, o);
#endif
    for (; i < width; i++) {
      uint32_t bits;
      memcpy(&bits, row + i, 4);
      o += format_one(bits, o);
      *o++ = ',';
    }
    if (width > 0) o--; // the last value's comma
    *o++ = ']';
  }
  return (size_t)(o - out);
}
