// The JSON float writer's N-API functions (float_format_napi.c).
#ifndef TPU_EMBEDDING_FLOAT_FORMAT_NAPI_H
#define TPU_EMBEDDING_FLOAT_FORMAT_NAPI_H
#include "napi_util.h"

/** Adds formatJsonRows to the addon's exports; false when N-API refuses. */
bool define_float_format(napi_env env, napi_value exports);

#endif
