// The server's connection hand-off between event loops: a socket's file descriptor duplicated (socket_fd.c).
#ifndef TPU_EMBEDDING_SOCKET_FD_H
#define TPU_EMBEDDING_SOCKET_FD_H
#include "napi_util.h"

/** Defines `dupFd` on `exports` (POSIX only; elsewhere nothing is defined). */
bool define_socket_fd(napi_env env, napi_value exports);

#endif
