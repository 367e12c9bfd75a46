// Native gather-and-reduce kernels (N-API, C), an optional alternative to the WebAssembly SIMD kernels
// (assembly/lookup-kernels.ts). They read the tables, ids, row splits, weights and positions in place
// through typed-array views (no copies) and write straight into the caller's output Float32Array.
//
// Bit-identical to src/kernels/reduce.ts: vectors span the dim only, so each lane performs exactly the
// float32 operations of one element of the reference, in the same order. Built with -ffp-contract=off
// (no fused multiply-add) and without -ffast-math (no reassociation); float32 add/mul/div/sqrt are
// correctly rounded, like the reference's float64 operation rounded once to float32.
//
// Every entry point validates its inputs first (row splits, ids against the table, positions, output
// size) and returns false without writing anything when they do not fit, so the caller falls back to the
// other kernels, which raise or behave exactly as before.
#include "kernels.h"
#include <math.h>
#include <string.h>

// Vector width and chunking per ISA level (this file is compiled once per level: kernels.h). A chunk is
// the lanes of a row one pass over a bag accumulates in registers; the chunk sizes keep every
// accumulator in a register (x86-64-v3 has 16 ymm registers, v2 16 xmm, v4 32 zmm, NEON 32 q):
//   BAG_CHUNK  lanes of Σ w·e accumulators (weighted/ragged bags)
//   SEG_CHUNK  lanes of a segment-order group sum; SEG_SUM_IN_OUT keeps the running sum of the groups in
//              the output row instead of registers (added once per 8 rows), so the group sums fit.
// The vector type spans the dim only, so each lane does exactly the reference's float32 operations.
#if defined(__AVX512F__)
#define VL 16
#define BAG_CHUNK 64
#define SEG_CHUNK 64
#define SEG_SUM_IN_OUT 0
#elif defined(__AVX__)
#define VL 8
#define BAG_CHUNK 64
#define SEG_CHUNK 64
#define SEG_SUM_IN_OUT 1
#elif defined(__aarch64__) || defined(__ARM_NEON)
#define VL 4
#define BAG_CHUNK 64
#define SEG_CHUNK 64
#define SEG_SUM_IN_OUT 1
#else // x86-64-v2 (SSE4.2) and generic builds
#define VL 4
#define BAG_CHUNK 32
#define SEG_CHUNK 32
#define SEG_SUM_IN_OUT 1
#endif

// Fully unrolled lane loops, so a chunk's accumulators live in registers (not on the stack).
#define UNROLL _Pragma("GCC unroll 16")

// aligned(4): rows and outputs need only float alignment.
typedef float vf __attribute__((vector_size(VL * 4), aligned(4), may_alias));

static inline vf loadv(const float *p) { return *(const vf *)p; }

static inline void storev(float *p, vf v) { *(vf *)p = v; }

static inline const float *row_at(const float *table, size_t dim, const int32_t *ids, int32_t j) {
  return table + (size_t)ids[j] * dim;
}

/** Asks for every cache line of the rows of ids [*next, until) and moves *next there. */
static inline void prefetch_rows(const float *table, size_t dim, const int32_t *ids, int32_t *next, int32_t until) {
  const size_t bytes = dim * sizeof(float);
  if (bytes == 256 && ((uintptr_t)table & 63) == 0) {
    // dim 64 in a 64-byte aligned table: every row is 4 whole lines (4 instructions, not a loop of 16).
    for (int32_t j = *next; j < until; j++) {
      const char *p = (const char *)row_at(table, dim, ids, j);
      __builtin_prefetch(p, 0, 3);
      __builtin_prefetch(p + 64, 0, 3);
      __builtin_prefetch(p + 128, 0, 3);
      __builtin_prefetch(p + 192, 0, 3);
    }
  } else {
    for (int32_t j = *next; j < until; j++) {
      const char *p = (const char *)row_at(table, dim, ids, j);
      const char *last = p + bytes - 1;
      for (const char *q = (const char *)((uintptr_t)p & ~(uintptr_t)63); q <= last; q += 64)
        __builtin_prefetch(q, 0, 3);
      __asm__ __volatile__("" : : "r"(p)); // keeps GCC from deleting a loop of nothing but prefetches
    }
  }
  if (until > *next) *next = until;
}

/** The prefetch window: ids [first, min(end + ahead, ids_end)) requested before bag [.., end) runs. */
#define PREFETCH_UNTIL(end) ((end) + ahead < ids_end ? (end) + ahead : ids_end)

