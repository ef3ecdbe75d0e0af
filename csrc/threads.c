/* Thread-count policy shared by every kernel. */
#include "common.h"

/* Below this many rows a parallel region costs more than it saves. */
#define FD_MIN_ROWS_PER_THREAD 16384

int fd_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fd_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int fd_resolve_threads(int n_threads, int64_t n_rows)
{
    int64_t cap;
    if (n_threads <= 0) n_threads = fd_max_threads();
    cap = n_rows / FD_MIN_ROWS_PER_THREAD;
    if (cap < 1) cap = 1;
    if (n_threads > cap) n_threads = (int)cap;
#ifndef _OPENMP
    n_threads = 1;
#endif
    return n_threads;
}
