"""Bootstrap intervals of the information metrics from their count tables: no pass over
the rows.

A bootstrap replicate resamples the rows with replacement. The tables hold, per factor k,
the counts of every (level, code bin) pair for each code; a replicate of them is drawn as
the rows would give it within each factor: the levels' counts ~ Multinomial(N, the levels'
frequencies), shared by every code, then each level's bins of each code ~ Multinomial(that
level's new count, its bin frequencies). What a table cannot say is how the bins of two
codes go together within a level, nor how two factors' levels do: those draws are
independent, so intervals of quantities that compare factors through a shared code can be
somewhat wider than a bootstrap of the rows. Each replicate's I(v_k; z_j) is computed from
its own table (its own margins), H(v_k) from the factor's resampled level counts and H(z_j)
from factor 0's table of code j, as :func:`fastdis._information.information_from_histogram`
does.
"""
import numpy as np

from ._information import Information, _entropy_of_counts


def replicates(info, n_bootstrap, seed):
    """``n_bootstrap`` resampled :class:`Information` records of ``info`` (which must hold
    its count tables), drawn by ``numpy.random.default_rng(seed)``."""
    if info.tables is None:
        raise ValueError("this information record has no count tables to resample (a "
                         "posterior estimator's): bootstrap intervals need point codes")
    rng = np.random.default_rng(seed)
    n = info.n_samples
    K, d = len(info.tables), info.mutual_info.shape[1]
    for _ in range(n_bootstrap):
        h_factor, h_joint, mi = np.empty(K), np.empty((K, d)), np.empty((K, d))
        h_code = None
        for k, table in enumerate(info.tables):
            level = table[:, 0, :].sum(axis=1)                       # (L,)
            new_level = rng.multinomial(n, level / n)
            rows = table.reshape(-1, table.shape[2]).astype(np.float64)  # (L * d, B)
            totals = rows.sum(axis=1, keepdims=True)
            freq = np.divide(rows, totals, out=np.full_like(rows, 1.0 / rows.shape[1]),
                             where=totals > 0)
            counts = rng.multinomial(np.repeat(new_level, d), freq).reshape(table.shape)
            h_factor[k] = _entropy_of_counts(new_level, n)
            h_joint[k] = _entropy_of_counts(counts.transpose(1, 0, 2).reshape(d, -1), n)
            h_z = _entropy_of_counts(counts.sum(axis=0), n)           # (d,): own margins
            if h_code is None:
                h_code = h_z
            mi[k] = np.clip(h_factor[k] + h_z - h_joint[k], 0.0, np.minimum(h_factor[k], h_z))
        yield Information(mi, h_factor, h_code, h_joint, info.n_bins, n)


def interval(values, confidence):
    """The percentile interval of bootstrap values (NaN ignored; NaN if none)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return (float("nan"), float("nan"))
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return (float(low), float(high))
