"""Intervention-based metrics: reference values, sampler properties, bad input."""
import warnings

import numpy as np
import pytest

import fastdis
from conftest import CASES, grid, load_case
from fastdis import _kernels
from fastdis._grouping import EncodedFactors

STOCHASTIC = ["z_diff", "z_min_var", "z_max_var"]


# --- reference values ----------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_irs_matches_references(reference, case):
    factors, codes = load_case(case)
    ubisoft = reference[case]["ubisoft"]["irs"]
    assert ubisoft["call"] == "irs(factors, codes)"
    assert fastdis.irs(factors, codes, convention="ubisoft") == pytest.approx(ubisoft["value"], abs=1e-9)
    dlib = reference[case]["dlib"]
    assert fastdis.irs(factors, codes, convention="dlib") == pytest.approx(
        dlib["irs_array.IRS_dlib_pipeline"]["value"], abs=1e-9)
    # disentanglement_lib's scalable_disentanglement_score on the raw factors
    assert fastdis.irs(factors, codes, diff_quantile=0.99) == pytest.approx(
        dlib["irs_array.IRS"]["value"], abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("metric", STOCHASTIC)
def test_stochastic_metrics_match_survey_in_distribution(reference, case, metric):
    """Mean over 5 seeds within 3 reference standard deviations + 0.02 of the reference mean."""
    factors, codes = load_case(case)
    expected = reference[case]["ubisoft"][metric]
    mean, std = expected.get("mean", expected.get("value")), expected.get("std", 0.0)
    values = [getattr(fastdis, metric)(factors, codes, convention="ubisoft", random_state=seed)
              for seed in range(5)]
    assert abs(np.mean(values) - mean) <= 3 * std + 0.02, (values, mean, std)


# --- properties ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def grid_data():
    factors = grid((3, 4, 5), repeat=8)  # 480 rows, every combination 8 times
    rng = np.random.default_rng(0)
    perfect = factors + rng.uniform(0, 0.2, size=factors.shape)
    noise = rng.normal(size=(len(factors), 4))
    return factors, perfect, noise


@pytest.mark.parametrize("metric", STOCHASTIC + ["irs"])
def test_perfect_codes_score_one(metric, grid_data):
    factors, perfect, _ = grid_data
    kwargs = {} if metric == "irs" else dict(random_state=0, n_train=300, n_eval=300, batch_size=32)
    value = getattr(fastdis, metric)(factors, perfect, **kwargs)
    assert value == pytest.approx(1.0, abs=0.2 if metric == "irs" else 1e-12)


@pytest.mark.parametrize("metric", STOCHASTIC)
def test_noise_scores_chance(metric, grid_data):
    factors, _, noise = grid_data
    values = [getattr(fastdis, metric)(factors, noise, random_state=s, n_train=600, n_eval=600,
                                       batch_size=32, std_threshold=0.0) if metric != "z_diff"
              else fastdis.z_diff(factors, noise, random_state=s, n_train=600, n_eval=600,
                                  batch_size=32)
              for s in range(3)]
    # rescaled accuracy: 0 is chance (1/K before rescaling)
    assert abs(np.mean(values)) < 0.12


@pytest.mark.parametrize("metric", STOCHASTIC)
def test_same_seed_same_value_any_thread_count(metric):
    factors = grid((4, 5, 6), repeat=40)
    codes = factors + np.random.default_rng(1).normal(0, 0.8, size=factors.shape)
    f = getattr(fastdis, metric)
    a = f(factors, codes, random_state=7, n_threads=1, return_details=True)
    b = f(factors, codes, random_state=7, n_threads=2, return_details=True)
    assert a[0] == b[0] and a[1]["eval_accuracy"] == b[1]["eval_accuracy"]


def test_irs_does_not_depend_on_row_order_or_threads():
    factors, codes = load_case("partial")
    base = fastdis.irs(factors, codes)
    rows = np.random.default_rng(0).permutation(len(factors))
    assert fastdis.irs(factors[rows], codes[rows]) == pytest.approx(base, abs=1e-12)
    assert fastdis.irs(factors, codes, n_threads=1) == fastdis.irs(factors, codes, n_threads=2)


def naive_irs(factors, codes, q):
    """The formula of Suter et al. written plainly with numpy (the references' procedure)."""
    codes = codes[:, codes.var(axis=0) > 0]
    max_dev = np.abs(codes - codes.mean(axis=0)).max(axis=0)
    cum = np.zeros((codes.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        values = np.unique(factors[:, k])
        for a in values:
            match = factors[:, k] == a
            diffs = np.abs(codes[match] - codes[match].mean(axis=0))
            cum[:, k] += np.percentile(diffs, q * 100, axis=0)
        cum[:, k] /= len(values)
    scores = (1 - cum / max_dev[:, None]).max(axis=1)
    return np.average(scores, weights=max_dev)


@pytest.mark.parametrize("q", [1.0, 0.99, 0.5, 0.1])
def test_irs_equals_naive_formula(q):
    rng = np.random.default_rng(2)
    factors = rng.integers(0, 7, size=(3000, 3))
    codes = np.column_stack([factors[:, 0] + rng.normal(0, 0.3, 3000), rng.normal(size=3000),
                             factors[:, 1] * factors[:, 2] + rng.normal(0, 1, 3000),
                             np.full(3000, 2.0)]).astype(np.float32)
    assert fastdis.irs(factors, codes, diff_quantile=q) == pytest.approx(
        naive_irs(factors, codes.astype(np.float64), q), abs=1e-6)


def test_sampler_draws_without_replacement_and_fixes_the_factor():
    factors = grid((3, 4), repeat=50)  # every value of factor 0 in 200 rows
    codes = np.column_stack([factors[:, 0], np.arange(len(factors))]).astype(np.float64)
    enc = EncodedFactors(factors)
    grouping = enc.group_by([True, False])
    groups, cum = grouping.eligible()
    ids = np.arange(50, dtype=np.int64)
    var = _kernels.sample_batches(codes, grouping.offsets, grouping.perm, groups, cum, False,
                                  _kernels.BATCH_VARIANCE, 200, 123, ids, 2)
    assert (var[:, 0] == 0).all()  # the fixed factor's code does not vary in a batch
    # a batch as large as its group holds every row of it once: its variance is the group's
    expected = [np.var(np.flatnonzero(factors[:, 0] == v), ddof=1) for v in range(3)]
    assert all(np.isclose(v, expected).any() for v in var[:, 1])
    diff = _kernels.sample_batches(codes, grouping.offsets, grouping.perm, groups, cum, False,
                                   _kernels.BATCH_PAIR_DIFF, 100, 123, ids, 2)
    assert (diff[:, 0] == 0).all() and (diff[:, 1] > 0).all()
    again = _kernels.sample_batches(codes, grouping.offsets, grouping.perm, groups, cum, False,
                                    _kernels.BATCH_PAIR_DIFF, 100, 123, ids[::-1].copy(), 1)
    np.testing.assert_array_equal(again[::-1], diff)  # keyed by batch id, not by position


def test_grouping_by_all_but_one_factor():
    factors = grid((2, 3, 4))
    enc = EncodedFactors(factors)
    g = enc.group_by([True, False, True])
    assert g.n_groups == 8 and (g.sizes == 3).all()
    for start, stop in zip(g.offsets[:-1], g.offsets[1:]):
        rows = factors[g.perm[start:stop]]
        assert (rows[:, [0, 2]] == rows[0, [0, 2]]).all()
        assert sorted(rows[:, 1]) == [0, 1, 2]


def naive_groups(column):
    """Rows grouped by one factor column, in numpy: (offsets over the sorted values, rows in
    a stable order)."""
    values, index = np.unique(column, return_inverse=True)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(index.ravel(), minlength=len(values)))])
    return offsets, np.argsort(index.ravel(), kind="stable")


