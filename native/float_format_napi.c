// N-API entry point of the JSON float writer (float_format.c), registered by addon.c's module init.
#include "dispatch.h"
#include "float_format.h"
#include "float_format_napi.h"

/**
 * formatJsonRows(data: Float32Array, offset, rows, width, out: Uint8Array, at): the end of the text written
 * at out[at..] (`rows` lists of `width` values from data[offset..], comma-separated); -1 when an argument does
 * not fit (out needs f32_rows_capacity bytes from `at`, slack included).
 */
static napi_value js_format_json_rows(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], result;
  view_t data, out;
  int32_t offset, rows, width, at;
  double end = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 6 &&
      typed_view(env, argv[0], napi_float32_array, false, &data) && int_arg(env, argv[1], 0, &offset) &&
      int_arg(env, argv[2], 0, &rows) && int_arg(env, argv[3], 0, &width) &&
      typed_view(env, argv[4], napi_uint8_array, false, &out) && int_arg(env, argv[5], 0, &at) &&
      (size_t)offset + (size_t)rows * (size_t)width <= data.length && (size_t)at <= out.length &&
      f32_rows_capacity((size_t)rows, (size_t)width) <= out.length - (size_t)at) {
    // The active ISA level's writer (dispatch.c), else the baseline build's: the same bytes either way.
    const kernel_isa_t *level = kernels();
    f32_rows_fn *rows_fn = level != NULL ? level->json_rows : f32_rows;
    end = (double)(at + rows_fn((const float *)data.data + offset, (size_t)rows, (size_t)width,
                                (char *)out.data + at));
  }
  napi_create_double(env, end, &result);
  return result;
}

bool define_float_format(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      {"formatJsonRows", NULL, js_format_json_rows, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) == napi_ok;
}
