"""Bad input gets a clear error naming the argument; degenerate input a documented answer."""
import numpy as np
import pytest

import fastdis
from fastdis import DegenerateWarning

METRICS = [fastdis.mig, fastdis.rmig, fastdis.mig_sup, fastdis.jemmig, fastdis.modularity,
           fastdis.dcimig]
RNG = np.random.default_rng(0)
F = RNG.integers(0, 3, size=(50, 2))
Z = RNG.normal(size=(50, 3))


@pytest.mark.parametrize("metric", METRICS + [fastdis.mutual_info_matrix])
@pytest.mark.parametrize("factors,codes,error,match", [
    (F, Z[:, 0], ValueError, r"codes must be a 2-D array .* got a 1-D array .*reshape\(-1, 1\)"),
    (F, Z[None], ValueError, r"codes must be a 2-D array .* got a 3-D array"),
    (F[:, 0], Z, ValueError, r"factors must be a 2-D array .* got a 1-D array"),
    (F[:40], Z, ValueError, r"same number of samples .* factors has 40, codes has 50"),
    (F[:1], Z[:1], ValueError, r"factors needs at least 2 samples"),
    (F[:0], Z[:0], ValueError, r"factors is empty"),
    (F, Z[:, :0], ValueError, r"codes is empty"),
    (F, Z.astype(complex), TypeError, r"codes must be real, got complex"),
    (F, Z.astype(object), TypeError, r"codes must have a real numeric dtype, got object"),
    (F, np.full((50, 3), "a"), TypeError, r"codes must have a real numeric dtype"),
    (F.astype(complex), Z, TypeError, r"factors must hold real or string labels"),
    (np.where(F == 0, np.nan, F), Z, ValueError, r"factors contains NaN or infinity in column 0"),
    ("abc", Z, TypeError, r"factors must be a 2-D array-like"),
])
def test_bad_arrays(metric, factors, codes, error, match):
    with pytest.raises(error, match=match):
        metric(factors, codes)


@pytest.mark.parametrize("metric", METRICS + [fastdis.mutual_info_matrix])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_codes_name_the_column(metric, bad, dtype):
    z = Z.astype(dtype)
    z[17, 2] = bad
    with pytest.raises(ValueError, match="codes contains NaN or infinity in column 2"):
        metric(F, z)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(n_bins=1), ValueError, "n_bins must be >= 2"),
    (dict(n_bins=2.5), TypeError, "n_bins must be an integer"),
    (dict(n_bins=True), TypeError, "n_bins must be an integer"),
    (dict(n_bins=70000), ValueError, "n_bins must be >= 2 and <= 65535"),
    (dict(strategy="kmeans"), ValueError, "strategy must be one of 'uniform', 'quantile'"),
    (dict(n_threads=0), ValueError, "n_threads must be >= 1"),
    (dict(convention="disent"), ValueError, "convention must be None, 'dlib' or 'ubisoft' for mig"),
    (dict(code_range=(1, 0)), ValueError, "code_range must be finite with low < high"),
    (dict(code_range=[[0, 1]] * 2), ValueError, r"code_range must be .* \(3, 2\), got shape \(2, 2\)"),
    (dict(factor_bins=1), ValueError, "factor_bins must be >= 2"),
])
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastdis.mig(F, Z, **kwargs)


def test_code_range_too_narrow():
    with pytest.raises(ValueError, match="codes column 0 has values outside code_range"):
        fastdis.mig(F, Z, code_range=(-0.1, 0.1))


@pytest.mark.parametrize("metric", [fastdis.rmig, fastdis.mig_sup, fastdis.jemmig, fastdis.dcimig])
def test_dlib_has_no_such_metric(metric):
    with pytest.raises(ValueError, match="disentanglement_lib has no"):
        metric(F, Z, convention="dlib")


def test_bad_base():
    with pytest.raises(ValueError, match="base must be positive"):
        fastdis.mutual_info_matrix(F, Z, base=1)
    with pytest.raises(TypeError, match="base must be a positive number"):
        fastdis.entropy([1, 2], base="2")


def test_high_cardinality_factor_is_refused_with_advice():
    f = np.arange(2_000_000)[:, None]
    z = np.zeros((2_000_000, 1)) + np.arange(2_000_000)[:, None] * 1e-6
    with pytest.raises(ValueError, match="probably continuous: bin them first"), \
            pytest.warns(fastdis.DegenerateWarning, match="looks continuous"):
        fastdis.mutual_info_matrix(f, z, n_bins=300)