@pytest.mark.parametrize("kind", ["ints", "wide", "strings"])
@pytest.mark.parametrize("cells", [None, 1000])
def test_group_each_is_a_stable_sort_by_each_factor(kind, cells):
    """Every factor grouped in the same passes (uint8 levels, or int32 beyond 256 levels;
    in chunks too) gives numpy's stable sort by that factor, whatever the thread count."""
    rng = np.random.default_rng(7)
    n = 5000
    factors = np.column_stack([rng.integers(-3, 4, n) * 1000, rng.integers(0, 2, n),
                               rng.integers(0, 300 if kind == "wide" else 40, n)])
    if kind == "strings":
        factors = factors.astype(str)
    previous = _kernels.set_chunk_cells(cells) if cells else None
    try:
        enc = EncodedFactors(factors)
        results = [EncodedFactors(factors, nt).group_each([2, 0, 1]) for nt in (1, 2)]
    finally:
        if previous:
            _kernels.set_chunk_cells(previous)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one.perm, two.perm)
        np.testing.assert_array_equal(one.offsets, two.offsets)
    for c, g in zip([2, 0, 1], results[0]):
        offsets, perm = naive_groups(factors[:, c])
        np.testing.assert_array_equal(g.offsets, offsets)
        np.testing.assert_array_equal(g.perm, perm)
        # the mixed-radix path (keys + counting sort) groups the same way
        keys, total = enc._keys([c])
        np.testing.assert_array_equal(_kernels.group_rows(keys, total)[1], perm)


