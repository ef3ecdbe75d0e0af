"""Z-diff, Z-min and Z-max variance on Dask arrays: the rows grouped from per-chunk key counts,
the in-memory draws, only the rows drawn gathered -- the in-memory values bit for bit, every
convention, any chunking, threads or a cluster; the codes are read once, never whole."""
import warnings

import numpy as np
import pytest

import fastdis
from conftest import CASES, load_case

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

CALLS = [(m, c) for m in ("z_diff", "z_min_var", "z_max_var") for c in (None, "ubisoft", "dlib")
         if not (m == "z_max_var" and c == "dlib")]
SMALL = dict(z_diff=dict(n_train=300, n_eval=200), z_min_var={}, z_max_var={})


def _data(n=1500, seed=2, n_factors=4, n_codes=6, dtype=np.float64):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 7, (n, n_factors))
    z = f @ rng.normal(size=(n_factors, n_codes)) + rng.normal(size=(n, n_codes))
    return f, z.astype(dtype)


def _chunkings(n, rng):
    """One chunk, one-row chunks (and a big one), empty chunks, unequal random chunks."""
    cuts = np.sort(rng.choice(np.arange(1, n), 6, replace=False))
    unequal = tuple(int(x) for x in np.diff(np.concatenate([[0], cuts, [n]])))
    return [(n,), (1,) * 40 + (n - 40,), (0, 1, 0, n // 2 - 1, 0, n - n // 2, 0), unequal]


def _call(metric, f, z, convention, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastdis.DegenerateWarning)
        return getattr(fastdis, metric)(f, z, convention=convention, return_details=True,
                                        **SMALL[metric], **kw)


def _assert_same(a, b):
    """Same value and details (votes, accuracies, active codes): the same reductions."""
    assert a[0] == b[0]
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        np.testing.assert_array_equal(a[1][key], b[1][key])


@pytest.mark.parametrize("metric,convention", CALLS)
@pytest.mark.parametrize("seed", [0, 1])
def test_any_chunking_gives_the_in_memory_value(metric, convention, seed):
    rng = np.random.default_rng(seed)
    f, z = _data(seed=seed, dtype=np.float32 if seed else np.float64)
    expected = _call(metric, f, z, convention, random_state=seed + 3)
    for rows in _chunkings(len(f), rng):
        code_rows = rows if seed else rows[::-1]  # codes chunked otherwise (rechunked)
        got = _call(metric, da.from_array(f, chunks=(rows, f.shape[1])),
                    da.from_array(z, chunks=(code_rows, z.shape[1])), convention,
                    random_state=seed + 3)
        _assert_same(got, expected)
    # one side in memory
    _assert_same(_call(metric, f, da.from_array(z, chunks=333), convention,
                       random_state=seed + 3), expected)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("metric,convention", CALLS)
def test_golden_cases(case, metric, convention):
    factors, codes = load_case(case)
    try:
        expected = _call(metric, factors, codes, convention, random_state=0)
    except ValueError as exc:  # (i.i.d. continuous factors: no repeated value)
        with pytest.raises(ValueError, match=str(exc)[:40].replace("(", r"\(")):
            _call(metric, da.from_array(factors, chunks=97), da.from_array(codes, chunks=61),
                  convention, random_state=0)
        return
    got = _call(metric, da.from_array(factors, chunks=97), da.from_array(codes, chunks=61),
                convention, random_state=0)
    _assert_same(got, expected)


def test_codes_are_read_once_and_only_the_rows_drawn_travel(monkeypatch):
    """Each chunk of the codes is read once per metric (Z-min's variance rows in the same
    pass as the batches'); no code array is brought to memory whole; the rows gathered are
    the draws (Z-diff: n_batches x 2 x batch_size)."""
    from fastdis import _dask, _kernels

    f, z = _data(n=4000)
    reads = []

    def counted(block):
        reads.append(block.shape[0])
        return block

    def whole(*arrays):
        raise AssertionError("the codes were read into memory")

    gathered = []
    reduce_rows = _kernels.reduce_rows

    def spy(values, mode, batch_size, rows, *args):
        gathered.append((len(values), rows.shape))
        return reduce_rows(values, mode, batch_size, rows, *args)

    monkeypatch.setattr(_dask, "in_memory", whole)
    monkeypatch.setattr(_kernels, "reduce_rows", spy)
    F = da.from_array(f, chunks=500)
    Z = da.from_array(z, chunks=500).map_blocks(counted)
    for metric in ("z_diff", "z_min_var", "z_max_var"):
        reads.clear()
        gathered.clear()
        _call(metric, F, Z, None, random_state=1, batch_size=16)
        assert reads.count(500) == 8, metric  # (dask also calls it on 0- and 1-row stand-ins)
        n_batches = 500 if metric == "z_diff" else 1600
        draws = 32 if metric == "z_diff" else 16
        # each distinct row drawn gathered once, and where each draw finds it
        [(n_distinct, shape)] = gathered
        assert shape == (n_batches, draws) and n_distinct <= min(n_batches * draws, 4 * 4000)
    report = fastdis.evaluate(F, Z, metrics="intervention", random_state=1)
    assert report["z_min_var"] == fastdis.z_min_var(f, z, random_state=1)


def test_bad_values_give_the_in_memory_error_or_none():
    """NaN or infinity in a row read (late chunk): the in-memory error, naming column and
    row; in a row never read: the in-memory value."""
    f, z = _data(n=1000)
    f = np.vstack([f, [[50, 50, 50, 50]]])  # row 1000: values seen once, never drawn
    z = np.vstack([z, z[:1]])
    var_rows = np.random.default_rng(7).choice(1001, size=200, replace=False)
    assert 1000 not in var_rows
    F, Z = da.from_array(f, chunks=90), lambda x: da.from_array(x, chunks=110)
    unread = z.copy()
    unread[1000, 2] = np.nan
    for metric in ("z_diff", "z_min_var", "z_max_var"):
        kw = dict(random_state=7, n_variance_estimate=200) if metric != "z_diff" \
            else dict(random_state=7)
        _assert_same(_call(metric, F, Z(unread), None, **kw),
                     _call(metric, f, unread, None, **kw))
        for row, col, value in ((int(var_rows[-1]), 4, np.inf), (987, 1, np.nan),
                                (995, 3, -np.inf)):
            bad = z.copy()
            bad[row, col] = value
            bad[993, 5] = np.nan
            messages = []
            for ff, zz in ((f, bad), (F, Z(bad))):
                with pytest.raises(ValueError) as error:
                    _call(metric, ff, zz, None, **kw)
                messages.append(str(error.value))
            assert messages[0] == messages[1]
            assert "a row the metric reads" in messages[0]


@pytest.mark.parametrize("metric", ["z_diff", "z_min_var", "z_max_var"])
@pytest.mark.parametrize("s", [1e306, 1e-310])
def test_extreme_scales_as_in_memory(metric, s):
    """Codes at the ends of the float64 range: the gathered rows rescaled exactly, as the
    in-memory codes are."""
    f, z = _data(n=900, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        z = z * s
    kw = dict(random_state=2, std_threshold=0.0) if metric != "z_diff" else dict(random_state=2)
    _assert_same(_call(metric, da.from_array(f, chunks=200), da.from_array(z, chunks=250), None,
                       **kw), _call(metric, f, z, None, **kw))


def test_errors_name_the_argument_as_in_memory():
    f, z = _data(n=300)
    for bad_f, message in ((f[:, :1], "needs two factors or more"),
                           (np.column_stack([f[:, 0], np.arange(300)]), "repeated factor"),
                           (np.column_stack([f[:, 0], np.zeros(300, int)]), "single value")):
        for ff in (bad_f, da.from_array(bad_f, chunks=70)):
            with pytest.raises(ValueError, match=message):
                fastdis.z_min_var(ff, da.from_array(z, chunks=70), random_state=0)
    with pytest.raises(ValueError, match="batch_size=400 exceeds"):
        fastdis.z_diff(da.from_array(f, chunks=70), da.from_array(z, chunks=70), batch_size=400)


def test_distributed_cluster_gives_the_in_memory_values(client):
    f, z = _data(n=3000, seed=9)
    F, Z = da.from_array(f, chunks=400), da.from_array(z, chunks=(700, 6))
    for metric, convention in CALLS:
        _assert_same(_call(metric, F, Z, convention, random_state=5),
                     _call(metric, f, z, convention, random_state=5))
