"""Build facts and the thread policy."""
import os

from . import _kernels

__all__ = ["show_config"]


def _available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_threads():
    """Threads a kernel uses when n_threads is None.

    OpenMP's own limit (OMP_NUM_THREADS, or a threadpoolctl limit on the
    OpenMP runtime this extension links) capped by the cores available to
    this process.
    """
    return max(1, min(_kernels.max_threads(), _available_cores()))


def show_config(print_out=True):
    """Print and return the facts of this build of fastdis.

    Parameters
    ----------
    print_out : bool, default=True
        Print a short report to stdout as well as returning it.

    Returns
    -------
    dict
        ``version``, ``openmp`` (whether the kernels were built with OpenMP),
        ``max_threads`` (threads used when ``n_threads=None``),
        ``cores`` (cores available to this process) and ``simd`` (the vector
        binning path in use, ``"avx512"``, ``"avx2"`` or ``"none"``).
    """
    from . import __version__

    info = {
        "version": __version__,
        "openmp": _kernels.openmp_enabled(),
        "max_threads": default_threads(),
        "cores": _available_cores(),
        "simd": ("avx512" if _kernels.avx512_available() else "avx2")
        if _kernels.simd_available() else "none",
    }
    if print_out:
        for key, value in info.items():
            print(f"{key:12s}: {value}")
    return info