def test_group_each_splits_large_inputs_between_threads_as_one_pass():
    """Past fd_team's threshold (2**19 element operations a thread) the rows are split
    between threads, each placing its part from its own start positions; below it one
    pass places every row from the level counts. Both are numpy's stable sort."""
    rng = np.random.default_rng(11)
    n = 400_000  # 3 factors: 1.2e6 operations, a team of 2
    factors = np.column_stack([rng.integers(0, 7, n), rng.integers(-5, 5, n) * 3,
                               rng.integers(0, 2, n)])
    results = [EncodedFactors(factors, nt).group_each([0, 1, 2]) for nt in (1, 2)]
    for c in range(3):
        offsets, perm = naive_groups(factors[:, c])
        for result in results:
            np.testing.assert_array_equal(result[c].offsets, offsets)
            np.testing.assert_array_equal(result[c].perm, perm)


def test_group_each_shares_every_factor_inside_evaluate():
    from fastdis._shared import sharing
    factors = grid((2, 3, 4), repeat=3)
    enc = EncodedFactors(factors)
    with sharing() as scope:
        first = enc.group_by([False, True, False])
        rest = enc.group_each([0, 1, 2])
        assert enc.group_each([2])[0] is rest[2]
        # all three from one pass, each kept
        assert scope.computed == {"grouping": 3, "grouping of each factor": 1}
        assert rest[1] is first
    for c, g in enumerate(rest):
        np.testing.assert_array_equal(g.perm, naive_groups(factors[:, c])[1])


# --- degenerate and bad input --------------------------------------------------------------

def test_constant_code_never_wins_the_vote():
    factors = grid((3, 4, 5), repeat=8)
    codes = np.column_stack([factors + np.random.default_rng(0).uniform(0, 0.2, factors.shape),
                             np.full(len(factors), 0.5)])
    score, details = fastdis.z_min_var(factors, codes, std_threshold=0.0, random_state=0,
                                       batch_size=32, return_details=True)
    assert score == 1.0
    assert details["num_active_dims"] == 3 and details["active_codes"].tolist() == [0, 1, 2]


def test_all_codes_collapsed_scores_zero_with_warning():
    factors = grid((3, 4), repeat=8)
    codes = np.random.default_rng(0).normal(0, 1e-4, size=(len(factors), 3))
    with pytest.warns(fastdis.DegenerateWarning, match="no code varies"):
        assert fastdis.z_min_var(factors, codes, batch_size=16) == 0.0
    with pytest.warns(fastdis.DegenerateWarning, match="every code is constant"):
        assert fastdis.irs(factors, np.ones((len(factors), 2))) == 0.0


@pytest.mark.parametrize("metric", STOCHASTIC + ["irs"])
def test_single_valued_factor_column_is_refused(metric):
    factors = grid((3, 4), repeat=8)
    factors[:, 1] = 5
    with pytest.raises(ValueError, match="factors column 1 has a single value"):
        getattr(fastdis, metric)(factors, np.random.default_rng(0).normal(size=(96, 2)))


@pytest.mark.parametrize("metric", STOCHASTIC)
def test_continuous_factors_are_refused_with_advice(metric):
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(500, 2))
    with pytest.raises(ValueError, match="500 distinct values in 500 rows: it looks continuous"):
        getattr(fastdis, metric)(factors, rng.normal(size=(500, 3)), batch_size=10)
    # binned, they work
    value = getattr(fastdis, metric)(factors, rng.normal(size=(500, 3)), batch_size=10,
                                     factor_bins=3, random_state=0, n_train=50, n_eval=50)
    assert np.isfinite(value)


def test_z_max_needs_repeated_combinations():
    rng = np.random.default_rng(1)
    # every pair (i % 150, i % 97) occurs once: no combination of the other factors repeats
    factors = np.column_stack([rng.integers(0, 3, 400), np.arange(400) % 150, np.arange(400) % 97])
    with pytest.raises(ValueError, match="combination of the other factors"):
        fastdis.z_max_var(factors, rng.normal(size=(400, 2)), batch_size=10)


