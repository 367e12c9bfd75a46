#include "napi_util.h"

/** A typed array of the given type (or null when `nullable`: data NULL, length 0). */
bool typed_view(napi_env env, napi_value value, napi_typedarray_type want, bool nullable, view_t *v) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok) return false;
  if (t == napi_null && nullable) {
    v->data = NULL;
    v->length = 0;
    return true;
  }
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, value, &type, &v->length, &v->data, NULL, NULL) != napi_ok) return false;
  return type == want && (v->data != NULL || v->length == 0);
}

bool int_arg(napi_env env, napi_value value, int32_t min, int32_t *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) return false;
  if (!(d >= min && d <= 2147483647.0) || d != (double)(int32_t)d) return false;
  *out = (int32_t)d;
  return true;
}


napi_value boolean(napi_env env, bool value) {
  napi_value result;
  napi_get_boolean(env, value, &result);
  return result;
}
