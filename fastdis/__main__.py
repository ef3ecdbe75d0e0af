"""The ``fastdis`` command: ``evaluate``, ``demo``, ``list``, ``--version``.

Errors in the user's files or arrays end with exit status 2 and one line on stderr.
"""
import argparse
import csv
import os
import sys
import time
import warnings


class UsageError(Exception):
    """A problem with the user's files or arguments: one line, exit status 2."""


# --- reading arrays -------------------------------------------------------------------------
def _parse_column(values):
    """int64 if every value is an integer, else float64, else the strings as given."""
    import numpy as np

    for dtype in (np.int64, np.float64):
        try:
            return np.array(values, dtype=dtype)
        except ValueError:
            continue
    return np.array(values, dtype=str)


def _numeric(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _has_header(rows):
    """Whether the first row names the columns: text above numbers, or, in all-text data,
    text that never recurs below it (labels repeat down a column, names do not)."""
    first, rest = rows[0], rows[1:]
    if not rest or all(_numeric(c) for c in first):
        return False
    if all(_numeric(c) for c in rest[0]):
        return True
    return all(name not in set(column) for name, column in zip(first, zip(*rest)))


def _read_delimited(path, delimiter, header="auto"):
    import numpy as np

    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f, delimiter=delimiter) if row]
    if not rows:
        raise UsageError(f"{path}: empty file")
    names = None
    if header == "yes" or (header == "auto" and _has_header(rows)):
        names, rows = rows[0], rows[1:]
        if not rows:
            raise UsageError(f"{path}: a header and no rows")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise UsageError(f"{path}: row {i + 1} has {len(row)} fields, expected {width}")
    columns = [_parse_column([row[j] for row in rows]) for j in range(width)]
    kinds = {c.dtype.kind for c in columns}
    if kinds <= {"i"}:
        array = np.column_stack(columns)
    elif kinds <= {"i", "f"}:
        array = np.column_stack(columns).astype(np.float64)
    else:
        array = np.column_stack([c.astype(str) for c in columns])
    return array, names


def read_array(path, key=None, header="auto"):
    """(array, column names or None) from .npy, .npz, .csv, .tsv or .parquet; ``header``
    ("auto", "yes", "no"): whether a .csv / .tsv file's first row names its columns."""
    import numpy as np

    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False), None
        if ext == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if key is None:
                    if len(z.files) != 1:
                        raise UsageError(f"{path} holds {len(z.files)} arrays "
                                         f"({', '.join(z.files)}): name one with --factors-key / --codes-key")
                    key = z.files[0]
                if key not in z.files:
                    raise UsageError(f"{path} has no array {key!r} (it has {', '.join(z.files)})")
                return z[key], None
        if ext in (".csv", ".tsv", ".txt"):
            return _read_delimited(path, "\t" if ext == ".tsv" else ",", header)
        if ext == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError:
                raise UsageError(f"{path}: reading .parquet needs pyarrow (pip install pyarrow)") from None
            table = pq.read_table(path)
            columns = [np.asarray(table.column(i)) for i in range(table.num_columns)]
            return np.column_stack(columns), [str(n) for n in table.column_names]
    except UsageError:
        raise
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from None
    raise UsageError(f"{path}: unknown format {ext!r} (use .npy, .npz, .csv, .tsv or .parquet)")


# --- commands -------------------------------------------------------------------------------
def _show(report, args):
    print(report.to_markdown() if args.markdown else report)
    try:
        if args.json:
            report.to_json(args.json)
        if args.plot:
            import matplotlib

            matplotlib.use("Agg")
            report.plot(args.plot)
            print(f"plots written to {args.plot}")
    except ImportError:
        raise UsageError("--plot needs matplotlib (pip install matplotlib)") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{exc}") from None


def _metrics_arg(text):
    return [m.strip() for m in (text or "all").split(",") if m.strip()]


