// The REST server's most common JSON body read straight from its bytes (the native twin of
// src/serving/http/json-fast-columns.ts's scanner; the TypeScript side checks the names against the model):
// `{"inputs": {"<name>": [[id, ...], ...], ...}}`, ids plain JSON integers of up to 9 digits.
#include "json_columns.h"

#define MAX_NAME_BYTES 256
#define MAX_ID_DIGITS 9

/** The byte at `i`, or -1 past the end (every test below then fails, as `undefined` does in JS). */
static inline int byte_at(const uint8_t *b, size_t i, size_t end) { return i < end ? b[i] : -1; }

/** The first index at or after `i` that is not JSON whitespace (`end` at the end). */
static inline size_t skip(const uint8_t *b, size_t i, size_t end) {
  while (i < end && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) i++;
  return i;
}

/** Just past byte `c` when it is the first non-whitespace byte at or after `*i`; false otherwise. */
static inline bool after(const uint8_t *b, size_t *i, size_t end, int c) {
  size_t j = skip(b, *i, end);
  if (byte_at(b, j, end) != c) return false;
  *i = j + 1;
  return true;
}

int64_t scan_columnar_bags(const uint8_t *b, size_t end, int32_t *ids, size_t ids_cap, int32_t *splits,
                           size_t splits_cap, int32_t *marks, size_t marks_cap) {
  static const char inputs_key[] = "\"inputs\"";
  const size_t key_length = sizeof inputs_key - 1;
  size_t i = 0, n = 0, s = 0, features = 0;
  if (end > INT32_MAX) return JSON_COLUMNS_OTHER;
  if (!after(b, &i, end, '{')) return JSON_COLUMNS_OTHER;
  i = skip(b, i, end);
  if (end - i < key_length || memcmp(b + i, inputs_key, key_length) != 0) return JSON_COLUMNS_OTHER;
  i += key_length;
  if (!after(b, &i, end, ':') || !after(b, &i, end, '{')) return JSON_COLUMNS_OTHER;
  for (;;) {
    // A quoted name of printable ASCII without escapes.
    if (!after(b, &i, end, '"')) return JSON_COLUMNS_OTHER;
    const size_t name_start = i;
    while (i < end && i - name_start <= MAX_NAME_BYTES) {
      const uint8_t c = b[i];
      if (c == '"' || c < 0x20 || c > 0x7e || c == '\\') break;
      i++;
    }
    if (byte_at(b, i, end) != '"' || i == name_start) return JSON_COLUMNS_OTHER;
    const size_t name_end = i++;
    // `[[id, ...], ...]`, at least one example.
    if (!after(b, &i, end, ':') || !after(b, &i, end, '[')) return JSON_COLUMNS_OTHER;
    const size_t first = n;
    if (s == splits_cap) return JSON_COLUMNS_FULL;
    splits[s++] = 0;
    for (;;) {
      if (!after(b, &i, end, '[')) return JSON_COLUMNS_OTHER;
      i = skip(b, i, end);
      if (byte_at(b, i, end) == ']') {
        i++;
      } else {
        for (;;) {
          // `-?(0|[1-9][0-9]{0,8})`, then neither a digit, a point nor an exponent.
          const bool negative = byte_at(b, i, end) == '-';
          if (negative) i++;
          const size_t start = i;
          int64_t value = 0;
          // At most one digit too many is read: that is enough to refuse the id.
          while (i < end && b[i] >= '0' && b[i] <= '9' && i - start <= MAX_ID_DIGITS)
            value = value * 10 + (b[i++] - '0');
          const size_t digits = i - start;
          if (digits == 0 || digits > MAX_ID_DIGITS || (digits > 1 && b[start] == '0')) return JSON_COLUMNS_OTHER;
          const int next = byte_at(b, i, end);
          if (next == '.' || next == 'e' || next == 'E') return JSON_COLUMNS_OTHER;
          if (n == ids_cap) return JSON_COLUMNS_FULL;
          ids[n++] = (int32_t)(negative ? -value : value);
          i = skip(b, i, end);
          const int c = byte_at(b, i++, end);
          if (c == ',') {
            i = skip(b, i, end);
            continue;
          }
          if (c != ']') return JSON_COLUMNS_OTHER;
          break;
        }
      }
      if (s == splits_cap) return JSON_COLUMNS_FULL;
      splits[s++] = (int32_t)(n - first);
      i = skip(b, i, end);
      const int c = byte_at(b, i++, end);
      if (c == ',') continue;
      if (c != ']') return JSON_COLUMNS_OTHER;
      break;
    }
    if (4 * features + 4 > marks_cap) return JSON_COLUMNS_FULL;
    int32_t *mark = marks + 4 * features++;
    mark[0] = (int32_t)name_start;
    mark[1] = (int32_t)name_end;
    mark[2] = (int32_t)n;
    mark[3] = (int32_t)s;
    i = skip(b, i, end);
    const int c = byte_at(b, i++, end);
    if (c == ',') continue;
    if (c != '}') return JSON_COLUMNS_OTHER;
    break;
  }
  if (!after(b, &i, end, '}') || skip(b, i, end) != end) return JSON_COLUMNS_OTHER;
  return (int64_t)features;
}

/**
 * scanColumnarBags(body: Uint8Array, ids: Int32Array, splits: Int32Array, marks: Int32Array): the number of
 * features read (marks[4f..4f+3]: the name's start and end in `body`, the ids' and the row splits' end in
 * `ids` and `splits` after that feature); -1 when the body is not of this form, -2 when a scratch array is
 * too small, -3 when an argument is not of its type.
 */
static napi_value js_scan_columnar_bags(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  view_t body, ids, splits, marks;
  int64_t found = -3;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 4 &&
      typed_view(env, argv[0], napi_uint8_array, false, &body) &&
      typed_view(env, argv[1], napi_int32_array, false, &ids) &&
      typed_view(env, argv[2], napi_int32_array, false, &splits) &&
      typed_view(env, argv[3], napi_int32_array, false, &marks)) {
    found = scan_columnar_bags((const uint8_t *)body.data, body.length, (int32_t *)ids.data, ids.length,
                               (int32_t *)splits.data, splits.length, (int32_t *)marks.data, marks.length);
  }
  napi_create_double(env, (double)found, &result);
  return result;
}

bool define_json_columns(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      {"scanColumnarBags", NULL, js_scan_columnar_bags, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) == napi_ok;
}
