"""Streaming without Dask: a JointHistogram fed batch by batch gives the information
metrics of one call on the concatenated rows."""
import numpy as np
import pytest

import fastdis
from conftest import CASES, load_case

INFORMATION = ["mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig"]


def _streamed(factors, codes, batch, n_bins=20, **kwargs):
    """The histogram of the rows fed ``batch`` rows at a time, with the in-memory call's
    bins: each code's exact [min, max] (float64 codes: the same edges)."""
    levels = [np.unique(factors[:, k]) for k in range(factors.shape[1])]
    code_range = np.stack([codes.min(axis=0), codes.max(axis=0)], axis=1)
    hist = fastdis.JointHistogram(levels, code_range=code_range, n_bins=n_bins, **kwargs)
    for r0 in range(0, len(factors), batch):
        hist.update(factors[r0:r0 + batch], codes[r0:r0 + batch])
    return hist


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("metric", INFORMATION)
@pytest.mark.parametrize("convention", [None, "dlib"])
def test_streamed_golden_cases_equal_one_call(case, metric, convention):
    factors, codes = load_case(case)
    codes = codes.astype(np.float64)
    hist = _streamed(factors, codes, batch=37)
    try:
        expected = getattr(fastdis, metric)(factors, codes, convention=convention,
                                            return_details=True)
    except ValueError:  # the library has no such metric
        with pytest.raises(ValueError):
            getattr(fastdis, metric)(hist, convention=convention)
        return
    got = getattr(fastdis, metric)(hist, convention=convention, return_details=True)
    assert got[0] == expected[0] or (np.isnan(got[0]) and np.isnan(expected[0]))
    np.testing.assert_array_equal(got[1]["mutual_info"], expected[1]["mutual_info"])


def test_batches_of_any_size_and_a_known_range():
    rng = np.random.default_rng(4)
    f = rng.integers(0, 9, (5000, 3))
    z = f @ rng.normal(size=(3, 5)) + rng.normal(size=(5000, 5))
    for batch in (1, 999, 5000):
        assert fastdis.mig(_streamed(f, z, batch)) == fastdis.mig(f, z)
    # a range given up front: the call with the same code_range
    hist = fastdis.JointHistogram([np.arange(9)] * 3, code_range=[(-30.0, 30.0)] * 5, n_bins=12)
    hist.update(f[:2500], z[:2500]).update(f[2500:], z[2500:])
    assert fastdis.modularity(hist) == fastdis.modularity(f, z, code_range=(-30.0, 30.0),
                                                          n_bins=12)


def test_levels_that_never_occur_change_nothing():
    """Declared levels without rows (a batch stream that has not seen them yet) add empty
    table rows: entropies and scores are those of the levels seen."""
    rng = np.random.default_rng(5)
    f = rng.integers(0, 4, (2000, 2))
    z = f + rng.normal(size=(2000, 2))
    code_range = np.stack([z.min(axis=0), z.max(axis=0)], axis=1)
    hist = fastdis.JointHistogram([np.arange(10)] * 2, code_range=code_range)
    hist.update(f, z)
    assert fastdis.dcimig(hist) == fastdis.dcimig(f, z)


def test_misuse_is_refused_naming_the_argument():
    f = np.array([[0], [1], [0], [1]])
    z = np.array([[0.1], [0.9], [0.2], [0.8]])
    hist = fastdis.JointHistogram([np.arange(2)], code_range=[(0.0, 1.0)], n_bins=4)
    with pytest.raises(ValueError, match="counted no rows"):
        fastdis.mig(hist)
    hist.update(f, z)
    with pytest.raises(TypeError, match="codes=None"):
        fastdis.mig(hist, z)
    for kwargs in (dict(n_bins=3), dict(strategy="uniform"), dict(code_range=(0, 1)),
                   dict(factor_bins=3), dict(var=z)):
        with pytest.raises(TypeError, match=f"{next(iter(kwargs))}= does not apply"):
            fastdis.mig(hist, **kwargs)
    with pytest.raises(ValueError, match="bins are fixed"):
        fastdis.jemmig(hist, convention="ubisoft")
    with pytest.raises(ValueError, match="posterior"):
        fastdis.rmig(hist, convention="do_tran")
    with pytest.raises(TypeError, match="needs codes"):
        fastdis.mig(f)
    with pytest.raises(ValueError, match="random_state"):
        fastdis.mig(hist, random_state=-1)
