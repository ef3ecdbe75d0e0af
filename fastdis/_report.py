"""``Report``: the result of :func:`fastdis.evaluate`, and its plots."""
import json
import math
from collections.abc import Mapping

import numpy as np

from . import _plots

# Metrics whose value is a result object: the scalar parts a report shows for each
# (``report["dci.completeness"]``); other attributes stay on the object.
PARTS = {
    "dci": ("disentanglement", "completeness", "informativeness"),
    "separability": ("wsep", "wsepin", "windin", "total_correlation"),
    "interpretability": ("rmig", "jemmig"),
}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return repr(value)


_AX_PARAMS = """Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; default a new figure.

        Returns
        -------
        matplotlib.axes.Axes"""


def _ax_doc(method):
    """Fill a plot method's docstring with its one parameter and its return value."""
    method.__doc__ = method.__doc__.replace("{ax}", _AX_PARAMS)
    return method


class Report(Mapping):
    """Metric values from :func:`fastdis.evaluate`, with details, settings and times.

    A read-only mapping: ``report["mig"]`` is a float, ``report["dci"]`` a
    :class:`DCIResult` and ``report["dci.disentanglement"]`` (``.completeness``,
    ``.informativeness``) floats. Iterating gives the metric names in the order computed.

    Attributes
    ----------
    details : dict
        Metric name -> its ``return_details`` dict (per-factor / per-code parts), or None.
    times : dict
        Metric name -> wall-clock seconds (work shared with an earlier metric is counted
        where it was first done).
    intervals : dict
        Metric name -> (low, high), the bootstrap interval of an information metric
        (``evaluate(..., n_bootstrap=...)``); empty without.
    errors : dict
        Metric name -> why its value is NaN: ``"<exception type>: <message>"`` for a metric
        that raised, ``"gave NaN"`` for one whose score is undefined on these data.
    mutual_info : ndarray of shape (n_factors, n_codes) or None
        :math:`I(v_k; z_j)` in nats, from the first information metric computed.
    factor_entropy : ndarray of shape (n_factors,) or None
    factor_names, code_names : list of str
    settings : dict
        ``random_state`` (the integer seed every metric used), ``n_threads`` and the
        per-metric options given.
    version : str
        The fastdis version that computed the report.
    n_samples : int
    """

    def __init__(self, n_samples, factor_names, code_names, settings):
        from . import __version__

        self._values = {}
        self.details, self.times, self.errors, self.intervals = {}, {}, {}, {}
        self.mutual_info = self.factor_entropy = None
        self.n_samples = int(n_samples)
        self.factor_names, self.code_names = list(factor_names), list(code_names)
        self.settings = settings
        self.version = __version__

    def _add(self, name, value, details, seconds, error=None):
        self._values[name] = value
        self.details[name] = details
        self.times[name] = seconds
        if error is not None:
            self.errors[name] = error
        if (self.mutual_info is None and isinstance(details, dict)
                and "mutual_info" in details and "factor_entropy" in details):
            self.mutual_info = np.asarray(details["mutual_info"])
            self.factor_entropy = np.asarray(details["factor_entropy"])

    def _dci(self):
        """The DCIResult, or None when dci was not evaluated or could not be computed."""
        return self._result("dci")

    def _result(self, name):
        """The result object of a metric with parts, or None (not evaluated, or failed: NaN)."""
        value = self._values.get(name)
        return None if value is None or isinstance(value, float) else value

    # --- mapping --------------------------------------------------------------------------
    def __getitem__(self, key):
        if key in self._values:
            return self._values[key]
        name, _, part = key.partition(".")
        extra = ("informativeness_train",) if name == "dci" else ()
        if part in PARTS.get(name, ()) + extra and name in self._values:
            result = self._result(name)  # None: the metric could not be computed
            value = None if result is None else getattr(result, part)
            return float("nan") if value is None else float(value)
        raise KeyError(key)

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def scores(self, per_factor=False):
        """Flat dict of every float: metric values, result objects (DCI, separability,
        interpretability) split into their parts (``"dci.completeness"``).

        Parameters
        ----------
        per_factor : bool, default=False
            Also each metric's value per factor, keyed ``"<metric>/<factor name>"`` (DCI's
            informativeness ``"dci.informativeness/<factor>"``, interpretability's RMIG
            ``"interpretability.rmig/<factor>"``): flat keys that W&B and TensorBoard group
            by metric. NaN where a factor was left out (a constant factor).
        """
        out = {}
        for name, value in self._values.items():
            if name in PARTS:
                for part in PARTS[name]:
                    out[f"{name}.{part}"] = self[f"{name}.{part}"]
            else:
                out[name] = float(value)
            if per_factor:
                for key, values in self._per_factor(name):
                    for factor, v in zip(self.factor_names, values):
                        out[f"{key}/{factor}"] = float(v)
        return out

    def _per_factor(self, name):
        """(key, values per factor) of a metric: its details' ``per_factor``, DCI's and
        interpretability's per-factor parts."""
        n = len(self.factor_names)
        result = self._result(name)
        parts = []
        if name == "dci" and result is not None:
            parts.append(("dci.informativeness", result.per_factor_informativeness))
        elif name == "interpretability" and result is not None:
            parts.append(("interpretability.rmig", result.rmig_per_factor))
        elif isinstance(self.details.get(name), dict):
            parts.append((name, self.details[name].get("per_factor")))
        return [(key, np.asarray(v, dtype=float)) for key, v in parts
                if v is not None and np.shape(v) == (n,)]

    # --- export ---------------------------------------------------------------------------
    def to_dict(self):
        """Everything as plain Python types (NaN -> None): scores, times, errors, details,
        the MI matrix, the DCI importance matrix, names, settings, version."""
        dci = self._dci()
        return _jsonable(dict(
            scores=self.scores(), seconds=self.times, errors=self.errors,
            intervals=self.intervals,
            details={k: v for k, v in self.details.items() if v is not None},
            mutual_info=self.mutual_info, factor_entropy=self.factor_entropy,
            dci=None if dci is None else dict(
                dci.to_dict(), importance=dci.importance,
                per_factor_informativeness=dci.per_factor_informativeness),
            factor_names=self.factor_names, code_names=self.code_names,
            n_samples=self.n_samples, settings=self.settings, version=self.version))

    def to_json(self, path=None, indent=2):
        """The :meth:`to_dict` content as JSON text; also written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        return text

    def _rows(self):
        for name, value in self.scores().items():
            metric = name.partition(".")[0]
            yield name, value, self.times.get(metric, float("nan")), self.errors.get(metric, "")

    def to_markdown(self):
        """A Markdown table: metric, value, seconds (and the error where there is one)."""
        lines = ["| metric | value | seconds |", "|---|---:|---:|"]
        for name, value, seconds, error in self._rows():
            shown = f"{value:.4f}" if math.isfinite(value) else f"NaN ({error})" if error else "NaN"
            lines.append(f"| {name} | {shown} | {seconds:.3f} |")
        return "\n".join(lines)

    def to_frame(self):
        """A pandas DataFrame indexed by metric, columns ``value`` and ``seconds``."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Report.to_frame needs pandas: pip install pandas") from None
        rows = list(self._rows())
        return pd.DataFrame({"value": [r[1] for r in rows], "seconds": [r[2] for r in rows]},
                            index=pd.Index([r[0] for r in rows], name="metric"))

    @classmethod
    def from_json(cls, source):
        """A report read back from :meth:`to_json`'s text or file.

        Parameters
        ----------
        source : str or path-like
            JSON text, or the path of a file holding it.

        Returns
        -------
        Report
            Scores, result objects (DCI, separability, interpretability), details (arrays as
            numpy arrays), times, errors, matrices, names and settings as written (None in
            JSON is read as NaN where a number was).
        """
        import os

        text = str(source)
        if not text.lstrip().startswith("{"):
            with open(os.fspath(source), encoding="utf-8") as f:
                text = f.read()
        data = json.loads(text)
        report = cls(data["n_samples"], data["factor_names"], data["code_names"],
                     data.get("settings", {}))
        report.version = data.get("version", report.version)
        details = {k: _arrays(v) for k, v in data.get("details", {}).items()}
        for name in dict.fromkeys(k.partition(".")[0] for k in data["scores"]):
            value = _result_from(name, data, details)
            report._add(name, value, details.get(name), data.get("seconds", {}).get(name, math.nan),
                        data.get("errors", {}).get(name))
        report.intervals = {k: tuple(_num(v) for v in pair)
                            for k, pair in data.get("intervals", {}).items()}
        if data.get("mutual_info") is not None:
            report.mutual_info = np.asarray(data["mutual_info"], dtype=float)
            report.factor_entropy = np.asarray(data["factor_entropy"], dtype=float)
        return report

    def _repr_html_(self):
        """The notebook view: a table of metric, value and seconds."""
        import html

        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{value:.4f}</td><td>{seconds:.3f}</td>"
            f"<td>{html.escape(error)}</td></tr>" if math.isfinite(value) else
            f"<tr><td>{html.escape(name)}</td><td>NaN</td><td>{seconds:.3f}</td>"
            f"<td>{html.escape(error)}</td></tr>"
            for name, value, seconds, error in self._rows())
        head = html.escape(f"fastdis {self.version} report: {self.n_samples:,} samples, "
                           f"{len(self.factor_names)} factors, {len(self.code_names)} codes")
        return (f"<div><p>{head}</p><table><thead><tr><th>metric</th><th>value</th>"
                f"<th>seconds</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>")

    def __repr__(self):
        head = (f"fastdis {self.version} report: {self.n_samples:,} samples, "
                f"{len(self.factor_names)} factors, {len(self.code_names)} codes")
        width = max([len(n) for n, *_ in self._rows()] + [6])
        lines = [head, f"  {'metric':<{width}}  {'value':>8}  {'seconds':>8}"]
        for name, value, seconds, error in self._rows():
            shown = f"{value:8.4f}" if math.isfinite(value) else f"{'NaN':>8}"
            note = f"  ({error})" if error else ""
            lines.append(f"  {name:<{width}}  {shown}  {seconds:8.3f}{note}")
        return "\n".join(lines)

    # --- plots ----------------------------------------------------------------------------
    def plot_mi(self, ax=None, normalize=True, order=True, max_codes=64):
        """Heatmap of the mutual information, factors (rows) x codes (columns).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; default a new figure, sized for the page (at most 14 inches
            wide, whatever the number of codes).
        normalize : bool, default=True
            Divide each factor's row by its entropy :math:`H(v_k)` (the MIG normaliser),
            so cells are in [0, 1].
        order : bool, default=True
            Codes grouped by the factor they say most about (see :meth:`code_order`), so
            that a disentangled representation shows a diagonal; False keeps their order.
        max_codes : int or None, default=64
            At most this many columns: the codes beyond the first ``max_codes - 1`` (the
            least informative, when ordered) are folded into one column of their maxima.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return _plots.mi_heatmap(self, ax, normalize, order, max_codes)

    def plot_dci(self, ax=None, order=True, max_codes=64):
        """Hinton diagram of the DCI importance, factors (rows) x codes (columns): a
        square's area is the importance (negative importances, which only a user's estimator
        gives, are drawn as 0); a last row shows the scale.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        order : bool, default=True
            As in :meth:`plot_mi`, the order from the importances.
        max_codes : int or None, default=64
            As in :meth:`plot_mi`.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return _plots.hinton(self, ax, order, max_codes)

    def code_order(self):
        """The codes' order in the plots: grouped by the factor they carry most (normalised)
        information about, each group by decreasing information; weak codes (less than 5 %
        of the largest information) last."""
        if self.mutual_info is None:
            return np.arange(len(self.code_names))
        h = self.factor_entropy
        return _plots.code_order(self.mutual_info / np.where(h > 0, h, 1.0)[:, None])

    @_ax_doc
    def plot_informativeness(self, ax=None):
        """Bars of each code's informativeness I(x; z_i) (Do & Tran), in nats.

        {ax}
        """
        details = self.details.get("informativeness")
        if not details:
            raise ValueError("this report has no informativeness: evaluate with the posterior "
                             "(var=, std= or logvar=) to plot it")
        plt = _plots.pyplot()
        info = np.asarray(details["per_code"])
        if ax is None:
            _, ax = plt.subplots(figsize=(1.5 + 0.45 * len(info), 3.0))
        ax.bar(range(len(info)), info, color="0.3")
        ax.set_xticks(range(len(info)), self.code_names, rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("code")
        ax.set_ylabel("I(x; z) [nats]")
        ax.set_title(f"Informativeness ({details.get('estimator', '')})", fontsize=9)
        return ax

    @_ax_doc
    def plot_pairwise(self, ax=None):
        """Heatmap of the codes' pairwise mutual information I(z_i; z_j) (Do & Tran's
        separability), in nats; the undefined diagonal is left blank.

        {ax}
        """
        sep = self._result("separability")
        if sep is None or sep.pairwise is None:
            raise ValueError("this report has no pairwise information: evaluate 'separability' "
                             "with the posterior (var=, std= or logvar=) to plot it")
        plt = _plots.pyplot()
        pair = np.array(sep.pairwise, dtype=float)
        np.fill_diagonal(pair, np.nan)
        n = pair.shape[0]
        if ax is None:
            _, ax = plt.subplots(figsize=(1.5 + 0.5 * n, 1.0 + 0.5 * n))
        image = ax.imshow(np.ma.masked_invalid(pair), cmap="magma", vmin=0.0, aspect="auto")
        ax.figure.colorbar(image, ax=ax, label="I(z_i; z_j) [nats]")
        _plots.label(ax, self.code_names, self.code_names, "code", "code")
        ax.set_title(f"Pairwise information (TC={sep.total_correlation:.2f} nats)", fontsize=9)
        return ax

    def plot(self, path=None):
        """Every plot the report has data for, side by side: the MI heatmap, DCI's Hinton
        diagram, informativeness bars, the codes' pairwise information; saved to ``path``
        (e.g. ``report.png``) if given. Returns the figure."""
        plt = _plots.pyplot()
        sep = self._result("separability")
        panels = [(draw, ok) for draw, ok in (
            (self.plot_mi, self.mutual_info is not None),
            (self.plot_dci, self._dci() is not None),
            (self.plot_informativeness, bool(self.details.get("informativeness"))),
            (self.plot_pairwise, sep is not None and sep.pairwise is not None)) if ok]
        if not panels:
            raise ValueError("nothing to plot: evaluate an information metric, 'dci' or a "
                             "posterior metric")
        width, height = _plots.figure_size(max(len(self.factor_names), 4) + 1,
                                           min(len(self.code_names), 64))
        fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                                 figsize=(width, height * len(panels)))
        for ax, (draw, _) in zip(axes[:, 0], panels):
            draw(ax)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def _arrays(value):
    """JSON lists of numbers back to arrays (int64 when every number is an integer, else
    float64 with None read as NaN), inside dicts too; other values as they are."""
    if isinstance(value, dict):
        return {k: _arrays(v) for k, v in value.items()}
    if not isinstance(value, list) or not value:
        return value
    leaves = list(_leaves(value))
    if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
               for v in leaves):
        return value
    try:
        if all(isinstance(v, int) for v in leaves):
            return np.array(value, dtype=np.int64)
        return np.array(_nan_lists(value), dtype=float)
    except ValueError:  # ragged
        return value


