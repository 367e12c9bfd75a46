// A stand-alone driver for one ISA level's kernels (no N-API, no Node): it runs the cases of a case file
// and writes their outputs, so test/kernels/cross-isa.test.ts can compare every level with the JS
// reference, the levels this machine cannot load into Node included (aarch64 NEON, built with a cross
// compiler and run under qemu-user). Built with the addon's kernel flags and -DKERNEL_ISA=<level>,
// linked with kernels.c, kernels_quant.c and float_format.c of that level.
//
// Case file (little-endian; every count in int32, every array padded to 4 bytes):
//   "TPUKCHK1", cases, then per case:
//   op, storage, dim, table_rows, param, row_start, row_end, out_values, table_shift,
//   table_bytes + bytes, splits count + int32s, ids count + int32s,
//   weights count (-1: none) + float32s, positions count (-1: none) + int32s
// Output: per case, a byte count and the bytes (padded to 4): the out_values floats (kernels), one int32
// 0/1 (ids_in_table), or the text (json_rows).
#include "../kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_BAGS_SEGMENT = 1, OP_BAGS_WEIGHTED = 2, OP_SEQUENCE = 3, OP_GATHER = 4, OP_IDS_IN_TABLE = 5, OP_JSON_ROWS = 6 };

int kernel_prefetch_ids = 16; // dispatch.c's setting, which this driver does not link

// This level's entry points (kernels.h names them <kernel>_<KERNEL_ISA>).
#define DECLARE_LEVEL(s) KERNEL_ISA_DECLARE(s)
#define LEVEL_NAME2(s) #s
#define LEVEL_NAME(s) LEVEL_NAME2(s)
DECLARE_LEVEL(KERNEL_ISA)

static FILE *input;

static void fail(const char *what, int at) {
  fprintf(stderr, "kernel_check (%s): %s (case %d)\n", LEVEL_NAME(KERNEL_ISA), what, at);
  exit(2);
}

static int32_t read_i32(int at) {
  int32_t v;
  if (fread(&v, 4, 1, input) != 1) fail("truncated case file", at);
  return v;
}

/** `count` bytes (then the padding to 4), into 64-byte aligned memory at `shift` bytes from its start. */
static void *read_bytes(size_t count, size_t shift, int at) {
  char *base = aligned_alloc(64, (count + shift + 63) / 64 * 64 + 64);
  if (base == NULL) fail("out of memory", at);
  if (count > 0 && fread(base + shift, 1, count, input) != count) fail("truncated case file", at);
  char pad[4];
  if (count % 4 != 0 && fread(pad, 1, 4 - count % 4, input) != 4 - count % 4) fail("truncated case file", at);
  return base;
}

/** An array of `count` 4-byte values; NULL for count -1. */
static void *read_array(int at, void **owner) {
  const int32_t count = read_i32(at);
  *owner = NULL;
  if (count < 0) return NULL;
  return *owner = read_bytes((size_t)count * 4, 0, at);
}

static void write_out(const void *data, size_t bytes) {
  const int32_t n = (int32_t)bytes;
  const char pad[4] = {0};
  fwrite(&n, 4, 1, stdout);
  fwrite(data, 1, bytes, stdout);
  if (bytes % 4 != 0) fwrite(pad, 1, 4 - bytes % 4, stdout);
}

/** Runs one case; `out` has `room` floats, past the case's own values a sentinel the kernels must not touch. */
static void run_case(int at) {
  const int32_t op = read_i32(at), storage = read_i32(at), dim = read_i32(at), rows = read_i32(at);
  const int32_t param = read_i32(at), r0 = read_i32(at), r1 = read_i32(at), out_values = read_i32(at);
  const int32_t shift = read_i32(at), table_bytes = read_i32(at);
  if (table_bytes < 0 || shift < 0 || shift > 60 || out_values < 0) fail("bad case header", at);
  char *table_base = read_bytes((size_t)table_bytes, (size_t)shift, at);
  const void *table = table_base + shift;
  void *own_splits, *own_ids, *own_weights, *own_positions;
  const int32_t *splits = read_array(at, &own_splits);
  const int32_t *ids = read_array(at, &own_ids);
  const float *weights = read_array(at, &own_weights);
  const int32_t *positions = read_array(at, &own_positions);

  if (op == OP_IDS_IN_TABLE) {
    const int32_t count = r1 - r0;
    const int32_t inside = KFN(ids_in_table)(ids + r0, (size_t)count, (size_t)rows);
    write_out(&inside, 4);
  } else if (op == OP_JSON_ROWS) {
    const size_t capacity = f32_rows_capacity((size_t)rows, (size_t)param);
    char *text = malloc(capacity);
    if (text == NULL) fail("out of memory", at);
    const size_t n = KFN(json_rows)((const float *)table, (size_t)rows, (size_t)param, text);
    if (n > capacity) fail("json_rows wrote past its capacity", at);
    write_out(text, n);
    free(text);
  } else {
    enum { GUARD = 16 };
    const uint32_t sentinel = 0x7fc0dead;
    float *out = malloc(((size_t)out_values + GUARD) * 4);
    if (out == NULL) fail("out of memory", at);
    for (size_t i = 0; i < (size_t)out_values + GUARD; i++) memcpy(out + i, &sentinel, 4);
    const qtable_t q = {(const uint8_t *)table, storage_row_bytes(storage, (size_t)dim), (size_t)dim, storage};
    const float *f = (const float *)table;
    const bool quantized = storage != STORAGE_F32;
    switch (op) {
    case OP_BAGS_SEGMENT:
      if (quantized) KFN(q_bags_segment)(&q, splits, ids, r0, r1, param, out);
      else KFN(bags_segment)(f, (size_t)dim, splits, ids, r0, r1, param, out);
      break;
    case OP_BAGS_WEIGHTED:
      if (quantized) KFN(q_bags_weighted)(&q, splits, ids, weights, r0, r1, param, out);
      else KFN(bags_weighted)(f, (size_t)dim, splits, ids, weights, r0, r1, param, out);
      break;
    case OP_SEQUENCE:
      if (quantized) KFN(q_sequence)(&q, splits, ids, positions, r0, r1, param, out);
      else KFN(sequence)(f, (size_t)dim, splits, ids, positions, r0, r1, param, out);
      break;
    case OP_GATHER:
      if (quantized) KFN(q_gather)(&q, ids, r0, r1, out);
      else KFN(gather)(f, (size_t)dim, ids, r0, r1, out);
      break;
    default:
      fail("unknown op", at);
    }
    for (size_t i = (size_t)out_values; i < (size_t)out_values + GUARD; i++)
      if (memcmp(out + i, &sentinel, 4) != 0) fail("a kernel wrote past its output", at);
    write_out(out, (size_t)out_values * 4);
    free(out);
  }
  free(table_base);
  free(own_splits);
  free(own_ids);
  free(own_weights);
  free(own_positions);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: kernel_check CASE_FILE > OUTPUT\n");
    return 2;
  }
  input = fopen(argv[1], "rb");
  if (input == NULL) fail("cannot open the case file", -1);
  char magic[8];
  if (fread(magic, 1, 8, input) != 8 || memcmp(magic, "TPUKCHK1", 8) != 0) fail("not a case file", -1);
  const int32_t cases = read_i32(-1);
  for (int32_t c = 0; c < cases; c++) run_case(c);
  fclose(input);
  return fflush(stdout) == 0 ? 0 : 1;
}