def test_continuous_looking_factor_warns_where_the_user_called():
    rng = np.random.default_rng(0)
    with pytest.warns(fastdis.DegenerateWarning, match="column 1 has 3000 distinct values") as w:
        fastdis.mig(np.column_stack([rng.integers(0, 3, 3000), rng.random(3000)]),
                    rng.normal(size=(3000, 2)))
    assert w[0].filename == __file__


def test_factor_bins_needs_numeric_factors():
    with pytest.raises(TypeError, match="factor_bins needs numeric factors"):
        fastdis.mig(F.astype(str), Z, factor_bins=5)


# --- degenerate but valid data --------------------------------------------------------

def perfect(n=600, seed=1):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 4, size=(n, 3))
    return f, f + rng.uniform(0, 0.5, size=f.shape)


def test_constant_factor_is_skipped_with_warning_by_default():
    f, z = perfect()
    f = np.column_stack([f, np.full(len(f), 7)])
    z = np.column_stack([z, np.random.default_rng(0).normal(size=len(f))])
    for metric in (fastdis.mig, fastdis.rmig, fastdis.mig_sup, fastdis.jemmig, fastdis.dcimig,
                   fastdis.modularity):
        with pytest.warns(DegenerateWarning, match=r"factors \[3\] are constant"):
            value = metric(f, z)
        assert np.isfinite(value), metric.__name__
    with pytest.warns(DegenerateWarning):
        assert fastdis.mig(f, z) == pytest.approx(fastdis.mig(f[:, :3], z))


def test_constant_factor_reproduces_dlib_nan():
    f, z = perfect()
    f[:, 1] = 0
    with np.errstate(all="ignore"):
        assert np.isnan(fastdis.mig(f, z, convention="dlib"))


def test_all_factors_constant_gives_nan_with_warning():
    z = np.random.default_rng(0).normal(size=(100, 2))
    f = np.zeros((100, 2), dtype=int)
    with pytest.warns(DegenerateWarning) as record:
        assert np.isnan(fastdis.mig(f, z))
    messages = [str(w.message) for w in record]
    assert any("are constant" in m for m in messages) and any("undefined" in m for m in messages)


def test_constant_code_in_modularity():
    f, z = perfect()
    z = np.column_stack([z, np.full(len(z), 3.0)])
    with pytest.warns(DegenerateWarning, match=r"codes \[3\] carry no information"):
        mod, details = fastdis.modularity(f, z, return_details=True)
    assert np.isnan(details["per_code"][3])
    assert mod == pytest.approx(np.mean(details["per_code"][:3]))
    # disentanglement_lib scores the dead code 0, pulling the mean down by a quarter
    assert fastdis.modularity(f, z, convention="dlib") == pytest.approx(0.75 * mod)
    with np.errstate(all="ignore"):
        assert np.isnan(fastdis.modularity(f, z, convention="ubisoft"))


def test_constant_code_gives_nan_under_ubisoft_mig():
    f, z = perfect()
    z[:, 2] = 1.0
    with np.errstate(all="ignore"):
        assert np.isnan(fastdis.mig(f, z, convention="ubisoft"))
    assert np.isfinite(fastdis.mig(f, z))  # default normalises by H(factor): defined


def test_single_code_and_single_factor():
    f, z = perfect()
    assert fastdis.mig(f[:, :1], z[:, :1]) == pytest.approx(fastdis.mutual_info_matrix(
        f[:, :1], z[:, :1])[0, 0] / fastdis.entropy(f[:, 0]))
    assert fastdis.modularity(f[:, :1], z) == 1.0
    assert 0.0 <= fastdis.dcimig(f[:, :1], z) <= 1.0
    assert 0.0 <= fastdis.mig_sup(f[:, :1], z) <= 1.0


# --- labels that are missing, of mixed kinds or of no label kind -------------------------

def _obj(values, col=1, row=2):
    f = np.array([["a", "b"], ["a", "b"], ["b", "a"], ["b", "c"], ["a", "c"], ["b", "b"]] * 5,
                 dtype=object)
    f[row, col] = values
    return f


def _pandas_int64_na():
    pd = pytest.importorskip("pandas")
    a = pd.array([1, 2, 1, 2, 1, None] * 5, dtype="Int64")
    # two nullable columns: numpy sees an object array holding pandas.NA
    return pd.DataFrame({"a": a, "b": pd.array([1, 2, 2, 1, 1, 2] * 5, dtype="Int64")})


