"""Settings of the reference implementations that a ``convention=`` reproduces.

``None`` is fastdis's own default; ``"dlib"`` is google-research/disentanglement_lib;
``"ubisoft"`` is the code of Carbonneau et al. (2023),
ubisoft/ubisoft-laforge-disentanglement-metrics.  Explicit parameters override
what a convention sets.
"""
CONVENTIONS = (None, "dlib", "ubisoft")

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
}


def resolve(metric, convention, table, **given):
    """Settings for ``metric`` under ``convention``, overridden by the given (non-None) values."""
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be None, 'dlib' or 'ubisoft', got {convention!r}")
    if convention is not None and metric not in AVAILABLE[convention]:
        lib = {"dlib": "disentanglement_lib", "ubisoft": "the survey code (ubisoft)"}[convention]
        raise ValueError(f"{lib} has no {metric}: convention={convention!r} is not available "
                         f"for {metric}; use convention=None")
    settings = dict(table[convention])
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings
