// Gather-and-reduce kernels over quantized rows: float16, bfloat16 and row-wise int8 (layouts in
// src/kernels/quantized-rows.ts and docs/quantization.md). Each lane dequantizes one element exactly as
// the reference `dequantizeRows` does (float16 and bfloat16 widen exactly; int8 is float32(q · scale)
// then + bias, two rounded operations: -ffp-contract=off keeps them apart) and then performs the float32
// kernels' operations (kernels.c) in the same order, so a lookup on a quantized table is bit for bit the
// float32 lookup on the dequantized table.
#include "kernels.h"
#include <math.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif

#define UNROLL _Pragma("GCC unroll 8")
#define AI __attribute__((always_inline))

typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));
typedef uint32_t v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int32_t v16i __attribute__((vector_size(64), aligned(4), may_alias));
typedef uint16_t v16h __attribute__((vector_size(32), aligned(2), may_alias));
typedef uint8_t v16b __attribute__((vector_size(16), aligned(1), may_alias));

static inline void store16(float *p, v16f v) { *(v16f *)p = v; }
static inline v16f load16f(const float *p) { return *(const v16f *)p; }

// ---- element loaders: LOAD16(row, c) the values [c, c + 16) of a row, LOAD1(row, c) value c ----

/** binary16 → float32 bits: exponent and mantissa moved into place and scaled by 2^112 (exact for normal
 * and subnormal values), ∞ and NaN (payload kept) by their bits. */
static inline v16f f16_widen16(const uint8_t *row, size_t c);

/** 16 binary16 values as float32 with the CPU's conversion (exact; NaNs come out quiet, and the only
 * NaNs quantization stores are quiet ones, so this equals the bit-level widening below). */
static inline v16f f16_load16(const uint8_t *row, size_t c) {
#if defined(__AVX512F__)
  return (v16f)_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 2 * c)));
#elif defined(__F16C__)
  const __m256 lo = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * c)));
  const __m256 hi = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + 2 * c + 16)));
  v16f v;
  memcpy(&v, &lo, 32);
  memcpy((char *)&v + 32, &hi, 32);
  return v;
#else
  return f16_widen16(row, c);
#endif
}

static inline v16f f16_widen16(const uint8_t *row, size_t c) {
  const v16u h = __builtin_convertvector(*(const v16h *)(row + 2 * c), v16u);
  const v16u em = h & 0x7fff, sign = (h & 0x8000) << 16;
  const v16f scaled = (v16f)(em << 13) * 0x1p112f;
  const v16u special = (v16u)(v16i)(em >= 0x7c00);
  const v16u bits = ((v16u)scaled & ~special) | (((em << 13) | 0x7f800000) & special);
  return (v16f)(bits | sign);
}
static inline float f16_load1(const uint8_t *row, size_t c) {
  uint16_t h;
  memcpy(&h, row + 2 * c, 2);
  const uint32_t em = h & 0x7fff, sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t bits;
  if (em >= 0x7c00) {
    bits = (em << 13) | 0x7f800000;
  } else {
    float scaled, f;
    bits = em << 13;
    memcpy(&f, &bits, 4);
    scaled = f * 0x1p112f;
    memcpy(&bits, &scaled, 4);
  }
  bits |= sign;
  float v;
  memcpy(&v, &bits, 4);
  return v;
}

/** 16 bfloat16 values as float32: each the upper half of a float32's bits. Intrinsics where there are:
 * GCC 12 widens the generic conversion in two halves and reassembles them (3 extra shuffles a vector). */
static inline v16f bf16_load16(const uint8_t *row, size_t c) {
#if defined(__AVX512F__)
  return (v16f)_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(row + 2 * c))), 16);
#elif defined(__AVX2__)
  const __m256i lo = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + 2 * c))), 16);
  const __m256i hi = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + 2 * c + 16))), 16);
  v16f v;
  memcpy(&v, &lo, 32);
  memcpy((char *)&v + 32, &hi, 32);
  return v;
#else
  return (v16f)(__builtin_convertvector(*(const v16h *)(row + 2 * c), v16u) << 16);
