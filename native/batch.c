// Lookup batches (src/kernels/batch-layout.ts): every feature of one request in one call.
#include "batch.h"
#include "dispatch.h"
#include <stdlib.h>
#include <string.h>
#ifdef __SSE__
#include <immintrin.h>
#endif

// ---- Small lookups: every feature of one request in one call (src/embedding/small-lookup.ts) ----
//
// A B=1 request touches ~26 features of ~8 ids each: per-feature calls cost more in argument handling than
// the kernels themselves. A table set (created once per embedding) holds the tables' pointers; one call
// then runs every feature, described in one staging Int32Array, with the kernels above, into one output
// Float32Array. Everything is validated before the first write; a failure returns the feature's number
// and the caller runs its general path, which raises TF's error.

#define TABLE_SET_MAGIC 0x54534554u // "TSET"

typedef struct {
  uint32_t magic;
  uint32_t count; // 0 once released
  const void **data;
  size_t *rows;
  size_t *strides; // bytes per row
  int32_t *dims;
  int32_t *kinds; // STORAGE_* (kernels_quant.h)
  napi_ref *refs; // keep the table views (and so their memory) alive while the set lives
} table_set_t;

static void table_set_release(napi_env env, table_set_t *set) {
  for (uint32_t t = 0; t < set->count; t++)
    if (set->refs[t] != NULL) napi_delete_reference(env, set->refs[t]);
  set->count = 0;
}

static void table_set_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  table_set_t *set = data;
  table_set_release(env, set);
  free(set);
}

static table_set_t *table_set_of(napi_env env, napi_value value) {
  napi_valuetype t;
  void *data = NULL;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL)
    return NULL;
  table_set_t *set = data;
  return set->magic == TABLE_SET_MAGIC ? set : NULL;
}

/**
 * createTableSet(tables: (Float32Array | Uint8Array)[], dims: Int32Array, kinds?: Int32Array): external | null.
 * `kinds` (STORAGE_*, default all float32): a float32 table is a Float32Array, a quantized one the Uint8Array
 * of its rows.
 */
napi_value js_create_table_set(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  napi_get_null(env, &result);
  bool is_array = false;
  uint32_t count = 0;
  view_t dims, kinds = {NULL, 0};
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || argc > 3 ||
      napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &count) != napi_ok ||
      !typed_view(env, argv[1], napi_int32_array, false, &dims) || dims.length != count ||
      (argc == 3 && (!typed_view(env, argv[2], napi_int32_array, true, &kinds) ||
                     (kinds.data != NULL && kinds.length != count))))
    return result;
  // One block: the header, then the per-table arrays (pointers first, so everything stays aligned).
  table_set_t *set = calloc(1, sizeof(table_set_t) + count * (sizeof(void *) + sizeof(napi_ref) + 2 * sizeof(size_t) +
                                                              2 * sizeof(int32_t)));
  if (set == NULL) return result;
  set->magic = TABLE_SET_MAGIC;
  set->data = (const void **)(set + 1);
  set->refs = (napi_ref *)(set->data + count);
  set->rows = (size_t *)(set->refs + count);
  set->strides = set->rows + count;
  set->dims = (int32_t *)(set->strides + count);
  set->kinds = set->dims + count;
  bool ok = true;
  for (uint32_t t = 0; t < count && ok; t++) {
    napi_value element;
    view_t table;
    const int32_t dim = ((const int32_t *)dims.data)[t];
    const int32_t kind = kinds.data == NULL ? STORAGE_F32 : ((const int32_t *)kinds.data)[t];
    const size_t stride = dim >= 1 ? storage_row_bytes(kind, (size_t)dim) : 0;
    ok = stride > 0 && napi_get_element(env, argv[0], t, &element) == napi_ok &&
         typed_view(env, element, kind == STORAGE_F32 ? napi_float32_array : napi_uint8_array, false, &table) &&
         napi_create_reference(env, element, 1, &set->refs[t]) == napi_ok;
    if (!ok) break;
    set->count = t + 1;
    set->data[t] = table.data;
    set->rows[t] = (kind == STORAGE_F32 ? table.length * 4 : table.length) / stride;
    set->strides[t] = stride;
    set->dims[t] = dim;
    set->kinds[t] = kind;
  }
  if (!ok || napi_create_external(env, set, table_set_finalize, NULL, &result) != napi_ok) {
    table_set_release(env, set);
    free(set);
    napi_get_null(env, &result);
  }
  return result;
}

