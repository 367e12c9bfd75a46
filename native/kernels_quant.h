// Gather-and-reduce kernels over quantized rows (kernels_quant.c): the float32 kernels' exact operation
// order (kernels.c) on rows dequantized as they are read (src/kernels/quantized-rows.ts has the layouts).
#ifndef TPU_EMBEDDING_KERNELS_QUANT_H
#define TPU_EMBEDDING_KERNELS_QUANT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Storage kinds, numbered as src/kernels/quantized-rows.ts STORAGE_CODE. */
enum { STORAGE_F32 = 0, STORAGE_F16 = 1, STORAGE_BF16 = 2, STORAGE_I8 = 3, STORAGE_KINDS = 4 };

/** Bytes per row of `dim` values in `kind` storage (0 for an unknown kind). */
size_t storage_row_bytes(int kind, size_t dim);

/** A quantized table: rows of `stride` bytes from `data`, `dim` values each. */
typedef struct {
  const uint8_t *data;
  size_t stride, dim;
  int kind;
} qtable_t;

void q_bags_segment(const qtable_t *t, const int32_t *splits, const int32_t *ids, int32_t row_start,
                    int32_t row_end, int mode, float *out);
void q_bags_weighted(const qtable_t *t, const int32_t *splits, const int32_t *ids, const float *weights,
                     int32_t row_start, int32_t row_end, int mode, float *out);
void q_sequence(const qtable_t *t, const int32_t *splits, const int32_t *ids, const int32_t *positions,
                int32_t row_start, int32_t row_end, int32_t length, float *out);
void q_gather(const qtable_t *t, const int32_t *ids, int32_t row_start, int32_t row_end, float *out);

#endif
