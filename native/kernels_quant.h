// Quantized row storage as the kernels read it (kernels_quant.c; layouts in src/kernels/quantized-rows.ts
// and docs/quantization.md). The quantized kernels' entry points are per-ISA, declared in kernels.h.
#ifndef TPU_EMBEDDING_KERNELS_QUANT_H
#define TPU_EMBEDDING_KERNELS_QUANT_H
#include <stddef.h>
#include <stdint.h>

/** Storage kinds, numbered as src/kernels/quantized-rows.ts STORAGE_CODE. */
enum { STORAGE_F32 = 0, STORAGE_F16 = 1, STORAGE_BF16 = 2, STORAGE_I8 = 3, STORAGE_KINDS = 4 };

/** Bytes per row of `dim` values in `kind` storage (0 for an unknown kind). */
static inline size_t storage_row_bytes(int kind, size_t dim) {
  switch (kind) {
  case STORAGE_F32: return dim * 4;
  case STORAGE_F16:
  case STORAGE_BF16: return dim * 2;
  case STORAGE_I8: return 8 + (dim + 3) / 4 * 4;
  default: return 0;
  }
}

/** A quantized table: rows of `stride` bytes from `data`, `dim` values each. */
typedef struct {
  const uint8_t *data;
  size_t stride, dim;
  int kind;
} qtable_t;

#endif