/** releaseTableSet(set): drops the set's references to its tables; later lookups on it fail. */
napi_value js_release_table_set(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 1) {
    table_set_t *set = table_set_of(env, argv[0]);
    if (set != NULL) table_set_release(env, set);
  }
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

// The staging layout (Int32Array `work`, mirrored in src/embedding/staging-layout.ts): a header of
// W_HEADER words (feature count n, ref count R, the ref table's offset), n descriptors of SMALL_DESCRIPTOR
// words, the data copied in (ids, row splits, weights as float bits) and the ref table. A descriptor's
// ids, splits and weights are either words of `work` (ref -1) or elements of a ref: one of the caller's
// typed arrays, read in place (no copy), whose data pointer, length and type resolveRefs writes into the
// ref table. Refs exist only while the calling thread is blocked in a synchronous lookup, and only for
// non-shared ArrayBuffers, so nothing can change, move or free them while any thread reads them.
enum { W_COUNT, W_REFS, W_REFS_AT, W_HEADER };
enum { SMALL_GATHER = 0, SMALL_BAGS = 1, SMALL_SEQUENCE = 2, SMALL_SEGMENT = 3 };
enum {
  D_KIND,     // SMALL_GATHER: dense ids; SMALL_BAGS: bags_weighted (TF's ragged order); SMALL_SEQUENCE
  D_TABLE,    // index into the table set
  D_ROWS,     // output rows (gather: ids)
  D_IDS,      // ids count (gather: = rows; else = splits[rows])
  D_IDS_AT,   // ids offset (in work, or in the ref)
  D_SPLITS_AT, // row splits offset (rows + 1 values from 0); gather: unused
  D_WEIGHTS_AT, // weights offset (float bits, one per id), -1 for none
  D_OUT_AT,   // output offset in out
  D_PARAM,    // bags: combiner mode; sequence: length
  D_IDS_REF,  // -1: ids in work; else the ref holding them
  D_SPLITS_REF,
  D_WEIGHTS_REF,
  D_POSITIONS_AT, // SMALL_SEQUENCE: positions offset (one per id, each < length; repeats add), -1 for none
  D_POSITIONS_REF,
  SMALL_DESCRIPTOR
};
enum { REF_POINTER = 0, REF_LENGTH = 2, REF_TYPE = 3, REF_WORDS = 4 };
enum { REF_INT32 = 1, REF_FLOAT32 = 2 };

// A staged request's control words (an Int32Array; src/kernels/packed-request.ts): run claims, failure
// flag, check claims, the count of features checked and the output rows per run task (see task_rows).
enum { C_CLAIMED = 0, C_FAILED = 2, C_CHECK_CLAIMED = 10, C_CHECKED = 11, C_TASK_ROWS = 12, C_WORDS = 13 };

static bool within(int64_t at, int64_t count, size_t length) {
  return at >= 0 && count >= 0 && (uint64_t)(at + count) <= length;
}

/** The header in bounds: at most 0x7fff features (claim_feature counts in 16 bits) and the ref table. */
static bool staged_header_fits(const int32_t *w, size_t wlen) {
  if (wlen < W_HEADER) return false;
  const int32_t n = w[W_COUNT];
  return n >= 0 && n < 0x8000 && within(W_HEADER, (int64_t)n * SMALL_DESCRIPTOR, wlen) &&
         w[W_REFS] >= 0 && within(w[W_REFS_AT], (int64_t)w[W_REFS] * REF_WORDS, wlen);
}

