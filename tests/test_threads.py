"""Threads: OpenMP teams smaller than asked for, the n_threads cap, and Ctrl-C in C kernels.

OpenMP may grant fewer threads than a kernel asks for (OMP_THREAD_LIMIT, OMP_DYNAMIC):
every metric family and building block must then give the single-thread result, in a
subprocess because those variables are read once, when the OpenMP runtime starts.
"""
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastdis
from fastdis import _kernels

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent
THREADS = (None, 2, 4)


def workload(n_threads):
    """Every metric family and building block on data large enough for 4 threads (the
    kernels use one thread per 16384 rows); values must not depend on n_threads."""
    rng = np.random.default_rng(0)
    n = 70_000
    factors = np.stack([rng.integers(0, 5, n), rng.integers(0, 4, n),
                        rng.integers(0, 3, n) * 1000 + 7000], axis=1)  # labels past the scan window
    codes = np.stack([factors[:, 0] + rng.normal(0, 0.3, n), factors[:, 1] * factors[:, 0],
                      rng.normal(size=n), factors[:, 2] / 1000 + rng.normal(0, 0.1, n)], axis=1)
    kw = dict(n_threads=n_threads)
    out = {
        "discretize": fastdis.discretize(codes, **kw),
        "mutual_info_matrix": fastdis.mutual_info_matrix(factors, codes, **kw),
        "mig": fastdis.mig(factors, codes, **kw),
        "jemmig": fastdis.jemmig(factors, codes, **kw),
        "irs": fastdis.irs(factors, codes, **kw),
        "irs_quantile": fastdis.irs(factors, codes, diff_quantile=0.9, **kw),
        "z_diff": fastdis.z_diff(factors, codes, random_state=0, **kw),
        "z_min_var": fastdis.z_min_var(factors, codes, random_state=0, **kw),
        "sap": fastdis.sap(factors, codes, random_state=0, **kw),
    }
    h = fastdis.JointHistogram([np.unique(f) for f in factors.T], [[-5, 20]] * 4,
                               code_pairs=True, factor_pairs=True, **kw)
    h.update(factors, np.clip(codes, -5, 20))
    out["histogram"] = (h.counts, h.code_counts, h.factor_counts)
    small = slice(0, 600)  # gradient boosting: one tree per class, in parallel
    out["dci"] = fastdis.dci(factors[small], codes[small], estimator="gradient_boosting",
                             random_state=0, **kw).to_dict()
    return out


def assert_same(got, expected, what):
    if isinstance(expected, dict):
        assert got.keys() == expected.keys(), what
        for key in expected:
            assert_same(got[key], expected[key], f"{what}[{key!r}]")
    elif isinstance(expected, (tuple, list)):
        assert len(got) == len(expected), what
        for i, (a, b) in enumerate(zip(got, expected)):
            assert_same(a, b, f"{what}[{i}]")
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def run_python(code, env_extra, timeout=240):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]), **env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def single_thread():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate-data warnings are not the point here
        return workload(1)


@pytest.mark.parametrize("env", [{"OMP_THREAD_LIMIT": "1"}, {"OMP_DYNAMIC": "true"}],
                         ids=["OMP_THREAD_LIMIT=1", "OMP_DYNAMIC=true"])
def test_smaller_team_than_requested_gives_the_same_results(env, single_thread):
    """A team smaller than requested used to crash the histogram pass (its merge read
    the private tables of threads that never ran)."""
    run = run_python(f"""
        import pickle, sys, warnings
        warnings.simplefilter("ignore")
        from test_threads import workload
        pickle.dump({{nt: workload(nt) for nt in {THREADS!r}}}, sys.stdout.buffer)
    """, env)
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    results = pickle.loads(run.stdout)
    for nt in THREADS:
        assert_same(results[nt], single_thread, f"n_threads={nt} under {env}")
