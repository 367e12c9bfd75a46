// The gather-and-reduce kernels shared by the native addon's entry points (kernels.c).
//
// kernels.c is compiled once per ISA level (binding.gyp: x86-64-v2, v3, v4; aarch64 NEON; elsewhere one
// generic build), each time with -DKERNEL_ISA=<name>, so every entry point exists once per level with the
// level as its suffix (bags_segment_v3, ...). dispatch.c picks one level's table at addon load
// (dispatch.h); callers go through it. native/float_format.c is built per level too, for its row writer
// (json_rows_<level>). A new per-ISA file names its entry points with KFN(name) and adds
// them to KERNEL_ISA_DECLARE / KERNEL_ISA_TABLE below and to the kernel_isa_t struct.
#ifndef TPU_EMBEDDING_KERNELS_H
#define TPU_EMBEDDING_KERNELS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "float_format.h"
#include "kernels_quant.h"

enum { MODE_SUM = 0, MODE_MEAN = 1, MODE_SQRTN = 2 };

/** Bags in TF's sparse-segment order (unweighted sparse lookups), rows [row_start, row_end). */
typedef void bags_segment_fn(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                             int32_t row_start, int32_t row_end, int mode, float *out);
/** Bags as Σ w·e (Σ e without weights) then div_no_nan: TF's ragged and weighted order. */
typedef void bags_weighted_fn(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                              const float *weights, int32_t row_start, int32_t row_end, int mode, float *out);
/** Sequences of `length` positions (ragged rows in order, or explicit positions added up). */
typedef void sequence_fn(const float *table, size_t dim, const int32_t *splits, const int32_t *ids,
                         const int32_t *positions, int32_t row_start, int32_t row_end, int32_t length, float *out);
/** Rows of the table by id. */
typedef void gather_fn(const float *table, size_t dim, const int32_t *ids, int32_t row_start, int32_t row_end,
                       float *out);
/** Every id a row of the table. */
typedef bool ids_in_table_fn(const int32_t *ids, size_t count, size_t table_rows);
// The same kernels over quantized rows (kernels_quant.c): each value dequantized as it is read, then the
// float32 kernels' operations in the same order.
typedef void q_bags_segment_fn(const qtable_t *t, const int32_t *splits, const int32_t *ids, int32_t row_start,
                               int32_t row_end, int mode, float *out);
typedef void q_bags_weighted_fn(const qtable_t *t, const int32_t *splits, const int32_t *ids,
                                const float *weights, int32_t row_start, int32_t row_end, int mode, float *out);
typedef void q_sequence_fn(const qtable_t *t, const int32_t *splits, const int32_t *ids, const int32_t *positions,
                           int32_t row_start, int32_t row_end, int32_t length, float *out);
typedef void q_gather_fn(const qtable_t *t, const int32_t *ids, int32_t row_start, int32_t row_end, float *out);

/** One ISA level's kernels. */
typedef struct {
  const char *name; // "v2", "v3", "v4", "neon", "generic"
  bags_segment_fn *bags_segment;
  bags_weighted_fn *bags_weighted;
  sequence_fn *sequence;
  gather_fn *gather;
  ids_in_table_fn *ids_in_table;
  q_bags_segment_fn *q_bags_segment;
  q_bags_weighted_fn *q_bags_weighted;
  q_sequence_fn *q_sequence;
  q_gather_fn *q_gather;
  f32_rows_fn *json_rows; // float_format.c: the JSON answers' float writer
} kernel_isa_t;

#define KERNEL_ISA_DECLARE(s)                                                                            \
  bags_segment_fn bags_segment_##s;                                                                      \
  bags_weighted_fn bags_weighted_##s;                                                                    \
  sequence_fn sequence_##s;                                                                              \
  gather_fn gather_##s;                                                                                  \
  ids_in_table_fn ids_in_table_##s;                                                                      \
  q_bags_segment_fn q_bags_segment_##s;                                                                  \
  q_bags_weighted_fn q_bags_weighted_##s;                                                                \
  q_sequence_fn q_sequence_##s;                                                                          \
  q_gather_fn q_gather_##s;                                                                              \
  f32_rows_fn json_rows_##s;
#define KERNEL_ISA_TABLE(s)                                                                              \
  {#s,                  bags_segment_##s,     bags_weighted_##s, sequence_##s,     gather_##s,           \
   ids_in_table_##s,    q_bags_segment_##s,   q_bags_weighted_##s, q_sequence_##s, q_gather_##s,         \
   json_rows_##s}

// In a per-ISA translation unit: KFN(bags_segment) is bags_segment_<KERNEL_ISA>.
#ifndef KERNEL_ISA
#define KERNEL_ISA generic
#endif
#define KERNEL_CAT2(a, b) a##_##b
#define KERNEL_CAT(a, b) KERNEL_CAT2(a, b)
#define KFN(name) KERNEL_CAT(name, KERNEL_ISA)

/**
 * Ids ahead whose rows the bag, sequence and gather kernels prefetch (0: none). Set once per process by
 * dispatch.c (calibrated on the tables, or TPU_EMBEDDING_PREFETCH); read once per kernel call.
 */
extern int kernel_prefetch_ids;

#endif