/** Where `count` elements of `type` at `at` live: in work (ref -1) or in a resolved ref; false if out of bounds. */
static bool staged_field(const int32_t *w, size_t wlen, int32_t at, int32_t ref, int64_t count, int32_t type,
                         const void **out) {
  if (ref == -1) {
    if (!within(at, count, wlen)) return false;
    *out = w + at;
    return true;
  }
  if (ref < 0 || ref >= w[W_REFS]) return false;
  const int32_t *r = w + w[W_REFS_AT] + (size_t)ref * REF_WORDS;
  if (r[REF_TYPE] != type || !within(at, count, (size_t)(uint32_t)r[REF_LENGTH])) return false;
  const char *data;
  memcpy(&data, r + REF_POINTER, sizeof data);
  *out = data + (size_t)at * 4;
  return true;
}

/** One feature of a staged request, resolved. */
typedef struct {
  int32_t kind, rows, n, param, storage;
  const void *table;
  size_t dim, table_rows, stride;
  const int32_t *ids, *splits, *positions;
  const float *weights;
  float *out;
} staged_feature_t;

/**
 * Resolves feature f into `x`: everything in bounds (always), and when `deep` the row splits well formed
 * and every id a row of its table. false when it does not fit.
 */
static bool staged_feature(const table_set_t *set, const int32_t *w, size_t wlen, int32_t f, float *out,
                           size_t out_len, bool deep, staged_feature_t *x) {
  const int32_t *d = w + W_HEADER + (size_t)f * SMALL_DESCRIPTOR;
  const int32_t kind = d[D_KIND], rows = d[D_ROWS], n = d[D_IDS];
  if ((uint32_t)d[D_TABLE] >= set->count || rows < 0 || n < 0) return false;
  const void *p;
  if (!staged_field(w, wlen, d[D_IDS_AT], d[D_IDS_REF], n, REF_INT32, &p)) return false;
  x->kind = kind;
  x->rows = rows;
  x->n = n;
  x->param = d[D_PARAM];
  x->ids = p;
  x->table = set->data[d[D_TABLE]];
  x->dim = (size_t)set->dims[d[D_TABLE]];
  x->table_rows = set->rows[d[D_TABLE]];
  x->stride = set->strides[d[D_TABLE]];
  x->storage = set->kinds[d[D_TABLE]];
  x->splits = NULL;
  x->weights = NULL;
  x->positions = NULL;
  size_t per_row = x->dim;
  if (kind == SMALL_GATHER) {
    if (n != rows) return false;
  } else if (kind == SMALL_BAGS || kind == SMALL_SEQUENCE || kind == SMALL_SEGMENT) {
    if (!staged_field(w, wlen, d[D_SPLITS_AT], d[D_SPLITS_REF], (int64_t)rows + 1, REF_INT32, &p)) return false;
    const int32_t *s = x->splits = p;
    if (s[0] != 0 || s[rows] != n) return false;
    if (kind == SMALL_BAGS || kind == SMALL_SEGMENT) {
      if ((uint32_t)x->param > MODE_SQRTN) return false;
      if (kind == SMALL_BAGS && d[D_WEIGHTS_AT] != -1) {
        if (!staged_field(w, wlen, d[D_WEIGHTS_AT], d[D_WEIGHTS_REF], n, REF_FLOAT32, &p)) return false;
        x->weights = p;
      }
    } else {
      if (x->param < 1) return false;
      per_row = (size_t)x->param * x->dim;
      if (d[D_POSITIONS_AT] != -1) {
        if (!staged_field(w, wlen, d[D_POSITIONS_AT], d[D_POSITIONS_REF], n, REF_INT32, &p)) return false;
        x->positions = p;
      }
    }
    if (deep) {
      for (int32_t r = 0; r < rows; r++)
        if (s[r + 1] < s[r]) return false;
      if (kind == SMALL_SEQUENCE && x->positions == NULL)
        for (int32_t r = 0; r < rows; r++)
          if (s[r + 1] - s[r] > x->param) return false;
      if (x->positions != NULL)
        for (int32_t j = 0; j < n; j++)
          if ((uint32_t)x->positions[j] >= (uint32_t)x->param) return false;
    }
  } else {
    return false;
  }
  if ((size_t)rows > out_len / per_row) return false; // also keeps rows * per_row from overflowing
  if (!within(d[D_OUT_AT], (int64_t)rows * (int64_t)per_row, out_len)) return false;
  x->out = out == NULL ? NULL : out + d[D_OUT_AT];
  return !deep || kernels()->ids_in_table(x->ids, (size_t)n, x->table_rows);
}

