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
#define _GNU_SOURCE // madvise(MADV_HUGEPAGE)
#define NAPI_VERSION 8
#include <node_api.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif
#ifdef __SSE__
#include <immintrin.h>
#endif

// 16 float32 lanes (one 64-byte cache line): AVX-512 with -march=native on this machine, two or four
// narrower registers elsewhere. aligned(4): rows and outputs need only float alignment.
// Fully unrolled lane loops, so a chunk's accumulators live in registers (not on the stack).
#define UNROLL _Pragma("GCC unroll 8")

typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));

static inline v16f load16(const float *p) { return *(const v16f *)p; }

static inline void store16(float *p, v16f v) { *(v16f *)p = v; }

static inline const float *row_at(const float *table, size_t dim, const int32_t *ids, int32_t j) {
  return table + (size_t)ids[j] * dim;
}

// One bag of >= 2 ids in TF's sparse-segment order, for the lanes [c, c + 16 * K) (or one scalar lane
// when SCALAR): the first group of `first` rows summed left to right and scaled, later groups of 8
// summed and added, then divided when `divide`.
#define SEGMENT_CHUNK(NAME, T, K, LOAD, STORE)                                                           \
  static inline void NAME(const float *table, size_t dim, const int32_t *ids, int32_t start, int32_t end, \
                          int32_t first, float scale, bool divide, float divisor, float *o, size_t c) {  \
    T a[K], g[K];                                                                                        \
    const float *p = row_at(table, dim, ids, start) + c;                                                 \
    UNROLL for (int k = 0; k < K; k++) g[k] = LOAD(p + 16 * k);                                                 \
    for (int32_t j = start + 1; j < start + first; j++) {                                                \
      p = row_at(table, dim, ids, j) + c;                                                                \
      UNROLL for (int k = 0; k < K; k++) g[k] = g[k] + LOAD(p + 16 * k);                                        \
    }                                                                                                    \
    UNROLL for (int k = 0; k < K; k++) a[k] = g[k] * scale;                                                     \
    for (int32_t h = start + first; h < end; h += 8) {                                                   \
      p = row_at(table, dim, ids, h) + c;                                                                \
      UNROLL for (int k = 0; k < K; k++) g[k] = LOAD(p + 16 * k);                                               \
      for (int32_t j = h + 1; j < h + 8; j++) {                                                          \
        p = row_at(table, dim, ids, j) + c;                                                              \
        UNROLL for (int k = 0; k < K; k++) g[k] = g[k] + LOAD(p + 16 * k);                                      \
      }                                                                                                  \
      UNROLL for (int k = 0; k < K; k++) a[k] = a[k] + g[k];                                                    \
    }                                                                                                    \
    if (divide)                                                                                          \
      UNROLL for (int k = 0; k < K; k++) a[k] = a[k] / divisor;                                                 \
    UNROLL for (int k = 0; k < K; k++) STORE(o + c + 16 * k, a[k]);                                             \
  }

// Σ w·e from zero (Σ e when `weights` is NULL) over one bag, for the lanes [c, c + 16 * K), then
// divided when `divide`.
#define WEIGHTED_CHUNK(NAME, T, K, LOAD, STORE)                                                          \
  static inline void NAME(const float *table, size_t dim, const int32_t *ids, const float *weights,      \
                          int32_t start, int32_t end, bool divide, float divisor, float *o, size_t c) {  \
    T a[K];                                                                                              \
    UNROLL for (int k = 0; k < K; k++) a[k] = (T){0};                                                           \
    if (weights == NULL) {                                                                               \
      for (int32_t j = start; j < end; j++) {                                                            \
        const float *p = row_at(table, dim, ids, j) + c;                                                 \
        UNROLL for (int k = 0; k < K; k++) a[k] = a[k] + LOAD(p + 16 * k);                                      \
      }                                                                                                  \
    } else {                                                                                             \
      for (int32_t j = start; j < end; j++) {                                                            \
        const float *p = row_at(table, dim, ids, j) + c;                                                 \
        const float w = weights[j];                                                                      \
        UNROLL for (int k = 0; k < K; k++) a[k] = a[k] + w * LOAD(p + 16 * k);                                  \
      }                                                                                                  \
    }                                                                                                    \
    if (divide)                                                                                          \
      UNROLL for (int k = 0; k < K; k++) a[k] = a[k] / divisor;                                                 \
    UNROLL for (int k = 0; k < K; k++) STORE(o + c + 16 * k, a[k]);                                             \
  }