def _leaves(value):
    for v in value:
        if isinstance(v, list):
            yield from _leaves(v)
        else:
            yield v


def _nan_lists(value):
    if isinstance(value, list):
        return [_nan_lists(v) for v in value]
    return np.nan if value is None else value


def _result_from(name, data, details):
    """A metric's value from a report's JSON: a float, or its result object."""
    scores = data["scores"]
    if name == "dci" and data.get("dci"):
        from .metrics import DCIResult

        d = data["dci"]
        return DCIResult(_num(d["disentanglement"]), _num(d["completeness"]),
                         _num(d["informativeness"]), np.asarray(_nan_lists(d["importance"]),
                                                                 dtype=float),
                         np.asarray(_nan_lists(d.get("per_factor_informativeness") or []),
                                    dtype=float),
                         _num(d.get("informativeness_train")), d.get("estimator", ""),
                         d.get("n_train", 0), d.get("n_test", 0))
    if name in ("separability", "interpretability") and isinstance(details.get(name), dict):
        from .metrics import InterpretabilityResult, SeparabilityResult

        cls = SeparabilityResult if name == "separability" else InterpretabilityResult
        try:
            return cls(**details[name])
        except TypeError:
            pass
    if name in PARTS:
        from types import SimpleNamespace

        return SimpleNamespace(**{p: _num(scores.get(f"{name}.{p}")) for p in PARTS[name]})
    return _num(scores[name])


def _num(value):
    return math.nan if value is None else float(value)
