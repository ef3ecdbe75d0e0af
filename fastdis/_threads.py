"""The thread budget: ``n_threads`` is the total number of threads a call runs.

A predictor metric fits several models, and each fit may start threads of its own: the
BLAS (OpenBLAS, MKL) behind numpy and scipy, the OpenMP pool of scikit-learn's histogram
gradient boosting, joblib workers for estimators with ``n_jobs``. Left alone, k parallel
fits each start a pool as large as the machine, k x cores threads on cores cores (45 s
instead of 4 s for explicitness on dSprites). Here the budget is split once: k tasks
side by side, each allowed ``n_threads // k`` (at least 1) BLAS / OpenMP / joblib threads,
enforced with threadpoolctl (a dependency of scikit-learn, imported lazily).

:func:`parallel_map` is the one pool of the predictor metrics. It also

* cancels the tasks not yet started, and tells running ones to stop at their next
  :func:`checkpoint`, when the caller is interrupted (Ctrl-C) or a task fails: the
  exception reaches the caller at once, not after every fit has run;
* runs each task under the caller's scikit-learn configuration (``sklearn.set_config``
  is per thread, so a new thread would otherwise see the defaults).

scikit-learn's own ``Parallel`` (cross-validation helpers, forests) must not run in these
threads: it records the warning filters of the thread that calls it while other threads
may be resetting them (``warnings.catch_warnings`` is process-wide before Python 3.14),
and warns "sklearn.utils.parallel.delayed should be used with ... Parallel". The metrics
run such estimators in the caller's thread (``max_parallel=1``) and cross-validate with
plain loops.

BLAS limits are process-wide (OpenBLAS and MKL keep one setting): while a call runs, BLAS
calls from the program's other threads get the same limit.
"""
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

from ._config import default_threads

__all__ = ["total_threads", "split_budget", "limit_threads", "parallel_map", "checkpoint",
           "Cancelled"]


def total_threads(n_threads):
    """The budget of threads for a checked ``n_threads`` (0 = the default: all available)."""
    return n_threads if n_threads > 0 else default_threads()


def split_budget(total, n_tasks, max_parallel=None):
    """(tasks side by side, threads each task may use) for ``n_tasks`` tasks sharing
    ``total`` threads: parallel x inner <= total, both >= 1."""
    parallel = max(1, min(total, n_tasks, max_parallel or n_tasks))
    return parallel, max(1, total // parallel)


@contextmanager
def limit_threads(limit, user_api=None):
    """Limit the BLAS and OpenMP thread pools to ``limit`` threads inside the block.

    Parameters
    ----------
    limit : int
        Threads each pool may use.
    user_api : {None, "blas", "openmp"}
        Which pools; None: both. BLAS limits are process-wide; OpenMP limits apply to the
        calling thread (OpenMP keeps them per thread), so a worker thread sets its own.

    Examples
    --------
    >>> with limit_threads(1):
    ...     pass  # numpy's BLAS and any OpenMP code run on one thread here
    """
    with _pools().limit(limits=int(limit), user_api=user_api):
        yield


_controller, _modules_seen = None, -1


def _pools():
    """threadpoolctl's view of the loaded thread pools, scanned again only when modules
    were imported since the last scan (a library is loaded by an import): a scan costs
    ~0.7 ms, which every limited block would otherwise pay."""
    global _controller, _modules_seen
    from threadpoolctl import ThreadpoolController

    if _controller is None or len(sys.modules) != _modules_seen:
        _modules_seen = len(sys.modules)  # before the scan: imports during it rescan next time
        _controller = ThreadpoolController()
    return _controller


class Cancelled(Exception):
    """Raised by :func:`checkpoint` in a task whose :func:`parallel_map` was abandoned."""


_local = threading.local()


def checkpoint():
    """Stop the current task if its :func:`parallel_map` was abandoned (Ctrl-C in the
    caller, or another task failed). Call it between fits; a no-op outside a pool."""
    event = getattr(_local, "cancel", None)
    if event is not None and event.is_set():
        raise Cancelled("abandoned: the call that started this task was interrupted")


def _sklearn_config():
    """The caller's scikit-learn configuration, if scikit-learn is loaded."""
    sklearn = sys.modules.get("sklearn")
    return sklearn.get_config() if sklearn is not None else None


def parallel_map(func, items, total, *, max_parallel=None, callback=None):
    """``[func(item, inner) for item in items]`` on at most ``total`` threads in all.

    Parameters
    ----------
    func : callable
        ``func(item, inner)``: a task; ``inner`` is the number of threads it may use
        itself (its BLAS and OpenMP pools are already limited to it).
    items : iterable
        One task per item.
    total : int
        The budget (see :func:`total_threads`).
    max_parallel : int, optional
        At most this many tasks side by side; 1 runs them in the caller's thread, one after
        the other, each with the whole budget.
    callback : callable, optional
        Called with no argument after each task, in order (a progress bar's update).

    Returns
    -------
    list
        The results, in the order of ``items``.

    Raises
    ------
    Whatever a task raised, or KeyboardInterrupt: pending tasks are cancelled and running
    ones stop at their next :func:`checkpoint`; the caller does not wait for them.
    """
    items = list(items)
    parallel, inner = split_budget(total, len(items), max_parallel)
    tick = callback or (lambda: None)
    with limit_threads(inner):  # BLAS: process-wide; OpenMP: this thread (serial case)
        if parallel == 1:
            results = []
            for item in items:
                results.append(func(item, inner))
                tick()
            return results
        return _pooled(func, items, parallel, inner, tick)


def _pooled(func, items, parallel, inner, tick):
    cancel = threading.Event()
    config = _sklearn_config()

    def run(item):
        _local.cancel = cancel
        try:
            checkpoint()
            with ExitStack() as stack:
                stack.enter_context(limit_threads(inner, "openmp"))  # per thread: set here
                if config is not None:
                    from sklearn import config_context

                    stack.enter_context(config_context(**config))
                return func(item, inner)
        finally:
            _local.cancel = None

    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        futures = [pool.submit(run, item) for item in items]
        results = []
        for future in futures:
            results.append(future.result())  # interruptible wait: Ctrl-C lands here
            tick()
    except BaseException:
        cancel.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results