static inline float load1(const float *p) { return *p; }
static inline void store1(float *p, float v) { *p = v; }

SEGMENT_CHUNK(segment64, v16f, 4, load16, store16)
SEGMENT_CHUNK(segment16, v16f, 1, load16, store16)
SEGMENT_CHUNK(segment1, float, 1, load1, store1)
WEIGHTED_CHUNK(weighted64, v16f, 4, load16, store16)
WEIGHTED_CHUNK(weighted16, v16f, 1, load16, store16)
WEIGHTED_CHUNK(weighted1, float, 1, load1, store1)

enum { MODE_SUM = 0, MODE_MEAN = 1, MODE_SQRTN = 2 };

static void bags_segment(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                         int32_t row_start, int32_t row_end, int mode, float *out) {
  for (int32_t r = row_start; r < row_end; r++) {
    const int32_t start = splits[r], end = splits[r + 1], num = end - start;
    float *o = out + (size_t)(r - row_start) * dim;
    if (num == 0) {
      memset(o, 0, dim * sizeof(float));
      continue;
    }
    if (num == 1) {
      memcpy(o, row_at(table, dim, ids, start), dim * sizeof(float));
      continue;
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
    for (; c + 64 <= dim; c += 64) segment64(table, dim, ids, start, end, first, scale, divide, divisor, o, c);
    for (; c + 16 <= dim; c += 16) segment16(table, dim, ids, start, end, first, scale, divide, divisor, o, c);
    for (; c < dim; c++) segment1(table, dim, ids, start, end, first, scale, divide, divisor, o, c);
  }
}

static void bags_weighted(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                          const float *weights, int32_t row_start, int32_t row_end, int mode, float *out) {
  for (int32_t r = row_start; r < row_end; r++) {
    const int32_t start = splits[r], end = splits[r + 1];
    float *o = out + (size_t)(r - row_start) * dim;
    float weight_sum = 0.0f, square_sum = 0.0f;
    if (mode == MODE_SUM) {
      // no divisor
    } else if (weights == NULL) {
      for (int32_t j = start; j < end; j++) weight_sum += 1.0f;
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
      continue;
    }
    const bool divide = mode != MODE_SUM;
    size_t c = 0;
    for (; c + 64 <= dim; c += 64) weighted64(table, dim, ids, weights, start, end, divide, divisor, o, c);
    for (; c + 16 <= dim; c += 16) weighted16(table, dim, ids, weights, start, end, divide, divisor, o, c);
    for (; c < dim; c++) weighted1(table, dim, ids, weights, start, end, divide, divisor, o, c);
  }
}

/** dst = dst + src over one row (0 + x when dst was zeroed: -0 becomes +0, as in the reference). */
static inline void add_row(float *dst, const float *src, size_t dim) {
  size_t d = 0;
  for (; d + 16 <= dim; d += 16) store16(dst + d, load16(dst + d) + load16(src + d));
  for (; d < dim; d++) dst[d] = dst[d] + src[d];
}

// Large sequence outputs are written with non-temporal stores (they would only evict the tables from the
// cache). 16-byte ones: output arrays are only 16-byte aligned (malloc), and rows written in order fill
// whole cache lines in the write-combining buffers anyway.
#ifdef __SSE__
#define HAVE_STREAM 1
#else
#define HAVE_STREAM 0
#endif

/** dst = src + 0 over one row, stored without reading dst (the reference's 0 + x into a zeroed row). */
static inline void copy_row(float *dst, const float *src, size_t dim, bool stream) {
  size_t d = 0;
#if HAVE_STREAM
  if (stream)
    for (; d + 4 <= dim; d += 4) _mm_stream_ps(dst + d, _mm_add_ps(_mm_loadu_ps(src + d), _mm_setzero_ps()));
#else
  (void)stream;
#endif
  const v16f zero = {0};
  for (; d + 16 <= dim; d += 16) store16(dst + d, load16(src + d) + zero);
  for (; d < dim; d++) dst[d] = src[d] + 0.0f;
}

static inline void zero_values(float *dst, size_t count, bool stream) {
  size_t d = 0;
#if HAVE_STREAM
  if (stream)
    for (; d + 4 <= count; d += 4) _mm_stream_ps(dst + d, _mm_setzero_ps());
#else
  (void)stream;
#endif
  memset(dst + d, 0, (count - d) * sizeof(float));
}

/** Outputs at least this large are streamed. */
#define STREAM_MIN_BYTES ((size_t)4 << 20)

static void sequence(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                     const int32_t *positions, int32_t row_start, int32_t row_end, int32_t length,
                     float *out) {
  const size_t per_row = (size_t)length * dim;
  const size_t bytes = (size_t)(row_end - row_start) * per_row * sizeof(float);
  if (positions != NULL) {
    // Explicit positions may repeat (a scatter-add): zero first, then add in order.
    memset(out, 0, bytes);
    for (int32_t r = row_start; r < row_end; r++) {
      float *o = out + (size_t)(r - row_start) * per_row;
      for (int32_t j = splits[r]; j < splits[r + 1]; j++)
        add_row(o + (size_t)positions[j] * dim, row_at(table, dim, ids, j), dim);
    }
    return;
  }
  // Ragged rows fill positions 0..n-1 once each: every output value is written exactly once.
  const bool stream = HAVE_STREAM && bytes >= STREAM_MIN_BYTES && ((uintptr_t)out & 15) == 0 && (dim & 3) == 0;
  for (int32_t r = row_start; r < row_end; r++) {
    float *o = out + (size_t)(r - row_start) * per_row;
    const int32_t n = splits[r + 1] - splits[r];
    for (int32_t j = 0; j < n; j++) copy_row(o + (size_t)j * dim, row_at(table, dim, ids, splits[r] + j), dim, stream);
    zero_values(o + (size_t)n * dim, (size_t)(length - n) * dim, stream);
  }
#if HAVE_STREAM
  if (stream) _mm_sfence(); // the streamed values are visible to other threads before the caller signals
#endif
}

static void gather(const float *table, size_t dim, const int32_t *ids, int32_t row_start, int32_t row_end,
                   float *out) {
  for (int32_t i = row_start; i < row_end; i++)
    memcpy(out + (size_t)(i - row_start) * dim, row_at(table, dim, ids, i), dim * sizeof(float));
}

// ---- Argument checks (false: the caller falls back; nothing was written) ----

typedef struct {
  void *data;
  size_t length;
} view_t;

/** A typed array of the given type (or null when `nullable`: data NULL, length 0). */
static bool typed_view(napi_env env, napi_value value, napi_typedarray_type want, bool nullable, view_t *v) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok) return false;
  if (t == napi_null && nullable) {
    v->data = NULL;
    v->length = 0;
    return true;
  }
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, value, &type, &v->length, &v->data, NULL, NULL) != napi_ok) return false;
  return type == want && (v->data != NULL || v->length == 0);
}

