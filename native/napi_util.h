// Typed-array and number arguments of the addon's N-API entry points (napi_util.c).
#ifndef TPU_EMBEDDING_NAPI_UTIL_H
#define TPU_EMBEDDING_NAPI_UTIL_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  void *data;
  size_t length;
} view_t;

/** A typed array of the given type (or null when `nullable`: data NULL, length 0). */
bool typed_view(napi_env env, napi_value value, napi_typedarray_type want, bool nullable, view_t *v);
/** An integer in [min, 2^31 - 1]. */
bool int_arg(napi_env env, napi_value value, int32_t min, int32_t *out);
napi_value boolean(napi_env env, bool value);

#endif
