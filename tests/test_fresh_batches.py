"""intervention_scores: the intervention metrics on fresh batches drawn through an encoder.

Expected values come from the papers' formulas written plainly here (numpy, and
scikit-learn's logistic regression for Z-diff), recomputed from the observations the encoder
was actually given, and from the array metrics in distribution."""
import doctest
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import fastdis
import fastdis.metrics.fresh
from fastdis.datasets import GroundTruthData

SIZES = (3, 4, 5)
GRID = np.stack(np.meshgrid(*map(np.arange, SIZES), indexing="ij"), -1).reshape(-1, 3)
# each observation: its factor values, then 3 noise values fixed per grid row
NOISE = np.random.default_rng(1).normal(size=(len(GRID), 3))
DATA = GroundTruthData(np.hstack([GRID, NOISE]), GRID, ["a", "b", "c"], SIZES)
SMALL = dict(n_train=300, n_eval=200, batch_size=20)
SMALL_VAR = dict(SMALL, n_variance_estimate=500)
OPTIONS = dict(z_diff=SMALL, z_min_var=SMALL_VAR, z_max_var=SMALL_VAR)


def perfect(x):
    return 2.0 * x[:, :3]


def mixed(x):
    """Codes that carry the factors with noise: scores away from 0 and 1."""
    return x[:, :3] + 1.5 * x[:, 3:]


class Recorder:
    """An encoder that keeps the observations it is given."""

    def __init__(self, encoder=mixed):
        self.encoder, self.calls = encoder, []

    def __call__(self, x):
        self.calls.append(np.array(x))
        return self.encoder(x)

    def observations(self):
        return np.concatenate(self.calls)


def scores(encoder=mixed, metrics=fastdis.metrics.fresh.METRICS, **kwargs):
    kwargs = dict(dict(random_state=0, **OPTIONS), **kwargs)
    return fastdis.intervention_scores(DATA, encoder, metrics, **kwargs)


# --- plain implementations of the papers' formulas, on recorded observations ----------------
def only_index(mask, what):
    found = np.flatnonzero(mask)
    assert len(found) == 1, f"{what}: {mask}"
    return int(found[0])


def majority_vote_accuracies(chosen, targets, n_train, n_codes, K):
    """Each code -> the factor it was chosen for most in training; accuracy of that map."""
    votes = np.zeros((n_codes, K), dtype=np.int64)
    for j, k in zip(chosen[:n_train], targets[:n_train]):
        votes[j, k] += 1
    assign = votes.argmax(axis=1)
    train = np.mean(assign[chosen[:n_train]] == targets[:n_train])
    test = np.mean(assign[chosen[n_train:]] == targets[n_train:])
    return train, test, votes


def numpy_variance_metric(obs, L, n_var, n_train, threshold, largest):
    """Kim & Mnih 2018 (smallest relative variance) / Kim et al. 2019 (largest) from the
    observations in the order encoded: the variance draws, then the batches."""
    codes, factors = mixed(obs), obs[:, :3].astype(int)
    global_var = codes[:n_var].var(axis=0, ddof=1)
    active = (np.sqrt(global_var) >= threshold) & (global_var > 0)
    batches = codes[n_var:].reshape(-1, L, codes.shape[1])
    batch_factors = factors[n_var:].reshape(-1, L, 3)
    targets, chosen = [], []
    for z, f in zip(batches, batch_factors):
        constant = (f == f[0]).all(axis=0)
        # the one factor fixed (Z-min) / the one that varies (Z-max)
        targets.append(only_index(~constant if largest else constant, "batch structure"))
        relative = z.var(axis=0, ddof=1) / global_var
        relative[~active] = -np.inf if largest else np.inf
        chosen.append(relative.argmax() if largest else relative.argmin())
    train, test, votes = majority_vote_accuracies(np.array(chosen), np.array(targets), n_train,
                                                  codes.shape[1], 3)
    return (test - 1 / 3) / (1 - 1 / 3), train, test, votes, np.flatnonzero(active)


def noisier(x):
    return x[:, :3] + 3.0 * x[:, 3:]