static bool int_arg(napi_env env, napi_value value, int32_t min, int32_t *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) return false;
  if (!(d >= min && d <= 2147483647.0) || d != (double)(int32_t)d) return false;
  *out = (int32_t)d;
  return true;
}

/** Every id a row of the table (branch-free OR-reduction, so the compiler vectorizes it). */
static bool ids_in_table(const int32_t *ids, size_t count, size_t table_rows) {
  if (table_rows > UINT32_MAX) table_rows = UINT32_MAX;
  const uint32_t *v = (const uint32_t *)ids, bound = (uint32_t)table_rows;
  uint32_t bad = 0;
  for (size_t j = 0; j < count; j++) bad |= v[j] >= bound;
  return bad == 0;
}

/** Row splits [row_start, row_end] nondecreasing within `ids`, every id a row of the table. */
static bool bags_fit(const view_t *splits, const view_t *ids, int32_t row_start, int32_t row_end,
                     size_t table_rows) {
  if (row_start > row_end || (size_t)row_end >= splits->length) return false;
  const int32_t *s = splits->data;
  if (s[row_start] < 0 || (size_t)s[row_end] > ids->length) return false;
  for (int32_t r = row_start; r < row_end; r++)
    if (s[r + 1] < s[r]) return false;
  return ids_in_table((const int32_t *)ids->data + s[row_start], (size_t)(s[row_end] - s[row_start]), table_rows);
}

static bool out_fits(const view_t *out, int32_t offset, int32_t rows, size_t per_row) {
  return (size_t)offset + (size_t)rows * per_row <= out->length;
}

static napi_value boolean(napi_env env, bool value) {
  napi_value result;
  napi_get_boolean(env, value, &result);
  return result;
}

#define ARGS(N)                                                                                          \
  size_t argc = N;                                                                                       \
  napi_value argv[N];                                                                                    \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != N) return boolean(env, false)

