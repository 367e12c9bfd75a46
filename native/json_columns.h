// The REST server's columnar JSON body scanner and its N-API entry (json_columns.c).
#ifndef TPU_EMBEDDING_JSON_COLUMNS_H
#define TPU_EMBEDDING_JSON_COLUMNS_H
#include "napi_util.h"
#include <string.h>

#define JSON_COLUMNS_OTHER (-1)
#define JSON_COLUMNS_FULL (-2)

/**
 * Reads `{"inputs": {"<name>": [[id, ...], ...], ...}}` from b[0..end): every feature's ids into `ids`, its
 * row splits into `splits`, and per feature four marks (name start, name end, ids end, splits end). The
 * number of features, JSON_COLUMNS_OTHER when the body is not of this form, JSON_COLUMNS_FULL when a
 * scratch array is too small.
 */
int64_t scan_columnar_bags(const uint8_t *b, size_t end, int32_t *ids, size_t ids_cap, int32_t *splits,
                           size_t splits_cap, int32_t *marks, size_t marks_cap);

/** Adds scanColumnarBags to the addon's exports; false when N-API refuses. */
bool define_json_columns(napi_env env, napi_value exports);

#endif
