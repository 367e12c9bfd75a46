// A connection accepted on the main thread is served by another thread's event loop: that loop needs its
// own descriptor of the socket, since the accepting thread's socket object closes the one it has. Node
// cannot move a socket between worker threads, so the descriptor is duplicated here (close-on-exec).
#define _GNU_SOURCE
#include "socket_fd.h"

#include <errno.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#define HAVE_DUP 1
#endif

#ifdef HAVE_DUP
static napi_value js_dup_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      !int_arg(env, argv[0], 0, &fd)) {
    napi_throw_type_error(env, NULL, "dupFd: expected a file descriptor (an integer >= 0)");
    return NULL;
  }
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, copy, &result);
  return result;
}
#endif

bool define_socket_fd(napi_env env, napi_value exports) {
#ifdef HAVE_DUP
  const napi_property_descriptor functions[] = {
      {"dupFd", NULL, js_dup_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, 1, functions) == napi_ok;
#else
  (void)env;
  (void)exports;
  return true;
#endif
}