// One bag of >= 2 ids in TF's sparse-segment order, for the lanes [c, c + VL * K) (or one scalar lane
// when SCALAR): the first group of `first` rows summed left to right and scaled, later groups of 8
// summed and added, then divided when `divide`. IN_OUT: the running sum lives in o (see SEG_SUM_IN_OUT).
#define SEGMENT_CHUNK(NAME, T, K, W, LOAD, STORE, IN_OUT)                                                \
  static inline __attribute__((always_inline)) void NAME(const float *table, size_t dim, const int32_t *ids, int32_t start, int32_t end, \
                          int32_t first, float scale, bool divide, float divisor, float *o, size_t c) {  \
    T a[IN_OUT ? 1 : K], g[K];                                                                           \
    (void)a;                                                                                             \
    const float *p = row_at(table, dim, ids, start) + c;                                                 \
    UNROLL for (int k = 0; k < K; k++) g[k] = LOAD(p + W * k);                                           \
    for (int32_t j = start + 1; j < start + first; j++) {                                                \
      p = row_at(table, dim, ids, j) + c;                                                                \
      UNROLL for (int k = 0; k < K; k++) g[k] = g[k] + LOAD(p + W * k);                                  \
    }                                                                                                    \
    if (IN_OUT) {                                                                                        \
      UNROLL for (int k = 0; k < K; k++) STORE(o + c + W * k, g[k] * scale);                             \
    } else {                                                                                             \
      UNROLL for (int k = 0; k < K; k++) a[IN_OUT ? 0 : k] = g[k] * scale;                               \
    }                                                                                                    \
    for (int32_t h = start + first; h < end; h += 8) {                                                   \
      p = row_at(table, dim, ids, h) + c;                                                                \
      UNROLL for (int k = 0; k < K; k++) g[k] = LOAD(p + W * k);                                         \
      for (int32_t j = h + 1; j < h + 8; j++) {                                                          \
        p = row_at(table, dim, ids, j) + c;                                                              \
        UNROLL for (int k = 0; k < K; k++) g[k] = g[k] + LOAD(p + W * k);                                \
      }                                                                                                  \
      if (IN_OUT) {                                                                                      \
        UNROLL for (int k = 0; k < K; k++) STORE(o + c + W * k, LOAD(o + c + W * k) + g[k]);             \
      } else {                                                                                           \
        UNROLL for (int k = 0; k < K; k++) a[IN_OUT ? 0 : k] = a[IN_OUT ? 0 : k] + g[k];                 \
      }                                                                                                  \
    }                                                                                                    \
    if (IN_OUT) {                                                                                        \
      if (divide)                                                                                        \
        UNROLL for (int k = 0; k < K; k++) STORE(o + c + W * k, LOAD(o + c + W * k) / divisor);          \
    } else {                                                                                             \
      if (divide)                                                                                        \
        UNROLL for (int k = 0; k < K; k++) a[IN_OUT ? 0 : k] = a[IN_OUT ? 0 : k] / divisor;              \
      UNROLL for (int k = 0; k < K; k++) STORE(o + c + W * k, a[IN_OUT ? 0 : k]);                        \
    }                                                                                                    \
  }

// Σ w·e from zero (Σ e when `weights` is NULL) over one bag, for the lanes [c, c + W * K), then
// divided when `divide`.
#define WEIGHTED_CHUNK(NAME, T, K, W, LOAD, STORE)                                                       \
  static inline __attribute__((always_inline)) void NAME(const float *table, size_t dim, const int32_t *ids, const float *weights, \
                          int32_t start, int32_t end, bool divide, float divisor, float *o, size_t c) {  \
    T a[K];                                                                                              \
    UNROLL for (int k = 0; k < K; k++) a[k] = (T){0};                                                    \
    if (weights == NULL) {                                                                               \
      for (int32_t j = start; j < end; j++) {                                                            \
        const float *p = row_at(table, dim, ids, j) + c;                                                 \
        UNROLL for (int k = 0; k < K; k++) a[k] = a[k] + LOAD(p + W * k);                                \
      }                                                                                                  \
    } else {                                                                                             \
      for (int32_t j = start; j < end; j++) {                                                            \
        const float *p = row_at(table, dim, ids, j) + c;                                                 \
        const float w = weights[j];                                                                      \
        UNROLL for (int k = 0; k < K; k++) a[k] = a[k] + w * LOAD(p + W * k);                            \
      }                                                                                                  \
    }                                                                                                    \
    if (divide)                                                                                          \
      UNROLL for (int k = 0; k < K; k++) a[k] = a[k] / divisor;                                          \
    UNROLL for (int k = 0; k < K; k++) STORE(o + c + W * k, a[k]);                                       \
  }

static inline float load1(const float *p) { return *p; }
static inline void store1(float *p, float v) { *p = v; }

