"""fastdis against the reference implementations' own code, run unmodified.

Every metric and convention is timed beside the code it claims to reproduce, on the same
arrays and settings, in the same session. Each implementation runs in its own worker process
(imports paid once, outside the timings); the driver alternates the workers call by call,
round after round, and records wall time (``time.perf_counter`` around the one call) and the
value each returns. Data: K = 5 factors of 10 values, d = 10 codes, the first 5 codes =
factor + N(0, 1) (``benchmarks/conftest.py``'s ``benchmark_data``), written to ``.npy``.

Setting up the references (outside this repository; nothing of theirs is copied here)::

    # the survey code (Carbonneau et al.): its repository as it is, plus pyitlib, on fastdis's
    # numpy / scipy / scikit-learn; its explicitness passes LogisticRegression(multi_class=...),
    # which scikit-learn 1.8 removed, so a second environment keeps scikit-learn 1.7 for it
    git clone <GitHub: ubisoft/ubisoft-laforge-disentanglement-metrics> /work/refs/ubisoft
    python -m venv --system-site-packages /work/refs/ubisoft-venv
    /work/refs/ubisoft-venv/bin/pip install pyitlib
    python -m venv --system-site-packages /work/refs/ubisoft-legacy-venv
    /work/refs/ubisoft-legacy-venv/bin/pip install pyitlib "scikit-learn==1.7.*"
    # disentanglement_lib: its own environment with the pins it needs
    git clone <GitHub: google-research/disentanglement_lib> /work/refs/dlib
    python -m venv /work/refs/dlib-venv
    /work/refs/dlib-venv/bin/pip install "tensorflow-cpu==2.15.*" "gin-config==0.4.0" \\
        scikit-learn "numpy<2" scipy six absl-py

    python benchmarks/reference.py \\
        --ubisoft /work/refs/ubisoft --ubisoft-python /work/refs/ubisoft-venv/bin/python \\
        --ubisoft-legacy-python /work/refs/ubisoft-legacy-venv/bin/python \\
        --dlib /work/refs/dlib --dlib-python /work/refs/dlib-venv/bin/python

How each reference is called:

- the survey code: ``src/metrics/<metric>.py``'s function with its signature defaults (what
  ``convention="ubisoft"`` reproduces); ``dci`` with ``model="lasso"`` and
  ``model="random_forest"``. numpy 2 removed ``numpy.core.numeric.NaN``, which its files
  import: the worker sets that one attribute (``= float("nan")``) before importing them; no
  file of theirs is edited.
- disentanglement_lib, with the gin values of ``unsupervised_study_v1``'s metric configs
  (histogram discretiser with 20 bins, ``num_train`` 10,000, ``num_test``/``num_eval`` 5,000,
  ``prune_dims.threshold`` 0.05, SAP's ``continuous_factors=False``), fastdis's
  ``convention="dlib"`` settings:

  * ``sap``, ``explicitness``, ``dci``, ``z_diff`` (``compute_beta_vae_sklearn``) and
    ``z_min_var`` (``compute_factor_vae``): its ``compute_*`` function with an array-backed
    ground-truth object, as a user with arrays calls it: ``sample_factors`` draws rows
    (without replacement, a fresh permutation when the rows run out) and returns their
    factors; ``sample_observations_from_factors`` returns, for each factor vector, a random row
    with exactly those factors (a random row where no row has them: counted, reported as
    ``misses``); the representation function is the identity on the codes.
  * ``mig``, ``modularity`` and ``irs`` use every row (fastdis does), and ``compute_*``'s
    sampling loop grows its arrays with ``np.vstack`` per batch of 16 (quadratic in
    ``num_train``), so these call the array-level functions ``compute_*`` calls after
    sampling: ``mig._compute_mig``, ``modularity_explicitness.modularity`` on
    ``utils.discrete_mutual_info`` of the discretised codes, and ``irs``'s discretise /
    ``_drop_constant_dims`` / ``scalable_disentanglement_score`` (``diff_quantile`` 0.99).

Results: ``benchmarks/results/reference_<impl>.json`` (every run's time and value, the machine,
the load average before and after) and a markdown table on stdout. ``--report-only`` prints the
table from the saved JSON. A full run took 17 minutes on a shared 2-core machine (2026-11-29).
One self-contained file on purpose: the workers re-run it in the references' environments.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results"

# (metric, convention, reference, N values, rounds per N, warm-up call on 2,000 rows first)
# Ordered cheap to slow. N drops to 1e4 where the reference takes minutes (DCI's forests and
# boosting); 1 round where a reference call takes more than ~10 s.
_INFO = ["mig", "mig_sup", "jemmig", "dcimig", "modularity"]
CASES = (
    [(m, "ubisoft", "ubisoft", {100_000: 3, 1_000_000: 1}, True) for m in _INFO]
    + [(m, "ubisoft", "ubisoft", {100_000: 3, 1_000_000: 3}, True)
       for m in ["irs", "sap", "z_diff", "z_min_var"]]
    + [("z_max_var", "ubisoft", "ubisoft", {100_000: 3, 1_000_000: 1}, True),
       ("explicitness", "ubisoft", "ubisoft", {10_000: 3, 100_000: 1}, True),
       ("dci", "ubisoft", "ubisoft", {10_000: 3, 100_000: 3, 1_000_000: 1}, True)]
    + [(m, "dlib", "dlib", {100_000: 3, 1_000_000: 3}, True)
       for m in ["mig", "modularity", "irs", "sap", "explicitness"]]
    + [(m, "dlib", "dlib", {1_000_000: 3}, False) for m in ["z_diff", "z_min_var"]]
    # dlib's DCI fits on num_train = 10,000 rows whatever N is: N = 1e5 keeps its 5,000 test
    # rows apart from them. The survey's forests: 20 settings x 10 folds x 10 trees per factor.
    + [("dci", "dlib", "dlib", {100_000: 1}, False),
       ("dci_random_forest", "ubisoft", "ubisoft", {3_000: 1}, False)]
)


# ----------------------------------------------------------------------------- workers
# A worker reads one JSON job per line on stdin and answers one JSON line on stdout. It imports
# only numpy and its own implementation, so that it runs in the reference's environment.

def _fastdis_runner():
    sys.path.insert(0, str(HERE.parent))  # this checkout's fastdis, not an installed one
    import fastdis

    def run(metric, convention, factors, codes):
        if metric == "dci_random_forest":
            r = fastdis.dci(factors, codes, convention=convention, estimator="random_forest",
                            random_state=0)
        else:
            r = getattr(fastdis, metric)(factors, codes, convention=convention, random_state=0)
        if isinstance(r, fastdis.DCIResult):
            return [r.disentanglement, r.completeness, r.informativeness]
        return float(r)
    return run, {"fastdis": fastdis.__version__, "fastdis_file": fastdis.__file__}


def _ubisoft_runner(path):
    import random
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import numpy.core.numeric as numeric
    numeric.NaN = float("nan")  # removed in numpy 2; the survey's files import it
    sys.path.insert(0, str(pathlib.Path(path) / "src"))
    import importlib
    import sklearn

    def run(metric, convention, factors, codes):
        np.random.seed(0)
        random.seed(0)
        if metric == "dci_random_forest":
            return list(importlib.import_module("metrics.dci").dci(factors, codes,
                                                                    model="random_forest"))
        r = getattr(importlib.import_module(f"metrics.{metric}"), metric)(factors, codes)
        return [float(x) for x in r] if isinstance(r, tuple) else float(r)
    return run, {"numpy": np.__version__, "sklearn": sklearn.__version__}


class _ArrayGroundTruth:
    """disentanglement_lib's GroundTruthData interface over a factors / codes array pair."""

    def __init__(self, factors, codes):
        self.factors, self.codes = factors, codes
        self.radix = factors.max(axis=0) + 1
        keys = self._keys(factors)
        self.order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[self.order]
        self.perm, self.pos, self.misses = None, 0, 0

    def _keys(self, f):
        k = np.zeros(len(f), dtype=np.int64)
        for j in range(f.shape[1]):
            k = k * self.radix[j] + f[:, j]
        return k

    @property
    def num_factors(self):
        return self.factors.shape[1]

    @property
    def factors_num_values(self):
        return [int(v) for v in self.radix]

    @property
    def observation_shape(self):
        return [self.codes.shape[1]]

    def sample_factors(self, num, random_state):
        rows = np.empty(0, dtype=np.int64)
        while len(rows) < num:
            if self.perm is None or self.pos == len(self.perm):
                self.perm, self.pos = random_state.permutation(len(self.factors)), 0
            take = self.perm[self.pos:self.pos + num - len(rows)]
            self.pos += len(take)
            rows = np.concatenate([rows, take])
        return self.factors[rows].copy()

    def sample_observations_from_factors(self, factors, random_state):
        keys = self._keys(np.asarray(factors, dtype=np.int64))
        lo = np.searchsorted(self.sorted_keys, keys, "left")
        hi = np.searchsorted(self.sorted_keys, keys, "right")
        found = hi > lo
        self.misses += int((~found).sum())
        width = np.maximum(hi - lo, 1)
        pick = lo + (random_state.random_sample(len(keys)) * width).astype(np.int64)
        rows = np.where(found, self.order[np.minimum(pick, len(self.order) - 1)],
                        random_state.randint(len(self.factors), size=len(keys)))
        return self.codes[rows]

    def sample(self, num, random_state):
        f = self.sample_factors(num, random_state)
        return f, self.sample_observations_from_factors(f, random_state)

    def sample_observations(self, num, random_state):
        return self.sample(num, random_state)[1]


