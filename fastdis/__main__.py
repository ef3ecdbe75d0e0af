"""The ``fastdis`` command: ``evaluate``, ``demo``, ``list``, ``--version``.

Every message is one line on stderr, starting with ``fastdis:``; the exit statuses are
listed in ``EXIT_STATUSES`` (and ``fastdis --help``).
"""
import argparse
import os
import sys
import time
import warnings

from ._cli_io import DELIMITED, Table, UsageError, read_array
from ._cli_lazy import is_lazy, read_lazy, read_lazy_pair, scheduler

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_METRIC_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_STATUSES = """exit status:
  0    every requested metric was computed
  2    bad usage or input (an option, a file that cannot be read, arrays no metric
       accepts, factors and codes that look swapped, data too large for memory): one
       line on stderr, nothing computed
  3    the report was printed, but a requested metric failed or gave NaN: one line
       'fastdis: NAME failed: REASON' on stderr for each
  130  interrupted (Ctrl-C)
  1    an unexpected error inside fastdis (a bug: please report it with its traceback)"""


def _one_line(text):
    return " ".join(str(text).split())


def _say(text):
    print(f"fastdis: {_one_line(text)}", file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    _say(f"warning: {category.__name__}: {message}")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (no usage block) and exit status 2."""

    def error(self, message):
        _say(f"error: {message} (see '{self.prog} --help')")
        self.exit(EXIT_USAGE)


# --- option values: the library's own validators, so the command takes what the API takes ---
def _integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _seed(text):
    from ._random import check_random_state

    try:
        return check_random_state(_integer(text), name="the seed")
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(option, minimum):
    def parse(text):
        value = _integer(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{option} must be an integer >= {minimum}, "
                                             f"got {text}")
        return value
    return parse


def _threads(text):
    from ._validation import check_n_threads

    value = _integer(text)
    try:
        check_n_threads(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _metrics(text):
    from ._evaluate import _names

    items = [m.strip() for m in text.split(",") if m.strip()]
    try:
        _names(items, posterior=True)  # expanded by evaluate, which knows about --var
        return items
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- checks made before any work --------------------------------------------------------------
def _check_outputs(args):
    """Outputs that cannot be written are found before the metrics run, not after."""
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UsageError(f"{option} {path}: folder {folder} does not exist")
        if os.path.isdir(path):
            raise UsageError(f"{option} {path}: a directory, not a file")
    if args.plot:
        from ._evaluate import available_metrics

        from ._evaluate import _names

        posterior = any(getattr(args, k, None) for k in ("var", "std", "logvar"))
        try:
            names = _names(args.metrics, posterior)
        except ValueError as exc:
            raise UsageError(f"--metrics: {exc}") from None
        plottable = set(available_metrics("information")) | {"dci", "informativeness",
                                                             "separability"}
        if not set(names) & plottable:
            raise UsageError("--plot: nothing to plot: add an information metric (e.g. mig) "
                             "or dci to --metrics")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib (pip install matplotlib)") from None


def _numbers_only(array, path):
    """Codes read from a text file must be numbers: name the first cell that is not."""
    import numpy as np

    if array.dtype.kind not in "USO":
        return
    for (i, j), cell in np.ndenumerate(array):
        try:
            float(cell)
        except (TypeError, ValueError):
            raise UsageError(f"{path}: codes must be numbers; row {i + 1}, column {j} is "
                             f"{str(cell)!r}") from None


def _about_argument(message, args):
    """Start an error about the factors or the codes with their file's path."""
    if message.startswith("factors and codes"):
        return f"{args.factors}, {args.codes}: {message}"
    for what in ("factors", "codes", "var", "std", "logvar"):
        if message.startswith(what) and getattr(args, what, None):
            return f"{getattr(args, what)}: {message}"
    return message


# --- commands ---------------------------------------------------------------------------------
def _finish(report, args):
    """Print the report, one line per failed metric, write the outputs; the exit status."""
    print(report.to_markdown() if args.markdown else report)
    for name, reason in report.errors.items():
        _say(f"{name} failed: {reason}")
    option = "--json"
    try:
        if args.json:
            report.to_json(args.json)
        option = "--plot"
        if args.plot:
            import matplotlib

            matplotlib.use("Agg")
            report.plot(args.plot)
            print(f"plots written to {args.plot}")
    except (OSError, ValueError) as exc:  # e.g. no MI to plot: every information metric failed
        raise UsageError(f"{option}: {exc}") from None
    return EXIT_METRIC_FAILED if report.errors else EXIT_OK


def _evaluate(args):
    import fastdis

    fkey, ckey = args.factors_key, args.codes_key
    paths = (args.factors, args.codes)
    for option, key, path in zip(("--factors-key", "--codes-key"), (fkey, ckey), paths):
        if key is not None and not (path.lower().endswith(".npz") or is_lazy(path)):
            raise UsageError(f"{option} names an array inside a .npz file, a zarr group or an "
                             f"HDF5 file; {path} is none of them")
    if args.scheduler is not None and not any(is_lazy(p) for p in paths):
        raise UsageError("--scheduler applies to data read through Dask (a zarr store, a "
                         "folder of .npy shards, an HDF5 file); neither "
                         f"{args.factors} nor {args.codes} is one")
    if args.header != "auto" and not any(p.lower().endswith(DELIMITED) for p in paths):
        raise UsageError(f"--header applies to {', '.join(DELIMITED)} files; neither "
                         f"{args.factors} nor {args.codes} is one")
    if args.factors == args.codes and args.factors.lower().endswith(".npz"):
        fkey, ckey = fkey or "factors", ckey or "codes"  # one file holding both
    _check_outputs(args)
    if is_lazy(args.codes) and is_lazy(args.factors):  # one task reads a chunk of both
        factors, codes = (Table(a, None, []) for a in read_lazy_pair(
            (args.factors, fkey, "--factors-key"), (args.codes, ckey, "--codes-key")))
    else:
        factors = _read(args.factors, fkey, args.header, "--factors-key")
        codes = _read(args.codes, ckey, args.header, "--codes-key")
    for note in factors.notes + codes.notes:
        _say(note)
    _numbers_only(codes.array, args.codes)
    spread = _read_spread(args)
    try:
        options = _metric_options(args, bool(spread))
        with scheduler(args.scheduler):
            report = fastdis.evaluate(factors.array, codes.array, args.metrics,
                                      random_state=args.seed, n_threads=args.threads,
                                      factor_names=args.factor_names or factors.names,
                                      code_names=args.code_names or codes.names,
                                      convention=args.convention, **spread, **options)
    except (ValueError, TypeError) as exc:
        raise UsageError(_about_argument(str(exc), args)) from None
    return _finish(report, args)


# option -> (the keyword it sets, the metric it is for; None: every requested metric that
# takes that keyword)
_METRIC_OPTIONS = {"n_bins": ("n_bins", None), "factor_bins": ("factor_bins", None),
                   "sap_mode": ("mode", "sap"), "dci_estimator": ("estimator", "dci")}


def _metric_options(args, posterior):
    """evaluate()'s per-metric options from the command's: --n-bins to every metric with
    n_bins (the information metrics; the posterior ones with a spread), --factor-bins to
    every metric with factor_bins, --sap-mode to sap, --dci-estimator to dci."""
    import inspect

    import fastdis
    from fastdis._evaluate import _names

    options = {}
    for name in _names(args.metrics, posterior):
        params = inspect.signature(getattr(fastdis, name)).parameters
        for option, (keyword, only) in _METRIC_OPTIONS.items():
            value = getattr(args, option, None)
            if value is not None and keyword in params and only in (None, name):
                options.setdefault(name, {})[keyword] = value
    return options


def _names_list(text):
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"empty name in {text!r}: give comma-separated names")
    return names