def _evaluate(args):
    import fastdis

    fkey, ckey = args.factors_key, args.codes_key
    if args.factors == args.codes and args.factors.lower().endswith(".npz"):
        fkey, ckey = fkey or "factors", ckey or "codes"  # one file holding both
    factors, factor_names = read_array(args.factors, fkey, args.header)
    codes, code_names = read_array(args.codes, ckey, args.header)
    options = {"dci": {"estimator": args.dci_estimator}} if args.dci_estimator else {}
    try:
        with warnings.catch_warnings():
            # a metric that cannot be computed is shown in the table with its reason
            warnings.simplefilter("ignore", RuntimeWarning)
            report = fastdis.evaluate(factors, codes, _metrics_arg(args.metrics),
                                      random_state=args.seed, n_threads=args.threads,
                                      factor_names=factor_names, code_names=code_names, **options)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    _show(report, args)
    return 0


def _demo(args):
    import fastdis
    from fastdis.datasets import DSPRITES_FACTORS, make_dsprites_like

    t0 = time.perf_counter()
    factors, codes = make_dsprites_like(args.encoder, small=args.small, random_state=args.seed)
    print(f"fastdis {fastdis.__version__} demo: dSprites-like data, encoder={args.encoder!r}, "
          f"{factors.shape[0]:,} rows, {factors.shape[1]} factors, {codes.shape[1]} codes "
          f"(made in {time.perf_counter() - t0:.2f} s)")
    t0 = time.perf_counter()
    report = fastdis.evaluate(factors, codes, _metrics_arg(args.metrics), random_state=args.seed,
                              n_threads=args.threads, factor_names=list(DSPRITES_FACTORS))
    _show(report, args)
    print(f"total {time.perf_counter() - t0:.2f} s")
    return 0


def _list(args):
    import fastdis

    for name, paper in fastdis.available_metrics().items():
        print(f"{name:12s} {paper}")
    return 0


def _add_output(parser):
    parser.add_argument("--metrics", default="all",
                        help="comma-separated metric names (see `fastdis list`), or a family: "
                             "information, intervention, predictor; default all")
    parser.add_argument("--json", metavar="OUT", help="also write the full report as JSON")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--plot", metavar="OUT.png", help="save the MI and DCI plots (matplotlib)")
    parser.add_argument("--seed", type=int, default=0, help="random_state of every metric")
    parser.add_argument("--threads", type=int, default=None)


def main(argv=None):
    from fastdis import __version__
    from fastdis.metrics.predictor import DCI_ESTIMATORS

    parser = argparse.ArgumentParser(prog="fastdis", description="Fast disentanglement metrics.")
    parser.add_argument("--version", action="version", version=f"fastdis {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="every metric on your factors and codes")
    ev.add_argument("factors", help=".npy, .npz, .csv, .tsv or .parquet (rows = samples)")
    ev.add_argument("codes", help="same formats; the same number of rows")
    ev.add_argument("--factors-key", help="array name inside a .npz (default: its only array, "
                                          "or 'factors' when one .npz holds both)")
    ev.add_argument("--codes-key", help="array name inside a .npz")
    ev.add_argument("--header", choices=("auto", "yes", "no"), default="auto",
                    help="whether a .csv/.tsv file's first row names its columns (auto: text "
                         "above numbers, or text that never recurs below it)")
    ev.add_argument("--dci-estimator", choices=DCI_ESTIMATORS)
    _add_output(ev)
    ev.set_defaults(func=_evaluate)
    demo = sub.add_parser("demo", help="every metric on built-in dSprites-like data")
    demo.add_argument("--encoder", default="partial",
                      choices=("perfect", "partial", "entangled", "noise"))
    demo.add_argument("--small", action="store_true", help="11,520-row grid instead of 737,280")
    _add_output(demo)
    demo.set_defaults(func=_demo)
    lst = sub.add_parser("list", help="list the metrics and their papers")
    lst.set_defaults(func=_list)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"fastdis: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
