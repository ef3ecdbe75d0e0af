"""``evaluate``: every metric in one call, sharing the work they have in common."""
import inspect
import math
import time
import warnings

import numpy as np

from . import _dask
from . import metrics as _metrics
from ._discretize import column_ranges
from ._progress import progress_bar
from ._random import check_random_state
from ._report import PARTS
from ._shared import sharing
from ._threads import limit_threads, total_threads
from ._validation import check_codes, check_factors, check_int, check_n_threads, check_pair
from .metrics._conventions import CONVENTIONS, applies, effective_settings
from .metrics._fitting import value_counts

_DO_TRAN = ("Do & Tran 2020, Theory and evaluation metrics for learning disentangled "
            "representations (ICLR)")

# name -> (family, paper)
_REGISTRY = {
    "mig": ("information", "Chen et al. 2018, Isolating sources of disentanglement in VAEs (NeurIPS)"),
    "rmig": ("information", "Do & Tran 2020, Theory and evaluation metrics for learning "
             "disentangled representations (ICLR)"),
    "mig_sup": ("information", "Li et al. 2020, Progressive learning and disentanglement of "
                "hierarchical representations (ICLR)"),
    "jemmig": ("information", "Do & Tran 2020, Theory and evaluation metrics for learning "
               "disentangled representations (ICLR)"),
    "modularity": ("information", "Ridgeway & Mozer 2018, Learning deep disentangled embeddings "
                   "with the F-statistic loss (NeurIPS)"),
    "dcimig": ("information", "Sepliarskaia et al. 2019, Evaluating disentangled representations "
               "(arXiv:1910.05587)"),
    "z_diff": ("intervention", "Higgins et al. 2017, beta-VAE: learning basic visual concepts "
               "with a constrained variational framework (ICLR)"),
    "z_min_var": ("intervention", "Kim & Mnih 2018, Disentangling by factorising (ICML)"),
    "z_max_var": ("intervention", "Kim et al. 2019, Relevance factor VAE (arXiv:1902.01568)"),
    "irs": ("intervention", "Suter et al. 2019, Robustly disentangled causal mechanisms (ICML)"),
    "sap": ("predictor", "Kumar et al. 2018, Variational inference of disentangled latent "
            "concepts from unlabeled observations (ICLR)"),
    "explicitness": ("predictor", "Ridgeway & Mozer 2018, Learning deep disentangled embeddings "
                     "with the F-statistic loss (NeurIPS)"),
    "dci": ("predictor", "Eastwood & Williams 2018, A framework for the quantitative evaluation "
            "of disentangled representations (ICLR)"),
    # on the encoder's posterior: evaluate(..., var=) (codes are then its means);
    # interpretability first: its quantised record (with the factor tables) then serves
    # informativeness too, instead of a second pass without them
    "interpretability": ("posterior", _DO_TRAN),
    "informativeness": ("posterior", _DO_TRAN),
    "separability": ("posterior", _DO_TRAN),
}
_FAMILIES = ("information", "intervention", "predictor", "posterior")


def available_metrics(family=None):
    """The metric names :func:`evaluate` knows, with the paper of each.

    Parameters
    ----------
    family : {"information", "intervention", "predictor", "posterior"}, optional
        Only the metrics of this family (Carbonneau et al. 2023's taxonomy, and Do & Tran's
        posterior properties, which need the encoder's variances).

    Returns
    -------
    dict
        Metric name -> paper, in a stable order (information, intervention, predictor,
        posterior).

    Examples
    --------
    >>> import fastdis
    >>> list(fastdis.available_metrics("predictor"))
    ['sap', 'explicitness', 'dci']
    """
    if family is not None and family not in _FAMILIES:
        raise ValueError(f"family must be None, 'information', 'intervention', 'predictor' or "
                         f"'posterior', got {family!r}")
    return {name: paper for name, (fam, paper) in _REGISTRY.items()
            if family is None or fam == family}


def _names(metrics, posterior):
    """Metric names from "all", a family name, or a list of names and family names; "all"
    includes the posterior family only when the posterior is given."""
    items = [metrics] if isinstance(metrics, str) else metrics
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"metrics must be 'all', a family name or a list of metric names, "
                        f"got {type(metrics).__name__}") from None
    names = []
    for item in items:
        if item == "all":
            names += [n for n, (fam, _) in _REGISTRY.items() if posterior or fam != "posterior"]
        elif item in _FAMILIES:
            names += list(available_metrics(item))
        elif item in _REGISTRY:
            names.append(item)
        else:
            raise ValueError(f"unknown metric {item!r}; available: {', '.join(_REGISTRY)} "
                             "(or a family: information, intervention, predictor, posterior)")
    if not names:
        raise ValueError("metrics is empty: name at least one metric")
    needs = [n for n in names if _REGISTRY[n][0] == "posterior"]
    if needs and not posterior:
        raise ValueError(f"{needs[0]} is computed on the encoder's posterior: give its spread "
                         "(var=, std= or logvar=; codes are then its means)")
    return list(dict.fromkeys(names))


