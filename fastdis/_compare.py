"""``compare``: several models, several seeds each, one table and one plot."""
import math
import os

import numpy as np


class Comparison:
    """Metrics of several models over seeds: :attr:`table` (per metric and model: number of
    runs, mean, standard deviation, confidence interval of the mean) and :attr:`runs`
    (every value: model, run, metric). Made by :func:`compare`.

    Attributes
    ----------
    table : pandas.DataFrame
        Index (metric, model); columns ``n``, ``mean``, ``std`` (ddof=1; NaN for one run),
        ``ci_low``, ``ci_high`` (Student's t interval of the mean at ``confidence``).
    runs : pandas.DataFrame
        Columns ``model``, ``run`` (0, 1, ... within the model), ``metric``, ``value``.
    confidence : float
    """

    def __init__(self, runs, confidence):
        self.runs = runs
        self.confidence = confidence
        self.table = _summary(runs, confidence)

    def __repr__(self):
        return f"Comparison ({self.confidence:.0%} intervals)\n{self.table}"

    def _repr_html_(self):
        return self.table._repr_html_()

    def plot(self, metrics=None, path=None):
        """One panel per metric: each model's runs as points, their mean and confidence
        interval as a bar.

        Parameters
        ----------
        metrics : list of str, optional
            The panels; default every metric of :attr:`runs`.
        path : str or path-like, optional
            Also save the figure there (e.g. ``comparison.png``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ._plots import pyplot

        plt = pyplot()
        names = list(dict.fromkeys(self.runs["metric"])) if metrics is None else list(metrics)
        models = list(dict.fromkeys(self.runs["model"]))
        cols = min(4, len(names))
        rows = math.ceil(len(names) / cols)
        fig, axes = plt.subplots(rows, cols, squeeze=False,
                                 figsize=(min(14.0, 0.5 + cols * (0.9 + 0.6 * len(models))),
                                          2.6 * rows))
        for ax, metric in zip(axes.ravel(), names):
            for i, model in enumerate(models):
                values = self.runs[(self.runs["metric"] == metric) &
                                   (self.runs["model"] == model)]["value"].to_numpy(float)
                jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
                ax.plot(i + np.asarray(jitter), values, "o", ms=4, alpha=0.7, color=f"C{i}")
                row = self.table.loc[(metric, model)]
                if np.isfinite(row["ci_low"]):
                    ax.errorbar(i + 0.3, row["mean"], fmt="s", color="0.2", ms=4,
                                yerr=[[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]])
            ax.set_xticks(range(len(models)), models, rotation=30, ha="right", fontsize=8)
            ax.set_title(metric, fontsize=9)
        for ax in axes.ravel()[len(names):]:
            ax.set_visible(False)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def compare(runs, metrics="all", *, confidence=0.95, per_factor=False, **evaluate_options):
    """Compare models over seeds: a table of mean, standard deviation and confidence
    interval per metric and model, and a plot.

    Parameters
    ----------
    runs : dict
        Model name -> its runs (seeds, restarts), a list of any of: a :class:`Report`, the
        path of a report's JSON (:meth:`Report.to_json`), or a ``(factors, codes)`` pair,
        which is evaluated here (``evaluate(factors, codes, metrics, **evaluate_options)``).
        A single run may be given without the list.
    metrics : str or list of str, default="all"
        The metrics of the table, as :func:`evaluate` names them (a result object's parts,
        e.g. ``"dci.disentanglement"``, are columns of their own); also those evaluated
        for ``(factors, codes)`` pairs. ``"all"``: every score the runs have.
    confidence : float, default=0.95
        Level of the intervals: mean +- t_{(1 + confidence) / 2, n - 1} * std / sqrt(n).
    per_factor : bool, default=False
        Also each metric's value per factor (``"mig/shape"``, see :meth:`Report.scores`).
    **evaluate_options : dict
        Passed to :func:`evaluate` for ``(factors, codes)`` runs (``random_state`` default:
        the run's index, so that seeds differ).

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import fastdis
    >>> from fastdis.datasets import make_dsprites_like
    >>> runs = {enc: [make_dsprites_like(enc, small=True, random_state=s) for s in range(2)]
    ...         for enc in ("partial", "entangled")}
    >>> c = fastdis.compare(runs, ["mig"])
    >>> bool(c.table.loc[("mig", "partial"), "mean"] > c.table.loc[("mig", "entangled"), "mean"])
    True
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("compare needs pandas: pip install pandas") from None
    if not isinstance(runs, dict) or not runs:
        raise TypeError("runs must be a non-empty dict: model name -> list of reports, report "
                        "JSON paths or (factors, codes) pairs")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    wanted = None if metrics == "all" else ([metrics] if isinstance(metrics, str) else list(metrics))
    rows = []
    for model, items in runs.items():
        if not isinstance(items, list):
            items = [items]
        if not items:
            raise ValueError(f"model {model!r} has no runs")
        for i, item in enumerate(items):
            report = _report(item, i, model, metrics, evaluate_options)
            scores = report.scores(per_factor=per_factor)
            for metric, value in scores.items():
                if wanted is None or metric in wanted or metric.partition(".")[0] in wanted \
                        or metric.partition("/")[0] in wanted:
                    rows.append((str(model), i, metric, value))
    if not rows:
        raise ValueError(f"no run has the metrics {wanted}")
    return Comparison(pd.DataFrame(rows, columns=["model", "run", "metric", "value"]),
                      float(confidence))


def _report(item, index, model, metrics, options):
    from ._evaluate import evaluate
    from ._report import Report

    if isinstance(item, Report):
        return item
    if isinstance(item, (str, os.PathLike)):
        return Report.from_json(item)
    if isinstance(item, tuple) and len(item) == 2:
        options = dict(options)
        options.setdefault("random_state", index)
        return evaluate(item[0], item[1], metrics, **options)
    raise TypeError(f"run {index} of model {model!r} must be a Report, a report's JSON path or "
                    f"a (factors, codes) pair, got {type(item).__name__}")


def _summary(runs, confidence):
    import pandas as pd

    def interval(values):
        values = values.to_numpy(float)
        values = values[np.isfinite(values)]
        n = len(values)
        mean = values.mean() if n else math.nan
        std = values.std(ddof=1) if n > 1 else math.nan
        half = math.nan
        if n > 1:
            from scipy.stats import t  # scikit-learn's dependency

            half = t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
        return pd.Series(dict(n=n, mean=mean, std=std, ci_low=mean - half, ci_high=mean + half))

    order = {m: i for i, m in enumerate(dict.fromkeys(runs["metric"]))}
    table = runs.groupby(["metric", "model"], sort=False)["value"].apply(interval).unstack()
    table = table.sort_index(level="metric", key=lambda idx: idx.map(order), sort_remaining=False)
    table["n"] = table["n"].astype(int)
    return table[["n", "mean", "std", "ci_low", "ci_high"]]