enum { PREFETCH_MAX_ROWS = 1024 };

/**
 * Asks for every row of the first PREFETCH_MAX_ROWS ids (all its cache lines, into L2) before the kernels
 * run: a request's ~200 rows are independent random reads, and issuing them all up front overlaps their
 * misses better than the kernels' row-by-row loads do (B=1 sum-zipf: 5.5 → 4.4 µs for the call).
 */
static void prefetch_rows(const staged_feature_t *xs, int32_t n) {
  int32_t budget = PREFETCH_MAX_ROWS;
  for (int32_t f = 0; f < n && budget > 0; f++) {
    const staged_feature_t *x = &xs[f];
    const int32_t count = x->n < budget ? x->n : budget;
    // Quantized rows need not start on a cache line: one more line covers the straddle.
    const int lines = (int)((x->stride + 63) / 64) + (x->storage != STORAGE_F32);
    for (int32_t j = 0; j < count; j++) {
      const char *row = (const char *)x->table + (size_t)x->ids[j] * x->stride;
      for (int l = 0; l < lines; l++) __builtin_prefetch(row + 64 * l, 0, 2);
      // GCC deletes loops of nothing but prefetches; an empty asm that "uses" the row keeps this one.
      __asm__ __volatile__("" : : "r"(row));
    }
    budget -= count;
  }
}

/**
 * The first feature (f + 1) that does not fit, 0 when all do, -1 for a malformed header. With `xs` (room
 * for every feature), each feature is resolved there once, for the kernels to run.
 */
static int32_t small_check_all(const table_set_t *set, const int32_t *w, size_t wlen, float *out, size_t out_len,
                               staged_feature_t *xs) {
  if (!staged_header_fits(w, wlen)) return -1;
  staged_feature_t x;
  for (int32_t f = 0; f < w[W_COUNT]; f++)
    if (!staged_feature(set, w, wlen, f, out, out_len, true, xs == NULL ? &x : &xs[f])) return f + 1;
  return 0;
}

/** Runs output rows [r0, r1) of a resolved (and checked) feature. */
static void small_run_rows(const staged_feature_t *x, int32_t r0, int32_t r1) {
  const kernel_isa_t *k = kernels();
  // The kernels write row r at out + (r - r0) * (values per output row).
  float *out = x->out + (size_t)r0 * x->dim * (x->kind == SMALL_SEQUENCE ? (size_t)x->param : 1);
  if (x->storage != STORAGE_F32) {
    const qtable_t t = {x->table, x->stride, x->dim, x->storage};
    if (x->kind == SMALL_GATHER) k->q_gather(&t, x->ids, r0, r1, out);
    else if (x->kind == SMALL_SEGMENT) k->q_bags_segment(&t, x->splits, x->ids, r0, r1, x->param, out);
    else if (x->kind == SMALL_BAGS) k->q_bags_weighted(&t, x->splits, x->ids, x->weights, r0, r1, x->param, out);
    else k->q_sequence(&t, x->splits, x->ids, x->positions, r0, r1, x->param, out);
    return;
  }
  if (x->kind == SMALL_GATHER) k->gather(x->table, x->dim, x->ids, r0, r1, out);
  else if (x->kind == SMALL_SEGMENT) k->bags_segment(x->table, x->dim, x->splits, x->ids, r0, r1, x->param, out);
  else if (x->kind == SMALL_BAGS) k->bags_weighted(x->table, x->dim, x->splits, x->ids, x->weights, r0, r1, x->param, out);
  else k->sequence(x->table, x->dim, x->splits, x->ids, x->positions, r0, r1, x->param, out);
}