def _dlib_runner(path):
    sys.path.insert(0, str(path))
    import logging as pylogging
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import gin
    from absl import logging
    logging.set_verbosity(logging.ERROR)
    pylogging.getLogger("tensorflow").setLevel(pylogging.ERROR)
    import sklearn
    from disentanglement_lib.evaluation.metrics import (beta_vae, dci, factor_vae, irs, mig,
                                                        modularity_explicitness, sap_score,
                                                        utils)

    gin.parse_config([
        "discretizer.discretizer_fn = @histogram_discretizer",
        "discretizer.num_bins = 20",
        "prune_dims.threshold = 0.05",
    ])

    def identity(x):
        return x

    def run(metric, convention, factors, codes):
        rs = np.random.RandomState(0)
        mus, ys = codes.T, factors.T
        if metric == "mig":
            return float(mig._compute_mig(mus, ys)["discrete_mig"])
        if metric == "modularity":
            mi = utils.discrete_mutual_info(utils.make_discretizer(mus), ys)
            return float(modularity_explicitness.modularity(mi))
        if metric == "irs":
            active = irs._drop_constant_dims(mus)
            return float(irs.scalable_disentanglement_score(
                utils.make_discretizer(ys).T, active.T, 0.99)["avg_score"])
        data = _ArrayGroundTruth(factors, codes)
        if metric == "sap":
            r = sap_score.compute_sap(data, identity, rs, num_train=10000, num_test=5000,
                                      continuous_factors=False)["SAP_score"]
        elif metric == "explicitness":
            r = modularity_explicitness.compute_modularity_explicitness(
                data, identity, rs, num_train=10000, num_test=5000)["explicitness_score_test"]
        elif metric == "dci":
            d = dci.compute_dci(data, identity, rs, num_train=10000, num_test=5000)
            r = [d["disentanglement"], d["completeness"], d["informativeness_test"]]
        elif metric == "z_diff":
            r = beta_vae.compute_beta_vae_sklearn(data, identity, rs, batch_size=64,
                                                  num_train=10000, num_eval=5000)["eval_accuracy"]
        elif metric == "z_min_var":
            r = factor_vae.compute_factor_vae(data, identity, rs, batch_size=64, num_train=10000,
                                              num_eval=5000,
                                              num_variance_estimate=10000)["eval_accuracy"]
        else:
            raise ValueError(f"metric: disentanglement_lib has no {metric!r} here")
        if data.misses:
            return {"value": r, "misses": data.misses}
        return [float(x) for x in r] if isinstance(r, list) else float(r)
    import tensorflow as tf
    return run, {"numpy": np.__version__, "sklearn": sklearn.__version__,
                 "tensorflow": tf.__version__}


