// Lookup batches: table sets and the batch entry points (batch.c), registered by addon.c.
#ifndef TPU_EMBEDDING_BATCH_H
#define TPU_EMBEDDING_BATCH_H
#include "napi_util.h"

napi_value js_create_table_set(napi_env env, napi_callback_info info);
napi_value js_release_table_set(napi_env env, napi_callback_info info);
napi_value js_small_lookup(napi_env env, napi_callback_info info);
napi_value js_small_lookup_check(napi_env env, napi_callback_info info);
napi_value js_small_lookup_share(napi_env env, napi_callback_info info);
napi_value js_resolve_refs(napi_env env, napi_callback_info info);

#endif
