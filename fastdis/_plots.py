"""The plots of a :class:`fastdis.Report`: factor x code matrices (mutual information, DCI
importance), informativeness bars, the codes' pairwise information.

Every factor x code plot has the factors as rows and the codes as columns, in the order
of ``Report.code_order()`` unless asked otherwise: codes grouped by the factor they carry
most information about (then by decreasing information), so that a disentangled
representation shows a diagonal. Figures are sized for the page whatever the number of
codes: a cell shrinks down to a readable minimum, the values are written in the cells only
while they fit, and beyond ``max_codes`` columns the least informative codes are folded
into one summary column.
"""
import numpy as np

# Figure width (inches) never exceeds this; a cell is at most 0.55 and at least 0.12 wide.
_MAX_WIDTH = 14.0
_CELL, _MIN_CELL = 0.55, 0.12
# Values are written in the cells up to this many columns.
_ANNOTATE_UP_TO = 24


def pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install matplotlib") from None
    return plt


# Codes whose best score is below this share of the matrix's largest are "weak" (noise
# codes of a plug-in estimate, unused dimensions): ordered after the others.
_WEAK = 0.05


def code_order(score):
    """Codes (columns of the factors x codes ``score``) grouped by their best factor, the
    factors in row order, each group by decreasing score; weak codes (best score below 5 %
    of the largest in the matrix, e.g. the small plug-in information of noise codes) last,
    by decreasing score."""
    score = np.nan_to_num(np.asarray(score, dtype=float), nan=0.0)
    best = score.argmax(axis=0)
    top = score.max(axis=0)
    weak = top <= _WEAK * max(top.max(), 0.0)
    best = np.where(weak, score.shape[0], best)  # after every factor's group
    return np.lexsort((-top, best))


def fold(matrix, names, max_codes):
    """(matrix, names) with at most ``max_codes`` columns: beyond, the columns after the
    first max_codes - 1 (the least informative, once ordered) become one column holding
    their row-wise maximum, named "+N more (max)"."""
    if max_codes is None or matrix.shape[1] <= max_codes:
        return matrix, list(names)
    keep = max_codes - 1
    rest = matrix[:, keep:].max(axis=1, keepdims=True)
    label = f"+{matrix.shape[1] - keep} more (max)"
    return np.hstack([matrix[:, :keep], rest]), list(names[:keep]) + [label]


def figure_size(n_rows, n_cols, extra_width=1.6):
    cell = min(_CELL, max(_MIN_CELL, (_MAX_WIDTH - extra_width) / max(n_cols, 1)))
    return extra_width + cell * n_cols, 1.2 + min(_CELL, max(0.25, cell)) * n_rows


def label(ax, xnames, ynames, xlabel, ylabel):
    small = len(xnames) > 40
    ax.set_xticks(range(len(xnames)), xnames, rotation=90 if small else 45,
                  ha="center" if small else "right", fontsize=5 if small else 8)
    ax.set_yticks(range(len(ynames)), ynames, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def mi_heatmap(report, ax, normalize, order, max_codes):
    """Report.plot_mi's drawing (see there)."""
    if report.mutual_info is None:
        raise ValueError("this report has no mutual information matrix: evaluate an "
                         "information metric (e.g. metrics=['mig', ...]) to plot it")
    plt = pyplot()
    mi = np.asarray(report.mutual_info, dtype=float)
    if normalize:
        h = report.factor_entropy
        mi = mi / np.where(h > 0, h, 1.0)[:, None]
    columns = code_order(mi) if order else np.arange(mi.shape[1])
    shown, names = fold(mi[:, columns], [report.code_names[j] for j in columns], max_codes)
    if ax is None:
        _, ax = plt.subplots(figsize=figure_size(*shown.shape))
    image = ax.imshow(shown, cmap="viridis", vmin=0.0, vmax=1.0 if normalize else None,
                      aspect="auto", interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="I(v; z) / H(v)" if normalize else "I(v; z) [nats]")
    label(ax, names, report.factor_names, "code", "factor")
    if shown.shape[1] <= _ANNOTATE_UP_TO:
        for (k, j), value in np.ndenumerate(shown):
            ax.text(j, k, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value < 0.6 * (shown.max() or 1.0) else "black")
    ax.set_title("Mutual information (factors x codes)", fontsize=9)
    return ax


def hinton(report, ax, order, max_codes):
    """Report.plot_dci's drawing (see there)."""
    dci = report._dci()
    if dci is None:
        raise ValueError("this report has no DCI importance matrix: evaluate 'dci' to plot it")
    plt = pyplot()
    # factors x codes, like the MI heatmap; a negative importance (a user's estimator can
    # give one) is drawn as 0: a square's area cannot be negative
    r = np.clip(np.nan_to_num(np.asarray(dci.importance, dtype=float).T, nan=0.0), 0.0, None)
    columns = code_order(r) if order else np.arange(r.shape[1])
    shown, names = fold(r[:, columns], [report.code_names[j] for j in columns], max_codes)
    if ax is None:
        _, ax = plt.subplots(figsize=figure_size(shown.shape[0] + 1, shown.shape[1]))
    ax.set_facecolor("0.92")
    top = shown.max() if shown.max() > 0 else 1.0
    for (k, j), value in np.ndenumerate(shown):
        side = 0.95 * np.sqrt(value / top)
        ax.add_patch(plt.Rectangle((j - side / 2, k - side / 2), side, side,
                                   facecolor="0.15", edgecolor="0.15"))
    # the scale: a square of the largest importance, and one of a quarter of it, below
    n_rows = shown.shape[0]
    for i, value in enumerate((top, top / 4)):
        side = 0.95 * np.sqrt(value / top)
        ax.add_patch(plt.Rectangle((i * 2 - side / 2, n_rows - side / 2), side, side,
                                   facecolor="0.45", edgecolor="0.45", clip_on=False))
        ax.text(i * 2 + 0.6, n_rows, f"{value:.2g}", va="center", fontsize=7)
    ax.set_xlim(-0.5, shown.shape[1] - 0.5)
    ax.set_ylim(n_rows + 0.5, -0.5)
    ax.set_aspect("equal")
    label(ax, names, report.factor_names + ["scale"], "code", "factor")
    ax.set_title(f"DCI importance, factors x codes (D={dci.disentanglement:.2f}, "
                 f"C={dci.completeness:.2f}, I={dci.informativeness:.2f})", fontsize=9)
    return ax