def worker(kind, path):
    """Serve jobs: {"metric", "convention", "dir", "n", "warmup"} -> {"time", "value"}."""
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the references print must not reach the protocol
    run, versions = {"fastdis": lambda: _fastdis_runner(),
                     "ubisoft": lambda: _ubisoft_runner(path),
                     "dlib": lambda: _dlib_runner(path)}[kind]()
    out.write(json.dumps({"ready": versions}) + "\n")
    out.flush()
    loaded = (None, None, None)
    for line in sys.stdin:
        job = json.loads(line)
        try:
            if loaded[0] != job["n"]:
                loaded = (job["n"], np.load(pathlib.Path(job["dir"]) / f"factors_{job['n']}.npy"),
                          np.load(pathlib.Path(job["dir"]) / f"codes_{job['n']}.npy"))
            _, factors, codes = loaded
            if job["warmup"]:
                run(job["metric"], job["convention"], factors[:2000], codes[:2000])
            t0 = time.perf_counter()
            value = run(job["metric"], job["convention"], factors, codes)
            answer = {"time": time.perf_counter() - t0, "value": value}
        except Exception as exc:  # reported in the table, the benchmark goes on
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


# ----------------------------------------------------------------------------- driver

class Worker:
    """A worker process (``script kind [--path PATH]`` run by ``python``) that answers each
    JSON line on its stdin with one on its stdout, after a first ``{"ready": versions}``.
    Also the client of ``dotran_reference.py``'s workers; ``log``, if given, takes their
    stderr (named when a worker does not start)."""

    def __init__(self, kind, python, path, script=None, args=("--worker",), log=None):
        cmd = [python, str(script or pathlib.Path(__file__).resolve()), *args, kind]
        if path:
            cmd += ["--path", str(path)]
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        # fastdis from this checkout (its build in place); the references never see it
        cwd = HERE.parent if kind == "fastdis" else tempfile.gettempdir()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=log, text=True, cwd=cwd, env=env)
        ready = self.proc.stdout.readline()
        if not ready:
            where = f"; its output: {log.name}" if log is not None else ""
            raise RuntimeError(f"the {kind} worker did not start ({' '.join(cmd)}){where}")
        self.versions = json.loads(ready)["ready"]

    def call(self, job):
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def write_data(directory, sizes):
    sys.path.insert(0, str(HERE))
    from conftest import benchmark_data
    for n in sizes:
        factors, codes = benchmark_data(n)
        np.save(directory / f"factors_{n}.npy", factors)
        np.save(directory / f"codes_{n}.npy", codes)


