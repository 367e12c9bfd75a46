// The ISA level of the kernels and their prefetch distance, chosen once per process (dispatch.h).
#define _POSIX_C_SOURCE 199309L // clock_gettime
#include "dispatch.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

// The levels compiled for this architecture, best first (binding.gyp builds one static library each).
#if defined(__x86_64__) || defined(_M_X64)
KERNEL_ISA_DECLARE(v4)
KERNEL_ISA_DECLARE(v3)
KERNEL_ISA_DECLARE(v2)
static const kernel_isa_t levels[] = {KERNEL_ISA_TABLE(v4), KERNEL_ISA_TABLE(v3), KERNEL_ISA_TABLE(v2)};
#elif defined(__aarch64__)
KERNEL_ISA_DECLARE(neon)
static const kernel_isa_t levels[] = {KERNEL_ISA_TABLE(neon)};
#else
KERNEL_ISA_DECLARE(generic)
static const kernel_isa_t levels[] = {KERNEL_ISA_TABLE(generic)};
#endif
enum { LEVELS = sizeof levels / sizeof levels[0] };

/** Whether this CPU (and OS: the AVX state is saved) runs a level's code. */
static bool cpu_runs(const kernel_isa_t *level) {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  // The x86-64 psABI levels (what gcc's -march=x86-64-vN assumes), feature by feature so older
  // compilers that do not know the level names build this too.
  const bool v2 = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("ssse3") &&
                  __builtin_cpu_supports("popcnt");
  const bool v3 = v2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                  __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                  __builtin_cpu_supports("f16c") && __builtin_cpu_supports("movbe");
  const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vl");
  if (strcmp(level->name, "v4") == 0) return v4;
  if (strcmp(level->name, "v3") == 0) return v3;
  if (strcmp(level->name, "v2") == 0) return v2;
  return false;
#else
  (void)level;
  return true; // aarch64: NEON is part of armv8-a; elsewhere the generic build
#endif
}

const kernel_isa_t *kernels_active = NULL;

/**
 * The default prefetch distance (ids ahead) until calibrated or set, and calibration's tie-break. 16, not
 * the C reference's 8: on Zen 4 the standard workload's Zipf bags ran 2-6 % faster at 16 (or 32) than
 * at 8 with the distances interleaved in one process, and uniform ids tied
 * (bench/results/2026-12-07-peers-night.md). Calibration's uniform ids cannot see that difference, so the
 * tie-break decides it.
 */
enum { PREFETCH_DEFAULT = 16 };
int kernel_prefetch_ids = PREFETCH_DEFAULT;
/** 0: default, 1: calibrated, 2: set by the caller. Once non-zero, calibration does not run again. */
static int prefetch_source = 0;

void kernels_init(void) {
  if (kernels() != NULL) return;
  for (int i = 0; i < LEVELS; i++)
    if (cpu_runs(&levels[i])) {
      const kernel_isa_t *expected = NULL;
      __atomic_compare_exchange_n(&kernels_active, &expected, &levels[i], false, __ATOMIC_SEQ_CST,
                                  __ATOMIC_SEQ_CST);
      return;
    }
}

static napi_value string(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static void set_int(napi_env env, napi_value object, const char *key, int32_t value) {
  napi_value v;
  napi_create_int32(env, value, &v);
  napi_set_named_property(env, object, key, v);
}

static const char *prefetch_source_name(void) {
  const int s = __atomic_load_n(&prefetch_source, __ATOMIC_SEQ_CST);
  return s == 0 ? "default" : s == 1 ? "calibrated" : "set";
}

/** kernelIsa(): { active, supported: string[], prefetch, prefetchSource } (active null: no level runs). */
napi_value js_kernel_isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, supported;
  napi_create_object(env, &result);
  const kernel_isa_t *k = kernels();
  if (k != NULL) napi_set_named_property(env, result, "active", string(env, k->name));
  else {
    napi_value null;
    napi_get_null(env, &null);
    napi_set_named_property(env, result, "active", null);
  }
  napi_create_array(env, &supported);
  uint32_t n = 0;
  for (int i = 0; i < LEVELS; i++)
    if (cpu_runs(&levels[i])) napi_set_element(env, supported, n++, string(env, levels[i].name));
  napi_set_named_property(env, result, "supported", supported);
  set_int(env, result, "prefetch", __atomic_load_n(&kernel_prefetch_ids, __ATOMIC_RELAXED));
  napi_set_named_property(env, result, "prefetchSource", string(env, prefetch_source_name()));
  return result;
}

/**
 * selectIsa(name): boolean. "native": the best level this CPU runs; else that level, when it was compiled
 * for this architecture and the CPU runs it. false (nothing changed) otherwise. Process-wide.
 */
napi_value js_select_isa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[16];
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok)
    return boolean(env, false);
  for (int i = 0; i < LEVELS; i++)
    if ((strcmp(name, "native") == 0 || strcmp(name, levels[i].name) == 0) && cpu_runs(&levels[i])) {
      __atomic_store_n(&kernels_active, &levels[i], __ATOMIC_SEQ_CST);
      return boolean(env, true);
    }
  return boolean(env, false);
}

