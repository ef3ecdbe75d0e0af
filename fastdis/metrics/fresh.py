"""Z-diff, Z-min and Z-max variance of an encoder on fresh interventional batches
(:mod:`fastdis.metrics._fresh_batches`), as disentanglement_lib evaluates a model.

The batches differ from the array metrics' (:mod:`fastdis.metrics.intervention`) only in
where their rows come from: new draws of the factors, not rows of a fixed array. Everything
after the batch reductions (the logistic regression of Z-diff, the majority vote of the
variance metrics) is the array metrics' own code.
"""
import warnings

import numpy as np

from .._progress import progress_bar
from .._random import check_random_state
from .._validation import check_int, check_n_threads
from .._warnings import DegenerateWarning
from ._conventions import CONVENTIONS, applies, resolve_metric
from ._fresh_batches import (Encoder, Protocol, batch_features, batch_variance, fixed_batches,
                             mean_abs_difference, pair_batches, rounds)
from ._sampling import check_real, rescale_accuracy
from .intervention import (_active_codes, _check_two_classes, _classify, _majority_vote,
                           _no_active_code)

__all__ = ["intervention_scores"]

METRICS = ("z_diff", "z_min_var", "z_max_var")
# The settings that apply to batches drawn from a generative protocol (the tables' others,
# factor_bins / by_size / replace, say how rows of an array are picked).
_SETTINGS = {
    "z_diff": ("batch_size", "n_train", "n_eval", "max_iter", "scale"),
    "z_min_var": ("batch_size", "n_train", "n_eval", "n_variance_estimate", "std_threshold",
                  "scale"),
}
_SETTINGS["z_max_var"] = _SETTINGS["z_min_var"]


def _z_diff(protocol, encoder, rng, s, nt):
    L, K = s["batch_size"], protocol.n_factors
    n_train = s["n_train"]
    targets = rng.integers(0, K, size=n_train + s["n_eval"])
    _check_two_classes(targets, n_train)
    features = batch_features(protocol, encoder, rounds(targets, pair_batches(protocol, rng, L)),
                              2 * L, mean_abs_difference)
    if not features.any():
        warnings.warn("z_diff: every code is constant on the batches drawn, so every feature "
                      "is 0: the classifier can only guess the most frequent factor of the "
                      "training batches (a score near 0)", DegenerateWarning, stacklevel=3)
    train_acc, eval_acc = _classify(features, np.zeros(features.shape[1], dtype=np.int64),
                                    targets, n_train, s["max_iter"], nt)
    details = dict(train_accuracy=train_acc, eval_accuracy=eval_acc)
    return rescale_accuracy(eval_acc, K, s["scale"]), details


def _variance_vote(metric, protocol, encoder, rng, s, nt):
    L, K = s["batch_size"], protocol.n_factors
    n_var = s["n_variance_estimate"]
    # the global scale from fresh draws of the factors (factor_vae.py's _compute_variances)
    global_var = batch_features(protocol, encoder, iter([protocol.sample(n_var, rng)]), n_var,
                                batch_variance)[0]
    active, details = _active_codes(global_var, s["std_threshold"])
    if not active.any():
        return _no_active_code(metric, s["std_threshold"], details, len(global_var), K, True,
                               stacklevel=4)
    targets = rng.integers(0, K, size=s["n_train"] + s["n_eval"])
    draw = fixed_batches(protocol, rng, L, vary_one=metric == "z_max_var")
    variances = batch_features(protocol, encoder, rounds(targets, draw), L, batch_variance)
    train_acc, eval_acc, votes = _majority_vote(variances, global_var, active, targets,
                                                s["n_train"], K, argmax=metric == "z_max_var")
    details.update(train_accuracy=train_acc, eval_accuracy=eval_acc, votes=votes)
    return rescale_accuracy(eval_acc, K, s["scale"]), details


def _settings(metric, convention, options):
    """The checked settings of ``metric``: its conventions table under ``convention`` (where
    that reference has the metric), overridden by ``options``."""
    options = dict(options)
    unknown = sorted(set(options) - set(_SETTINGS[metric]) - {"convention"})
    if unknown:
        raise TypeError(f"{metric}: unknown option(s) {unknown} for fresh batches; options: "
                        f"{', '.join(_SETTINGS[metric])}, convention")
    convention = options.pop("convention", convention if applies(metric, convention) else None)
    s = resolve_metric(metric, convention, **options)
    for name, low in (("batch_size", 2), ("n_train", 1), ("n_eval", 1), ("max_iter", 1),
                      ("n_variance_estimate", 2)):
        if name in _SETTINGS[metric]:
            s[name] = check_int(s[name], f"{name} (of {metric})", low)
    if "std_threshold" in _SETTINGS[metric]:
        s["std_threshold"] = check_real(s["std_threshold"], f"std_threshold (of {metric})", 0.0)
    return convention, {name: s[name] for name in _SETTINGS[metric]}


