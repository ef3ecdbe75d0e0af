"""Dask arrays in: the information metrics from the chunks' tables equal the in-memory
values bit for bit, whatever the chunking; every other metric gives its in-memory value;
errors name what the in-memory call names; a distributed cluster gives the same."""
import os

import numpy as np
import pytest

import fastdis
from conftest import CASES, load_case

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

INFORMATION = ["mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig"]
CONVENTIONS = {"mig": [None, "dlib", "ubisoft"], "modularity": [None, "dlib", "ubisoft"],
               "rmig": [None, "ubisoft"], "mig_sup": [None, "ubisoft"],
               "jemmig": [None, "ubisoft"], "dcimig": [None, "ubisoft"]}
CALLS = [(m, c) for m in INFORMATION for c in CONVENTIONS[m]]


def _same(a, b):
    """Equal floats (NaN equal to NaN): bit-identical results."""
    return a == b or (np.isnan(a) and np.isnan(b))


def _data(n=3000, seed=0, n_factors=4, n_codes=6):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 7, (n, n_factors))
    z = f @ rng.normal(size=(n_factors, n_codes)) + rng.normal(size=(n, n_codes))
    return f, z


def _chunkings(n, rng):
    """Row chunkings that reach every path: one chunk, one-row chunks, empty chunks,
    unequal random chunks."""
    cuts = np.sort(rng.choice(np.arange(1, n), 6, replace=False))
    unequal = tuple(int(x) for x in np.diff(np.concatenate([[0], cuts, [n]])))
    return [(n,), (1,) * n if n <= 300 else (1, 1, 1, n - 3),
            (0, 1, 0, n // 2 - 1, 0, n - n // 2, 0), unequal]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("metric,convention", CALLS)
def test_golden_cases_bit_identical(case, metric, convention):
    factors, codes = load_case(case)
    expected = getattr(fastdis, metric)(factors, codes, convention=convention)
    chunked = getattr(fastdis, metric)(da.from_array(factors, chunks=97),
                                       da.from_array(codes, chunks=(61, 2)),
                                       convention=convention)
    assert _same(chunked, expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_any_chunking_gives_the_in_memory_details(seed):
    rng = np.random.default_rng(seed)
    f, z = _data(n=280, seed=seed)
    for rows in _chunkings(len(f), rng):
        F = da.from_array(f, chunks=(rows, f.shape[1]))
        Z = da.from_array(z, chunks=(_chunkings(len(f), rng)[3], 3))  # other cuts: realigned
        for metric, convention in CALLS:
            a = getattr(fastdis, metric)(f, z, convention=convention, return_details=True)
            b = getattr(fastdis, metric)(F, Z, convention=convention, return_details=True)
            assert _same(a[0], b[0]), (metric, convention, rows)
            np.testing.assert_array_equal(a[1]["mutual_info"], b[1]["mutual_info"])


def test_label_kinds_dtypes_and_settings():
    """Strings, floats, bools, float32 codes, factor binning (ubisoft), a known code range,
    more bins: each equal to the in-memory value."""
    f, z = _data(n=2000, seed=3)
    cases = [(f.astype(str), z, {}), (f * 0.5, z, {}), (f > 3, z, {}),
             (f.astype(np.int8), z.astype(np.float32), dict(convention="ubisoft")),
             (f.astype(np.float32) * 10.0, z, dict(factor_bins=4)),
             (f, z, dict(code_range=(z.min() - 1.0, z.max() + 1.0))), (f, z, dict(n_bins=57)),
             (f.astype(np.uint16) + 60000, z.astype(np.float16), {})]
    for factors, codes, kwargs in cases:
        for metric in ("mig", "dcimig"):
            a = getattr(fastdis, metric)(factors, codes, **kwargs)
            b = getattr(fastdis, metric)(da.from_array(factors, chunks=333),
                                         da.from_array(codes, chunks=271), **kwargs)
            assert _same(a, b), (metric, factors.dtype, codes.dtype, kwargs)


def test_one_side_in_memory():
    f, z = _data(n=500)
    expected = fastdis.mig(f, z)
    assert fastdis.mig(f, da.from_array(z, chunks=100)) == expected
    assert fastdis.mig(da.from_array(f, chunks=77), z) == expected
    np.testing.assert_array_equal(fastdis.mutual_info_matrix(da.from_array(f, chunks=50), z),
                                  fastdis.mutual_info_matrix(f, z))


def _messages(factors, codes, **kwargs):
    """The ValueError messages of the in-memory and the chunked call."""
    out = []
    for f, z in ((factors, codes), (da.from_array(factors, chunks=100),
                                    da.from_array(codes, chunks=100))):
        with pytest.raises(ValueError) as error:
            fastdis.mig(f, z, **kwargs)
        out.append(str(error.value))
    return out


def test_bad_values_in_a_late_chunk_give_the_in_memory_error():
    f, z = _data(n=1000)
    bad = z.copy()
    bad[987, 2] = np.nan
    memory, chunked = _messages(f, bad)
    assert chunked == memory and "NaN or infinity in column 2" in memory
    labels = f.astype(float)
    labels[901, 1] = np.inf
    memory, chunked = _messages(labels, z)
    assert chunked == memory and "column 1 (row 901, inf)" in memory
    far = z.copy()
    far[995, 3] = 1e6
    memory, chunked = _messages(f, far, code_range=(z.min() - 1.0, z.max() + 1.0))
    assert chunked == memory and "column 3 has values outside code_range" in memory


def test_bad_input_is_refused_naming_the_argument():
    f, z = _data(n=100)
    F, Z = da.from_array(f, chunks=30), da.from_array(z, chunks=30)
    with pytest.raises(ValueError, match="same number of samples"):
        fastdis.mig(F, Z[:-1])
    with pytest.raises(ValueError, match="codes must be a 2-D"):
        fastdis.mig(F, Z[:, 0])
    with pytest.raises(ValueError, match="factors must be a 2-D"):
        fastdis.mig(F[:, 0], Z)
    with pytest.raises(TypeError, match="codes must be real"):
        fastdis.mig(F, Z.astype(complex))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fastdis.mig(F[F[:, 0] > 2], Z[F[:, 0] > 2])
    with pytest.raises(ValueError, match="strategy='quantile'"):
        fastdis.mig(F, Z, strategy="quantile")
    with pytest.raises(ValueError, match="at least 2 samples"):
        fastdis.mig(F[:1], Z[:1])


def test_constant_factor_warns_as_in_memory():
    f, z = _data(n=400)
    f[:, 1] = 5
    with pytest.warns(fastdis.DegenerateWarning, match=r"factors \[1\] are constant"):
        expected = fastdis.mig(f, z)
    with pytest.warns(fastdis.DegenerateWarning, match=r"factors \[1\] are constant"):
        assert fastdis.mig(da.from_array(f, chunks=90), da.from_array(z, chunks=90)) == expected


def test_evaluate_equals_in_memory_and_shares_one_pass():
    f, z = _data(n=3000, seed=5)
    F, Z = da.from_array(f, chunks=701), da.from_array(z, chunks=(433, 6))
    expected, got = fastdis.evaluate(f, z), fastdis.evaluate(F, Z)
    assert list(got) == list(expected)
    for name in expected:
        a, b = expected[name], got[name]
        if name == "dci":
            a, b = (a.disentanglement, a.completeness), (b.disentanglement, b.completeness)
        if name in ("irs", "sap"):  # sums of the chunks added in another order: to rounding
            assert b == pytest.approx(a, rel=1e-14)
        else:
            assert a == b, name
    report = fastdis.evaluate(F, Z, metrics="information")
    for name in INFORMATION:
        assert report[name] == getattr(fastdis, name)(f, z)


def test_evaluate_reads_each_chunk_twice_for_all_information_metrics():
    """One pass (statistics and the swap check's sample) and one histogram pass serve the six
    metrics: each chunk of the codes is read twice (only tables travel)."""
    f, z = _data(n=2000)
    reads = []

    def counted(block):
        reads.append(block.shape[0])
        return block

    codes = da.from_array(z, chunks=500).map_blocks(counted)
    fastdis.evaluate(da.from_array(f, chunks=500), codes, metrics="information")
    assert reads.count(500) == 2 * 4  # (dask also calls it on 0- and 1-row stand-ins)


def test_evaluate_posterior_with_dask_spread():
    f, z = _data(n=600, n_codes=3)
    std = np.full(z.shape, 0.5)
    a = fastdis.evaluate(f, z, metrics=["informativeness", "mig"], std=std)
    b = fastdis.evaluate(da.from_array(f, chunks=100), da.from_array(z, chunks=100),
                         metrics=["informativeness", "mig"], std=da.from_array(std, chunks=100))
    assert b["mig"] == a["mig"]
    assert b["informativeness"] == pytest.approx(a["informativeness"], rel=1e-12)  # summed tables


@pytest.mark.parametrize("metric", ["z_diff", "z_min_var", "z_max_var"])
def test_other_metrics_give_their_in_memory_values(metric):
    f, z = _data(n=1500, seed=2)
    a = getattr(fastdis, metric)(f, z, random_state=3)
    b = getattr(fastdis, metric)(da.from_array(f, chunks=200), da.from_array(z, chunks=300),
                                 random_state=3)
    if metric == "dci":
        a, b = a.disentanglement, b.disentanglement
    assert _same(a, b)


def test_distributed_cluster_gives_the_in_memory_values(client):
    f, z = _data(n=5000, seed=7)
    F, Z = da.from_array(f, chunks=600), da.from_array(z, chunks=(700, 6))
    for metric, convention in CALLS:
        assert _same(getattr(fastdis, metric)(F, Z, convention=convention),
                     getattr(fastdis, metric)(f, z, convention=convention))
    assert fastdis.evaluate(F, Z, metrics=["mig", "dci"])["dci"].completeness == \
        fastdis.dci(f, z, random_state=0).completeness


def _slow_chunk(x):
    import time
    time.sleep(0.05)
    return x


def test_a_worker_killed_mid_computation_changes_nothing(client):
    """Dask reruns the lost tasks elsewhere: the tables, and the value, are unchanged."""
    import signal
    import threading

    f, z = _data(n=4000, seed=8)
    expected = fastdis.mig(f, z)
    Z = da.from_array(z, chunks=100).map_blocks(_slow_chunk)  # 2 passes of 40 chunks of 50 ms
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    killed = threading.Event()

    def kill():
        os.kill(victim, signal.SIGKILL)
        killed.set()

    timer = threading.Timer(0.5, kill)
    timer.start()
    try:
        value = fastdis.mig(da.from_array(f, chunks=100), Z)
        assert killed.is_set()  # the worker died before the value was complete
        assert value == expected
    finally:
        timer.cancel()
        client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()  # its nanny started a new one


def test_swapped_arguments_are_refused_as_in_memory():
    f, z = _data(n=3000)
    with pytest.raises(ValueError, match="look swapped") as memory:
        fastdis.evaluate(z, f)
    with pytest.raises(ValueError, match="look swapped") as chunked:
        fastdis.evaluate(da.from_array(z, chunks=700), da.from_array(f, chunks=700))
    assert str(chunked.value) == str(memory.value)


@pytest.mark.parametrize("convention,kwargs", [(None, {}), ("ubisoft", {}), (None, dict(factor_bins=3)),
                                               ("dlib", {}), (None, dict(diff_quantile=0.9))])
def test_irs_from_the_chunks_level_moments(convention, kwargs):
    """The maximum form from per-level sums, minima, maxima and counts merged (the means
    summed in another order: equal to rounding); the quantile forms read the rows in memory
    (equal)."""
    rng = np.random.default_rng(6)
    f, z = _data(n=2400, seed=6)
    z[:, 1] *= 1e300  # extreme magnitudes: rescaled by powers of two in both paths
    z[:, 2] *= 1e-300
    expected = fastdis.irs(f, z, convention=convention, return_details=True, **kwargs)
    for rows in _chunkings(len(f), rng)[1:]:
        got = fastdis.irs(da.from_array(f, chunks=(rows, 4)), da.from_array(z, chunks=500),
                          convention=convention, return_details=True, **kwargs)
        assert got[0] == pytest.approx(expected[0], rel=1e-14, abs=1e-15)
        np.testing.assert_allclose(got[1]["irs_matrix"], expected[1]["irs_matrix"],
                                   rtol=1e-13, atol=1e-14)
        np.testing.assert_array_equal(got[1]["active_codes"], expected[1]["active_codes"])


def test_irs_chunked_errors_and_degenerate_codes():
    f, z = _data(n=500)
    bad = z.copy()
    bad[480, 3] = np.inf
    with pytest.raises(ValueError) as memory:
        fastdis.irs(f, bad)
    with pytest.raises(ValueError) as chunked:
        fastdis.irs(da.from_array(f, chunks=100), da.from_array(bad, chunks=100))
    assert str(chunked.value) == str(memory.value)
    with pytest.warns(fastdis.DegenerateWarning, match="every code is constant"):
        assert fastdis.irs(da.from_array(f, chunks=100), da.from_array(z * 0, chunks=100)) == 0
    with pytest.raises(ValueError, match="single value"):
        fastdis.irs(da.from_array(f * 0, chunks=100), da.from_array(z, chunks=100))


@pytest.mark.parametrize("convention", [None, "do_tran"])
@pytest.mark.parametrize("spread", ["var", "std", "logvar"])
def test_quantised_posterior_from_the_chunks_tables(convention, spread):
    """Each chunk's (code, factor level, bin) masses summed: the in-memory record to
    rounding; the sampling estimator and pair tables read the rows (equal)."""
    rng = np.random.default_rng(9)
    f, mu = _data(n=1500, seed=9, n_codes=4)
    mu = mu * 0.5
    std = rng.uniform(0.05, 0.5, mu.shape)
    given = dict(var=std ** 2, std=std, logvar=2 * np.log(std))[spread]
    F, M = da.from_array(f, chunks=400), da.from_array(mu, chunks=(333, 2))
    G = da.from_array(given, chunks=(_chunkings(1500, rng)[2], 4))  # empty chunks too
    kw = {spread: given}
    kw_chunked = {spread: G}
    a = fastdis.informativeness(mu, convention=convention, return_details=True, **kw)
    b = fastdis.informativeness(M, convention=convention, return_details=True, **kw_chunked)
    np.testing.assert_allclose(b[0], a[0], rtol=1e-12, atol=1e-14)
    a = fastdis.interpretability(f, mu, convention=convention, **kw)
    b = fastdis.interpretability(F, M, convention=convention, **kw_chunked)
    np.testing.assert_allclose(b.mutual_info, a.mutual_info, rtol=1e-12, atol=1e-14)
    assert b.rmig == pytest.approx(a.rmig, rel=1e-12, abs=1e-14)
    a = fastdis.separability(mu, convention=convention, random_state=1, n_samples=200, **kw)
    b = fastdis.separability(M, convention=convention, random_state=1, n_samples=200,
                             **kw_chunked)
    np.testing.assert_array_equal(b.sepin, a.sepin)


def test_posterior_errors_name_the_global_row():
    f, mu = _data(n=800, n_codes=3)
    var = np.full(mu.shape, 0.1)
    var[777, 2] = 0.0
    for args in ((mu, var), (da.from_array(mu, chunks=100), da.from_array(var, chunks=100))):
        with pytest.raises(ValueError, match="got 0.0 at row 777, column 2"):
            fastdis.informativeness(*args)
    with pytest.raises(ValueError, match="var must have the shape of mu"):
        fastdis.informativeness(da.from_array(mu, chunks=100), da.from_array(var[:, :2], chunks=100))


@pytest.mark.parametrize("convention,kwargs", [
    (None, {}), ("ubisoft", {}), ("dlib", {}), (None, dict(estimator="random_forest")),
    (None, dict(estimator="gradient_boosting")), (None, dict(train_fraction=0.5, max_train=300))])
def test_dci_fits_the_gathered_rows(convention, kwargs):
    """The split drawn from the number of rows, only those rows gathered, the codes' and
    factors' ranges from the chunks: the in-memory result, bit for bit."""
    f, z = _data(n=3000, seed=11)
    F, Z = da.from_array(f, chunks=700), da.from_array(z, chunks=(900, 6))
    a = fastdis.dci(f, z, convention=convention, random_state=2, **kwargs)
    b = fastdis.dci(F, Z, convention=convention, random_state=2, **kwargs)
    np.testing.assert_array_equal(b.importance, a.importance)
    assert (b.disentanglement, b.completeness, b.informativeness, b.n_train, b.n_test) == \
        (a.disentanglement, a.completeness, a.informativeness, a.n_train, a.n_test)


def test_dci_label_factors_and_reads():
    """String labels (a classifier) on dask arrays; each code chunk is read twice (the ranges,
    then the gathered rows), never into one in-memory array."""
    f, z = _data(n=2000, seed=12)
    labels = np.array(["a", "b", "c", "d", "e", "f", "g"])[f]
    a = fastdis.dci(labels, z, random_state=0)
    b = fastdis.dci(da.from_array(labels, chunks=500), da.from_array(z, chunks=500),
                    random_state=0)
    np.testing.assert_array_equal(b.importance, a.importance)
    reads = []

    def counted(block):
        reads.append(block.shape[0])
        return block

    fastdis.dci(da.from_array(f, chunks=500), da.from_array(z, chunks=500).map_blocks(counted))
    assert reads.count(500) == 2 * 4


def test_the_cluster_computed_the_distributed_tests(client):
    """Inside a test using the fixture the work runs in the workers' processes."""
    pids = set(client.run(os.getpid).values())
    x = da.from_array(np.arange(10), chunks=5).map_blocks(lambda b: b * 0 + os.getpid())
    assert set(np.unique(x.compute()).tolist()) <= pids


@pytest.mark.parametrize("convention,kwargs", [(None, {}), ("ubisoft", {}), ("dlib", {}),
                                               (None, dict(mode="classification"))])
def test_sap_from_chunk_moments_or_gathered_rows(convention, kwargs):
    """Regression: each chunk's shifted moment sums added (equal to rounding, at any offset
    and scale); classification: the split's rows gathered (bit for bit)."""
    f, z = _data(n=3000, seed=13)
    z = z * 1e-200 + 1e-195  # tiny codes far from 0: the scalings and shifts matter
    floats = f * 0.25 + 1e4
    for factors in (f, floats):
        a = fastdis.sap(factors, z, convention=convention, random_state=4, return_details=True,
                        **kwargs)
        b = fastdis.sap(da.from_array(factors, chunks=650), da.from_array(z, chunks=(410, 6)),
                        convention=convention, random_state=4, return_details=True, **kwargs)
        np.testing.assert_allclose(b[1]["scores"], a[1]["scores"], rtol=1e-12, atol=1e-14)
        assert b[0] == pytest.approx(a[0], rel=1e-12, abs=1e-14)
        if a[1]["mode"] == "classification":
            assert b[0] == a[0]


@pytest.mark.parametrize("convention,kwargs", [(None, {}), ("ubisoft", {}), ("dlib", {}),
                                               (None, dict(factor_bins=3))])
def test_explicitness_fits_the_gathered_rows(convention, kwargs):
    """The split from the number of rows, the ranges and factor bins from the chunks, only
    the selected rows in memory: bit for bit."""
    f, z = _data(n=2500, seed=14)
    a = fastdis.explicitness(f * 1.5, z, convention=convention, random_state=5,
                             return_details=True, **kwargs)
    b = fastdis.explicitness(da.from_array(f * 1.5, chunks=600), da.from_array(z, chunks=700),
                             convention=convention, random_state=5, return_details=True,
                             **kwargs)
    assert b[0] == a[0]
    np.testing.assert_array_equal(b[1]["per_factor"], a[1]["per_factor"])


def test_levels_from_sampled_rows_and_a_value_they_miss():
    """Large integer chunks take their levels from every 64th row; a value only in the other
    rows makes the counting pass report it, and the exact levels are found: same value."""
    rng = np.random.default_rng(15)
    n = 300_000
    f = rng.integers(0, 6, (n, 2))
    z = f @ rng.normal(size=(2, 3)) + rng.normal(size=(n, 3))
    f[12_345, 1] = 77  # a level that no 64th row holds
    F, Z = da.from_array(f, chunks=150_000), da.from_array(z, chunks=150_000)
    for metric in ("mig", "dcimig"):
        assert getattr(fastdis, metric)(F, Z) == getattr(fastdis, metric)(f, z)
    assert fastdis.mig(F, Z, convention="ubisoft") == fastdis.mig(f, z, convention="ubisoft")
    assert fastdis.irs(F, Z) == pytest.approx(fastdis.irs(f, z), rel=1e-13)


def _chunks_shipped(client):
    """Keys of array chunks (tuples) and file reads fetched from another worker so far."""
    def log(dask_worker):
        return [str(k) for e in dask_worker.transfer_incoming_log for k in e["keys"]
                if isinstance(k, tuple) or str(k).startswith("_read_rows")]
    return sum(client.run(log).values(), [])


def test_files_on_a_cluster_ship_tables_not_rows(client, tmp_path):
    """``fastdis evaluate``'s readers: one task reads a chunk of the factors and the codes, so
    each chunk's metric task runs where its rows are (read separately, or optimised one
    array at a time, the scheduler puts the two reads on different workers and ships one)."""
    from fastdis._cli_lazy import read_lazy_pair

    f, z = _data(n=40000, seed=9)
    for name, x, cuts in (("f", f, (0, 9000, 21000, 40000)), ("z", z, (0, 13000, 40000))):
        (tmp_path / name).mkdir()
        for i, (r0, r1) in enumerate(zip(cuts[:-1], cuts[1:])):  # shards end at other rows
            np.save(tmp_path / name / f"part{i}.npy", x[r0:r1])
    F, Z = read_lazy_pair((str(tmp_path / "f"), None, "f"), (str(tmp_path / "z"), None, "z"))
    assert F.chunks[0] == Z.chunks[0] == (9000, 4000, 8000, 19000)
    before = _chunks_shipped(client)
    report = fastdis.evaluate(F, Z, "information")
    assert _chunks_shipped(client) == before
    expected = fastdis.evaluate(f, z, "information")
    assert all(_same(report[k], expected[k]) for k in expected)