@pytest.mark.parametrize("metric", STOCHASTIC)
@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=1), "batch_size must be >= 2"),
    (dict(batch_size=10_000), r"batch_size=10000 exceeds the number of rows \(96\)"),
    (dict(n_train=0, batch_size=8), "n_train must be >= 1"),
    (dict(convention="disent"), r"convention must be None(, 'dlib')? or 'ubisoft' for z_"),
])
def test_bad_parameters(metric, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(fastdis, metric)(grid((3, 4), repeat=8), np.zeros((96, 2)) + np.arange(96)[:, None],
                                 **kwargs)


def test_dlib_has_no_z_max_var():
    with pytest.raises(ValueError, match="disentanglement_lib has no z_max_var"):
        fastdis.z_max_var(grid((3, 4), repeat=8), np.arange(192.0).reshape(96, 2), convention="dlib")


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("metric,key", [("z_diff", "beta_vae.eval_accuracy"),
                                        ("z_min_var", "factor_vae.eval_accuracy")])
def test_dlib_convention_matches_in_distribution(reference, case, metric, key):
    factors, codes = load_case(case)
    expected = reference[case]["dlib"][key]
    mean, std = expected.get("mean", expected.get("value")), expected.get("std", 0.0)
    values = [getattr(fastdis, metric)(factors, codes, convention="dlib", random_state=seed)
              for seed in range(5)]
    assert abs(np.mean(values) - mean) <= 3 * std + 0.02, (values, mean, std)
    if metric == "z_min_var":
        _, details = fastdis.z_min_var(factors, codes, convention="dlib", random_state=0,
                                       return_details=True)
        # the count of active codes, not disentanglement_lib's len(mask) (5 for partial)
        assert details["num_active_dims"] == np.sum(codes.std(axis=0, ddof=1) >= 0.05)


@pytest.mark.parametrize("metric,kwargs,error,match", [
    ("irs", dict(diff_quantile=1.5), ValueError, r"diff_quantile must be in \(0, 1\], got 1.5"),
    ("irs", dict(diff_quantile=0.0), ValueError, r"diff_quantile must be in \(0, 1\]"),
    ("irs", dict(diff_quantile=float("nan")), ValueError, r"diff_quantile must be in"),
    ("irs", dict(diff_quantile="0.5"), TypeError, "diff_quantile must be a real number"),
    ("z_min_var", dict(std_threshold=-0.1), ValueError, r"std_threshold must be in \[0, inf\]"),
    ("z_max_var", dict(std_threshold=float("nan")), ValueError, "std_threshold must be in"),
    ("z_min_var", dict(std_threshold="0.05"), TypeError, "std_threshold must be a real number"),
])
def test_bad_real_parameters_name_the_argument(metric, kwargs, error, match):
    kw = {} if metric == "irs" else dict(batch_size=8)
    with pytest.raises(error, match=match):
        getattr(fastdis, metric)(grid((3, 4), repeat=8),
                                 np.random.default_rng(0).normal(size=(96, 2)), **kw, **kwargs)


def test_nan_codes_are_refused():
    codes = np.random.default_rng(0).normal(size=(96, 2))
    codes[5, 1] = np.nan
    for metric in STOCHASTIC + ["irs"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastdis.DegenerateWarning)
            # (IRS reads every row; the batch metrics name the row they read)
            row = "" if metric == "irs" else r" \(row 5, nan"
            with pytest.raises(ValueError, match=r"NaN or infinity in column 1" + row):
                kwargs = {} if metric == "irs" else dict(batch_size=8)
                getattr(fastdis, metric)(grid((3, 4), repeat=8), codes, **kwargs)


def test_only_the_rows_read_are_checked():
    """The batches (and Z-min / Z-max's variance rows) read a subset of the rows, and only
    those are checked (as both references read only those): NaN in a row whose factor values
    are unique (never drawn by a batch) and outside the variance rows changes nothing; in a
    row read, the error names its column and row."""
    factors = np.vstack([grid((3, 4), repeat=8), [[7, 9]]])  # row 96: values seen once
    codes = np.random.default_rng(0).normal(size=(97, 2))
    kw = dict(batch_size=8, random_state=5)
    # the variance-estimate rows, drawn first from the metric's seed (without replacement)
    var_rows = np.random.default_rng(5).choice(97, size=40, replace=False)
    assert 96 not in var_rows
    bad = codes.copy()
    bad[96, 1] = np.nan
    for metric in STOCHASTIC:
        extra = {} if metric == "z_diff" else dict(n_variance_estimate=40)
        f = getattr(fastdis, metric)
        assert f(factors, bad, **kw, **extra) == f(factors, codes, **kw, **extra)
    read = codes.copy()
    read[var_rows[3], 0] = np.inf
    with pytest.raises(ValueError, match=rf"column 0 \(row {var_rows[3]}, inf, a row the metric "
                                         r"reads\)"):
        fastdis.z_min_var(factors, read, **kw, n_variance_estimate=40)


# --- one factor and other degenerate input ----------------------------------------------

@pytest.mark.parametrize("metric", STOCHASTIC)
def test_one_factor_is_a_clear_error(metric):
    """Which factor a batch intervened on has one answer with one factor: no score (the
    chance correction would divide by zero), and more rows cannot help."""
    factors = grid((6,), repeat=20)
    codes = factors + np.random.default_rng(0).normal(0, 0.1, size=(120, 1))
    with pytest.raises(ValueError, match=f"{metric}: factors has a single column.*two factors") as e:
        getattr(fastdis, metric)(factors, codes, batch_size=8)
    assert "n_train" not in str(e.value)


def test_irs_with_one_factor_equals_the_formula():
    rng = np.random.default_rng(3)
    factors = rng.integers(0, 5, size=(400, 1))
    codes = np.column_stack([factors[:, 0] + rng.normal(0, 0.3, 400), rng.normal(size=400)])
    assert fastdis.irs(factors, codes) == pytest.approx(naive_irs(factors, codes, 1.0), abs=1e-12)


def test_z_diff_too_few_training_batches_names_n_train():
    factors = grid((3, 4), repeat=8)
    with pytest.raises(ValueError, match="all 1 training batches intervene on the same factor.*"
                                         "increase n_train"):
        fastdis.z_diff(factors, np.random.default_rng(0).normal(size=(96, 2)), batch_size=8,
                       n_train=1, random_state=0)


@pytest.mark.parametrize("metric", ["z_min_var", "z_max_var"])
def test_variance_details_have_the_same_keys_when_no_code_is_active(metric):
    factors = grid((3, 4), repeat=8)
    f = getattr(fastdis, metric)
    _, live = f(factors, factors + np.random.default_rng(0).uniform(0, 0.2, factors.shape),
                batch_size=8, random_state=0, return_details=True)
    with pytest.warns(fastdis.DegenerateWarning, match="no code varies"):
        score, dead = f(factors, np.ones((96, 2)), batch_size=8, random_state=0,
                        return_details=True)
    assert score == 0.0 and set(dead) == set(live)
    assert dead["train_accuracy"] == dead["eval_accuracy"] == 0.0
    assert dead["votes"].shape == (2, 2) and not dead["votes"].any()
    assert dead["num_active_dims"] == 0


def test_irs_details_have_the_same_keys_when_every_code_is_constant():
    factors = grid((3, 4), repeat=8)
    _, live = fastdis.irs(factors, factors + np.random.default_rng(0).uniform(0, 0.2, (96, 2)),
                          return_details=True)
    with pytest.warns(fastdis.DegenerateWarning, match="every code is constant"):
        score, dead = fastdis.irs(factors, np.ones((96, 3)), return_details=True)
    assert score == 0.0 and set(dead) == set(live)
    assert dead["irs_matrix"].shape == (0, 2) and len(dead["per_code"]) == 0
    assert (dead["max_deviations"] == 0).all()


def test_z_diff_with_constant_codes_warns_and_scores_near_chance():
    factors = grid((3, 4), repeat=8)
    with pytest.warns(fastdis.DegenerateWarning, match="every code is constant"):
        score = fastdis.z_diff(factors, np.full((96, 2), 3.0), batch_size=8, n_train=400,
                               n_eval=400, random_state=0)
    assert abs(score) < 0.1  # the most frequent training factor, about 1/2 of the batches


@pytest.mark.parametrize("metric", ["z_min_var", "z_max_var"])
def test_batches_larger_than_every_group_draw_with_replacement(metric):
    """Each value (combination) holds 8 rows and batches 32: rows repeat within a batch
    (documented), and perfect codes still score 1."""
    factors = grid((3, 4), repeat=8)
    codes = factors + np.random.default_rng(0).uniform(0, 0.2, factors.shape)
    assert getattr(fastdis, metric)(factors, codes, batch_size=32, random_state=0) == 1.0


# --- extreme scales ----------------------------------------------------------------------

def scale_case():
    rng = np.random.default_rng(5)
    factors = grid((3, 4, 5), repeat=8)
    codes = np.column_stack([factors + rng.normal(0, 0.5, factors.shape), rng.normal(size=480),
                             factors[:, 0] * factors[:, 1] + rng.normal(0, 0.5, 480)])
    return factors, codes


def times(codes, s):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # products in the subnormal range
        return codes * s


@pytest.mark.parametrize("s", [1e306, 1e-300, 1e-310])
@pytest.mark.parametrize("q", [1.0, 0.99])
def test_irs_is_the_same_at_extreme_scales(s, q):
    """IRS is invariant to scaling every code by s; its sums used to overflow ("contains
    NaN or infinity" at 1e306) or lose bits in the subnormal range (1e-310)."""
    factors, codes = scale_case()
    base = naive_irs(factors, codes, q)
    assert fastdis.irs(factors, times(codes, s), diff_quantile=q) == pytest.approx(base, rel=1e-9)


def test_irs_of_codes_near_the_float64_limit():
    """Codes up to +-1.8e308 (z - mean overflows there): the value of the same codes scaled
    down by 2**1000, exactly, and per-column scales as far apart as 1e300 and 1e-300."""
    factors, codes = scale_case()
    codes = codes - codes.mean(axis=0)
    top = np.ldexp(codes, 1024 - np.frexp(np.abs(codes).max())[1])
    assert np.isfinite(top).all() and np.abs(top).max() > 8e307
    assert fastdis.irs(factors, top) == fastdis.irs(factors, np.ldexp(top, -1000))
    mixed = codes * np.array([1e300, 1.0, 1e-300, 1.0, 1.0])
    # weights: a code's max deviation, so the 1e300 column dominates the average
    _, d = fastdis.irs(factors, codes, return_details=True)
    _, dm = fastdis.irs(factors, mixed, return_details=True)
    np.testing.assert_allclose(dm["irs_matrix"], d["irs_matrix"], rtol=1e-9)


@pytest.mark.parametrize("metric", ["z_min_var", "z_max_var"])
@pytest.mark.parametrize("s", [1e306, 1e-300, 1e-310])
def test_variance_votes_are_the_same_at_extreme_scales(metric, s):
    """Ratios of variances of one column do not change with its scale (std_threshold=0):
    squares used to overflow to inf (inf / inf = NaN votes) or underflow to 0."""
    factors, codes = scale_case()
    f = getattr(fastdis, metric)
    kw = dict(batch_size=16, n_train=200, n_eval=200, random_state=4, std_threshold=0.0,
              return_details=True)
    base, d = f(factors, codes, **kw)
    value, ds = f(factors, times(codes, s), **kw)
    assert value == base
    np.testing.assert_array_equal(ds["votes"], d["votes"])
    # the threshold keeps its meaning on the codes' own scale
    kw.update(std_threshold=0.5 * s)
    _, d = f(factors, codes, **{**kw, "std_threshold": 0.5})
    _, ds = f(factors, times(codes, s), **kw)
    np.testing.assert_array_equal(ds["active_codes"], d["active_codes"])


# --- random_state: one rule -----------------------------------------------------------

@pytest.mark.parametrize("metric", STOCHASTIC)
def test_random_state_generator_and_randomstate_work(metric):
    factors = grid((3, 4), repeat=8)
    codes = factors + np.random.default_rng(0).normal(0, 0.5, factors.shape)
    f = getattr(fastdis, metric)
    kw = dict(batch_size=8, n_train=100, n_eval=100)
    for make in (np.random.default_rng, np.random.RandomState):
        a = f(factors, codes, random_state=make(11), **kw)
        assert a == f(factors, codes, random_state=make(11), **kw)  # same state, same value
        assert np.isfinite(a)
    assert f(factors, codes, random_state=2**32 - 1, **kw) == f(
        factors, codes, random_state=np.uint32(2**32 - 1), **kw)


@pytest.mark.parametrize("metric", STOCHASTIC + ["irs"])
@pytest.mark.parametrize("bad,error", [(-1, ValueError), (2**32, ValueError),
                                       (1.5, TypeError), ("7", TypeError), (True, TypeError)])
def test_bad_random_state_names_the_argument(metric, bad, error):
    factors = grid((3, 4), repeat=8)
    kw = {} if metric == "irs" else dict(batch_size=8)
    with pytest.raises(error, match="random_state"):
        getattr(fastdis, metric)(factors, np.random.default_rng(0).normal(size=(96, 2)),
                                 random_state=bad, **kw)