SEGMENT_CHUNK(segment_chunk, vf, SEG_CHUNK / VL, VL, loadv, storev, SEG_SUM_IN_OUT)
SEGMENT_CHUNK(segment_vector, vf, 1, VL, loadv, storev, 0)
SEGMENT_CHUNK(segment1, float, 1, 1, load1, store1, 0)
WEIGHTED_CHUNK(weighted_chunk, vf, BAG_CHUNK / VL, VL, loadv, storev)
WEIGHTED_CHUNK(weighted_vector, vf, 1, VL, loadv, storev)
WEIGHTED_CHUNK(weighted1, float, 1, 1, load1, store1)


#define ALWAYS_INLINE static inline __attribute__((always_inline))

/** One bag of rows [start, end) in TF's segment order into o (dim a constant where the caller knows it). */
ALWAYS_INLINE void segment_bag(const float *table, size_t dim, const int32_t *ids, int32_t start, int32_t end,
                               int mode, float *o) {
  const int32_t num = end - start;
  if (num == 0) {
    memset(o, 0, dim * sizeof(float));
    return;
  }
  if (num == 1) {
    memcpy(o, row_at(table, dim, ids, start), dim * sizeof(float));
    return;
  }
  float scale = 1.0f;
  if (num < 10) {
    if (mode == MODE_MEAN) scale = 1.0f / (float)num;
    else if (mode == MODE_SQRTN) scale = 1.0f / sqrtf((float)num);
  }
  const int32_t remainder = num & 7;
  const int32_t first = remainder == 0 ? 8 : remainder == 1 ? 9 : remainder;
  const bool divide = num >= 10 && mode != MODE_SUM;
  const float divisor = mode == MODE_MEAN ? (float)num : sqrtf((float)num);
  size_t c = 0;
  for (; c + SEG_CHUNK <= dim; c += SEG_CHUNK)
    segment_chunk(table, dim, ids, start, end, first, scale, divide, divisor, o, c);
  for (; c + VL <= dim; c += VL) segment_vector(table, dim, ids, start, end, first, scale, divide, divisor, o, c);
  for (; c < dim; c++) segment1(table, dim, ids, start, end, first, scale, divide, divisor, o, c);
}

// The bag loops run twice: once for dim == the level's chunk (64 floats on most levels, the common
// embedding width), where the dim is a constant so the bag's code is one straight chunk with no tail loops
// or per-bag call (callgrind at v3: 39 -> 30 instructions per id, bench/results/2026-12-07-isa-dispatch.md),
// and once for any other dim.
#define BAG_LOOP(DIM_EXPR, BODY)                                                                         \
  for (int32_t r = row_start; r < row_end; r++) {                                                        \
    const int32_t start = splits[r], end = splits[r + 1];                                                \
    if (ahead > 0) prefetch_rows(table, DIM_EXPR, ids, &next, PREFETCH_UNTIL(end));                      \
    float *o = out + (size_t)(r - row_start) * (DIM_EXPR);                                               \
    BODY;                                                                                                \
  }

void KFN(bags_segment)(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                       int32_t row_start, int32_t row_end, int mode, float *out) {
  const int32_t ids_end = splits[row_end], ahead = kernel_prefetch_ids;
  int32_t next = splits[row_start];
  if (dim == SEG_CHUNK) BAG_LOOP(SEG_CHUNK, segment_bag(table, SEG_CHUNK, ids, start, end, mode, o))
  else BAG_LOOP(dim, segment_bag(table, dim, ids, start, end, mode, o))
}

/** One bag as Σ w·e (Σ e without weights), then div_no_nan, into o. */
ALWAYS_INLINE void weighted_bag(const float *table, size_t dim, const int32_t *ids, const float *weights,
                                int32_t start, int32_t end, int mode, float *o) {
  float weight_sum = 0.0f, square_sum = 0.0f;
  if (mode == MODE_SUM) {
    // no divisor
  } else if (weights == NULL) {
    // Σ 1.0f over the bag as TF adds it, in closed form: n, until the float32 sum stops at 2^24 (2^24 + 1
    // rounds back to it). The loop was a chain of n dependent adds per bag.
    const int32_t n = end - start;
    weight_sum = (float)(n < (1 << 24) ? n : (1 << 24));
    square_sum = weight_sum;
  } else {
    for (int32_t j = start; j < end; j++) {
      const float w = weights[j];
      weight_sum += w;
      square_sum += w * w;
    }
  }
  const float divisor = mode == MODE_MEAN ? weight_sum : sqrtf(square_sum);
  if (mode != MODE_SUM && divisor == 0.0f) {
    memset(o, 0, dim * sizeof(float)); // div_no_nan
    return;
  }
  const bool divide = mode != MODE_SUM;
  size_t c = 0;
  for (; c + BAG_CHUNK <= dim; c += BAG_CHUNK)
    weighted_chunk(table, dim, ids, weights, start, end, divide, divisor, o, c);
  for (; c + VL <= dim; c += VL) weighted_vector(table, dim, ids, weights, start, end, divide, divisor, o, c);
  for (; c < dim; c++) weighted1(table, dim, ids, weights, start, end, divide, divisor, o, c);
}

