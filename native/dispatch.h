// Runtime choice of the kernels' ISA level (dispatch.c): kernels.c is compiled once per level
// (kernels.h); one level's table is chosen once per process at addon load by the CPU's features, or
// by the caller (TPU_EMBEDDING_ISA, read in src/flags.ts). Also the prefetch distance the kernels use.
#ifndef TPU_EMBEDDING_DISPATCH_H
#define TPU_EMBEDDING_DISPATCH_H
#include "kernels.h"
#include "napi_util.h"

/** The level in use (never NULL once kernels_init ran; every thread of the process shares it). */
extern const kernel_isa_t *kernels_active;

static inline const kernel_isa_t *kernels(void) { return __atomic_load_n(&kernels_active, __ATOMIC_RELAXED); }

/** Picks the best level this CPU runs, once per process (later calls keep the choice). */
void kernels_init(void);

// N-API entry points, registered by addon.c.
napi_value js_kernel_isa(napi_env env, napi_callback_info info);
napi_value js_select_isa(napi_env env, napi_callback_info info);
napi_value js_prefetch_distance(napi_env env, napi_callback_info info);
napi_value js_calibrate_prefetch(napi_env env, napi_callback_info info);

#endif