/** prefetchDistance(ids): sets the ids ahead the kernels prefetch (0..256) for the process; false if out of range. */
napi_value js_prefetch_distance(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t ids;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || !int_arg(env, argv[0], 0, &ids) ||
      ids > 256)
    return boolean(env, false);
  __atomic_store_n(&kernel_prefetch_ids, ids, __ATOMIC_RELAXED);
  __atomic_store_n(&prefetch_source, 2, __ATOMIC_SEQ_CST);
  return boolean(env, true);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// Calibration: bags of CAL_BAG random ids of one table, summed by the active level's bags_weighted with
// each candidate distance; CAL_ROUNDS rounds, each running every candidate once in rotated order on
// CAL_IDS fresh ids (so no trial finds another's rows in the cache). The distance with the least median
// ns per id wins (medians: single trials on a shared machine move by ±30 %) if clearly faster than the default. About 5 x 12 x 1024 ids:
// 2-3 ms on a 2 GiB table set.
enum { CAL_IDS = 1024, CAL_BAG = 8, CAL_ROUNDS = 12 };
static const int32_t candidates[] = {0, 4, 8, 16, 32};
enum { CANDIDATES = sizeof candidates / sizeof candidates[0] };
/** Tables smaller than this mostly sit in the caches, where the distance hardly matters: not measured. */
#define CAL_MIN_BYTES ((size_t)64 << 20)

static int compare_doubles(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/**
 * calibratePrefetch(table: Float32Array, dim): { prefetch, prefetchSource, nsPerId?: number[], candidates? }.
 * Measures on the given (filled) table once per process, unless the distance was set or already calibrated,
 * or the table is too small to tell (then the current distance stays). Lookups running meanwhile on other
 * threads run with the candidate distances for those few ms (their results are the same).
 */
napi_value js_calibrate_prefetch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  view_t table;
  int32_t dim;
  napi_create_object(env, &result);
  const kernel_isa_t *k = kernels();
  int expected = 0;
  if (k != NULL && napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 2 &&
      typed_view(env, argv[0], napi_float32_array, false, &table) && int_arg(env, argv[1], 1, &dim) &&
      table.length * sizeof(float) >= CAL_MIN_BYTES &&
      __atomic_compare_exchange_n(&prefetch_source, &expected, 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    const size_t rows = table.length / (size_t)dim;
    const int32_t bags = CAL_IDS / CAL_BAG;
    int32_t *ids = malloc(CAL_IDS * sizeof(int32_t)), *splits = malloc((bags + 1) * sizeof(int32_t));
    float *out = malloc((size_t)bags * (size_t)dim * sizeof(float));
    double trials[CANDIDATES][CAL_ROUNDS], best[CANDIDATES];
    if (ids != NULL && splits != NULL && out != NULL) {
      for (int32_t b = 0; b <= bags; b++) splits[b] = b * CAL_BAG;
      uint64_t state = 0x9e3779b97f4a7c15u ^ (uint64_t)(uintptr_t)table.data;
      for (int round = 0; round < CAL_ROUNDS; round++)
        for (int i = 0; i < CANDIDATES; i++) {
          const int c = (i + round) % CANDIDATES;
          for (int32_t j = 0; j < CAL_IDS; j++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17; // xorshift64
            ids[j] = (int32_t)((state >> 11) % rows);
          }
          __atomic_store_n(&kernel_prefetch_ids, candidates[c], __ATOMIC_RELAXED);
          const double t0 = now_ns();
          k->bags_weighted(table.data, (size_t)dim, splits, ids, NULL, 0, bags, MODE_SUM, out);
          trials[c][round] = (now_ns() - t0) / CAL_IDS;
        }
      for (int c = 0; c < CANDIDATES; c++) {
        qsort(trials[c], CAL_ROUNDS, sizeof(double), compare_doubles);
        best[c] = (trials[c][CAL_ROUNDS / 2 - 1] + trials[c][CAL_ROUNDS / 2]) / 2;
      }
      // The fastest, when it beats the default by 3 % or more (a smaller difference is the noise of a
      // shared machine).
      int pick = 0, fallback = 0;
      for (int c = 0; c < CANDIDATES; c++) {
        if (best[c] < best[pick]) pick = c;
        if (candidates[c] == PREFETCH_DEFAULT) fallback = c;
      }
      if (best[pick] > 0.97 * best[fallback]) pick = fallback;
      __atomic_store_n(&kernel_prefetch_ids, candidates[pick], __ATOMIC_RELAXED);
      napi_value times, cands;
      napi_create_array_with_length(env, CANDIDATES, &times);
      napi_create_array_with_length(env, CANDIDATES, &cands);
      for (int c = 0; c < CANDIDATES; c++) {
        napi_value v, d;
        napi_create_double(env, best[c], &v);
        napi_create_int32(env, candidates[c], &d);
        napi_set_element(env, times, (uint32_t)c, v);
        napi_set_element(env, cands, (uint32_t)c, d);
      }
      napi_set_named_property(env, result, "nsPerId", times);
      napi_set_named_property(env, result, "candidates", cands);
    } else {
      __atomic_store_n(&prefetch_source, 0, __ATOMIC_SEQ_CST);
    }
    free(ids);
    free(splits);
    free(out);
  }
  set_int(env, result, "prefetch", __atomic_load_n(&kernel_prefetch_ids, __ATOMIC_RELAXED));
  napi_set_named_property(env, result, "prefetchSource", string(env, prefetch_source_name()));
  return result;
}
