// The gather-and-reduce kernels shared by the native addon's entry points (kernels.c).
#ifndef TPU_EMBEDDING_KERNELS_H
#define TPU_EMBEDDING_KERNELS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MODE_SUM = 0, MODE_MEAN = 1, MODE_SQRTN = 2 };

/** Bags in TF's sparse-segment order (unweighted sparse lookups), rows [row_start, row_end). */
void bags_segment(const float *table, size_t dim, const int32_t *splits, const int32_t *ids, int32_t row_start,
                  int32_t row_end, int mode, float *out);
/** Bags as Σ w·e (Σ e without weights) then div_no_nan: TF's ragged and weighted order. */
void bags_weighted(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                   const float *weights, int32_t row_start, int32_t row_end, int mode, float *out);
/** Sequences of `length` positions (ragged rows in order, or explicit positions added up). */
void sequence(const float *table, size_t dim, const int32_t *splits, const int32_t *ids, const int32_t *positions,
              int32_t row_start, int32_t row_end, int32_t length, float *out);
/** Rows of the table by id. */
void gather(const float *table, size_t dim, const int32_t *ids, int32_t row_start, int32_t row_end, float *out);
/** Every id a row of the table. */
bool ids_in_table(const int32_t *ids, size_t count, size_t table_rows);

#endif