def numpy_z_diff(obs, L, n_train):
    """Higgins et al. 2017 from the observations: batches of L pairs (first items, then
    second items), sharing one factor; features mean |z_a - z_b|; a logistic regression."""
    codes, factors = noisier(obs), obs[:, :3].astype(int)
    batches = codes.reshape(-1, 2 * L, codes.shape[1])
    batch_factors = factors.reshape(-1, 2 * L, 3)
    targets = np.array([only_index((f[:L] == f[L:]).all(axis=0), "shared factor")
                        for f in batch_factors])
    features = np.abs(batches[:, :L] - batches[:, L:]).mean(axis=1)
    model = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    model.fit(features[:n_train], targets[:n_train])
    test = model.score(features[n_train:], targets[n_train:])
    return (test - 1 / 3) / (1 - 1 / 3), targets


@pytest.mark.parametrize("metric", ["z_min_var", "z_max_var"])
def test_variance_metrics_recomputed_from_the_recorded_batches(metric):
    recorder = Recorder()
    value, details = fastdis.intervention_scores(
        DATA, recorder, metric, random_state=3, encode_batch_size=64, return_details=True,
        **{metric: dict(SMALL_VAR, std_threshold=0.0)})
    obs = recorder.observations()
    d = details[metric]
    assert len(obs) == d["n_observations"] == 500 + 20 * 500
    # encode_batch_size observations a call, whatever the batches, for the variance draws
    # then for the batches
    assert [len(c) for c in recorder.calls] == [64] * 7 + [52] + [64] * 156 + [16]
    expected, train, test, votes, active = numpy_variance_metric(
        obs, 20, 500, 300, 0.0, largest=metric == "z_max_var")
    assert value[metric] == pytest.approx(expected, abs=1e-12)
    assert d["train_accuracy"] == pytest.approx(train) and d["eval_accuracy"] == pytest.approx(test)
    np.testing.assert_array_equal(d["votes"], votes)
    np.testing.assert_array_equal(d["active_codes"], active)
    assert 0.1 < value[metric] < 0.95  # the noisy codes are neither perfect nor useless


def test_z_diff_recomputed_from_the_recorded_batches():
    recorder = Recorder(noisier)  # noisier codes, smaller batches: accuracy < 1
    value, details = fastdis.intervention_scores(
        DATA, recorder, "z_diff", random_state=5, encode_batch_size=100, return_details=True,
        z_diff=dict(SMALL, batch_size=12))
    obs = recorder.observations()
    assert len(obs) == details["z_diff"]["n_observations"] == 2 * 12 * 500
    assert [len(c) for c in recorder.calls] == [100] * 120  # calls span batches
    expected, targets = numpy_z_diff(obs, 12, 300)
    # the two logistic regressions' optima agree; a point on the boundary may differ
    assert value["z_diff"] == pytest.approx(expected, abs=2 / 200)
    assert 0.1 < value["z_diff"] < 0.95
    assert np.bincount(targets, minlength=3).min() > 100  # factors drawn uniformly


def test_pairs_are_drawn_from_the_data_distribution():
    recorder = Recorder()
    fastdis.intervention_scores(DATA, recorder, "z_diff", random_state=0, z_diff=SMALL)
    factors = recorder.observations()[:, :3].astype(int).reshape(-1, 40, 3)
    first = factors[:, :20].reshape(-1, 3)
    for k, size in enumerate(SIZES):  # every value about equally often
        counts = np.bincount(first[:, k], minlength=size)
        assert counts.min() > 0.8 * len(first) / size


def test_perfect_codes_score_one():
    assert scores(perfect) == dict(z_diff=1.0, z_min_var=1.0, z_max_var=1.0)


def test_codes_independent_of_the_factors_score_near_chance():
    rng = np.random.default_rng(0)
    values = scores(lambda x: rng.normal(size=(len(x), 3)))
    for metric, value in values.items():
        assert abs(value) < 0.15, (metric, value)


def array_value(metric, codes, seed, convention):
    options = dict(SMALL_VAR) if metric != "z_diff" else dict(SMALL)
    func = getattr(fastdis, metric)
    return func(GRID, codes, convention=convention, random_state=seed, **options)


@pytest.mark.parametrize("metric, convention", [("z_diff", "dlib"), ("z_min_var", "dlib"),
                                                ("z_max_var", None)])