def _observations(metric, s):
    """How many observations ``metric`` encodes (at most: a degenerate Z-min stops early)."""
    batches = s["n_train"] + s["n_eval"]
    if metric == "z_diff":
        return 2 * s["batch_size"] * batches
    return s["n_variance_estimate"] + s["batch_size"] * batches


def intervention_scores(data, encoder, metrics=METRICS, *, convention=None, random_state=None,
                        n_threads=None, encode_batch_size=256, device=None, progress=None,
                        return_details=False, **options):
    """Z-diff, Z-min and Z-max variance of an encoder, on fresh interventional batches drawn
    from a data set's generative protocol (Higgins et al. 2017; Kim & Mnih 2018; Kim et al.
    2019), as disentanglement_lib evaluates a model.

    The array metrics (:func:`z_diff`, :func:`z_min_var`, :func:`z_max_var`) draw their
    batches among the rows of fixed (factors, codes) arrays. Here each batch draws new factor
    values with ``data.sample_factors``, intervenes on them as the metric's paper describes,
    renders them with ``data.observations`` and encodes them:

    * ``z_diff``: ``batch_size`` pairs of independent draws in which the second of each pair
      takes the first's value of factor ``k``; the feature is
      :math:`\\frac{1}{L} \\sum_l |z(x^{(l)}_a) - z(x^{(l)}_b)|`, and a logistic regression
      tells ``k`` from it (disentanglement_lib's ``compute_beta_vae_sklearn``);
    * ``z_min_var``: ``batch_size`` draws with factor ``k`` fixed to one drawn value; the
      code of least variance relative to its global variance (estimated on
      ``n_variance_estimate`` fresh draws; codes whose global standard deviation is below
      ``std_threshold`` are pruned) votes for ``k`` (``compute_factor_vae``);
    * ``z_max_var``: ``batch_size`` draws with every factor but ``k`` fixed; the code of
      largest relative variance votes for ``k``.

    Each score is the accuracy on ``n_eval`` fresh batches of the classifier trained on
    ``n_train`` batches, rescaled (with ``scale``) so that chance is 0:

    .. math:: \\mathrm{score} = \\frac{\\mathrm{acc} - 1/K}{1 - 1/K}

    Parameters
    ----------
    data : object
        A ground-truth data set following the protocol of disentanglement_lib's
        ``GroundTruthData``, as :class:`fastdis.datasets.GroundTruthData` (the loaders'
        return) does: ``factor_sizes`` (the number of values of each factor; two factors or
        more, two values or more each), ``sample_factors(n, random_state)`` -> an array
        (n, n_factors) of factor values drawn from the data's distribution (it receives a
        ``numpy.random.Generator`` and must draw all its randomness from it) and
        ``observations(factors)`` -> the encoder's inputs for those factor values, in their
        order (an array or torch tensor, first axis n). A simulator qualifies.
    encoder : callable
        What :func:`fastdis.encode` accepts: a ``torch.nn.Module`` or a function of a batch
        of observations returning codes (n, n_codes), a distribution or a
        ``(mean, log_variance)`` pair (the mean is the representation, as in
        disentanglement_lib). It must treat rows independently (a module runs in ``eval()``
        mode).
    metrics : str or sequence of str, default=("z_diff", "z_min_var", "z_max_var")
    convention : {None, "dlib", "ubisoft"}, optional
        Settings of a reference, for the metrics it implements (the others keep fastdis's
        defaults, as in :func:`evaluate`): ``"dlib"`` gives disentanglement_lib's gin
        studies (batches of 64, 10,000 training and 5,000 evaluation batches, 10,000
        variance draws, ``std_threshold=0.05``, accuracies unscaled, Z-diff's
        ``LogisticRegression`` with ``max_iter=100``); ``"ubisoft"`` the survey code's
        (``std_threshold=0.05``). Factor binning does not apply: the factors are the data
        set's own.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Seed of the draws (:func:`fastdis._random.check_random_state`); each metric draws
        from its own stream, so its value does not depend on the other metrics asked for.
    n_threads : int, optional
        Threads of Z-diff's logistic regression; default all available. The value does not
        depend on it.
    encode_batch_size : int, default=256
        Observations per encoder call; a call may span batches. The value does not depend
        on it (for an encoder that treats rows independently).
    device : str or torch.device, optional
        Where a torch encoder runs (as in :func:`fastdis.encode`).
    progress : bool, optional
        A progress bar over the observations encoded (needs tqdm); default when stderr is a
        terminal.
    return_details : bool, default=False
        Also return, per metric, the details of the array metric (``train_accuracy``,
        ``eval_accuracy``; ``votes``, ``active_codes``, ``num_active_dims``) with
        ``n_observations`` (observations encoded) and ``settings`` (those it ran with).
    **options : dict
        Per-metric settings keyed by metric name, e.g. ``z_diff={"batch_size": 64}``:
        ``batch_size``, ``n_train``, ``n_eval``, ``scale`` and ``convention`` for every
        metric, ``max_iter`` for ``z_diff``, ``n_variance_estimate`` and ``std_threshold``
        for the variance metrics. Defaults: those of the array metrics (their
        conventions' table).

    Returns
    -------
    scores : dict
        Metric name -> score, in the order asked for.
    details : dict, only with ``return_details=True``
        Metric name -> dict.

    Raises
    ------
    TypeError
        ``data`` without the protocol, an encoder that is not callable, unknown options.
    ValueError
        Bad settings; data or an encoder that break the protocol (wrong shapes, NaN codes).

    Notes
    -----
    Memory stays bounded whatever the counts: factors are drawn by rounds of 64 batches,
    and codes are reduced to one feature row per batch as soon as the batch is complete.
    The encoder sees ``2 * batch_size * (n_train + n_eval)`` observations for Z-diff and
    ``n_variance_estimate + batch_size * (n_train + n_eval)`` for each variance metric:
    6.7 million for the three under the defaults (6 million for Z-diff's 15,000 batches of
    200 pairs), 2.9 million for Z-diff and Z-min under ``"dlib"``.

    Differences from disentanglement_lib, as in the array metrics: Z-min's pruned codes
    never win the vote (its ``argmin`` over the active codes indexes the votes as if no code
    had been pruned), a code of zero variance never votes, and ``num_active_dims`` counts
    the active codes (it reports all). Observations are rendered as ``data`` renders them:
    randomness that disentanglement_lib's ``sample_observations_from_factors`` adds
    (SmallNORB's instance) belongs in ``observations`` here. The values equal, in
    distribution, those of the array metrics with ``convention="dlib"`` on the codes of
    every row of a full factor grid; the random streams differ, so not seed for seed.

    Examples
    --------
    >>> import numpy as np, fastdis
    >>> from fastdis.datasets import GroundTruthData
    >>> grid = np.stack(np.meshgrid(*map(np.arange, (3, 4, 5)), indexing="ij"), -1).reshape(-1, 3)
    >>> data = GroundTruthData(grid * 1.0, grid, ["a", "b", "c"], [3, 4, 5])  # images: the factors
    >>> small = dict(n_train=200, n_eval=100)
    >>> scores = fastdis.intervention_scores(
    ...     data, lambda x: 2.0 * x, random_state=0, z_diff=small,
    ...     z_min_var=dict(small, n_variance_estimate=1000), z_max_var=small)
    >>> scores
    {'z_diff': 1.0, 'z_min_var': 1.0, 'z_max_var': 1.0}

    References
    ----------
    Higgins et al., "beta-VAE: learning basic visual concepts with a constrained variational
    framework", ICLR 2017 (openreview.net/forum?id=Sy2fzU9gl).
    Kim & Mnih, "Disentangling by factorising", ICML 2018, arXiv:1802.05983.
    Kim, Wang, Sahu & Pavlovic, "Relevance factor VAE: learning and identifying disentangled
    factors", arXiv:1902.01568, 2019.
    Locatello et al., "Challenging common assumptions in the unsupervised learning of
    disentangled representations", ICML 2019, arXiv:1811.12359
    (github.com/google-research/disentanglement_lib).
    """
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    bad = [m for m in names if m not in METRICS]
    if bad or not names or len(set(names)) != len(names):
        raise ValueError(f"metrics must be distinct names among {', '.join(METRICS)}, got "
                         f"{metrics!r}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    unknown = sorted(set(options) - set(METRICS))
    if unknown:
        raise TypeError(f"intervention_scores() got unexpected keyword arguments {unknown}: "
                        f"options are keyed by metric name ({', '.join(METRICS)})")
    not_dict = [(k, v) for k, v in options.items() if not isinstance(v, dict)]
    if not_dict:
        raise TypeError(f"options for {not_dict[0][0]} must be a dict of keyword arguments, "
                        f"got {type(not_dict[0][1]).__name__}")
    settings = {m: _settings(m, convention, {k: v for k, v in options.get(m, {}).items()
                                             if v is not None}) for m in names}
    protocol = Protocol(data)
    encode_batch_size = check_int(encode_batch_size, "encode_batch_size", 1)
    nt = check_n_threads(n_threads)
    if not callable(encoder):
        raise TypeError(f"encoder must be callable (a torch Module or a function), got "
                        f"{type(encoder).__name__}")
    seed = check_random_state(random_state)
    total = sum(_observations(m, s) for m, (_, s) in settings.items())
    scores, details = {}, {}
    with progress_bar(total, "intervention_scores", progress) as bar:
        for m in names:
            used, s = settings[m]
            # its own stream: a metric's value does not depend on the others asked for
            rng = np.random.default_rng([seed, METRICS.index(m)])
            run = Encoder(encoder, encode_batch_size, device, bar)
            if m == "z_diff":
                scores[m], details[m] = _z_diff(protocol, run, rng, s, nt)
            else:
                scores[m], details[m] = _variance_vote(m, protocol, run, rng, s, nt)
            details[m].update(n_observations=run.calls, settings=dict(s, convention=used))
    return (scores, details) if return_details else scores