/** Runs a resolved (and checked) feature. */
static void small_run(const staged_feature_t *x) {
  small_run_rows(x, 0, x->rows);
}

/**
 * smallLookup(set, work: Int32Array, out: Float32Array): number. 0 when every feature ran; -1 for bad
 * arguments; f + 1 when feature f does not fit (then nothing was written).
 */
napi_value js_small_lookup(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  view_t work, out;
  int32_t code = -1;
  table_set_t *set = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 3 &&
      (set = table_set_of(env, argv[0])) != NULL &&
      typed_view(env, argv[1], napi_int32_array, false, &work) &&
      typed_view(env, argv[2], napi_float32_array, false, &out)) {
    const int32_t *w = work.data;
    // Each feature is resolved once (on the stack for a request's few dozen features).
    enum { ON_STACK = 64 };
    staged_feature_t local[ON_STACK], *xs = local;
    const int32_t n = staged_header_fits(w, work.length) ? w[W_COUNT] : 0;
    if (n > ON_STACK) xs = malloc((size_t)n * sizeof(staged_feature_t));
    code = xs == NULL ? -1 : small_check_all(set, w, work.length, out.data, out.length, xs);
    if (code == 0) {
      prefetch_rows(xs, n);
      for (int32_t f = 0; f < n; f++) small_run(&xs[f]);
    }
    if (xs != local) free(xs);
  }
  napi_create_int32(env, code, &result);
  return result;
}

/**
 * smallLookupCheck(set, work, outLength): number. smallLookup's checks alone (0, f + 1 or -1), for a
 * lookup that worker threads then run with smallLookupShare.
 */
napi_value js_small_lookup_check(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  view_t work;
  int32_t code = -1, out_length;
  table_set_t *set = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 3 &&
      (set = table_set_of(env, argv[0])) != NULL &&
      typed_view(env, argv[1], napi_int32_array, false, &work) && int_arg(env, argv[2], 0, &out_length))
    code = small_check_all(set, work.data, work.length, NULL, (size_t)out_length, NULL);
  napi_create_int32(env, code, &result);
  return result;
}

/**
 * resolveRefs(work: Int32Array, ...refs: (Int32Array | Float32Array)[]): boolean. Writes each ref's data
 * pointer, length and type into work's ref table (work[W_REFS] of them, in order). false (nothing usable)
 * when the count differs, or a ref is not an Int32Array or Float32Array over a non-shared ArrayBuffer.
 * The refs must stay untouched until the lookup returns: only synchronous lookups use them.
 */
napi_value js_resolve_refs(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  bool ok = napi_get_cb_info(env, info, &argc, NULL, NULL, NULL) == napi_ok && argc >= 1;
  napi_value local[128], *argv = argc <= 128 ? local : malloc(argc * sizeof(napi_value));
  view_t work;
  ok = ok && argv != NULL && napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok &&
       typed_view(env, argv[0], napi_int32_array, false, &work) && staged_header_fits(work.data, work.length) &&
       (size_t)((const int32_t *)work.data)[W_REFS] == argc - 1;
  for (size_t k = 1; ok && k < argc; k++) {
    napi_typedarray_type type;
    size_t length;
    void *data;
    napi_value buffer;
    bool plain = false;
    ok = napi_get_typedarray_info(env, argv[k], &type, &length, &data, &buffer, NULL) == napi_ok &&
         napi_is_arraybuffer(env, buffer, &plain) == napi_ok && plain &&
         (type == napi_int32_array || type == napi_float32_array) && length <= INT32_MAX &&
         (data != NULL || length == 0);
    if (!ok) break;
    int32_t *r = (int32_t *)work.data + ((const int32_t *)work.data)[W_REFS_AT] + (k - 1) * REF_WORDS;
    memcpy(r + REF_POINTER, &data, sizeof data);
    r[REF_LENGTH] = (int32_t)length;
    r[REF_TYPE] = type == napi_int32_array ? REF_INT32 : REF_FLOAT32;
  }
  if (argv != local) free(argv);
  return boolean(env, ok);
}