def _pandas_string_na():
    pd = pytest.importorskip("pandas")
    return pd.DataFrame({"a": pd.array(list("abab") + [None, "b"] * 13, dtype="string")})


def _tuples():
    f = np.empty((30, 1), dtype=object)
    for r in range(30):
        f[r, 0] = (r % 3, 1)
    return f


def _masked_factors():
    f = np.ma.masked_array(np.tile([[0, 1], [1, 0]], (15, 1)))
    f[3, 1] = np.ma.masked
    return f


BAD_LABELS = [
    (lambda: _obj(None), ValueError, r"factors column 1 has a missing value \(None\) in row 2"),
    (lambda: _obj(np.nan), ValueError, r"factors column 1 has a missing value \(nan\) in row 2"),
    (lambda: _obj(float("inf")), ValueError, r"factors column 1 has an infinite value \(inf\)"),
    (_pandas_int64_na, ValueError, r"factors column 0 has a missing value \(<NA>\) in row 5"),
    (_pandas_string_na, ValueError, r"factors column 0 has a missing value \(<NA>\) in row 4"),
    (lambda: _obj(3), TypeError, r"factors column 1 mixes labels of different kinds \(number 3, "
                                 r"str 'b'\).*astype\(str\)"),
    (lambda: _obj(b"b"), TypeError, r"factors column 1 mixes labels of different kinds"),
    (lambda: _obj((1, 2), col=0, row=0), TypeError,
     r"factors column 0 mixes labels of different kinds \(str 'a', tuple \(1, 2\)\)"),
    (lambda: _tuples(), TypeError,
     r"factors column 0 holds tuple values: labels must be numbers or strings"),
    (lambda: (np.arange(30) % 3).astype("datetime64[D]").reshape(-1, 1), TypeError,
     r"got dtype datetime64\[D\]; convert dates or durations to integers"),
    (lambda: (np.arange(30) % 3).astype("timedelta64[s]").reshape(-1, 1), TypeError,
     r"got dtype timedelta64\[s\]; convert"),
    (lambda: np.zeros((30, 1), dtype=[("a", int), ("b", float)]), TypeError,
     r"pass one column per field"),
    (_masked_factors, ValueError,
     r"factors is a masked array with 1 masked value \(the first at index \(3, 1\)\)"),
]

LABEL_METRICS = [fastdis.mig, fastdis.jemmig, fastdis.mutual_info_matrix, fastdis.irs,
                 fastdis.z_min_var, fastdis.z_diff, fastdis.sap, fastdis.dci]