#endif
}
static inline float bf16_load1(const uint8_t *row, size_t c) {
  uint16_t h;
  memcpy(&h, row + 2 * c, 2);
  const uint32_t bits = (uint32_t)h << 16;
  float v;
  memcpy(&v, &bits, 4);
  return v;
}

static inline float i8_scale(const uint8_t *row) {
  float s;
  memcpy(&s, row, 4);
  return s;
}
static inline float i8_bias(const uint8_t *row) {
  float b;
  memcpy(&b, row + 4, 4);
  return b;
}
/** 16 codes as float32 (exact). Intrinsics where there are: GCC 12 scalarizes the generic conversion
 * inside the weighted kernel (a byte load and a scalar convert per value). */
static inline v16f codes16(const uint8_t *p) {
#if defined(__AVX512F__)
  return (v16f)_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)));
#elif defined(__AVX2__)
  const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
  const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 8))));
  v16f q;
  memcpy(&q, &lo, 32);
  memcpy((char *)&q + 32, &hi, 32);
  return q;
#else
  return __builtin_convertvector(__builtin_convertvector(*(const v16b *)p, v16i), v16f);
#endif
}

static inline v16f i8_load16(const uint8_t *row, size_t c) {
  return codes16(row + 8 + c) * i8_scale(row) + i8_bias(row);
}
static inline float i8_load1(const uint8_t *row, size_t c) { return (float)row[8 + c] * i8_scale(row) + i8_bias(row); }

// ---- kernels, instantiated per kind ----

#define ROW(j) (t->data + (size_t)ids[j] * t->stride)

// Ids ahead whose rows the bag kernels prefetch: the process's distance (dispatch.c, kernel_prefetch_ids),
// read once per call.

static inline void prefetch_row(const qtable_t *t, const int32_t *ids, int32_t j) {
  const uint8_t *p = ROW(j);
  for (size_t b = 0; b < t->stride + 63; b += 64) __builtin_prefetch(p + b, 0, 3);
  __asm__ __volatile__("" : : "r"(p));
}

