// Checks native/float_format.c's row writer (f32_rows: on AVX-512 builds, eight values at a time in vector
// lanes) against its one-value path (f32_format, itself checked against glibc by float-format-exhaustive.c)
// over every float32 bit pattern: each run of 64 consecutive patterns, written as one JSON list by
// f32_rows, must be byte for byte "[" + the f32_format texts joined by "," + "]". Also rows of every
// width 0..17 at the start of each run, so the scalar tail after the lanes is covered.
// Build and run (minutes), with the flags of the addon variant to check (here AVX-512):
//   cc -O3 -march=x86-64-v4 -ffp-contract=off -fno-fast-math -pthread bench/float-format-lanes-exhaustive.c
//   native/float_format.c -o /tmp/ffl && /tmp/ffl [threads] [first] [last]
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../native/float_format.h"
#include "run-threads.h"

#define RUN 64

static uint64_t first = 0, last = 0xffffffffu;
static int threads = 2;

typedef struct {
  int id;
  uint64_t checked, mismatches;
} job_t;

/** The reference text of `width` values: "[" + f32_format texts joined by "," + "]". */
static size_t reference(const uint32_t *bits, size_t width, char *out) {
  size_t n = 0;
  out[n++] = '[';
  for (size_t i = 0; i < width; i++) {
    if (i > 0) out[n++] = ',';
    n += f32_format(bits[i], out + n);
  }
  out[n++] = ']';
  return n;
}

static void check(job_t *job, const uint32_t *bits, size_t width, char *rows, char *ref) {
  float values[RUN];
  memcpy(values, bits, width * sizeof(float));
  const size_t got = f32_rows(values, 1, width, rows);
  const size_t want = reference(bits, width, ref);
  if (got != want || memcmp(rows, ref, want) != 0) {
    if (job->mismatches++ < 10)
      printf("mismatch: width %zu from bits %08" PRIx32 ":\n  %.*s\n  %.*s\n", width, bits[0], (int)got, rows,
             (int)want, ref);
  }
}

static void *run(void *arg) {
  job_t *job = arg;
  static __thread char rows[RUN * 48], ref[RUN * 48];
  uint32_t bits[RUN];
  for (uint64_t start = first + (uint64_t)job->id * RUN; start <= last; start += (uint64_t)threads * RUN) {
    size_t width = 0;
    while (width < RUN && start + width <= last) {
      bits[width] = (uint32_t)(start + width);
      width++;
    }
    check(job, bits, width, rows, ref);
    for (size_t w = 0; w < 18 && w < width; w++) check(job, bits, w, rows, ref);
    job->checked += width;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) threads = atoi(argv[1]);
  if (threads < 1 || threads > MAX_THREADS) threads = 2;
  if (argc > 2) first = strtoull(argv[2], NULL, 0);
  if (argc > 3) last = strtoull(argv[3], NULL, 0);
  job_t jobs[MAX_THREADS] = {0};
  for (int i = 0; i < threads; i++) jobs[i].id = i;
  run_threads(threads, run, jobs, sizeof jobs[0]);
  job_t sum = {0};
  for (int i = 0; i < threads; i++) {
    sum.checked += jobs[i].checked;
    sum.mismatches += jobs[i].mismatches;
  }
  printf("{\"first\":\"0x%08" PRIx64 "\",\"last\":\"0x%08" PRIx64 "\",\"checked\":%" PRIu64
         ",\"mismatches\":%" PRIu64 "}\n",
         first, last, sum.checked, sum.mismatches);
  return sum.mismatches ? 1 : 0;
}