def _read(path, key, header, option):
    """The file's Table: read now, or (a folder, an HDF5 file) a lazy dask array."""
    if is_lazy(path):
        return Table(read_lazy(path, key, option), None, [])
    return read_array(path, key, header, option)


def _read_spread(args):
    """The posterior spread given with --var, --std or --logvar, as evaluate()'s keyword.
    In a .npz holding several arrays the one named like the option is read."""
    import numpy as np

    for name in ("var", "std", "logvar"):
        path = getattr(args, name)
        if path is None:
            continue
        key = None
        if path.lower().endswith(".npz"):
            try:
                with np.load(path, allow_pickle=False) as archive:
                    key = name if len(archive.files) > 1 else None
            except Exception:  # noqa: BLE001 - read_array says what is wrong with the file
                pass
        table = _read(path, key, args.header, f"--{name}")
        _numbers_only(table.array, path)
        return {name: table.array}
    return {}


def _demo(args):
    import fastdis
    from fastdis.datasets import DSPRITES_FACTORS, make_dsprites_like

    _check_outputs(args)
    t0 = time.perf_counter()
    factors, codes = make_dsprites_like(args.encoder, small=args.small, random_state=args.seed)
    print(f"fastdis {fastdis.__version__} demo: dSprites-like data, encoder={args.encoder!r}, "
          f"{factors.shape[0]:,} rows, {factors.shape[1]} factors, {codes.shape[1]} codes "
          f"(made in {time.perf_counter() - t0:.2f} s)")
    t0 = time.perf_counter()
    report = fastdis.evaluate(factors, codes, args.metrics, random_state=args.seed,
                              n_threads=args.threads, factor_names=list(DSPRITES_FACTORS))
    status = _finish(report, args)
    print(f"total {time.perf_counter() - t0:.2f} s")
    return status


