"""Plots a paper would use: sized for the page with 1,024 codes, codes ordered by their
factor, folded beyond max_codes, one orientation (factors x codes), DCI's scale, no
warnings on negative importances."""
import numpy as np
import pytest

import fastdis
from fastdis import _plots

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _wide_report(n_codes, seed=0):
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 4, (3000, 3))
    codes = rng.normal(size=(3000, n_codes))
    codes[:, n_codes - 1] += factors[:, 0]  # the last code carries factor 0, code 3 factor 2
    codes[:, 3] += 2 * factors[:, 2]
    return fastdis.evaluate(factors, codes, ["mig", "dci"], dci={"max_train": 500})


def test_code_order_groups_codes_by_their_best_factor():
    score = np.array([[0.1, 0.0, 0.9, 0.0, 0.0],
                      [0.0, 0.8, 0.0, 0.0, 0.3],
                      [0.7, 0.0, 0.0, 0.0, 0.0]])
    # factor 0: code 2; factor 1: codes 1 then 4; factor 2: code 0; code 3 (no information) last
    assert _plots.code_order(score).tolist() == [2, 1, 4, 0, 3]
    # weak codes (best below 5 % of the largest: plug-in noise) after every factor's codes
    score[2, 3] = 0.04
    score[0, 4] = 0.01
    score[1, 4] = 0.02
    assert _plots.code_order(score).tolist() == [2, 1, 0, 3, 4]


def test_fold_keeps_the_first_columns_and_their_maxima():
    m = np.arange(12.0).reshape(2, 6)
    shown, names = _plots.fold(m, list("abcdef"), 4)
    assert shown.tolist() == [[0, 1, 2, 5], [6, 7, 8, 11]]
    assert names == ["a", "b", "c", "+3 more (max)"]
    assert _plots.fold(m, list("abcdef"), None)[0] is m


@pytest.mark.parametrize("n_codes", [10, 64, 1024])
def test_figures_fit_the_page(n_codes):
    report = _wide_report(n_codes)
    for draw in (report.plot_mi, report.plot_dci):
        ax = draw()
        width, height = ax.figure.get_size_inches()
        assert width <= 14.0 + 1e-9 and height <= 8.0
        assert len(ax.get_xticklabels()) == min(n_codes, 64)
    fig = report.plot()
    assert fig.get_size_inches()[0] <= 14.0 + 1e-9


def test_ordered_heatmap_puts_each_factor_s_code_first():
    report = _wide_report(10)
    ax = report.plot_mi()
    order = report.code_order()
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"code{j}" for j in order]
    mi = report.mutual_info / report.factor_entropy[:, None]
    strong = mi.max(axis=0)[order] > 0.05 * mi.max()
    assert order[:2].tolist() == [9, 3] and not strong[2:].any()  # then the noise codes
    unordered = [t.get_text() for t in report.plot_mi(order=False).get_xticklabels()]
    assert unordered == report.code_names
    assert [t.get_text() for t in ax.get_yticklabels()] == report.factor_names


def test_hinton_draws_negative_importances_as_zero_without_warnings():
    report = _wide_report(6)
    report["dci"].importance[0, 0] = -0.5  # a user's estimator can give negative importances
    report["dci"].importance[1, 1] = np.nan
    ax = report.plot_dci()  # filterwarnings=error: a sqrt of a negative would fail here
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "scale"
    assert [t.get_text() for t in ax.get_yticklabels()][:-1] == report.factor_names
