"""Predictor metrics and threads: n_threads is the total budget of every fit (BLAS, OpenMP,
joblib), scikit-learn's Parallel never runs in fastdis's pool threads, Ctrl-C stops a
call within one fit."""
import os
import pathlib
import sys
import threading
import time

import numpy as np
import pytest

import fastdis
from conftest import child_env, interrupt_when_ready

threadpoolctl = pytest.importorskip("threadpoolctl")


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 4, size=(n, 3))
    codes = np.column_stack([factors + 0.3 * rng.normal(size=(n, 3)), rng.normal(size=n)])
    return factors, codes


def _record_fits(monkeypatch, cls, method="fit"):
    """Wrap cls.fit: record (start, end, threads with BLAS, threads with OpenMP) of each fit:
    its n_jobs (fastdis's own fitters: their n_threads) and the pools' limits it ran under."""
    seen, lock, original = [], threading.Lock(), getattr(cls, method)

    def fit(self, *args, **kwargs):
        info = threadpoolctl.threadpool_info()

        def most(api):
            return max([lib["num_threads"] for lib in info if lib["user_api"] == api], default=1)

        jobs = getattr(self, "n_jobs", None) or 1
        own = hasattr(self, "n_threads")  # fastdis's fitters: an OpenMP team in C, between
        if own:                           # (not inside) their numpy / BLAS calls
            jobs = self.n_threads or os.cpu_count() or 1
        if jobs < 0:  # joblib's -1: every core, -2: all but one, ...
            jobs = max(1, (os.cpu_count() or 1) + 1 + jobs)
        start = time.perf_counter()
        time.sleep(0.005)  # fits started side by side then overlap, however short they are
        try:
            return original(self, *args, **kwargs)
        finally:
            with lock:
                blas, openmp = most("blas"), most("openmp")
                # threads the fit may run at once: joblib's jobs each call BLAS / OpenMP
                seen.append((start, time.perf_counter(),
                             max(jobs, blas) if own else jobs * blas,
                             max(jobs, openmp) if own else jobs * openmp))

    monkeypatch.setattr(cls, method, fit)
    return seen


def _fitted_class(name):
    from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingClassifier

    from fastdis.metrics._logistic import Logistic

    return dict(explicitness=Logistic, explicitness_dlib=Logistic,
                dci_hist=HistGradientBoostingClassifier,
                dci_user=ExtraTreesRegressor)[name]


def _run(name, factors, codes, n_threads):
    from sklearn.ensemble import ExtraTreesRegressor

    common = dict(random_state=0, n_threads=n_threads)
    if name == "explicitness":
        return fastdis.explicitness(factors, codes, **common)
    if name == "explicitness_dlib":
        return fastdis.explicitness(factors, codes, convention="dlib", **common)
    estimator = {"dci_lasso": "lasso", "dci_hist": "hist_gradient_boosting",
                 "dci_user": ExtraTreesRegressor(n_estimators=4, n_jobs=-1)}[name]
    r = fastdis.dci(factors, codes, estimator=estimator, **common)
    return (r.disentanglement, r.completeness, r.informativeness, r.importance.tobytes())


# (DCI's Lasso and SAP's SVM fit no scikit-learn estimator: tests/test_lasso.py and
# tests/test_sap_kernels.py check their threads)
@pytest.mark.parametrize("name", ["explicitness", "explicitness_dlib", "dci_hist", "dci_user"])
def test_n_threads_is_the_total_budget(monkeypatch, name):
    """At any moment, the threads the running fits may start add up to <= n_threads; the
    result does not depend on n_threads."""
    factors, codes = _data()
    results = []
    for n_threads in (1, 2, 4):
        cls = _fitted_class(name)
        seen = _record_fits(monkeypatch, cls, "fit_columns" if name.startswith("explicitness")
                            else "fit")
        results.append(_run(name, factors, codes, n_threads))
        monkeypatch.undo()
        assert seen, "no fit recorded"
        for t, *_ in seen:  # the fits running when one starts (intervals: enough)
            running = [(b, o) for s0, s1, b, o in seen if s0 <= t < s1]
            assert sum(b for b, _ in running) <= n_threads, (n_threads, seen)
            assert sum(o for _, o in running) <= n_threads, (n_threads, seen)
    assert results[0] == results[1] == results[2]