/** bagsSegment(table, dim, splits, ids, rowStart, rowEnd, mode, out, outOffset): boolean */
static napi_value js_bags_segment(napi_env env, napi_callback_info info) {
  ARGS(9);
  view_t table, splits, ids, out;
  int32_t dim, row_start, row_end, mode, offset;
  if (!typed_view(env, argv[0], napi_float32_array, false, &table) || !int_arg(env, argv[1], 1, &dim) ||
      !typed_view(env, argv[2], napi_int32_array, false, &splits) ||
      !typed_view(env, argv[3], napi_int32_array, false, &ids) || !int_arg(env, argv[4], 0, &row_start) ||
      !int_arg(env, argv[5], 0, &row_end) || !int_arg(env, argv[6], 0, &mode) || mode > MODE_SQRTN ||
      !typed_view(env, argv[7], napi_float32_array, false, &out) || !int_arg(env, argv[8], 0, &offset) ||
      !bags_fit(&splits, &ids, row_start, row_end, table.length / dim) ||
      !out_fits(&out, offset, row_end - row_start, dim))
    return boolean(env, false);
  bags_segment(table.data, dim, splits.data, ids.data, row_start, row_end, mode, (float *)out.data + offset);
  return boolean(env, true);
}

/** bagsWeighted(table, dim, splits, ids, weights | null, rowStart, rowEnd, mode, out, outOffset) */
static napi_value js_bags_weighted(napi_env env, napi_callback_info info) {
  ARGS(10);
  view_t table, splits, ids, weights, out;
  int32_t dim, row_start, row_end, mode, offset;
  if (!typed_view(env, argv[0], napi_float32_array, false, &table) || !int_arg(env, argv[1], 1, &dim) ||
      !typed_view(env, argv[2], napi_int32_array, false, &splits) ||
      !typed_view(env, argv[3], napi_int32_array, false, &ids) ||
      !typed_view(env, argv[4], napi_float32_array, true, &weights) ||
      !int_arg(env, argv[5], 0, &row_start) || !int_arg(env, argv[6], 0, &row_end) ||
      !int_arg(env, argv[7], 0, &mode) || mode > MODE_SQRTN ||
      !typed_view(env, argv[8], napi_float32_array, false, &out) || !int_arg(env, argv[9], 0, &offset) ||
      !bags_fit(&splits, &ids, row_start, row_end, table.length / dim) ||
      (weights.data != NULL && weights.length < ids.length) ||
      !out_fits(&out, offset, row_end - row_start, dim))
    return boolean(env, false);
  bags_weighted(table.data, dim, splits.data, ids.data, weights.data, row_start, row_end, mode,
                (float *)out.data + offset);
  return boolean(env, true);
}

/** sequence(table, dim, splits, ids, positions | null, rowStart, rowEnd, length, out, outOffset) */
static napi_value js_sequence(napi_env env, napi_callback_info info) {
  ARGS(10);
  view_t table, splits, ids, positions, out;
  int32_t dim, row_start, row_end, length, offset;
  if (!typed_view(env, argv[0], napi_float32_array, false, &table) || !int_arg(env, argv[1], 1, &dim) ||
      !typed_view(env, argv[2], napi_int32_array, false, &splits) ||
      !typed_view(env, argv[3], napi_int32_array, false, &ids) ||
      !typed_view(env, argv[4], napi_int32_array, true, &positions) ||
      !int_arg(env, argv[5], 0, &row_start) || !int_arg(env, argv[6], 0, &row_end) ||
      !int_arg(env, argv[7], 0, &length) || !typed_view(env, argv[8], napi_float32_array, false, &out) ||
      !int_arg(env, argv[9], 0, &offset) ||
      !bags_fit(&splits, &ids, row_start, row_end, table.length / dim) ||
      (positions.data != NULL && positions.length < ids.length) ||
      !out_fits(&out, offset, row_end - row_start, (size_t)length * dim))
    return boolean(env, false);
  const int32_t *s = splits.data;
  for (int32_t r = row_start; r < row_end; r++) {
    if (positions.data == NULL && s[r + 1] - s[r] > length) return boolean(env, false);
    if (positions.data != NULL)
      for (int32_t j = s[r]; j < s[r + 1]; j++)
        if ((uint32_t)((const int32_t *)positions.data)[j] >= (uint32_t)length) return boolean(env, false);
  }
  sequence(table.data, dim, splits.data, ids.data, positions.data, row_start, row_end, length,
           (float *)out.data + offset);
  return boolean(env, true);
}

