"""Settings of the reference implementations that a ``convention=`` reproduces.

``None`` is fastdis's own default; ``"dlib"`` is google-research/disentanglement_lib;
``"ubisoft"`` is the code of Carbonneau et al. (2023),
ubisoft/ubisoft-laforge-disentanglement-metrics; ``"do_tran"`` is Do & Tran's (ICLR 2020)
clarken92/DisentanglementMetrics, for the posterior metrics.  Explicit parameters override
what a convention sets.
"""
CONVENTIONS = (None, "dlib", "ubisoft", "do_tran")

# Information metrics: how codes and factors become labels, and how degenerate
# (zero-entropy) factors and codes are treated.
#   normalize:  "factor" divides MIG-style gaps by H(v_k); "code" by H(z_j) (the survey code's helper)
#   degenerate: "skip" drops constant factors / uninformative codes with a DegenerateWarning;
#               "reference" computes what the reference computes (NaN, 0, ...)
INFORMATION = {
    None: dict(n_bins=20, strategy="uniform", factor_bins=None, normalize="factor",
               degenerate="skip"),
    "dlib": dict(n_bins=20, strategy="uniform", factor_bins=None, normalize="factor",
                 degenerate="reference"),
    # minmax_scale + np.digitize on linspace(0, 1) edges, factors binned too
    # (continuous_factors=True, the signature default), 10 bins, everything in bits
    "ubisoft": dict(n_bins=10, strategy="minmax", factor_bins=10, normalize="code",
                    degenerate="reference"),
}

# Metrics each reference library implements (convention=... is refused otherwise).
AVAILABLE = {
    "dlib": {"mig", "modularity"},
    "ubisoft": {"mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig"},
    # on a posterior (means and variances) only
    "do_tran": {"rmig", "jemmig", "informativeness", "separability", "interpretability"},
}

# Posterior estimators (Do & Tran 2020). The same settings under "do_tran", whose scripts
# default to 100 bins on [-4, 4] and 10,000 samples (their interpretability runs used 200
# bins: pass n_bins=200 to reproduce the paper's tables); the convention changes how the
# estimators compute (fastdis._posterior_quantized, fastdis._posterior_sampling).
#   estimator: the default of informativeness, interpretability, rmig and jemmig;
#              separability needs the joint of all codes and always samples
POSTERIOR = {
    None: dict(estimator="quantized", n_bins=100, bin_range=(-4.0, 4.0), n_samples=10_000),
    "do_tran": dict(estimator="quantized", n_bins=100, bin_range=(-4.0, 4.0), n_samples=10_000),
}


def resolve(metric, convention, table, **given):
    """Settings for ``metric`` under ``convention``, overridden by the given (non-None) values."""
    if convention not in CONVENTIONS:
        names = ["None"] + [repr(c) for c in CONVENTIONS[1:] if metric in AVAILABLE[c]]
        choices = ", ".join(names[:-1]) + f" or {names[-1]}"
        raise ValueError(f"convention must be {choices} for {metric}, got {convention!r}")
    if convention is not None and metric not in AVAILABLE[convention]:
        lib = {"dlib": "disentanglement_lib", "ubisoft": "the survey code (ubisoft)",
               "do_tran": "Do & Tran's code"}[convention]
        raise ValueError(f"{lib} has no {metric}: convention={convention!r} is not available "
                         f"for {metric}; use convention=None")
    settings = dict(table[convention])
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings

# Intervention metrics.  None: the settings of the survey's paper (its config.py), factors
# used as labels; "ubisoft": the survey code's signature defaults, which its reference
# values use (factors min-max binned: continuous_factors=True); "dlib": disentanglement_lib.
_SURVEY_BATCHES = dict(batch_size=200, n_variance_estimate=10000)
INTERVENTION = {
    # by_size: a batch's fixed value is that of a random row (probability proportional to
    # its frequency) rather than uniform over the values; replace: rows with replacement
    "z_diff": {
        None: dict(batch_size=200, n_train=10000, n_eval=5000, max_iter=10000, scale=True,
                   factor_bins=None, by_size=False, replace=False),
        "ubisoft": dict(batch_size=200, n_train=10000, n_eval=5000, max_iter=10000, scale=True,
                        factor_bins=10, by_size=False, replace=False),
        # beta_vae.compute_beta_vae_sklearn: LogisticRegression() defaults, accuracy unscaled
        "dlib": dict(batch_size=64, n_train=10000, n_eval=5000, max_iter=100, scale=False,
                     factor_bins=None, by_size=True, replace=True),
    },
    "z_min_var": {
        None: dict(_SURVEY_BATCHES, n_train=800, n_eval=800, std_threshold=0.02, scale=True,
                   factor_bins=None, by_size=False, replace=False),
        "ubisoft": dict(_SURVEY_BATCHES, n_train=800, n_eval=800, std_threshold=0.05, scale=True,
                        factor_bins=10, by_size=False, replace=False),
        # factor_vae.compute_factor_vae with the gin studies' prune_dims.threshold = 0.05
        "dlib": dict(batch_size=64, n_variance_estimate=10000, n_train=10000, n_eval=5000,
                     std_threshold=0.05, scale=False, factor_bins=None, by_size=True, replace=True),
    },
    "z_max_var": {
        None: dict(_SURVEY_BATCHES, n_train=800, n_eval=800, std_threshold=0.02, scale=True,
                   factor_bins=None, by_size=False, replace=False),
        "ubisoft": dict(_SURVEY_BATCHES, n_train=800, n_eval=800, std_threshold=0.05, scale=True,
                        factor_bins=3, by_size=False, replace=False),
    },
    "irs": {
        None: dict(diff_quantile=1.0, factor_bins=None, factor_strategy="uniform"),
        "ubisoft": dict(diff_quantile=1.0, factor_bins=10, factor_strategy="minmax"),
        # disentanglement_lib bins the factors with its code discretiser (20 histogram bins)
        "dlib": dict(diff_quantile=0.99, factor_bins=20, factor_strategy="uniform"),
    },
}
AVAILABLE["ubisoft"] |= {"z_diff", "z_min_var", "z_max_var", "irs"}
AVAILABLE["dlib"] |= {"irs", "z_diff", "z_min_var", "sap"}
AVAILABLE["ubisoft"] |= {"sap", "explicitness"}
AVAILABLE["dlib"] |= {"explicitness"}
AVAILABLE["ubisoft"] |= {"dci"}


def resolve_metric(metric, convention, **given):
    """Settings of an intervention metric under ``convention``, overridden by given values."""
    return resolve(metric, convention, INTERVENTION[metric], **given)


INFORMATION_METRICS = ("mig", "rmig", "mig_sup", "jemmig", "modularity", "dcimig")
POSTERIOR_METRICS = ("informativeness", "separability", "interpretability")


def settings_table(metric):
    """The conventions table of ``metric``: {convention: settings}."""
    if metric in INFORMATION_METRICS:
        return INFORMATION
    if metric in POSTERIOR_METRICS:
        return POSTERIOR
    if metric in INTERVENTION:
        return INTERVENTION[metric]
    from . import _dci, _explicitness, _sap  # their tables live beside their procedures

    return {"sap": _sap.SAP, "explicitness": _explicitness.EXPLICITNESS, "dci": _dci.DCI}[metric]


def applies(metric, convention):
    """Whether ``convention`` names a reference implementation of ``metric`` on the inputs
    :func:`fastdis.evaluate` gives it (``"do_tran"``: the posterior metrics; the information
    metrics there read point codes)."""
    if convention is None or metric not in AVAILABLE[convention]:
        return False
    return convention != "do_tran" or metric in POSTERIOR_METRICS


def effective_settings(metric, convention, options):
    """The settings ``metric`` runs with under ``convention`` and the given keyword
    ``options`` (those of its table; None values are defaults)."""
    table = settings_table(metric)
    settings = dict(table[convention if convention in table else None])
    settings.update({k: v for k, v in options.items() if k in settings and v is not None})
    return settings