void KFN(bags_weighted)(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                        const float *weights, int32_t row_start, int32_t row_end, int mode, float *out) {
  // Software prefetch of every row up to `ahead` ids past each bag (each id once, bag by bag).
  const int32_t ids_end = splits[row_end], ahead = kernel_prefetch_ids;
  int32_t next = splits[row_start];
  if (dim == BAG_CHUNK) BAG_LOOP(BAG_CHUNK, weighted_bag(table, BAG_CHUNK, ids, weights, start, end, mode, o))
  else BAG_LOOP(dim, weighted_bag(table, dim, ids, weights, start, end, mode, o))
}

/** dst = dst + src over one row (0 + x when dst was zeroed: -0 becomes +0, as in the reference). */
static inline void add_row(float *dst, const float *src, size_t dim) {
  size_t d = 0;
  for (; d + VL <= dim; d += VL) storev(dst + d, loadv(dst + d) + loadv(src + d));
  for (; d < dim; d++) dst[d] = dst[d] + src[d];
}

/** dst = src + 0 over one row (the reference's 0 + x into a zeroed row: -0 becomes +0). Plain stores:
 * 16-byte non-temporal stores for outputs over 4 MiB measured 2× slower on Zen 4 (seq-zipf B=1024: 12.8
 * against 24.2 M ids/s, bench/results/2026-12-07-peers-quiet.md); the C reference uses plain ones. */
static inline void copy_row(float *dst, const float *src, size_t dim) {
  const vf zero = {0};
  size_t d = 0;
  for (; d + VL <= dim; d += VL) storev(dst + d, loadv(src + d) + zero);
  for (; d < dim; d++) dst[d] = src[d] + 0.0f;
}

void KFN(sequence)(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                   const int32_t *positions, int32_t row_start, int32_t row_end, int32_t length, float *out) {
  const size_t per_row = (size_t)length * dim;
  const size_t bytes = (size_t)(row_end - row_start) * per_row * sizeof(float);
  const int32_t ids_end = splits[row_end], ahead = kernel_prefetch_ids;
  int32_t next = splits[row_start];
  if (positions != NULL) {
    // Explicit positions may repeat (a scatter-add): zero first, then add in order.
    memset(out, 0, bytes);
    for (int32_t r = row_start; r < row_end; r++) {
      if (ahead > 0) prefetch_rows(table, dim, ids, &next, PREFETCH_UNTIL(splits[r + 1]));
      float *o = out + (size_t)(r - row_start) * per_row;
      for (int32_t j = splits[r]; j < splits[r + 1]; j++)
        add_row(o + (size_t)positions[j] * dim, row_at(table, dim, ids, j), dim);
    }
    return;
  }
  // Ragged rows fill positions 0..n-1 once each: every output value is written exactly once.
  for (int32_t r = row_start; r < row_end; r++) {
    if (ahead > 0) prefetch_rows(table, dim, ids, &next, PREFETCH_UNTIL(splits[r + 1]));
    float *o = out + (size_t)(r - row_start) * per_row;
    const int32_t n = splits[r + 1] - splits[r];
    for (int32_t j = 0; j < n; j++) copy_row(o + (size_t)j * dim, row_at(table, dim, ids, splits[r] + j), dim);
    memset(o + (size_t)n * dim, 0, (size_t)(length - n) * dim * sizeof(float));
  }
}

void KFN(gather)(const float *table, size_t dim, const int32_t *ids, int32_t row_start, int32_t row_end,
                 float *out) {
  const int32_t ids_end = row_end, ahead = kernel_prefetch_ids;
  int32_t next = row_start;
  for (int32_t i = row_start; i < row_end; i++) {
    if (ahead > 0 && (i & 7) == 0) prefetch_rows(table, dim, ids, &next, PREFETCH_UNTIL(i + 8));
    memcpy(out + (size_t)(i - row_start) * dim, row_at(table, dim, ids, i), dim * sizeof(float));
  }
}

/** Every id a row of the table (a branch-free OR-reduction the compiler vectorizes, for all but a few ids). */
bool KFN(ids_in_table)(const int32_t *ids, size_t count, size_t table_rows) {
  if (table_rows > UINT32_MAX) table_rows = UINT32_MAX;
  const uint32_t *v = (const uint32_t *)ids, bound = (uint32_t)table_rows;
  if (count < 32) {
    // A request's bags hold a few ids: a plain loop (the vectorized one costs more to set up).
    for (size_t j = 0; j < count; j++)
      if (v[j] >= bound) return false;
    return true;
  }
  uint32_t bad = 0;
  for (size_t j = 0; j < count; j++) bad |= v[j] >= bound;
  return bad == 0;
}