/** gather(table, dim, ids, rowStart, rowEnd, out, outOffset): boolean */
static napi_value js_gather(napi_env env, napi_callback_info info) {
  ARGS(7);
  view_t table, ids, out;
  int32_t dim, row_start, row_end, offset;
  if (!typed_view(env, argv[0], napi_float32_array, false, &table) || !int_arg(env, argv[1], 1, &dim) ||
      !typed_view(env, argv[2], napi_int32_array, false, &ids) || !int_arg(env, argv[3], 0, &row_start) ||
      !int_arg(env, argv[4], 0, &row_end) || row_start > row_end || (size_t)row_end > ids.length ||
      !typed_view(env, argv[5], napi_float32_array, false, &out) || !int_arg(env, argv[6], 0, &offset) ||
      !out_fits(&out, offset, row_end - row_start, dim))
    return boolean(env, false);
  if (!ids_in_table((const int32_t *)ids.data + row_start, (size_t)(row_end - row_start), table.length / dim))
    return boolean(env, false);
  gather(table.data, dim, ids.data, row_start, row_end, (float *)out.data + offset);
  return boolean(env, true);
}

/**
 * adviseHugePages(view): number. Asks Linux to back the 2 MiB-aligned part of a typed array's memory with
 * transparent huge pages (MADV_HUGEPAGE), so the random row gathers of a 2 GiB table set stop missing the
 * TLB on every row. Call it before the memory is first written: pages faulted in afterwards come as huge
 * pages. Returns the bytes advised (0 elsewhere, or when the kernel refuses).
 */
static napi_value js_advise_huge_pages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double advised = 0;
  bool is_typed = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1 &&
      napi_is_typedarray(env, argv[0], &is_typed) == napi_ok && is_typed) {
    napi_typedarray_type type;
    size_t length, offset;
    void *data;
    napi_value buffer;
    if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &buffer, &offset) == napi_ok &&
        data != NULL) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
      static const size_t huge = (size_t)2 << 20;
      size_t element = type == napi_float64_array || type == napi_bigint64_array || type == napi_biguint64_array ? 8
                       : type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array ? 4
                       : type == napi_int16_array || type == napi_uint16_array ? 2
                       : 1;
      uintptr_t start = ((uintptr_t)data + huge - 1) & ~(uintptr_t)(huge - 1);
      uintptr_t end = ((uintptr_t)data + length * element) & ~(uintptr_t)(huge - 1);
      if (end > start && madvise((void *)start, end - start, MADV_HUGEPAGE) == 0) advised = (double)(end - start);
#endif
    }
  }
  napi_value result;
  napi_create_double(env, advised, &result);
  return result;
}

/**
 * firstOutsideRange(ids: Int32Array, limit): number. The index of the first id outside [0, limit), or -1:
 * the lookup planner's range check, a vectorized pass instead of a JS loop (blocks of 64 are OR-reduced
 * without branches; the scalar loop finds the exact index). -2 for bad arguments.
 */
static napi_value js_first_outside_range(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double found = -2;
  view_t ids;
  int32_t limit;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 2 &&
      typed_view(env, argv[0], napi_int32_array, false, &ids) && int_arg(env, argv[1], 0, &limit)) {
    const uint32_t *v = ids.data, bound = (uint32_t)limit;
    size_t i = 0;
    for (; i + 64 <= ids.length; i += 64) {
      uint32_t bad = 0;
      for (size_t j = 0; j < 64; j++) bad |= v[i + j] >= bound;
      if (bad) break;
    }
    found = -1;
    for (; i < ids.length; i++)
      if (v[i] >= bound) {
        found = (double)i;
        break;
      }
  }
  napi_value result;
  napi_create_double(env, found, &result);
  return result;
}

// Context-aware (no global state): loads in the main thread and in every worker thread.
NAPI_MODULE_INIT() {
  const napi_property_descriptor functions[] = {
      {"bagsSegment", NULL, js_bags_segment, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bagsWeighted", NULL, js_bags_weighted, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sequence", NULL, js_sequence, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gather", NULL, js_gather, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adviseHugePages", NULL, js_advise_huge_pages, NULL, NULL, NULL, napi_enumerable, NULL},
      {"firstOutsideRange", NULL, js_first_outside_range, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok)
    return NULL;
  return exports;
}