# The survey's explicitness passes LogisticRegression(multi_class=...), which scikit-learn 1.8
# removed: it runs in an environment with an older scikit-learn (--ubisoft-legacy-python);
# everything else runs on the scikit-learn fastdis uses.
LEGACY = {("explicitness", "ubisoft")}


def _save(directory, kind, recs, sessions, versions, path):
    """Merge into <directory>/reference_<kind>.json: this run's cases replace the saved ones."""
    out = directory / f"reference_{kind}.json"
    old = json.loads(out.read_text()) if out.exists() else {"runs": [], "sessions": []}
    mine = {(r["metric"], r["convention"], r["n"]) for r in recs}
    runs = [r for r in old["runs"] if (r["metric"], r["convention"], r["n"]) not in mine] + recs
    saved_sessions = [x for x in old.get("sessions", []) if x["start"] != sessions["start"]]
    out.write_text(json.dumps({"impl": kind, "machine": machine(), "path": path,
                               "versions": versions, "sessions": saved_sessions + [sessions],
                               "runs": runs}, indent=1) + "\n")


def run(args, directory):
    cases = [c for c in CASES if (args.only is None or c[0] in args.only)]
    refs = {"ubisoft": (args.ubisoft_python, args.ubisoft), "dlib": (args.dlib_python, args.dlib)}
    cases = [c for c in cases if refs[c[2]][1]]
    if not cases:
        sys.exit("give --ubisoft PATH and/or --dlib PATH --dlib-python PATH")
    directory.mkdir(exist_ok=True)
    session = {"start": machine()["date"], "loadavg_before": os.getloadavg(), "quick": args.quick}
    kinds = {"fastdis"} | {c[2] for c in cases}
    runs = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        write_data(tmp, [args.quick] if args.quick else sorted({n for c in cases for n in c[3]}))
        workers = {"fastdis": Worker("fastdis", sys.executable, None)}
        for kind in kinds - {"fastdis"}:
            workers[kind] = Worker(kind, refs[kind][0] or sys.executable, refs[kind][1])
        if args.ubisoft_legacy_python and any((c[0], c[1]) in LEGACY for c in cases):
            workers["ubisoft-legacy"] = Worker("ubisoft", args.ubisoft_legacy_python, args.ubisoft)
        paths = {k: refs.get(k, (None, None))[1] and str(refs[k][1]) for k in kinds}
        try:
            for metric, convention, ref, sizes, warmup in cases:
                ref_worker = workers.get(f"{ref}-legacy", workers[ref]) \
                    if (metric, convention) in LEGACY else workers[ref]
                for n, rounds in ({args.quick: 1} if args.quick else sizes).items():
                    job = {"metric": metric, "convention": convention, "dir": str(tmp),
                           "n": n, "warmup": warmup}
                    for r in range(rounds):
                        for kind, w in (("fastdis", workers["fastdis"]), (ref, ref_worker)):
                            a = w.call(job)  # alternate, call by call
                            runs[kind].append(dict(metric=metric, convention=convention, n=n,
                                                   round=r, loadavg=os.getloadavg()[0],
                                                   versions=w.versions, **a))
                            _save(directory, kind, runs[kind], dict(session, loadavg_after=None),
                                  workers[kind].versions, paths[kind])
                            print(f"{kind:8s} {metric:18s} {convention:8s} {n:>8d} r{r} "
                                  f"{a.get('time', float('nan')):9.3f} s "
                                  f"{a.get('value', a.get('error'))}", flush=True)
        finally:
            for w in workers.values():
                w.close()
    session["loadavg_after"] = os.getloadavg()
    for kind in kinds:
        _save(directory, kind, runs[kind], session, workers[kind].versions, paths[kind])