def test_agrees_in_distribution_with_the_array_metric_on_every_row(metric, convention):
    """On a full grid the array metric draws its batches from the same distribution
    (dlib: values in proportion to their rows, rows with replacement; Z-max: batches larger
    than the groups, drawn with replacement)."""
    codes = fastdis.encode(mixed, DATA.images)
    seeds = range(8)
    fresh = [fastdis.intervention_scores(DATA, mixed, metric, convention=convention,
                                         random_state=s, **{metric: OPTIONS[metric]})[metric]
             for s in seeds]
    arrays = [array_value(metric, codes, s, convention) for s in seeds]
    fresh, arrays = np.array(fresh), np.array(arrays)
    se = np.sqrt(fresh.var(ddof=1) / len(fresh) + arrays.var(ddof=1) / len(arrays))
    assert abs(fresh.mean() - arrays.mean()) <= 4 * se + 0.01, (fresh, arrays)


def test_reproducible_and_independent_of_threads_encoder_calls_and_other_metrics():
    first = scores()
    assert scores() == first
    assert scores(n_threads=1) == first == scores(n_threads=2)
    assert scores(encode_batch_size=7) == first
    assert scores(metrics="z_max_var") == {"z_max_var": first["z_max_var"]}
    assert scores(random_state=1) != first
    generators = [np.random.default_rng(4), np.random.default_rng(4)]
    assert scores(random_state=generators[0]) == scores(random_state=generators[1])


def test_distribution_and_log_variance_outputs_score_their_mean():
    def gaussian(x):
        return mixed(x), np.zeros((len(x), 3))
    assert scores(gaussian) == scores(mixed)


def test_a_user_simulator_follows_the_protocol():
    class Simulator:
        factor_sizes = [2, 3]
        rendered = 0  # the most observations asked for at once

        def sample_factors(self, n, random_state):
            return np.column_stack([random_state.integers(0, s, n) for s in self.factor_sizes])

        def observations(self, factors):
            self.rendered = max(self.rendered, len(factors))
            return [list(f) for f in factors]  # any array-like

    simulator = Simulator()
    value = fastdis.intervention_scores(simulator, lambda x: np.asarray(x, float),
                                        random_state=0, encode_batch_size=100, **OPTIONS)
    assert value == dict(z_diff=1.0, z_min_var=1.0, z_max_var=1.0)
    # memory stays bounded: observations are rendered a block of encoder calls at a time
    assert simulator.rendered == 1000


def test_progress_bar(capsys):
    pytest.importorskip("tqdm")
    scores(progress=True)
    assert "intervention_scores" in capsys.readouterr().err


def test_collapsed_codes():
    def one_live(x):  # code 1 carries factor 0, the others are constant
        out = np.zeros((len(x), 3))
        out[:, 1] = x[:, 0]
        return out
    _, details = scores(one_live, metrics="z_min_var", return_details=True)
    np.testing.assert_array_equal(details["z_min_var"]["active_codes"], [1])
    assert details["z_min_var"]["votes"][[0, 2]].sum() == 0
    constant = lambda x: np.ones((len(x), 2))  # noqa: E731
    for metric in ("z_min_var", "z_max_var", "z_diff"):
        with pytest.warns(fastdis.DegenerateWarning, match=metric):
            value = scores(constant, metrics=metric)[metric]
        assert abs(value) < 0.2
    with pytest.warns(fastdis.DegenerateWarning):
        _, details = scores(constant, metrics="z_min_var", return_details=True)
    assert details["z_min_var"]["n_observations"] == 500  # no batch drawn


def test_conventions_and_settings():
    _, details = scores(metrics="z_min_var", convention="dlib", return_details=True,
                        z_min_var=dict(n_train=50, n_eval=50, n_variance_estimate=100))
    s = details["z_min_var"]["settings"]
    assert s["convention"] == "dlib" and s["batch_size"] == 64 and s["std_threshold"] == 0.05
    assert s["scale"] is False and details["z_min_var"]["n_observations"] == 100 + 64 * 100
    # disentanglement_lib has no Z-max: fastdis's defaults, as in evaluate()
    _, details = scores(metrics="z_max_var", convention="dlib", return_details=True)
    assert details["z_max_var"]["settings"]["convention"] is None
    with pytest.raises(ValueError, match="no z_max_var"):
        scores(metrics="z_max_var", z_max_var=dict(SMALL_VAR, convention="dlib"))