#define QUANT_KERNELS(S, LOAD16, LOAD1)                                                                  \
  static inline AI void S##_segment_chunk(const qtable_t *t, const int32_t *ids, int32_t start, int32_t end,   \
                                       int32_t first, float scale, bool divide, float divisor, float *o,     \
                                       size_t c, int K) {                                                    \
    v16f a[4], g[4];                                                                                         \
    const uint8_t *p = ROW(start);                                                                           \
    UNROLL for (int k = 0; k < K; k++) g[k] = LOAD16(p, c + 16 * k);                                         \
    for (int32_t j = start + 1; j < start + first; j++) {                                                    \
      p = ROW(j);                                                                                            \
      UNROLL for (int k = 0; k < K; k++) g[k] = g[k] + LOAD16(p, c + 16 * k);                                \
    }                                                                                                        \
    UNROLL for (int k = 0; k < K; k++) a[k] = g[k] * scale;                                                  \
    for (int32_t h = start + first; h < end; h += 8) {                                                       \
      p = ROW(h);                                                                                            \
      UNROLL for (int k = 0; k < K; k++) g[k] = LOAD16(p, c + 16 * k);                                       \
      for (int32_t j = h + 1; j < h + 8; j++) {                                                              \
        p = ROW(j);                                                                                          \
        UNROLL for (int k = 0; k < K; k++) g[k] = g[k] + LOAD16(p, c + 16 * k);                              \
      }                                                                                                      \
      UNROLL for (int k = 0; k < K; k++) a[k] = a[k] + g[k];                                                 \
    }                                                                                                        \
    if (divide) UNROLL for (int k = 0; k < K; k++) a[k] = a[k] / divisor;                                    \
    UNROLL for (int k = 0; k < K; k++) store16(o + c + 16 * k, a[k]);                                        \
  }                                                                                                          \
  static inline AI void S##_segment_lane(const qtable_t *t, const int32_t *ids, int32_t start, int32_t end,    \
                                      int32_t first, float scale, bool divide, float divisor, float *o,      \
                                      size_t c) {                                                            \
    float a, g = LOAD1(ROW(start), c);                                                                       \
    for (int32_t j = start + 1; j < start + first; j++) g = g + LOAD1(ROW(j), c);                            \
    a = g * scale;                                                                                           \
    for (int32_t h = start + first; h < end; h += 8) {                                                       \
      g = LOAD1(ROW(h), c);                                                                                  \
      for (int32_t j = h + 1; j < h + 8; j++) g = g + LOAD1(ROW(j), c);                                      \
      a = a + g;                                                                                             \
    }                                                                                                        \
    if (divide) a = a / divisor;                                                                             \
    o[c] = a;                                                                                                \
  }                                                                                                          \
  static inline AI void S##_bags_segment(const qtable_t *t, const int32_t *splits, const int32_t *ids,                \
                               int32_t row_start, int32_t row_end, int mode, float *out) {                   \
    const size_t dim = t->dim;                                                                               \
    const int32_t ids_end = splits[row_end], ahead = kernel_prefetch_ids;                                    \
    for (int32_t r = row_start; r < row_end; r++) {                                                          \
      const int32_t start = splits[r], end = splits[r + 1], num = end - start;                               \
      for (int32_t j = start + ahead; ahead > 0 && j < end + ahead && j < ids_end; j++)                      \
        prefetch_row(t, ids, j);                                                                             \
      float *o = out + (size_t)(r - row_start) * dim;                                                        \
      if (num == 0) {                                                                                        \
        memset(o, 0, dim * sizeof(float));                                                                   \
        continue;                                                                                            \
      }                                                                                                      \
      if (num == 1) {                                                                                        \
        const uint8_t *p = ROW(start);                                                                       \
        size_t c = 0;                                                                                        \
        for (; c + 16 <= dim; c += 16) store16(o + c, LOAD16(p, c));                                         \
        for (; c < dim; c++) o[c] = LOAD1(p, c);                                                             \
        continue;                                                                                            \
      }                                                                                                      \
      float scale = 1.0f;                                                                                    \
      if (num < 10) {                                                                                        \
        if (mode == MODE_MEAN) scale = 1.0f / (float)num;                                                    \
        else if (mode == MODE_SQRTN) scale = 1.0f / sqrtf((float)num);                                       \
      }                                                                                                      \
      const int32_t remainder = num & 7;                                                                     \
      const int32_t first = remainder == 0 ? 8 : remainder == 1 ? 9 : remainder;                             \
      const bool divide = num >= 10 && mode != MODE_SUM;                                                     \
      const float divisor = mode == MODE_MEAN ? (float)num : sqrtf((float)num);                              \
      size_t c = 0;                                                                                          \
      for (; c + 64 <= dim; c += 64) S##_segment_chunk(t, ids, start, end, first, scale, divide, divisor, o, c, 4); \
      for (; c + 16 <= dim; c += 16) S##_segment_chunk(t, ids, start, end, first, scale, divide, divisor, o, c, 1); \
      for (; c < dim; c++) S##_segment_lane(t, ids, start, end, first, scale, divide, divisor, o, c);        \
    }                                                                                                        \
  }                                                                                                          \
  static inline AI void S##_weighted_chunk(const qtable_t *t, const int32_t *ids, const float *weights,        \
                                        int32_t start, int32_t end, bool divide, float divisor, float *o,    \
                                        size_t c, int K) {                                                   \
    v16f a[4];                                                                                               \
    UNROLL for (int k = 0; k < K; k++) a[k] = (v16f){0};                                                     \
    if (weights == NULL) {                                                                                   \
      for (int32_t j = start; j < end; j++) {                                                                \
        const uint8_t *p = ROW(j);                                                                           \
        UNROLL for (int k = 0; k < K; k++) a[k] = a[k] + LOAD16(p, c + 16 * k);                              \
      }                                                                                                      \
    } else {                                                                                                 \
      for (int32_t j = start; j < end; j++) {                                                                \
        const uint8_t *p = ROW(j);                                                                           \
        const float w = weights[j];                                                                          \
        UNROLL for (int k = 0; k < K; k++) a[k] = a[k] + w * LOAD16(p, c + 16 * k);                          \
      }                                                                                                      \
    }                                                                                                        \
    if (divide) UNROLL for (int k = 0; k < K; k++) a[k] = a[k] / divisor;                                    \
    UNROLL for (int k = 0; k < K; k++) store16(o + c + 16 * k, a[k]);                                        \
  }                                                                                                          \
  static inline AI void S##_weighted_lane(const qtable_t *t, const int32_t *ids, const float *weights,         \
                                       int32_t start, int32_t end, bool divide, float divisor, float *o,     \
                                       size_t c) {                                                           \
    float a = 0.0f;                                                                                          \
    if (weights == NULL)                                                                                     \
      for (int32_t j = start; j < end; j++) a = a + LOAD1(ROW(j), c);                                        \
    else                                                                                                     \
      for (int32_t j = start; j < end; j++) a = a + weights[j] * LOAD1(ROW(j), c);                           \
    if (divide) a = a / divisor;                                                                             \
    o[c] = a;                                                                                                \
  }                                                                                                          \
  static inline AI void S##_bags_weighted(const qtable_t *t, const int32_t *splits, const int32_t *ids,               \
                                const float *weights, int32_t row_start, int32_t row_end, int mode,          \
                                float *out) {                                                                \
    const size_t dim = t->dim;                                                                               \
    const int32_t ids_end = splits[row_end], ahead = kernel_prefetch_ids;                                    \
    for (int32_t r = row_start; r < row_end; r++) {                                                          \
      const int32_t start = splits[r], end = splits[r + 1];                                                  \
      for (int32_t j = start + ahead; ahead > 0 && j < end + ahead && j < ids_end; j++)                      \
        prefetch_row(t, ids, j);                                                                             \
      float *o = out + (size_t)(r - row_start) * dim;                                                        \
      float weight_sum = 0.0f, square_sum = 0.0f;                                                            \
      if (mode == MODE_SUM) {                                                                                \
      } else if (weights == NULL) {                                                                          \
        const int32_t n = end - start;                                                                       \
        weight_sum = (float)(n < (1 << 24) ? n : (1 << 24));                                                 \
        square_sum = weight_sum;                                                                             \
      } else {                                                                                               \
        for (int32_t j = start; j < end; j++) {                                                              \
          const float w = weights[j];                                                                        \
          weight_sum += w;                                                                                   \
          square_sum += w * w;                                                                               \
        }                                                                                                    \
      }                                                                                                      \
      const float divisor = mode == MODE_MEAN ? weight_sum : sqrtf(square_sum);                              \
      if (mode != MODE_SUM && divisor == 0.0f) {                                                             \
        memset(o, 0, dim * sizeof(float));                                                                   \
        continue;                                                                                            \
      }                                                                                                      \
      const bool divide = mode != MODE_SUM;                                                                  \
      size_t c = 0;                                                                                          \
      for (; c + 64 <= dim; c += 64) S##_weighted_chunk(t, ids, weights, start, end, divide, divisor, o, c, 4); \
      for (; c + 16 <= dim; c += 16) S##_weighted_chunk(t, ids, weights, start, end, divide, divisor, o, c, 1); \
      for (; c < dim; c++) S##_weighted_lane(t, ids, weights, start, end, divide, divisor, o, c);            \
    }                                                                                                        \
  }                                                                                                          \
  /* dst = dst + row (add) or dst = row + 0 (the reference's 0 + x into a zeroed row: -0 becomes +0). */   \
  static inline AI void S##_row_into(const qtable_t *t, float *dst, const uint8_t *p, bool add) {              \
    const size_t dim = t->dim;                                                                               \
    const v16f zero = {0};                                                                                   \
    size_t d = 0;                                                                                            \
    for (; d + 16 <= dim; d += 16) store16(dst + d, (add ? load16f(dst + d) : zero) + LOAD16(p, d));         \
    for (; d < dim; d++) dst[d] = (add ? dst[d] : 0.0f) + LOAD1(p, d);                                       \
  }                                                                                                          \
  static inline AI void S##_sequence(const qtable_t *t, const int32_t *splits, const int32_t *ids,                    \
                           const int32_t *positions, int32_t row_start, int32_t row_end, int32_t length,     \
                           float *out) {                                                                     \
    const size_t dim = t->dim, per_row = (size_t)length * dim;                                               \
    if (positions != NULL) {                                                                                 \
      memset(out, 0, (size_t)(row_end - row_start) * per_row * sizeof(float));                              \
      for (int32_t r = row_start; r < row_end; r++) {                                                        \
        float *o = out + (size_t)(r - row_start) * per_row;                                                  \
        for (int32_t j = splits[r]; j < splits[r + 1]; j++)                                                  \
          S##_row_into(t, o + (size_t)positions[j] * dim, ROW(j), true);                                     \
      }                                                                                                      \
      return;                                                                                                \
    }                                                                                                        \
    for (int32_t r = row_start; r < row_end; r++) {                                                          \
      float *o = out + (size_t)(r - row_start) * per_row;                                                    \
      const int32_t n = splits[r + 1] - splits[r];                                                           \
      for (int32_t j = 0; j < n; j++) S##_row_into(t, o + (size_t)j * dim, ROW(splits[r] + j), false);       \
      memset(o + (size_t)n * dim, 0, (size_t)(length - n) * dim * sizeof(float));                            \
    }                                                                                                        \
  }                                                                                                          \
  static inline AI void S##_gather(const qtable_t *t, const int32_t *ids, int32_t row_start, int32_t row_end,         \
                         float *out) {                                                                       \
    const size_t dim = t->dim;                                                                               \
    for (int32_t i = row_start; i < row_end; i++) {                                                          \
      float *o = out + (size_t)(i - row_start) * dim;                                                        \
      const uint8_t *p = ROW(i);                                                                             \
      size_t c = 0;                                                                                          \
      for (; c + 16 <= dim; c += 16) store16(o + c, LOAD16(p, c));                                           \
      for (; c < dim; c++) o[c] = LOAD1(p, c);                                                               \
    }                                                                                                        \
  }