/** Tasks of a shared request stay under this (the claim word's counts are 16 bits each). */
enum { TASKS_MAX = 1 << 14 };

/**
 * Claims the next of n items (features, or row chunks of features in feature order) for this thread:
 * from the front (the calling thread) or from the back (workers), so each thread tends to run the same
 * features lookup after lookup and finds their hot rows still in its own caches. The claim word holds the
 * count taken from the front (low 16 bits) and from the back (high 16 bits); -1 once they meet. Faster
 * than claiming in order by a few per cent (bench/results/2026-11-30-fast-kernels.md).
 */
static int32_t claim_feature(int32_t *word, int32_t n, bool from_back) {
  int32_t seen = __atomic_load_n(word, __ATOMIC_SEQ_CST);
  for (;;) {
    const int32_t front = seen & 0xffff, back = (int32_t)((uint32_t)seen >> 16);
    if (front + back >= n) return -1;
    const int32_t next = from_back ? seen + 0x10000 : seen + 1;
    if (__atomic_compare_exchange_n(word, &seen, next, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
      return from_back ? n - 1 - back : front;
  }
}

static inline void cpu_relax(void) {
#ifdef __SSE2__
  _mm_pause();
#endif
}

/**
 * The output rows per task of a shared request, every thread computing the same (the portable kernels'
 * shareBatch too, src/kernels/batch-runner.ts): the caller's control[C_TASK_ROWS], grown so that a
 * request has under 2^14 tasks; 0 for whole features (asked for, or about one task per feature anyway).
 */
static int32_t task_rows(const int32_t *w, const int32_t *control) {
  const int32_t n = w[W_COUNT];
  int64_t chunk = control[C_TASK_ROWS], total = 0;
  if (chunk <= 0 || n >= TASKS_MAX) return 0;
  for (int32_t f = 0; f < n; f++) total += w[W_HEADER + (size_t)f * SMALL_DESCRIPTOR + D_ROWS];
  if (total / chunk <= n) return 0;
  if (total / chunk + n >= TASKS_MAX) chunk = total / (TASKS_MAX - n) + 1;
  return (int32_t)chunk;
}

/** Feature f's tasks of `chunk` rows (0: the whole feature); at least one, so a feature of no rows is claimed. */
static inline int32_t tasks_of(const int32_t *w, int32_t f, int32_t chunk) {
  const int32_t rows = w[W_HEADER + (size_t)f * SMALL_DESCRIPTOR + D_ROWS];
  return chunk > 0 && rows > chunk ? (rows - 1) / chunk + 1 : 1;
}

/**
 * The run phase of a shared request: tasks of task_rows output rows (whole features when 0), feature after
 * feature, claimed from either end (claim_feature). Whole features left one thread idle while the other
 * finished the last one, and a one-feature lookup ran on one thread; C's reference splits bags into tasks
 * of 64 too (bench/results/2026-12-07-late-outputs-and-tasks.md).
 */
static void share_run(const table_set_t *set, const int32_t *w, size_t wlen, float *out, size_t out_len,
                      int32_t *control, bool from_back) {
  const int32_t n = w[W_COUNT];
  if (n == 0) return;
  const int32_t chunk = task_rows(w, control);
  // A thread's claims only move away from its end, so it walks the features along with them: feature f
  // holds tasks [first, first + tasks_of(f)).
  staged_feature_t x;
  int32_t tasks = 0;
  for (int32_t f = 0; f < n; f++) tasks += tasks_of(w, f, chunk);
  int32_t f = from_back ? n - 1 : 0;
  int32_t first = from_back ? tasks - tasks_of(w, f, chunk) : 0;
  bool usable = staged_feature(set, w, wlen, f, out, out_len, false, &x);
  for (int32_t t; (t = claim_feature(control + C_CLAIMED, tasks, from_back)) >= 0;) {
    const int32_t was = f;
    while (t >= first + tasks_of(w, f, chunk)) first += tasks_of(w, f++, chunk);
    while (t < first) first -= tasks_of(w, --f, chunk);
    if (f != was) usable = staged_feature(set, w, wlen, f, out, out_len, false, &x);
    if (!usable) continue;
    const int32_t r0 = (t - first) * chunk;
    const int32_t r1 = chunk > 0 && r0 + chunk < x.rows ? r0 + chunk : x.rows;
    small_run_rows(&x, r0, r1);
  }
}

/**
 * One thread's share of a staged request, in two phases: it checks the features it claims (control
 * C_CHECK_CLAIMED), waits until every feature is checked, whichever thread checked it, and then, unless
 * one did not fit (C_FAILED), runs the features it claims (C_CLAIMED). So the checks run in parallel and
 * nothing is written for a request that fails, and each thread reads the ids of the features it is
 * likely to run (the same end of the list) while checking them. 0 when done, f + 1 when this thread found
 * feature f not fitting, -2 when another thread did (or failed).
 */
static int32_t small_share(const table_set_t *set, const int32_t *w, size_t wlen, float *out, size_t out_len,
                           int32_t *control, bool from_back) {
  const int32_t n = w[W_COUNT];
  int32_t code = 0;
  staged_feature_t x;
  for (int32_t f; (f = claim_feature(control + C_CHECK_CLAIMED, n, from_back)) >= 0;) {
    if (!staged_feature(set, w, wlen, f, out, out_len, true, &x)) {
      __atomic_store_n(control + C_FAILED, 1, __ATOMIC_SEQ_CST);
      code = f + 1;
    }
    __atomic_add_fetch(control + C_CHECKED, 1, __ATOMIC_SEQ_CST);
  }
  while (__atomic_load_n(control + C_CHECKED, __ATOMIC_SEQ_CST) < n) cpu_relax();
  if (__atomic_load_n(control + C_FAILED, __ATOMIC_SEQ_CST) != 0) return code != 0 ? code : -2;
  share_run(set, w, wlen, out, out_len, control, from_back);
  return 0;
}

/**
 * smallLookupShare(set, work, out, control: Int32Array, fromBack?: boolean): number. This thread's share of
 * a staged request (small_share; the calling thread claims from the front, workers from the back): 0, f + 1
 * or -2 (see there; nothing written then by any thread), -1 for bad arguments.
 */
napi_value js_small_lookup_share(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], result;
  view_t work, out, control;
  int32_t code = -1;
  table_set_t *set = NULL;
  bool from_back = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && (argc == 4 || argc == 5) &&
      (set = table_set_of(env, argv[0])) != NULL &&
      typed_view(env, argv[1], napi_int32_array, false, &work) && staged_header_fits(work.data, work.length) &&
      typed_view(env, argv[2], napi_float32_array, false, &out) &&
      typed_view(env, argv[3], napi_int32_array, false, &control) && control.length >= C_WORDS &&
      (argc == 4 || napi_get_value_bool(env, argv[4], &from_back) == napi_ok))
    code = small_share(set, work.data, work.length, out.data, out.length, control.data, from_back);
  napi_create_int32(env, code, &result);
  return result;
}