def _column_names(x, given, n, what):
    if given is not None:
        names = [str(v) for v in given]
        if len(names) != n:
            raise ValueError(f"{what}_names has {len(names)} names for {n} {what} columns")
        return names
    columns = getattr(x, "columns", None)  # pandas / polars data frames
    if columns is not None and len(columns) == n:
        return [str(c) for c in columns]
    return [f"{what}{i}" for i in range(n)]


# Rows read to decide whether factors and codes look swapped: enough to tell a continuous
# column (values almost never repeat) from a discrete one, and cheap on any data size.
_SWAP_SAMPLE = 10_000


def _distinct(x, rows):
    return np.array(value_counts(x, rows))


def check_not_swapped(factors, codes):
    """Raise ValueError when the factors look continuous while the codes look discrete.

    Factors look continuous when most of their columns have more distinct values than half
    the rows (the rule of :func:`fastdis._validation.continuous_looking`); codes look
    discrete when none of their columns does. That is what codes passed as factors and
    factors passed as codes look like, and such a run can take hours: every factor value
    becomes a class. The decision is made on at most ``_SWAP_SAMPLE`` evenly spaced rows
    and confirmed on every row.

    Parameters
    ----------
    factors, codes : ndarray of shape (n_samples, n_columns)
        Validated by :func:`fastdis._validation.check_pair`.
    """
    if factors.dtype.kind not in "iuf":  # text labels are labels, never codes
        return
    n = factors.shape[0]
    rows = slice(None) if n <= _SWAP_SAMPLE else np.linspace(0, n - 1, _SWAP_SAMPLE).astype(np.intp)
    m = min(n, _SWAP_SAMPLE)

    def mostly_continuous(levels, n_rows):
        return 2 * np.count_nonzero(levels > n_rows // 2) > len(levels)

    f_levels = _distinct(factors, rows)
    if not mostly_continuous(f_levels, m):
        return
    c_levels = _distinct(codes, rows)
    if c_levels.max() > m // 2:
        return
    if m < n:  # a factor with many levels can look continuous in a sample only
        f_levels = _distinct(factors, slice(None))
        if not mostly_continuous(f_levels, n):
            return
    many = np.flatnonzero(f_levels > n // 2)
    k = int(many[0])
    raise ValueError(
        f"factors and codes look swapped: factors look continuous ({len(many)} of "
        f"{factors.shape[1]} columns have more distinct values than half the rows, e.g. column "
        f"{k}: {int(f_levels[k])} in {n} rows) while codes look discrete (at most "
        f"{int(c_levels.max())} distinct values per column{' in a sample' if m < n else ''}); "
        "pass the factors first. If this order is right, bin the factors first "
        "(fastdis.discretize) or call the metric functions one by one")


def _check_not_swapped_chunked(factors, codes):
    """:func:`check_not_swapped` for dask arrays: decided on evenly spaced rows, confirmed
    with the factors' exact numbers of levels (the first pass over the chunks)."""
    stats = _dask.shared_statistics(factors, codes, _SWAP_SAMPLE)
    f, c = stats["sample"]
    try:
        check_not_swapped(check_factors(f, min_samples=1), check_codes(c, min_samples=1))
    except ValueError:
        if stats["sampled"]:  # exact counts of levels, to confirm
            stats = _dask.statistics(factors, codes, code_ranges=False, exact_levels=True)
        n_levels = np.array([len(v) for v in stats["levels"]])
        if 2 * np.count_nonzero(n_levels > factors.shape[0] // 2) > len(n_levels):
            raise


def _bootstrap_interval(name, func, factors, codes, kwargs, n_bootstrap, confidence, seed):
    """The percentile interval of an information metric over bootstrap replicates of its
    count tables (the record is the one the metric used: shared)."""
    import warnings as _warnings

    from ._bootstrap import interval, replicates
    from .metrics.information import information_record

    info, formula = information_record(name, factors, codes, kwargs)
    values = []
    with _warnings.catch_warnings():  # a replicate's constant factor: the metric's own warning
        _warnings.simplefilter("ignore")
        for rep in replicates(info, n_bootstrap, seed):
            values.append(func(rep, **formula))
    return interval(values, confidence)


def _nan_parts(name, result):
    """Whether a metric's value (a float, or a result object's parts) is NaN."""
    parts = [getattr(result, p) for p in PARTS[name]] \
        if name in PARTS and not isinstance(result, float) else [result]
    return any(isinstance(v, (float, np.floating)) and math.isnan(v) for v in parts)


def _call(name, func, factors, codes, post, kwargs):
    """One metric on the validated inputs; the posterior family reads ``post`` (the same
    validated arrays for each, so they share the estimators' records)."""
    if _REGISTRY[name][0] != "posterior":
        return func(factors, codes, **kwargs)
    chunked = isinstance(post, _dask.ChunkedPosterior)
    kwargs.update({post.name: post.spread} if chunked else {"std": post.std})
    if name == "informativeness":
        info, details = func(post.mu, **kwargs)
        return float(np.mean(info)), dict(details, per_code=info)
    kwargs.pop("return_details", None)
    result = func(post.mu, **kwargs) if name == "separability" \
        else func(factors, post.mu, **kwargs)
    return result, result.to_dict()


def evaluate(factors, codes, metrics="all", *, var=None, std=None, logvar=None, random_state=0,
             n_threads=None, progress=None, factor_names=None, code_names=None,
             on_error="record", convention=None, n_bootstrap=0, confidence=0.95, **options):
    """Compute several metrics at once, sharing the work they have in common.

    One validation of the inputs, one min/max pass over the codes, one discretisation and
    joint-histogram pass for all information metrics with the same binning, one encoding
    of the factors and one grouping of rows per factor for all intervention metrics; the
    predictor metrics use the same seeded split. Values equal those of the individual
    metric functions called with the same arguments.

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Ground-truth factors: numpy arrays of any dtype and layout, memmaps, pandas data
        frames (their column names name the factors), torch tensors on the CPU (no copy)
        or anything with ``__array__`` or ``__dlpack__``.
    codes : array-like of shape (n_samples, n_codes)
        The representation, as above.
    metrics : str or list of str, default="all"
        Names from :func:`available_metrics`, family names (``"information"``,
        ``"intervention"``, ``"predictor"``, ``"posterior"``) or ``"all"``, alone or in a
        list. ``"all"`` includes the posterior family when a spread is given.
    var, std, logvar : array-like of shape (n_samples, n_codes), optional
        The encoder's posterior spread (exactly one: variances, standard deviations or
        log-variances; ``codes`` are then the posterior means). Adds Do & Tran's
        posterior properties: :func:`informativeness` (the report's value is the mean
        over codes, in nats; per code in the details), :func:`separability` and
        :func:`interpretability` (result objects: ``report["separability.wsepin"]``,
        ``report["interpretability.rmig"]``). The other metrics read the means.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState, default=0
        Turned into one integer seed once (:func:`fastdis._random.check_random_state`: None
        draws a fresh one) and passed to every metric; the seed used is recorded in
        ``Report.settings``, and the same seed gives the same report.
    n_threads : int, optional
        Threads for every metric; default all available.
    progress : bool, optional
        A progress bar over metrics on stderr (needs tqdm); default: when stderr is a
        terminal.
    factor_names, code_names : list of str, optional
        Names for the report and plots; default the data frame's columns, else
        ``factor0, ...`` / ``code0, ...``.
    on_error : {"record", "raise"}, default="record"
        What to do when one metric raises on these data (any ``Exception``: e.g. Z-max on
        factors that never repeat a combination, a ``MemoryError``, an error inside
        scikit-learn): record NaN and ``"<exception type>: <message>"`` in
        ``Report.errors`` (with a ``RuntimeWarning``) and go on with the next metric, or
        raise. A metric that returns NaN (its score is undefined on these data, with its
        own warning) is recorded in ``Report.errors`` too, as ``"gave NaN"``. Bad input
        (shapes, NaN, dtypes no metric accepts, factors and codes that look swapped) always
        raises, before any metric runs.
    convention : {None, "dlib", "ubisoft", "do_tran"}, optional
        Reproduce one reference implementation: every metric that it implements runs with
        ``convention=`` it (``"do_tran"``: the posterior metrics); the others keep
        fastdis's default. A metric's own ``convention`` in ``options`` wins. The report's
        ``settings["effective"]`` records, per metric, the convention and every setting
        it ran with.
    n_bootstrap : int, default=0
        Bootstrap replicates for intervals of the information metrics (``Report.intervals``),
        drawn from their count tables, not from the rows (see :mod:`fastdis._bootstrap`:
        within each factor the rows' resampling is reproduced; across codes and factors the
        tables are resampled independently). 0: no intervals.
    confidence : float, default=0.95
        Level of the bootstrap's percentile intervals.
    **options : dict
        Per-metric keyword arguments, keyed by metric name, e.g.
        ``dci={"estimator": "hist_gradient_boosting"}`` or ``mig={"convention": "dlib"}``.

    Raises
    ------
    ValueError
        Bad input, or factors that look continuous while the codes look discrete (the
        arguments look swapped: see :func:`check_not_swapped`).
    TypeError
        Inputs of a type no metric accepts, or options that are not keyword dicts.

    Returns
    -------
    Report
        Mapping of metric name -> value (``Report["dci"]`` is a :class:`DCIResult`;
        ``Report["dci.disentanglement"]`` etc. are floats), with details, settings, times.

    Examples
    --------
    >>> import fastdis
    >>> factors, codes = fastdis.datasets.make_dsprites_like("perfect", small=True)
    >>> report = fastdis.evaluate(factors, codes, metrics=["mig", "modularity"])
    >>> list(report), report["mig"] > 0.8
    (['mig', 'modularity'], True)
    """
    if on_error not in ("record", "raise"):
        raise ValueError(f"on_error must be 'record' or 'raise', got {on_error!r}")
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", 0, 100_000)
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if convention not in CONVENTIONS:
        raise ValueError("convention must be None, " + ", ".join(map(repr, CONVENTIONS[1:]))
                         + f", got {convention!r}")
    spread = {k: v for k, v in (("var", var), ("std", std), ("logvar", logvar)) if v is not None}
    names = _names(metrics, bool(spread))
    for key, value in options.items():
        if key not in _REGISTRY:
            raise TypeError(f"evaluate() got an unexpected keyword argument {key!r} (per-metric "
                            f"options are keyed by metric name: {', '.join(_REGISTRY)})")
        if not isinstance(value, dict):
            raise TypeError(f"options for {key} must be a dict of keyword arguments, "
                            f"got {type(value).__name__}")
    raw_factors, raw_codes = factors, codes
    chunked = _dask.any_dask(factors, codes, *spread.values())
    factors, codes = (_dask.check_pair if chunked else check_pair)(factors, codes)
    nt = check_n_threads(n_threads)
    seed = check_random_state(random_state)
    if not chunked:  # (chunked: in the first pass over the chunks, below)
        check_not_swapped(factors, codes)
    post = None
    if spread:
        from ._posterior import check_posterior

        # dask arrays: a ChunkedPosterior, whose chunks are validated when read
        post = check_posterior(codes, **spread, mu_name="codes")
    from ._report import Report

    report = Report(
        n_samples=factors.shape[0],
        factor_names=_column_names(raw_factors, factor_names, factors.shape[1], "factor"),
        code_names=_column_names(raw_codes, code_names, codes.shape[1], "code"),
        settings=dict(random_state=seed, n_threads=n_threads, convention=convention,
                      options={k: dict(v) for k, v in options.items()},
                      posterior=next(iter(spread), None), effective={}))
    # n_threads is the total: a metric's own BLAS / OpenMP pools stay within it too
    with sharing(), limit_threads(total_threads(nt)), \
            progress_bar(len(names), "fastdis", progress) as bar:
        if chunked:  # swapped arguments, NaN / inf: raise now (the first pass, shared)
            _check_not_swapped_chunked(factors, codes)
        else:
            column_ranges(codes, nt)
        for name in names:
            func = getattr(_metrics, name)
            kwargs = dict(random_state=seed, n_threads=n_threads)
            if "return_details" in inspect.signature(func).parameters and name != "dci":
                kwargs["return_details"] = True
            if name == "dci":
                kwargs["progress"] = False
            if applies(name, convention):
                kwargs["convention"] = convention
            kwargs.update(options.get(name, {}))
            report.settings["effective"][name] = dict(
                effective_settings(name, kwargs.get("convention"), kwargs),
                convention=kwargs.get("convention"))
            bar.set_postfix_str(name)
            t0 = time.perf_counter()
            try:
                args = (factors, codes)  # dask arrays: every metric reads them by chunks
                result = _call(name, func, *args, post, kwargs)
            except Exception as exc:  # noqa: BLE001 - the inputs passed check_pair above: this
                if on_error == "raise":  # metric cannot use these data; the others still can
                    raise
                error = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"evaluate: {name} could not be computed: {error}", RuntimeWarning,
                              stacklevel=2)
                report._add(name, float("nan"), None, time.perf_counter() - t0, error=error)
            else:
                details = None
                if isinstance(result, tuple):
                    result, details = result
                report._add(name, result, details, time.perf_counter() - t0,
                            error="gave NaN" if _nan_parts(name, result) else None)
                if n_bootstrap and _REGISTRY[name][0] == "information":
                    report.intervals[name] = _bootstrap_interval(
                        name, func, *args, kwargs, n_bootstrap, confidence, seed)
            bar.update()
    return report