@pytest.mark.parametrize("metric", LABEL_METRICS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("make,error,match", BAD_LABELS)
def test_bad_labels_name_the_column_at_the_first_call(metric, make, error, match):
    factors = make()
    codes = np.random.default_rng(0).normal(size=(len(factors), 2))
    with pytest.raises(error, match=match):
        metric(factors, codes)


@pytest.mark.parametrize("make,error,match", BAD_LABELS)
def test_bad_labels_in_entropy_name_labels(make, error, match):
    with pytest.raises(error, match=match.replace("factors", "labels")):
        fastdis.entropy(make())


def test_masked_codes_are_refused():
    z = np.ma.masked_array(Z.copy())
    z[7, 2] = np.ma.masked
    with pytest.raises(ValueError, match=r"codes is a masked array with 1 masked value "
                                         r"\(the first at index \(7, 2\)\)"):
        fastdis.mig(F, z)


def test_pandas_int64_with_na_in_one_column_names_the_row():
    pd = pytest.importorskip("pandas")
    f = pd.DataFrame({"a": pd.array([1, 2, 1, 2, 1, None] * 5, dtype="Int64")})
    # numpy turns a single nullable column into float64 with NaN
    with pytest.raises(ValueError, match=r"factors contains NaN or infinity in column 0 "
                                         r"\(row 5, nan\)"):
        fastdis.mig(f, np.zeros((30, 1)) + np.arange(30)[:, None])


def _big_ints():
    f = F.astype(object)
    f[F == 1] = 2**70  # Python ints beyond int64
    return f


@pytest.mark.parametrize("same,relabelled", [
    # masked arrays without a masked value are their data
    (np.ma.masked_array(F), F),
    # bytes, str and object labels are labels like any other
    (F.astype("S3") + b"x", F),
    (np.where(F == 0, "zero", np.where(F == 1, "one", "two")).astype(object),
     np.where(F == 0, 2, np.where(F == 1, 0, 1))),            # sorted: one < two < zero
    (_big_ints(), np.where(F == 1, 2, np.where(F == 2, 1, 0))),  # 0 < 2 < 2**70
    (F.astype(object) * 0.5, F),
])
@pytest.mark.parametrize("metric", [fastdis.mig, fastdis.mutual_info_matrix, fastdis.irs,
                                    fastdis.z_min_var], ids=lambda m: m.__name__)
def test_labels_of_every_kind_give_the_relabelled_value(same, relabelled, metric):
    kwargs = dict(random_state=0, batch_size=10) if metric is fastdis.z_min_var else {}
    np.testing.assert_array_equal(metric(same, Z, **kwargs), metric(relabelled, Z, **kwargs))


@pytest.mark.parametrize("levels,error,match", [
    ([], ValueError, r"factor_levels is empty: give the levels of at least one factor"),
    ([[]], ValueError, r"factor_levels\[0\] is empty: factor 0 needs at least one level"),
    ([np.arange(3), []], ValueError, r"factor_levels\[1\] is empty"),
    (np.arange(3), ValueError, r"factor_levels\[0\] must be a 1-D array-like .* got a 0-D"),
    ([[[0, 1], [2, 3]]], ValueError, r"factor_levels\[0\] must be a 1-D .* got a 2-D array"),
    ([["a", None]], ValueError, r"factor_levels\[0\] column 0 has a missing value \(None\)"),
    ([[0.0, np.nan]], ValueError, r"factor_levels\[0\] contains NaN or infinity"),
    ([np.array(["a", 1], dtype=object)], TypeError,
     r"factor_levels\[0\] column 0 mixes labels of different kinds"),
    (["abc"], TypeError, r"factor_levels\[0\] must be a 1-D array-like .* got str"),
    (5, TypeError, r"factor_levels must be a list with the levels of each factor, got int"),
])
def test_joint_histogram_levels_are_checked_up_front(levels, error, match):
    with pytest.raises(error, match=match):
        fastdis.JointHistogram(levels, code_range=[(0.0, 1.0)])


@pytest.mark.parametrize("labels,error,match", [
    (3, ValueError, r"labels must be a 1-D or 2-D array-like .* got a 0-D array of shape \(\)"),
    (np.zeros((4, 2, 2)), ValueError, r"labels must be a 1-D or 2-D .* got a 3-D array"),
    ([], ValueError, r"labels is empty"),
    (np.array([1 + 2j, 3j]), TypeError, r"labels must hold real or string labels"),
])
def test_entropy_shapes_and_dtypes(labels, error, match):
    with pytest.raises(error, match=match):
        fastdis.entropy(labels)


@pytest.mark.parametrize("order", [">", "<"])
def test_hashed_labels_in_either_byte_order(order):
    rng = np.random.default_rng(2)
    hashes = rng.integers(-2**63, 2**63 - 1, size=5, endpoint=True)
    idx = rng.integers(0, 5, size=(400, 2))
    factors = hashes[idx].astype(order + "i8")
    ranks = np.argsort(np.argsort(hashes))[idx]  # each hash's rank among the sorted hashes
    z = rng.normal(size=(400, 3))
    np.testing.assert_array_equal(fastdis.mutual_info_matrix(factors, z),
                                  fastdis.mutual_info_matrix(ranks, z))


def _unaligned(x):
    """A copy of x whose data start one byte past an aligned address (np.frombuffer at an
    offset, np.memmap with an odd offset, a block deserialised by dask.distributed)."""
    buf = bytearray(x.nbytes + 1)
    out = np.frombuffer(buf, dtype=x.dtype, offset=1, count=x.size).reshape(x.shape)
    out[...] = x
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("metric", ["mig", "modularity", "z_diff", "z_min_var", "irs", "sap",
                                    "explicitness", "dci"])
def test_unaligned_buffers_are_read_as_aligned_ones(metric):
    rng = np.random.default_rng(0)
    f = rng.integers(0, 5, (800, 3))
    z = f @ rng.normal(size=(3, 4)) + rng.normal(size=(800, 4))
    expected = getattr(fastdis, metric)(f, z, random_state=0)
    got = getattr(fastdis, metric)(_unaligned(f), _unaligned(z), random_state=0)
    if metric == "dci":
        expected, got = expected.disentanglement, got.disentanglement
    assert got == expected
    np.testing.assert_array_equal(fastdis.discretize(_unaligned(z)), fastdis.discretize(z))