def _list(args):
    import fastdis

    for name, paper in fastdis.available_metrics().items():
        print(f"{name:12s} {paper}")
    return EXIT_OK


def _add_output(parser):
    parser.add_argument("--metrics", default="all", type=_metrics,
                        help="comma-separated metric names (see `fastdis list`), or a family: "
                             "information, intervention, predictor, posterior; default all")
    parser.add_argument("--json", metavar="OUT", help="also write the full report as JSON")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--plot", metavar="OUT.png", help="save the MI and DCI plots (matplotlib)")
    parser.add_argument("--seed", type=_seed, default=0,
                        help="random_state of every metric: an integer in [0, 2**32); default 0")
    parser.add_argument("--threads", type=_threads, default=None,
                        help="threads in all, for every metric (n_threads); default all cores")


def _parser():
    from fastdis import __version__
    from fastdis.metrics.predictor import DCI_ESTIMATORS

    parser = _Parser(prog="fastdis", description="Fast disentanglement metrics.",
                     epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastdis {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="every metric on your factors and codes",
                        epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("factors", help=".npy, .npz, .csv, .tsv or .parquet (rows = samples); or, "
                                    "read lazily through Dask, a zarr store, a folder of .npy "
                                    "shards or an HDF5 file (.h5)")
    ev.add_argument("codes", help="same formats; the same number of rows")
    ev.add_argument("--factors-key", help="array name inside a .npz (default: its only array, "
                                          "or 'factors' when one .npz holds both)")
    ev.add_argument("--codes-key", help="array name inside a .npz")
    ev.add_argument("--header", choices=("auto", "yes", "no"), default="auto",
                    help="whether a .csv/.tsv file's first row names its columns. auto: text "
                         "above numbers, text that never recurs below it, or exactly 0,1,...,k-1 "
                         "above numbers (pandas' to_csv(index=False); one column named 0 only "
                         "above non-integers). A first column under an empty header cell with a "
                         "distinct value per row (pandas' to_csv() index) is left out, with a "
                         "note on stderr")
    ev.add_argument("--dci-estimator", choices=DCI_ESTIMATORS,
                    help="how dci predicts each factor from the codes; default lasso")
    ev.add_argument("--convention", choices=("dlib", "ubisoft", "do_tran"),
                    help="reproduce a reference implementation's values: every metric it has "
                         "runs as it does (dlib: disentanglement_lib; ubisoft: the survey code "
                         "of Carbonneau et al.; do_tran: Do & Tran's posterior scripts); the "
                         "others keep fastdis's defaults. The JSON report's "
                         "settings.effective lists what each metric ran with")
    ev.add_argument("--n-bins", type=_positive_int("--n-bins", 2), metavar="B",
                    help="bins per code of the information metrics (and of the posterior "
                         "metrics' quantisation); default 20 (10 under ubisoft, 100 for a "
                         "posterior)")
    ev.add_argument("--factor-bins", type=_positive_int("--factor-bins", 2), metavar="B",
                    help="bin numeric factors into B equal-width bins first, in every metric "
                         "that can (continuous factors); default: factors are labels")
    ev.add_argument("--sap-mode", choices=("regression", "classification"),
                    help="sap's score of a (code, factor) pair: R^2 of a linear fit "
                         "(regression, the paper's) or the accuracy of a threshold "
                         "(classification, disentanglement_lib's); default regression")
    ev.add_argument("--factor-names", type=_names_list, metavar="A,B,...",
                    help="names of the factor columns in the report and plots; default the "
                         "file's header, else factor0, factor1, ...")
    ev.add_argument("--code-names", type=_names_list, metavar="A,B,...",
                    help="names of the code columns; default the file's header, else code0, ...")
    spread = ev.add_mutually_exclusive_group()
    for name, what in (("var", "variances"), ("std", "standard deviations"),
                       ("logvar", "log-variances")):
        spread.add_argument(f"--{name}", metavar="FILE",
                            help=f"the encoder's posterior {what}, shaped like CODES (which are "
                                 "then its means): adds informativeness, separability and "
                                 f"interpretability (Do & Tran). In a .npz, the array {name!r} "
                                 "or its only one")
    ev.add_argument("--scheduler", metavar="NAME",
                    help="for data read through Dask (FACTORS / CODES a zarr store, a folder of "
                         ".npy shards stacked in name order, or an HDF5 file): threads, "
                         "processes, sync, or a dask.distributed scheduler's address "
                         "(tcp://HOST:8786); default Dask's own (threads, or the active client)")
    _add_output(ev)
    ev.set_defaults(func=_evaluate)
    demo = sub.add_parser("demo", help="every metric on built-in dSprites-like data",
                          epilog=EXIT_STATUSES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--encoder", default="partial",
                      choices=("perfect", "partial", "entangled", "noise"),
                      help="the synthetic encoder: each code one factor (perfect), some codes "
                           "mixed (partial, the default), every code a mix (entangled), or "
                           "codes independent of the factors (noise)")
    demo.add_argument("--small", action="store_true", help="11,520-row grid instead of 737,280")
    _add_output(demo)
    demo.set_defaults(func=_demo)
    lst = sub.add_parser("list", help="list the metrics and their papers")
    lst.set_defaults(func=_list)
    return parser


def main(argv=None):
    """Run the command; returns its exit status (see ``EXIT_STATUSES``)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return exc.code
    with warnings.catch_warnings():
        # one line per warning about the data (numpy's RuntimeWarnings included: they can
        # mean a wrong value); a metric that could not be computed gets its own line
        warnings.simplefilter("ignore")
        warnings.simplefilter("default", UserWarning)
        warnings.simplefilter("default", RuntimeWarning)
        warnings.filterwarnings("ignore", message="evaluate: .* could not be computed",
                                category=RuntimeWarning)
        warnings.showwarning = _show_warning
        try:
            return args.func(args)
        except UsageError as exc:
            _say(f"error: {exc}")
            return EXIT_USAGE
        except MemoryError:
            _say("error: out of memory: the data (or a metric's tables) do not fit in this "
                 "machine's memory")
            return EXIT_USAGE
        except KeyboardInterrupt:
            _say("interrupted")
            return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
