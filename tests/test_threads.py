"""Threads: OpenMP teams smaller than asked for, the n_threads cap, and Ctrl-C in C kernels.

OpenMP may grant fewer threads than a kernel asks for (OMP_THREAD_LIMIT, OMP_DYNAMIC):
every metric family and building block must then give the single-thread result, in a
subprocess because those variables are read once, when the OpenMP runtime starts.
"""
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdis
from conftest import child_env, interrupt_when_ready
from fastdis import _kernels

HERE = pathlib.Path(__file__).parent
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
    env = child_env(HERE, **env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=HERE,
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


def test_chunked_kernel_calls_are_bit_identical(single_thread):
    """Long kernels run in chunks (to check for Ctrl-C in between): with tiny chunks --
    several calls of every chunked kernel, level sums split at their chunk boundary, one
    boosting stage a call -- every result is bit-identical to whole calls."""
    import warnings

    previous = _kernels.set_chunk_cells(1000)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chunked = workload(2)
    finally:
        _kernels.set_chunk_cells(previous)
    assert_same(chunked, single_thread, "tiny chunks")


def test_n_threads_is_capped_at_the_available_cores():
    """n_threads=1000 used to start ~1000 OpenMP threads (libgomp aborts the process when
    it cannot create them): the kernels now never ask for more than the cores."""
    from fastdis._config import _available_cores
    from fastdis._validation import check_n_threads

    cores = _available_cores()
    assert check_n_threads(1000) == min(1000, cores)
    assert check_n_threads(1) == 1 and check_n_threads(None) == 0
    assert 1 <= _kernels.cap_threads(1000) <= (os.cpu_count() or 1)
    if not pathlib.Path("/proc/self/status").exists():
        pytest.skip("counting threads needs /proc")
    # the OpenMP runtime keeps the threads of its last team: count them after big calls
    # made straight through the bindings, past check_n_threads' own cap
    run = run_python("""
        import numpy as np
        from fastdis import _kernels
        codes = np.random.default_rng(0).normal(size=(2_000_000, 2))
        mins, maxs = _kernels.code_minmax(codes, 1000)
        assert (mins == codes.min(0)).all() and (maxs == codes.max(0)).all()
        for line in open("/proc/self/status"):
            if line.startswith("Threads:"):
                print(int(line.split()[1]))
    """, {})
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    threads = int(run.stdout.split()[-1])
    assert threads <= (os.cpu_count() or 1) + 8, f"{threads} threads after n_threads=1000"


@pytest.mark.parametrize("call", [
    lambda f, c: fastdis.mig(f, c, n_threads=99999999999),
    lambda f, c: fastdis.discretize(c, n_threads=2**31),
    lambda f, c: fastdis.JointHistogram([[0, 1]], [[0, 1]], n_threads=10**30),
])
def test_n_threads_past_a_c_int_is_a_value_error(call):
    f = np.array([[0], [1], [0], [1]])
    c = np.array([[0.1], [0.9], [0.2], [0.8]])
    with pytest.raises(ValueError, match="n_threads must be >= 1 and <= 2147483647"):
        call(f, c)


CTRL_C = """\
import signal, sys, time
import numpy as np
from fastdis import _kernels
{setup}
print("ready", flush=True)
start = time.perf_counter()
try:
    {call}
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start, flush=True)
    sys.exit(0)
print("finished", time.perf_counter() - start, flush=True)
"""

# Kernels over a billion rows of broadcast data (row stride 0: no memory), each a single
# call of many seconds before the bindings ran in chunks.
HIST_SETUP = """
    n = 10**9
    factors = np.broadcast_to(np.array([[1, 2]], dtype=np.int8), (n, 2))
    codes = np.broadcast_to(np.array([[0.25, 0.5, 0.75]]), (n, 3))
    levels = dict(lut=np.arange(3, dtype=np.int32), lut_offset=np.array([0, 0]),
                  lut_len=np.array([3, 3]), vmin=np.array([0, 0]), n_levels=np.array([3, 3]))
    edges = np.tile(np.linspace(0, 1, 21), (3, 1))
    ones, zeros = np.ones(3), np.zeros(3)
    fc = np.zeros((6, 3, 20), dtype=np.int64)
"""
HIST_CALL = ("_kernels.joint_histogram(factors, levels['lut'], levels['lut_offset'], "
             "levels['lut_len'], levels['vmin'], levels['n_levels'], codes, edges, ones, zeros, "
             "ones, True, False, fc, None, None, 1)")
MINMAX_SETUP = """
    codes = np.broadcast_to(np.array([[0.25, 0.5, 0.75, 1.0]]), (4 * 10**9, 4))
"""
MINMAX_CALL = "_kernels.code_minmax(codes, 1)"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("setup, call", [(HIST_SETUP, HIST_CALL), (MINMAX_SETUP, MINMAX_CALL)],
                         ids=["joint_histogram", "code_minmax"])
def test_ctrl_c_interrupts_a_long_kernel_within_a_second(setup, call):
    code = CTRL_C.format(setup=textwrap.dedent(setup), call=call)
    out, err, _, waited = interrupt_when_ready([sys.executable, "-c", code], 0.5, 60,
                                               env=child_env(), cwd=HERE)
    assert out.startswith("interrupted"), f"the kernel was not interrupted: {out!r} {err[-2000:]}"
    assert waited < 1.5, f"KeyboardInterrupt came {waited:.2f} s after SIGINT"