def _fmt_value(v):
    if isinstance(v, dict):
        return f"{_fmt_value(v['value'])} ({v['misses']} misses)"
    if isinstance(v, list):
        return "/".join(f"{x:.3f}" for x in v)
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _fmt_time(t):
    return f"{t:.3f} s" if t < 10 else f"{t:.1f} s"


def _fmt_ratio(r):
    return f"{r:.1f}x" if r < 10 else f"{r:.0f}x"


def report(directory=RESULTS):
    data = {p.stem[len("reference_"):]: json.loads(p.read_text())
            for p in sorted(directory.glob("reference_*.json"))}
    if "fastdis" not in data:
        sys.exit("no saved results: run without --report-only first")
    m = data["fastdis"]["machine"]
    print(f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}")
    for x in data["fastdis"]["sessions"]:
        after = x["loadavg_after"] and f"{x['loadavg_after'][0]:.2f}"
        print(f"- run started {x['start']}: load average before {x['loadavg_before'][0]:.2f}, "
              f"after {after}" + (f" (quick, N = {x['quick']})" if x.get("quick") else ""))
    for kind, d in data.items():
        envs = {json.dumps(r["versions"], sort_keys=True) for r in d["runs"]}
        for env in sorted(envs):
            print(f"- {kind}: {', '.join(f'{k} {v}' for k, v in json.loads(env).items())}")
    print("load: the mean 1-minute load average recorded after the case's calls")
    print("\n| metric | convention | N | fastdis (median) | reference code (median) | ratio "
          "| ratio of minima | rounds | load | value: fastdis | value: reference |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    keys = []
    for rec in data["fastdis"]["runs"]:
        key = (rec["metric"], rec["convention"], rec["n"])
        if key not in keys:
            keys.append(key)

    def pick(kind, key):
        recs = [r for r in data.get(kind, {}).get("runs", [])
                if (r["metric"], r["convention"], r["n"]) == key]
        ok = [r for r in recs if "time" in r]
        if not ok:
            return None, recs[0].get("error", "not run") if recs else "not run", 0, recs
        return statistics.median(r["time"] for r in ok), ok[-1]["value"], len(ok), ok

    for key in keys:
        ref = key[1]
        t_f, v_f, k, runs_f = pick("fastdis", key)
        t_r, v_r, _, runs_r = pick(ref, key)
        load = statistics.mean(r["loadavg"] for r in runs_f + runs_r)
        ratio = "-" if t_f is None or t_r is None else _fmt_ratio(t_r / t_f)
        ratio_min = "-" if t_f is None or t_r is None else _fmt_ratio(
            min(r["time"] for r in runs_r) / min(r["time"] for r in runs_f))
        label = "dci (random forest)" if key[0] == "dci_random_forest" else key[0]
        if runs_r and runs_r[0]["versions"] != data[ref]["versions"]:
            label += f" (reference on scikit-learn {runs_r[0]['versions'].get('sklearn')})"
        print(f"| {label} | {key[1]} | {key[2]:.0e} | "
              f"{_fmt_time(t_f) if t_f is not None else '-'} | "
              f"{_fmt_time(t_r) if t_r is not None else '-'} | {ratio} | {ratio_min} | {k} | "
              f"{load:.1f} | {_fmt_value(v_f)} | {_fmt_value(v_r)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ubisoft", type=pathlib.Path, help="the survey repository's root")
    parser.add_argument("--ubisoft-python", help="interpreter with pyitlib (default: this one)")
    parser.add_argument("--ubisoft-legacy-python",
                        help="interpreter with pyitlib and scikit-learn < 1.8, for the survey's "
                             "explicitness (its multi_class argument)")
    parser.add_argument("--dlib", type=pathlib.Path, help="disentanglement_lib's repository root")
    parser.add_argument("--dlib-python", help="interpreter of disentanglement_lib's environment")
    parser.add_argument("--only", nargs="+", help="metrics to run (e.g. mig dci)")
    parser.add_argument("--quick", type=int, metavar="N",
                        help="a smoke test: every case once at N rows (results not saved)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--worker", choices=["fastdis", "ubisoft", "dlib"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.path)
    else:
        if not args.report_only:
            if args.dlib and not args.dlib_python:
                parser.error("--dlib needs --dlib-python (its own environment)")
            if args.quick:  # a smoke test's numbers are not results
                with tempfile.TemporaryDirectory() as tmp:
                    run(args, pathlib.Path(tmp))
                    report(pathlib.Path(tmp))
                sys.exit(0)
            run(args, RESULTS)
        report()
