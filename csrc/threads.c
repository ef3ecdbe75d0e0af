/* Thread-count policy shared by every kernel.
 *
 * Results never depend on the number of threads, so a kernel never asks OpenMP for more
 * threads than there are processors available to the process: asking for thousands
 * makes libgomp abort the whole process when it cannot create them.  OpenMP may still
 * grant a smaller team than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC, nested regions); the
 * kernels size and merge their per-thread buffers by the threads that actually ran. */
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

/* Processors available to this process (its affinity mask, as OpenMP sees it). */
static int fd_processors(void)
{
#ifdef _OPENMP
    const int p = omp_get_num_procs();
    return p > 0 ? p : 1;
#else
    return 1;
#endif
}

int fd_max_threads(void)
{
#ifdef _OPENMP
    const int n = omp_get_max_threads(), p = fd_processors();
    return n < 1 ? 1 : n < p ? n : p;
#else
    return 1;
#endif
}

int fd_cap_threads(int n_threads)
{
    const int p = fd_processors();
    if (n_threads <= 0) return fd_max_threads();
    return n_threads < p ? n_threads : p;
}

int fd_resolve_threads(int n_threads, int64_t n_rows)
{
    int64_t cap;
    n_threads = fd_cap_threads(n_threads);
    cap = n_rows / FD_MIN_ROWS_PER_THREAD;
    if (cap < 1) cap = 1;
    if (n_threads > cap) n_threads = (int)cap;
#ifndef _OPENMP
    n_threads = 1;
#endif
    return n_threads;
}
