// Checks native/float_format.c over every float32 bit pattern (or a range), on all cores:
//  1. round trip: strtof(text) has the value's bits (NaN: is a NaN);
//  2. TF Serving's choice: the text is the `%.6g` text (+ `.0`) when that reads back by strtof, else the
//     `%.9g` one (FloatToBuffer / WriteDecimal), with both candidates from f32_format_precision;
//  3. the JavaScript reference's read-back test (the decimal rounded to a double, then to a float32, as
//     formatFloat32 in src/serving/http/float32-text.ts does) agrees with strtof's on the 6-digit text,
//     so the native text is byte-identical to the JS reference's wherever the digits are;
//  4. the candidates' digits and layout against glibc's snprintf("%.6g" / "%.9g") on every STRIDE-th
//     pattern (default 1: all of them; slower).
// Build and run (minutes): cc -O2 -pthread -ffp-contract=off bench/float-format-exhaustive.c
//   native/float_format.c -o /tmp/ffx && /tmp/ffx [threads] [stride] [first] [last]
// The log of a full run: bench/results/2026-12-07-float-format.md.
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../native/float_format.h"
#include "run-threads.h"

static uint64_t first = 0, last = 0xffffffffu, stride = 1;
static int threads = 2;

typedef struct {
  int id;
  uint64_t checked, printf_checked, bad_round_trip, bad_printf, js_disagrees;
} job_t;

static float from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

static uint32_t to_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}

/** TF Serving's text of v (tensorflow/core/platform/numbers.cc FloatToBuffer + json_tensor.cc). */
static void tf_text(float v, char *out) {
  if (isnan(v)) {
    strcpy(out, "NaN");
    return;
  }
  if (isinf(v)) {
    strcpy(out, v < 0 ? "-Infinity" : "Infinity");
    return;
  }
  snprintf(out, 32, "%.6g", (double)v);
  if (strtof(out, NULL) != v) snprintf(out, 32, "%.9g", (double)v);
  if (strpbrk(out, ".e") == NULL) strcat(out, ".0");
}

/** snprintf's `%.{p}g` plus `.0` when it has neither a point nor an exponent (finite, nonzero v). */
static void printf_text(float v, int p, char *out) {
  snprintf(out, 32, "%.*g", p, (double)v);
  if (strpbrk(out, ".e") == NULL) strcat(out, ".0");
}

static void *run(void *arg) {
  job_t *job = arg;
  char text[64], six[64], nine[64], ref[40];
  for (uint64_t b = first + (uint64_t)job->id; b <= last; b += (uint64_t)threads) {
    const uint32_t bits = (uint32_t)b;
    const float v = from_bits(bits);
    text[f32_format(bits, text)] = 0;
    job->checked++;
    const float back = strtof(text, NULL);
    if (isnan(v) ? !isnan(back) : to_bits(back) != bits) {
      if (job->bad_round_trip++ < 10) printf("round trip: bits %08" PRIx32 " -> %s\n", bits, text);
    }
    if (!isfinite(v) || v == 0) {
      tf_text(v, ref);
      if (strcmp(ref, text) != 0 && job->bad_printf++ < 10) printf("special: bits %08" PRIx32 " -> %s\n", bits, text);
      continue;
    }
    six[f32_format_precision(bits, 6, six)] = 0;
    const int tf = strtof(six, NULL) == v;
    const int js = (float)strtod(six, NULL) == v;
    if (tf != js && job->js_disagrees++ < 10) printf("JS read-back differs: bits %08" PRIx32 " %s\n", bits, six);
    if (!tf) nine[f32_format_precision(bits, 9, nine)] = 0;
    if (strcmp(text, tf ? six : nine) != 0 && job->bad_printf++ < 10)
      printf("choice: bits %08" PRIx32 " -> %s, TF Serving %s\n", bits, text, tf ? six : nine);
    if (b % stride == 0) {
      job->printf_checked++;
      printf_text(v, 6, ref);
      int bad = strcmp(ref, six) != 0;
      if (!tf) {
        printf_text(v, 9, ref);
        bad |= strcmp(ref, nine) != 0;
      }
      if (bad && job->bad_printf++ < 10) printf("printf: bits %08" PRIx32 " -> %s / %s\n", bits, six, nine);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) threads = atoi(argv[1]);
  if (threads < 1 || threads > MAX_THREADS) threads = 2;
  if (argc > 2) stride = strtoull(argv[2], NULL, 0);
  if (argc > 3) first = strtoull(argv[3], NULL, 0);
  if (argc > 4) last = strtoull(argv[4], NULL, 0);
  job_t jobs[MAX_THREADS] = {0};
  for (int i = 0; i < threads; i++) jobs[i].id = i;
  run_threads(threads, run, jobs, sizeof jobs[0]);
  job_t sum = {0};
  for (int i = 0; i < threads; i++) {
    sum.checked += jobs[i].checked;
    sum.printf_checked += jobs[i].printf_checked;
    sum.bad_round_trip += jobs[i].bad_round_trip;
    sum.bad_printf += jobs[i].bad_printf;
    sum.js_disagrees += jobs[i].js_disagrees;
  }
  printf("{\"first\":\"0x%08" PRIx64 "\",\"last\":\"0x%08" PRIx64 "\",\"checked\":%" PRIu64
         ",\"roundTripFailures\":%" PRIu64 ",\"printfCompared\":%" PRIu64 ",\"printfMismatches\":%" PRIu64
         ",\"jsReadBackDisagreements\":%" PRIu64 "}\n",
         first, last, sum.checked, sum.bad_round_trip, sum.printf_checked, sum.bad_printf, sum.js_disagrees);
  return sum.bad_round_trip || sum.bad_printf || sum.js_disagrees ? 1 : 0;
}