QUANT_KERNELS(f16, f16_load16, f16_load1)
QUANT_KERNELS(bf16, bf16_load16, bf16_load1)
QUANT_KERNELS(i8, i8_load16, i8_load1)

// Each kernel runs with the table's dim and row bytes as constants when the dim is 64 (the common
// embedding width): the bag is then one straight chunk with no tail loops, and the row address a shift
// and an add (the float32 kernels do the same: kernels.c BAG_LOOP).
#define DIM64_ROW_BYTES(KIND) ((KIND) == STORAGE_I8 ? (size_t)72 : (size_t)128)
#define DISPATCH_KIND(S, KIND, FN, ...)                                                                  \
  do {                                                                                                   \
    if (t->dim == 64 && t->stride == DIM64_ROW_BYTES(KIND)) {                                            \
      const qtable_t fixed = {t->data, DIM64_ROW_BYTES(KIND), 64, KIND};                                 \
      S##_##FN(&fixed, __VA_ARGS__);                                                                     \
    } else {                                                                                             \
      S##_##FN(t, __VA_ARGS__);                                                                          \
    }                                                                                                    \
  } while (0)
#define DISPATCH(FN, ...)                                                                                \
  switch (t->kind) {                                                                                     \
  case STORAGE_F16: DISPATCH_KIND(f16, STORAGE_F16, FN, __VA_ARGS__); break;                             \
  case STORAGE_BF16: DISPATCH_KIND(bf16, STORAGE_BF16, FN, __VA_ARGS__); break;                          \
  case STORAGE_I8: DISPATCH_KIND(i8, STORAGE_I8, FN, __VA_ARGS__); break;                                \
  default: break;                                                                                        \
  }

void KFN(q_bags_segment)(const qtable_t *t, const int32_t *splits, const int32_t *ids, int32_t row_start,
                    int32_t row_end, int mode, float *out) {
  DISPATCH(bags_segment, splits, ids, row_start, row_end, mode, out)
}

void KFN(q_bags_weighted)(const qtable_t *t, const int32_t *splits, const int32_t *ids, const float *weights,
                     int32_t row_start, int32_t row_end, int mode, float *out) {
  DISPATCH(bags_weighted, splits, ids, weights, row_start, row_end, mode, out)
}

void KFN(q_sequence)(const qtable_t *t, const int32_t *splits, const int32_t *ids, const int32_t *positions,
                int32_t row_start, int32_t row_end, int32_t length, float *out) {
  DISPATCH(sequence, splits, ids, positions, row_start, row_end, length, out)
}

void KFN(q_gather)(const qtable_t *t, const int32_t *ids, int32_t row_start, int32_t row_end, float *out) {
  DISPATCH(gather, ids, row_start, row_end, out)
}
