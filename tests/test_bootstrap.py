"""Bootstrap intervals of the information metrics from their count tables: against a
bootstrap of the rows, shrinking with N, reproducible, carried by the report."""
import numpy as np
import pytest

import fastdis
from fastdis._bootstrap import interval, replicates
from fastdis._information import compute_information
from fastdis.datasets import make_dsprites_like


def test_replicates_resample_each_factor_s_rows():
    f, z = make_dsprites_like("partial", small=True)
    info = compute_information(f, z)
    for rep in replicates(info, 5, seed=0):
        assert rep.n_samples == info.n_samples
        assert rep.mutual_info.shape == info.mutual_info.shape
        assert (rep.mutual_info >= 0).all()
        assert (rep.mutual_info <= np.minimum(rep.factor_entropy[:, None], rep.code_entropy) + 1e-12).all()
        assert not np.array_equal(rep.mutual_info, info.mutual_info)
    a = [r.mutual_info for r in replicates(info, 3, seed=7)]
    b = [r.mutual_info for r in replicates(info, 3, seed=7)]
    np.testing.assert_array_equal(a, b)


def test_tables_bootstrap_is_close_to_the_rows_bootstrap():
    """The interval's width against a bootstrap that resamples the rows (slow, small data):
    the same order (the tables' draws are independent across codes, see the module)."""
    rng = np.random.default_rng(3)
    f = rng.integers(0, 4, (3000, 3))
    z = np.c_[f[:, 0] + rng.normal(size=3000), f[:, 1] + rng.normal(size=3000),
              rng.normal(size=3000), f[:, 2] + 0.5 * f[:, 0] + rng.normal(size=3000)]
    report = fastdis.evaluate(f, z, ["mig", "modularity"], n_bootstrap=300, random_state=1)
    for metric in ("mig", "modularity"):
        rows = []
        for _ in range(300):
            i = rng.integers(0, 3000, 3000)
            rows.append(getattr(fastdis, metric)(f[i], z[i]))
        lo, hi = np.percentile(rows, [2.5, 97.5])
        t_lo, t_hi = report.intervals[metric]
        assert 0.4 < (t_hi - t_lo) / (hi - lo) < 2.5, metric
        assert t_lo < report[metric] + 0.5 * (hi - lo) and t_hi > report[metric] - 0.5 * (hi - lo)


def test_intervals_shrink_with_more_rows_and_round_trip():
    small, large = (make_dsprites_like("partial", small=True, random_state=0),
                    make_dsprites_like("partial", random_state=0))
    widths = []
    for f, z in (small, large):
        r = fastdis.evaluate(f, z, ["mig", "sap"], n_bootstrap=100, random_state=0)
        assert set(r.intervals) == {"mig"}  # histogram metrics only
        widths.append(r.intervals["mig"][1] - r.intervals["mig"][0])
    assert widths[1] < widths[0] / 3  # 64 x the rows: ~8 x narrower
    back = fastdis.Report.from_json(r.to_json())
    assert back.intervals == r.intervals


def test_bootstrap_settings_are_checked():
    f, z = make_dsprites_like("partial", small=True)
    with pytest.raises(ValueError, match="n_bootstrap"):
        fastdis.evaluate(f, z, ["mig"], n_bootstrap=-1)
    with pytest.raises(ValueError, match="confidence"):
        fastdis.evaluate(f, z, ["mig"], n_bootstrap=10, confidence=1.0)
    assert interval([np.nan, np.nan], 0.9) != interval([1.0], 0.9)
    assert np.isnan(interval([np.nan], 0.9)[0])
