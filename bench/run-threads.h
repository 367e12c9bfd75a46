// The exhaustive float checks' worker threads (float-format-exhaustive.c, float-format-lanes-exhaustive.c):
// one thread per job, each given its job; returns once all have finished.
#ifndef TPU_EMBEDDING_BENCH_RUN_THREADS_H
#define TPU_EMBEDDING_BENCH_RUN_THREADS_H
#include <pthread.h>
#include <stddef.h>

#define MAX_THREADS 64

/** Runs `run` on `count` threads (1..MAX_THREADS), thread i with `jobs + i * job_size`, and joins them. */
static inline void run_threads(int count, void *(*run)(void *), void *jobs, size_t job_size) {
  pthread_t t[MAX_THREADS];
  for (int i = 0; i < count; i++) pthread_create(&t[i], NULL, run, (char *)jobs + (size_t)i * job_size);
  for (int i = 0; i < count; i++) pthread_join(t[i], NULL);
}

#endif