class Shrinking:
    """An encoder whose number of codes changes after its first call."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return mixed(x)[:, :3 if self.calls == 1 else 2]


class NoProtocol:
    factor_sizes = [2, 3]


class Shaped:
    """The grid's protocol with one part broken."""

    def __init__(self, sizes=SIZES, factors_shape=None, drop=0):
        self.factor_sizes, self.factors_shape, self.drop = sizes, factors_shape, drop

    def sample_factors(self, n, random_state):
        f = DATA.sample_factors(n, random_state)
        return f[:, :self.factors_shape] if self.factors_shape else f

    def observations(self, factors):
        return DATA.observations(factors)[self.drop:]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(data=NoProtocol()), TypeError, "data must follow the ground-truth protocol"),
    (dict(data=Shaped(sizes=[3])), ValueError, "data.factor_sizes has 1 factor"),
    (dict(data=Shaped(sizes=3)), TypeError, "data.factor_sizes must be a sequence"),
    (dict(data=Shaped(sizes=[3, 1, 5])), ValueError, r"data.factor_sizes\[1\]"),
    (dict(data=Shaped(factors_shape=2)), ValueError, r"data.sample_factors"),
    (dict(data=Shaped(drop=1)), ValueError, "data.observations gave"),
    (dict(encoder="model"), TypeError, "encoder must be callable"),
    (dict(encoder=lambda x: mixed(x)[1:]), ValueError, "encoder returned .* codes for"),
    (dict(encoder=lambda x: mixed(x) * np.nan), ValueError, "encoder returned NaN"),
    (dict(encoder=Shrinking()), ValueError, "same number"),
    (dict(encoder=lambda x: mixed(x) * 1e200), ValueError, "too large"),
    (dict(z_diff=dict(batch_size=1)), ValueError, r"batch_size \(of z_diff\) must be >= 2"),
    (dict(z_min_var=dict(n_variance_estimate=1)), ValueError, "n_variance_estimate"),
    (dict(z_max_var=dict(std_threshold=-1.0)), ValueError, "std_threshold"),
    (dict(z_diff=dict(n_train=2.5)), TypeError, "n_train"),
    (dict(z_diff=dict(factor_bins=3)), TypeError, "unknown option"),
    (dict(z_diff=3), TypeError, "options for z_diff must be a dict"),
    (dict(mig={}), TypeError, r"unexpected keyword arguments \['mig'\]"),
    (dict(metrics=["z_diff", "mig"]), ValueError, "metrics must be"),
    (dict(metrics=[]), ValueError, "metrics must be"),
    (dict(convention="survey"), ValueError, "convention must be"),
    (dict(encode_batch_size=0), ValueError, "encode_batch_size"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(random_state=-1), ValueError, "random_state"),
])
def test_bad_input_names_the_argument(kwargs, error, match):
    kwargs = dict(kwargs)
    args = dict(data=kwargs.pop("data", DATA), encoder=kwargs.pop("encoder", mixed))
    options = dict(OPTIONS, **kwargs)
    with pytest.raises(error, match=match):
        fastdis.intervention_scores(args["data"], args["encoder"], random_state=0,
                                    **options) if "random_state" not in kwargs else \
            fastdis.intervention_scores(args["data"], args["encoder"], **options)


def test_encode_names_an_encoder_whose_code_count_changes():
    with pytest.raises(ValueError, match="1 codes per observation for some batches and 2"):
        fastdis.encode(lambda x: x[:, :1 + (x[0, 0] > 0)], np.arange(8.0)[:, None] * [1, 1],
                       batch_size=4)


def test_torch_module():
    torch = pytest.importorskip("torch")

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))

        def forward(self, x):
            x = x.to(torch.float64)
            return x[:, :3] * self.scale + 1.5 * x[:, 3:], torch.zeros(len(x), 3)

    assert scores(Encoder()) == scores(mixed)


def test_docstring_example():
    result = doctest.testmod(fastdis.metrics.fresh,
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_no_warning_on_ordinary_codes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores()
