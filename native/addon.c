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
#include "batch.h"
#include "dispatch.h"
#include "float_format_napi.h"
#include "json_columns.h"
#include "socket_fd.h"
#include "napi_util.h"
#ifdef __linux__
#include <sys/mman.h>
#endif

static bool bags_fit(const view_t *splits, const view_t *ids, int32_t row_start, int32_t row_end,
                     size_t table_rows) {
  if (row_start > row_end || (size_t)row_end >= splits->length) return false;
  const int32_t *s = splits->data;
  if (s[row_start] < 0 || (size_t)s[row_end] > ids->length) return false;
  for (int32_t r = row_start; r < row_end; r++)
    if (s[r + 1] < s[r]) return false;
  return kernels()->ids_in_table((const int32_t *)ids->data + s[row_start], (size_t)(s[row_end] - s[row_start]), table_rows);
}

static bool out_fits(const view_t *out, int32_t offset, int32_t rows, size_t per_row) {
  return (size_t)offset + (size_t)rows * per_row <= out->length;
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
  kernels()->bags_segment(table.data, dim, splits.data, ids.data, row_start, row_end, mode, (float *)out.data + offset);
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
  kernels()->bags_weighted(table.data, dim, splits.data, ids.data, weights.data, row_start, row_end, mode,
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
  kernels()->sequence(table.data, dim, splits.data, ids.data, positions.data, row_start, row_end, length,
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
  if (!kernels()->ids_in_table((const int32_t *)ids.data + row_start, (size_t)(row_end - row_start), table.length / dim))
    return boolean(env, false);
  kernels()->gather(table.data, dim, ids.data, row_start, row_end, (float *)out.data + offset);
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
  kernels_init(); // the best ISA level this CPU runs (dispatch.c), once per process
  const napi_property_descriptor functions[] = {
      {"bagsSegment", NULL, js_bags_segment, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bagsWeighted", NULL, js_bags_weighted, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sequence", NULL, js_sequence, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gather", NULL, js_gather, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adviseHugePages", NULL, js_advise_huge_pages, NULL, NULL, NULL, napi_enumerable, NULL},
      {"createTableSet", NULL, js_create_table_set, NULL, NULL, NULL, napi_enumerable, NULL},
      {"releaseTableSet", NULL, js_release_table_set, NULL, NULL, NULL, napi_enumerable, NULL},
      {"smallLookup", NULL, js_small_lookup, NULL, NULL, NULL, napi_enumerable, NULL},
      {"smallLookupCheck", NULL, js_small_lookup_check, NULL, NULL, NULL, napi_enumerable, NULL},
      {"smallLookupShare", NULL, js_small_lookup_share, NULL, NULL, NULL, napi_enumerable, NULL},
      {"resolveRefs", NULL, js_resolve_refs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"firstOutsideRange", NULL, js_first_outside_range, NULL, NULL, NULL, napi_enumerable, NULL},
      {"kernelIsa", NULL, js_kernel_isa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"selectIsa", NULL, js_select_isa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"prefetchDistance", NULL, js_prefetch_distance, NULL, NULL, NULL, napi_enumerable, NULL},
      {"calibratePrefetch", NULL, js_calibrate_prefetch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  // A CPU below every compiled level (x86-64 without SSE4.2): only kernelIsa, whose `active` is null, so
  // the library uses its WebAssembly kernels (and the JSON float writer, which needs no vector ISA).
  const napi_property_descriptor isa_only = {"kernelIsa", NULL, js_kernel_isa, NULL, NULL, NULL, napi_enumerable, NULL};
  const bool all = kernels() != NULL;
  const bool defined = napi_define_properties(env, exports, all ? sizeof functions / sizeof functions[0] : 1,
                                              all ? functions : &isa_only) == napi_ok;
  // The JSON float writer, body scanner and socket hand-off need no vector ISA: defined either way.
  return defined && define_float_format(env, exports) && define_json_columns(env, exports) &&
                 define_socket_fd(env, exports)
             ? exports
             : NULL;
}
