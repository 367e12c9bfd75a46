// Float32 → JSON text as TF Serving prints it (float_format.c); no N-API, so test programs link it alone.
#ifndef TPU_EMBEDDING_FLOAT_FORMAT_H
#define TPU_EMBEDDING_FLOAT_FORMAT_H
#include <stddef.h>
#include <stdint.h>

/** The most bytes one value takes ("-1.17549435e-38"). */
#define F32_TEXT_MAX 15

/** Bytes past a text's end that the writers may scribble on (fixed-size copies): leave them in the buffer. */
#define F32_SLACK 32

/** Writes the text of the float32 with these bits to `out` (no terminator); returns its length. `out` needs
 * F32_TEXT_MAX + F32_SLACK bytes. */
size_t f32_format(uint32_t bits, char *out);

/** printf `%.{p}g` (p = 6 or 9) plus `.0` alone, no read-back choice (the exhaustive check's oracle). */
size_t f32_format_precision(uint32_t bits, int p, char *out);

/** Bytes `f32_rows` may write for `rows` lists of `width` values (commas, brackets and F32_SLACK included). */
size_t f32_rows_capacity(size_t rows, size_t width);

/** Writes `rows` JSON lists of `width` values each, comma-separated: `[a,b],[c,d]`; returns the bytes written. */
typedef size_t f32_rows_fn(const float *data, size_t rows, size_t width, char *out);
/** The row writer compiled for the build's baseline (each ISA level's own is json_rows_<level>, kernels.h). */
f32_rows_fn f32_rows;

#endif