def test_scikit_learn_parallel_runs_only_in_the_callers_thread(monkeypatch):
    """scikit-learn's Parallel records the warning filters of the thread that calls it;
    in a pool thread it can read them while another thread's Parallel has them reset (they
    are process-wide), then warns "sklearn.utils.parallel.delayed should be used with ...
    Parallel", past pytest's filterwarnings=error. So fastdis never calls it from its
    pool threads (the cross-validation is a plain loop; a user's estimator fits in the
    caller's thread, on its own joblib threads; the survey's forests are fastdis's own)."""
    from sklearn.utils import parallel

    callers, original = [], parallel.Parallel.__call__

    def call(self, iterable):
        callers.append(threading.current_thread())
        return original(self, iterable)

    monkeypatch.setattr(parallel.Parallel, "__call__", call)
    factors, codes = _data(n=120)
    fastdis.dci(factors, codes, random_state=0, n_threads=2)
    fastdis.explicitness(factors, codes, random_state=0, n_threads=2)
    fastdis.sap(factors, codes, convention="dlib", random_state=0, n_threads=2)
    assert set(callers) <= {threading.current_thread()}
    from sklearn.model_selection import KFold

    monkeypatch.setattr("fastdis.metrics._dci_fit._cv_folds", lambda s, seed: KFold(2))
    monkeypatch.setattr("fastdis.metrics._dci_fit._FOREST_GRID", [(8, 1.0)])
    from sklearn.ensemble import RandomForestRegressor

    callers.clear()
    fastdis.dci(factors, codes, estimator=RandomForestRegressor(10, n_jobs=2), random_state=0,
                n_threads=2)
    assert callers and set(callers) == {threading.current_thread()}
    callers.clear()
    fastdis.dci(factors, codes, estimator="random_forest", random_state=0, n_threads=2)
    assert not callers  # csrc/forest.c: no joblib at all


def test_pool_threads_see_the_callers_scikit_learn_config():
    """Tasks in parallel_map's pool threads (where a user's estimator may be fitted) run
    under the caller's scikit-learn configuration, not the pool thread's default."""
    import sklearn

    from fastdis._threads import parallel_map

    def task(item, inner):
        return threading.current_thread(), sklearn.get_config()["assume_finite"]

    with sklearn.config_context(assume_finite=True):
        seen = parallel_map(task, range(4), 2)
    assert [flag for _, flag in seen] == [True] * 4
    assert any(t is not threading.current_thread() for t, _ in seen)


def test_a_failing_fit_cancels_the_others(monkeypatch):
    """An exception in one task reaches the caller without waiting for the remaining ones."""
    from fastdis._threads import parallel_map

    started = []

    def task(item, inner):
        started.append(item)
        if item == 0:
            raise ValueError("task 0 failed")
        time.sleep(0.05)
        return item

    with pytest.raises(ValueError, match="task 0 failed"):
        parallel_map(task, range(200), 2)
    time.sleep(0.2)
    assert len(started) < 20  # the rest were cancelled, not run
    assert parallel_map(lambda item, inner: (item, inner), range(3), 4) == [(0, 1), (1, 1), (2, 1)]
    assert parallel_map(lambda item, inner: inner, range(3), 4, max_parallel=1) == [4, 4, 4]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT cannot be sent to a child there")
@pytest.mark.parametrize("which", ["explicitness", "dci_random_forest"])
def test_ctrl_c_stops_within_one_fit(which):
    """SIGINT during a long call: KeyboardInterrupt reaches the caller, and the process
    ends, within about one estimator fit (the pools used to wait for every running
    factor: 25-35 s here)."""
    child = pathlib.Path(__file__).parent / "_interrupt_child.py"
    out, _, returncode, elapsed = interrupt_when_ready([sys.executable, str(child), which], 2.0,
                                                       120, env=child_env())
    assert out.strip() == "interrupted" and returncode == 130
    assert elapsed < 6.0, elapsed


@pytest.mark.parametrize("n_threads", [1, 2])
def test_z_diff_classifier_stays_within_the_budget(monkeypatch, n_threads):
    """Z-diff's logistic regression runs OpenMP threads and numpy's BLAS: n_threads bounds
    them."""
    from fastdis.metrics._logistic import Logistic

    seen = _record_fits(monkeypatch, Logistic, "fit_columns")
    factors, codes = _data(2000)
    value = fastdis.z_diff(factors, codes, random_state=0, n_threads=n_threads, n_train=300,
                           n_eval=100, batch_size=16)
    assert seen and all(blas <= n_threads and omp <= n_threads for _, _, blas, omp in seen)
    assert value == fastdis.z_diff(factors, codes, random_state=0, n_threads=None, n_train=300,
                                   n_eval=100, batch_size=16)
